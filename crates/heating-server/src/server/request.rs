//! One request on a connection: the client's address as `ConnectInfo`, the body read under the body timeout, the
//! answer under the request timeout, and the connection's phase kept up to date.
//!
//! Timeouts answer with the API's error shape: 408 `{"detail": "Request Timeout: ..."}` when the client's body did
//! not arrive in time (the client is slow), 503 `{"detail": "Service Unavailable: ..."}` when the server did not
//! answer in time (the server, or a device or provider it waits on, is slow). After a 408 the connection closes
//! (`Connection: close`); a body the handler did not read closes it too unless it had all arrived (hyper drains it).

use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tower::ServiceExt;

use super::Limits;
use super::connection::{ConnWatch, Phase};
use crate::http::AppService;
use crate::http::error::ErrorBody;

/// The hyper service of one connection.
#[derive(Debug, Clone)]
pub(super) struct Handler {
    pub(super) service: AppService,
    pub(super) remote: SocketAddr,
    pub(super) watch: Arc<ConnWatch>,
    pub(super) limits: Arc<Limits>,
}

impl hyper::service::Service<Request<Incoming>> for Handler {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}

impl Handler {
    async fn handle(self, req: Request<Incoming>) -> Response {
        self.watch.set(Phase::Busy);
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(ConnectInfo(self.remote));
        let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
        let progress = Arc::new(BodyProgress::new(http_body::Body::is_end_stream(&body)));
        let body = WatchedBody::new(body, progress.clone(), self.limits.body_read_timeout);
        let req = Request::from_parts(parts, Body::new(body));
        let answered = tokio::time::timeout(self.limits.request_timeout, self.service.oneshot(req)).await;
        let response = match answered {
            Ok(Ok(response)) if progress.get() != BodyState::TimedOut => response,
            Ok(Ok(_)) => body_timeout(self.limits.body_read_timeout, "--body-read-timeout-secs"),
            Ok(Err(never)) => match never {},
            // The handler was still waiting for the body: the client is the slow one.
            Err(_) if progress.get() == BodyState::Reading => {
                body_timeout(self.limits.request_timeout, "--request-timeout-secs")
            }
            Err(_) => {
                tracing::warn!(
                    client = %self.remote,
                    "{method} {path} took longer than {} (--request-timeout-secs): answered 503",
                    secs(self.limits.request_timeout)
                );
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "Service Unavailable: the server could not answer within {} (--request-timeout-secs)",
                        secs(self.limits.request_timeout)
                    ),
                )
            }
        };
        // A body the handler left unread is drained by hyper if it is all there, else the connection closes after
        // the response; either way it cannot hold the connection.
        self.watch.set(Phase::Idle);
        response
    }
}

/// 408, and the connection closes after it (the rest of the body may still be on its way).
fn body_timeout(after: Duration, flag: &str) -> Response {
    let mut response = error(
        StatusCode::REQUEST_TIMEOUT,
        format!("Request Timeout: the request body did not arrive within {} ({flag})", secs(after)),
    );
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn error(status: StatusCode, detail: String) -> Response {
    (status, axum::Json(ErrorBody { detail })).into_response()
}

/// `10 s`, `1.5 s`.
fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    /// Not asked for yet.
    Unread = 0,
    /// Asked for and not all there yet: the handler waits for the client.
    Reading = 1,
    Complete = 2,
    TimedOut = 3,
}

/// How far a request's body got, shared by the body and the handler.
#[derive(Debug)]
struct BodyProgress(AtomicU8);

impl BodyProgress {
    fn new(empty: bool) -> Self {
        Self(AtomicU8::new(if empty { BodyState::Complete } else { BodyState::Unread } as u8))
    }

    fn get(&self) -> BodyState {
        match self.0.load(Ordering::Relaxed) {
            0 => BodyState::Unread,
            1 => BodyState::Reading,
            2 => BodyState::Complete,
            _ => BodyState::TimedOut,
        }
    }

    fn set(&self, state: BodyState) {
        self.0.store(state as u8, Ordering::Relaxed);
    }
}

/// The body did not arrive within the body timeout.
#[derive(Debug)]
struct BodyTimedOut;

impl fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl Error for BodyTimedOut {}

/// A request body that fails once its deadline passes before its end arrived, and records its progress.
struct WatchedBody {
    inner: Incoming,
    progress: Arc<BodyProgress>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WatchedBody {
    fn new(inner: Incoming, progress: Arc<BodyProgress>, timeout: Duration) -> Self {
        let deadline = (progress.get() == BodyState::Unread).then(|| Box::pin(tokio::time::sleep(timeout)));
        Self { inner, progress, deadline }
    }
}

impl http_body::Body for WatchedBody {
    type Data = Bytes;
    type Error = Box<dyn Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match this.progress.get() {
            BodyState::TimedOut => return Poll::Ready(None),
            BodyState::Unread | BodyState::Reading | BodyState::Complete => {}
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.progress.set(BodyState::Complete);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if this.inner.is_end_stream() {
                    this.progress.set(BodyState::Complete);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Pending => {
                let passed = this.deadline.as_mut().is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if passed {
                    this.progress.set(BodyState::TimedOut);
                    Poll::Ready(Some(Err(BodyTimedOut.into())))
                } else {
                    if this.progress.get() == BodyState::Unread {
                        this.progress.set(BodyState::Reading);
                    }
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.progress.get() == BodyState::TimedOut || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
