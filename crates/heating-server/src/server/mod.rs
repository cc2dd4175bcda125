//! The HTTP server: the accept loop and each connection's life, under limits that keep a slow or greedy client from
//! holding or starving the server (see [`crate::config::LimitSettings`] for the settings).
//!
//! - **Connections.** At most `max_connections` at once: beyond it, new connections wait unaccepted in the
//!   listener's backlog until one closes (no file is spent on them). At most `max_connections_per_client` from one
//!   IP address: a client's further connections are accepted and closed at once, so one client cannot take the
//!   slots others need (for `/health`, the dashboard). The global cap is lowered at start to fit the process's
//!   open-file limit ([`admission::fit_to_file_limit`]).
//! - **Timeouts of a connection** ([`connection`]): a request's line and headers must arrive within the header
//!   timeout (from the connection's opening, or from the first byte of a later request); a kept-alive connection
//!   waits at most the idle timeout for its next request, which is also how long a client may take to read a
//!   response. A connection past its deadline is closed (the client reads EOF).
//! - **Timeouts of a request** ([`request`]): the body must arrive within the body timeout once the headers are
//!   in, else the answer is 408 and the connection closes; the server must produce its answer within the request
//!   timeout, else the answer is 503 (408 if the client's body was still incomplete). Both are `{"detail": ...}`.
//!   A body the handler did not read is drained if it has all arrived, else the connection closes after the
//!   response: it never holds the connection.
//! - **Shutdown.** When the shutdown future completes the listener closes, idle connections close, running
//!   requests finish (bounded by the request timeout) and [`serve`] returns once every connection is gone.
//!
//! HTTP/1.1 only (as before, with axum's default features). Each request carries the client's address as
//! `axum::extract::ConnectInfo<SocketAddr>`, as `into_make_service_with_connect_info` would insert it.

mod admission;
mod connection;
mod request;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::LimitSettings;
use crate::http::AppService;
use admission::{Admission, ClientSlot};
use connection::{ConnWatch, WatchedIo};

pub use admission::{fit_to_file_limit, usable_connections};

/// The limits the server runs with: the settings' durations, with the caps fitted to the open-file limit.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
}

impl Limits {
    /// The settings as they are (no open-file check; see [`Limits::fitted`]).
    #[must_use]
    pub fn from_settings(settings: &LimitSettings) -> Self {
        Self {
            header_read_timeout: settings.header_read_timeout(),
            body_read_timeout: settings.body_read_timeout(),
            idle_timeout: settings.idle_timeout(),
            request_timeout: settings.request_timeout(),
            max_connections: settings.max_connections,
            max_connections_per_client: settings.max_connections_per_client(settings.max_connections),
        }
    }

    /// The settings with `max_connections` fitted to the process's open-file limit (raised first if the hard limit
    /// allows), with a warning naming both numbers when it had to be lowered.
    #[must_use]
    pub fn fitted(settings: &LimitSettings) -> Self {
        let mut limits = Self::from_settings(settings);
        let fitted = fit_to_file_limit(limits.max_connections);
        if fitted < limits.max_connections {
            let per_client = settings.max_connections_per_client(fitted);
            tracing::warn!(
                "--max-connections lowered from {} to {fitted} (per client: {per_client}) to fit the open-file limit \
                 (raise it with `ulimit -n` or systemd's LimitNOFILE=)",
                limits.max_connections
            );
            limits.max_connections = fitted;
            limits.max_connections_per_client = per_client;
        }
        limits
    }
}

/// How many connections the kernel queues for [`bind`]'s listener before the server accepts them (the standard
/// library's 128 overflows under a burst, and the client then retries only a second later).
pub const LISTEN_BACKLOG: u32 = 1024;

/// A listener on `addr` with a [`LISTEN_BACKLOG`] long queue (and `SO_REUSEADDR`, as the standard library's).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `service` on `listener` under `limits` until `shutdown` completes, then closes the listener and waits
/// for the open connections to finish (idle ones close at once, running requests end within the request timeout).
pub async fn serve(
    listener: TcpListener,
    service: AppService,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = Arc::new(limits);
    let admission = Admission::new(limits.max_connections, limits.max_connections_per_client);
    let stop = CancellationToken::new();
    // Every connection task holds a receiver; `closed()` completes when the last one is gone.
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = admission.wait_for_slot() => permit,
        };
        let (stream, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    admission.accept_failed(&e).await;
                    continue;
                }
            },
        };
        // Over the per-client cap: dropping the stream closes it.
        let Some(slot) = admission.admit(permit, remote.ip()) else { continue };
        let connection = Connection { remote, slot, service: service.clone(), limits: limits.clone() };
        let (stop, open) = (stop.clone(), open_rx.clone());
        tokio::spawn(async move {
            connection.serve(stream, stop).await;
            drop(open);
        });
    }
    drop(listener);
    drop(open_rx);
    stop.cancel();
    open_tx.closed().await;
}

/// One accepted connection and what it needs.
struct Connection {
    remote: SocketAddr,
    /// Frees the connection's place under both caps when dropped.
    slot: ClientSlot,
    service: AppService,
    limits: Arc<Limits>,
}

impl Connection {
    /// Serves HTTP/1.1 requests until the client closes, the connection passes a deadline (then it is dropped,
    /// which closes it) or, after `stop`, the running request has been answered.
    async fn serve(self, stream: TcpStream, stop: CancellationToken) {
        let Self { remote, slot: _slot, service, limits } = self;
        let _ = stream.set_nodelay(true);
        let watch = Arc::new(ConnWatch::new());
        let io = TokioIo::new(WatchedIo::new(stream, watch.clone()));
        let handler = request::Handler { service, remote, watch: watch.clone(), limits: limits.clone() };
        let conn = http1::Builder::new()
            .keep_alive(true)
            // The header timeout is ours (`connection`): hyper's would also cut idle kept-alive connections short.
            .header_read_timeout(None)
            .serve_connection(io, handler);
        let mut conn = pin!(conn);
        let mut stopping = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%remote, "connection ended: {e}");
                    }
                    return;
                }
                phase = connection::deadline_passed(&watch, &limits) => {
                    tracing::debug!(%remote, ?phase, "closing a connection past its deadline");
                    return;
                }
                () = stop.cancelled(), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::extract::{ConnectInfo, Request};
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tower::Layer;
    use tower::util::MapRequestLayer;

    use super::*;

    #[tokio::test]
    async fn handlers_see_the_client_address_as_connect_info() {
        let router = Router::new()
            .route("/", get(|ConnectInfo(client): ConnectInfo<SocketAddr>| async move { client.to_string() }));
        let service = MapRequestLayer::new((|req| req) as fn(Request) -> Request).layer(router);
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits::from_settings(&LimitSettings::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, service, limits, async {
            let _ = stopped.await;
        }));

        let mut stream = TcpStream::connect(addr).await.unwrap();
        let client = stream.local_addr().unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with(&format!("\r\n\r\n{client}")), "{response}");

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap();
    }
}
