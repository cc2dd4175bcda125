//! A connection's phase and its deadline: the header timeout while a request's head is arriving, the idle
//! timeout between requests (and while the client reads a response), and, while the server works on a request, a
//! backstop after the request timeout. [`WatchedIo`] sees the bytes arrive; the request handler marks a request's
//! start and end.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::Limits;

/// How long after the request timeout a busy connection is closed anyway: the request handler answers at the
/// request timeout, so this only ends a connection stuck for a reason of its own.
const BUSY_GRACE: Duration = Duration::from_secs(5);

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// A request's line and headers are arriving (or, on a new connection, expected).
    Head = 0,
    /// The server is working on a request (its body may still be arriving).
    Busy = 1,
    /// Between requests: the response is being sent or read, then the connection waits for the next request.
    Idle = 2,
}

/// The phase of one connection and when it began, shared by its I/O, its requests and its watchdog.
#[derive(Debug)]
pub(super) struct ConnWatch {
    opened: Instant,
    /// `(milliseconds since opened) << 2 | phase`.
    state: AtomicU64,
    /// Wakes the watchdog when the phase changes (leaving `Busy` brings the deadline closer).
    changed: Notify,
}

impl ConnWatch {
    /// A new connection: its first request's head is expected from now.
    pub(super) fn new() -> Self {
        Self { opened: Instant::now(), state: AtomicU64::new(Phase::Head as u64), changed: Notify::new() }
    }

    pub(super) fn set(&self, phase: Phase) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX >> 2);
        self.state.store((ms << 2) | phase as u64, Ordering::Relaxed);
        self.changed.notify_one();
    }

    /// The phase and when it began.
    pub(super) fn get(&self) -> (Phase, Instant) {
        let state = self.state.load(Ordering::Relaxed);
        let phase = match state & 3 {
            0 => Phase::Head,
            1 => Phase::Busy,
            _ => Phase::Idle,
        };
        (phase, self.opened + Duration::from_millis(state >> 2))
    }

    /// Bytes arrived: on an idle connection, they begin the next request's head.
    fn bytes_arrived(&self) {
        if self.get().0 == Phase::Idle {
            self.set(Phase::Head);
        }
    }
}

/// Completes with the phase in which the connection passed its deadline: sleeps to the deadline of the phase seen,
/// and looks again when it passes or the phase changes.
pub(super) async fn deadline_passed(watch: &ConnWatch, limits: &Limits) -> Phase {
    loop {
        let (phase, since) = watch.get();
        let allowed = match phase {
            Phase::Head => limits.header_read_timeout,
            Phase::Busy => limits.request_timeout + BUSY_GRACE,
            Phase::Idle => limits.idle_timeout,
        };
        let deadline = since + allowed;
        if Instant::now() >= deadline {
            return phase;
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {}
            () = watch.changed.notified() => {}
        }
    }
}

/// A TCP stream that tells its [`ConnWatch`] when bytes arrive.
#[derive(Debug)]
pub(super) struct WatchedIo {
    stream: TcpStream,
    watch: std::sync::Arc<ConnWatch>,
}

impl WatchedIo {
    pub(super) fn new(stream: TcpStream, watch: std::sync::Arc<ConnWatch>) -> Self {
        Self { stream, watch }
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            header_read_timeout: Duration::from_millis(100),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_millis(300),
            request_timeout: Duration::from_secs(30),
            max_connections: 10,
            max_connections_per_client: 10,
        }
    }

    /// `deadline_passed`, with `change` applied to the watch after `after`; the phase and the time it took.
    async fn passed_with(watch: &ConnWatch, after: Duration, change: impl FnOnce(&ConnWatch)) -> (Phase, Duration) {
        let (start, limits) = (Instant::now(), limits());
        let passed = deadline_passed(watch, &limits);
        tokio::pin!(passed);
        tokio::select! {
            phase = &mut passed => panic!("passed in {phase:?} before the change"),
            () = tokio::time::sleep(after) => change(watch),
        }
        (passed.await, start.elapsed())
    }

    #[tokio::test]
    async fn each_phase_has_its_own_deadline() {
        let watch = ConnWatch::new();
        let start = Instant::now();
        assert_eq!(deadline_passed(&watch, &limits()).await, Phase::Head);
        assert!(start.elapsed() >= Duration::from_millis(100), "{:?}", start.elapsed());

        // Bytes arriving 200 ms into the idle time begin a request head: 100 ms more from then.
        watch.set(Phase::Idle);
        let (phase, took) = passed_with(&watch, Duration::from_millis(200), ConnWatch::bytes_arrived).await;
        assert_eq!(phase, Phase::Head);
        assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(2), "{took:?}");

        // A request answered after 50 ms: the idle timeout runs from then, not the (30 s) busy deadline.
        watch.set(Phase::Busy);
        let (phase, took) = passed_with(&watch, Duration::from_millis(50), |w| w.set(Phase::Idle)).await;
        assert_eq!(phase, Phase::Idle);
        assert!(took >= Duration::from_millis(350) && took < Duration::from_secs(2), "{took:?}");

        // A body arriving keeps a busy connection busy.
        watch.set(Phase::Busy);
        watch.bytes_arrived();
        assert_eq!(watch.get().0, Phase::Busy);
    }
}
