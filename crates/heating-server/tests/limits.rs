//! The HTTP server cannot be held or starved (issue 12, "Holding and starving"): over real TCP, slow and idle
//! connections are closed after their timeouts while `/health` keeps answering others; a body shorter than its
//! `Content-Length` is cut off; one client cannot take every connection; a slow answer becomes 503; and a graceful
//! shutdown still lets a running request finish.

use std::net::SocketAddr;
use std::time::Duration;

use heating_server::Config;
use heating_server::config::LimitSettings;
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A server started through the library on 127.0.0.1:0, API only.
struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
    _dir: TempDir,
}

async fn start(limits: LimitSettings) -> Server {
    start_with(Config { limits, ..Config::default() }).await
}

async fn start_with(config: Config) -> Server {
    // Each test holds up to a few thousand sockets (both ends live in this process).
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("heating.db").display());
    let config = Config { background_jobs_disabled: true, database_url: url, ..config };
    let app = heating_server::build(config).await.expect("app builds");
    let listener = heating_server::server::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run(listener, async {
        let _ = rx.await;
    }));
    Server { addr, shutdown: Some(tx), task, _dir: dir }
}

impl Server {
    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), self.task).await.expect("server stops").unwrap().unwrap();
    }
}

fn limits(header: f64, body: f64, idle: f64, request: f64) -> LimitSettings {
    LimitSettings {
        header_read_timeout_secs: header,
        body_read_timeout_secs: body,
        idle_timeout_secs: idle,
        request_timeout_secs: request,
        max_connections: 5000,
        max_connections_per_client: Some(5000),
    }
}

/// A connection from the given loopback address (127.0.0.1 unless told).
async fn connect_from(addr: SocketAddr, from: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// `count` connections opened 100 at a time, each sent `send`; with the instant before each was opened.
async fn open_many(addr: SocketAddr, count: usize, send: &'static [u8]) -> Vec<(TcpStream, Instant)> {
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let batch = (count - out.len()).min(100);
        let opened = futures::future::join_all((0..batch).map(|_| async move {
            let started = Instant::now();
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(send).await.unwrap();
            (stream, started)
        }))
        .await;
        out.extend(opened);
    }
    out
}

/// Reads one response (head and a `Content-Length` body): status, head, body. Fails after 15 s without one.
async fn read_response(stream: &mut TcpStream) -> (u16, String, String) {
    tokio::time::timeout(Duration::from_secs(15), read_response_now(stream)).await.expect("a response within 15 s")
}

async fn read_response_now(stream: &mut TcpStream) -> (u16, String, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before a response: {:?}", String::from_utf8_lossy(&data));
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(data[..head_end].to_vec()).unwrap().to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed in a response body");
        data.extend_from_slice(&buf[..n]);
    }
    (status, head, String::from_utf8(data[head_end..head_end + length].to_vec()).unwrap())
}

/// Waits (at most `within`) for the server to close the connection; the instant it did.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> Instant {
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(within, stream.read(&mut buf)).await {
        Ok(Ok(0)) => Instant::now(),
        Ok(Ok(n)) => panic!("unexpected data instead of EOF: {:?}", String::from_utf8_lossy(&buf[..n])),
        Ok(Err(e)) => panic!("read failed instead of EOF: {e}"),
        Err(_) => panic!("still open after {within:?}"),
    }
}

/// Whether the server has left the connection open (nothing to read, no EOF).
fn still_open(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 16];
    matches!(stream.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// `GET /health` on a new connection from `from`: status and how long it took.
async fn health_from(addr: SocketAddr, from: [u8; 4]) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = connect_from(addr, from).await;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let (status, _, _) = read_response(&mut stream).await;
    (status, started.elapsed())
}

const HALF_A_HEADER: &[u8] = b"GET /health HTTP/1.1\r\nHost: loc";
const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_do_not_starve_health_and_close_after_their_timeouts() {
    let (header, idle) = (Duration::from_secs(4), Duration::from_secs(6));
    let server = start(limits(header.as_secs_f64(), 2.0, idle.as_secs_f64(), 10.0)).await;

    let mut slow = open_many(server.addr, 1000, HALF_A_HEADER).await;
    let mut idle_conns = open_many(server.addr, 1000, HEALTH).await;
    for (stream, _) in &mut idle_conns {
        assert_eq!(read_response(stream).await.0, 200);
    }

    // Meanwhile /health answers others within its normal latency.
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let (status, took) = health_from(server.addr, [127, 0, 0, 1]).await;
        assert_eq!(status, 200);
        slowest = slowest.max(took);
    }
    assert!(slowest < Duration::from_secs(1), "/health took {slowest:?} while 2,000 connections were held");
    let open = slow.iter().chain(&idle_conns).filter(|(s, _)| still_open(s)).count();
    assert_eq!(open, 2000, "every slow and idle connection was still held while /health was asked");

    // The slow ones are closed after the header timeout, the idle ones after the (longer) idle timeout.
    let slack = Duration::from_secs(10);
    let slow_closed =
        futures::future::join_all(slow.iter_mut().map(|(stream, opened)| async move {
            closed_by_server(stream, header + slack).await.duration_since(*opened)
        }))
        .await;
    let idle_closed =
        futures::future::join_all(idle_conns.iter_mut().map(|(stream, opened)| async move {
            closed_by_server(stream, idle + slack).await.duration_since(*opened)
        }))
        .await;
    let tolerance = Duration::from_millis(5);
    let (slow_min, slow_max) = (slow_closed.iter().min().unwrap(), slow_closed.iter().max().unwrap());
    let (idle_min, idle_max) = (idle_closed.iter().min().unwrap(), idle_closed.iter().max().unwrap());
    assert!(*slow_min + tolerance >= header, "a slow connection was closed after {slow_min:?}, before {header:?}");
    assert!(*idle_min + tolerance >= idle, "an idle connection was closed after {idle_min:?}, before {idle:?}");
    eprintln!("slow closed after {slow_min:?}..{slow_max:?}, idle after {idle_min:?}..{idle_max:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_cut_off() {
    let body_timeout = Duration::from_secs(1);
    let server = start(limits(5.0, body_timeout.as_secs_f64(), 10.0, 10.0)).await;

    // The handler reads the body: 408 once the body timeout passes, then the connection closes.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(
            b"POST /zones HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n\
              {\"name\": ",
        )
        .await
        .unwrap();
    let (status, head, body) = read_response(&mut stream).await;
    let took = started.elapsed();
    assert_eq!(status, 408, "{head}{body}");
    assert!(took >= body_timeout && took < body_timeout + Duration::from_secs(5), "answered after {took:?}");
    let detail: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        detail["detail"], "Request Timeout: the request body did not arrive within 1 s (--body-read-timeout-secs)",
        "{body}"
    );
    assert!(head.contains("connection: close"), "{head}");
    closed_by_server(&mut stream, Duration::from_secs(2)).await;

    // A handler that does not read the body answers at once, and the unread body does not hold the connection.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n").await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
    closed_by_server(&mut stream, Duration::from_secs(2)).await;
    assert!(started.elapsed() < body_timeout, "closed after {:?}", started.elapsed());
    // An unread body that did arrive whole keeps the connection alive.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}").await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
    stream.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);

    // A whole body still works, on a kept-alive connection.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let zone = br#"{"name": "Kitchen"}"#;
    let request = format!(
        "POST /zones HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        zone.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(zone).await.unwrap();
    let (status, head, body) = read_response(&mut stream).await;
    assert_eq!(status, 201, "{body}");
    assert!(!head.contains("connection: close"), "{head}");
    stream.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn one_client_cannot_take_every_connection() {
    let server = start(LimitSettings {
        max_connections: 200,
        max_connections_per_client: Some(50),
        ..limits(5.0, 5.0, 10.0, 10.0)
    })
    .await;
    // 150 connections from 127.0.0.1, each holding half a header: 50 are kept, the others closed at once.
    let mut greedy = Vec::new();
    for _ in 0..150 {
        let mut stream = connect_from(server.addr, [127, 0, 0, 1]).await;
        // The server may close a refused connection before or while we write.
        let _ = stream.write_all(HALF_A_HEADER).await;
        greedy.push(stream);
    }
    let closed_at_once = futures::future::join_all(greedy.iter_mut().map(|stream| async move {
        let mut buf = [0u8; 16];
        // EOF, or a reset if the half header was still unread when the server closed.
        matches!(tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
    }))
    .await;
    assert_eq!(closed_at_once.iter().filter(|closed| **closed).count(), 100);

    // Another client is answered meanwhile; the greedy one gets no more.
    let (status, took) = health_from(server.addr, [127, 0, 0, 2]).await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "{took:?}");
    let mut more = connect_from(server.addr, [127, 0, 0, 1]).await;
    let _ = more.write_all(HEALTH).await;
    let mut buf = [0u8; 16];
    let refused = tokio::time::timeout(Duration::from_secs(2), more.read(&mut buf)).await.unwrap();
    assert!(matches!(refused, Ok(0) | Err(_)), "{refused:?}");

    // Once it lets go, it is served again.
    drop(greedy);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = connect_from(server.addr, [127, 0, 0, 1]).await;
        let _ = stream.write_all(HEALTH).await;
        let mut buf = [0u8; 12];
        if stream.read_exact(&mut buf).await.is_ok() {
            assert_eq!(&buf, b"HTTP/1.1 200");
            break;
        }
        assert!(Instant::now() < deadline, "the client's slots were not given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn an_answer_slower_than_the_request_timeout_is_503_or_408_if_the_body_is_late() {
    // A weather provider that accepts connections and never answers (its own timeout is 10 s).
    let hanging = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let provider = format!("http://{}", hanging.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = hanging.accept().await {
            held.push(stream);
        }
    });
    let mut config = Config { limits: limits(5.0, 5.0, 10.0, 1.0), ..Config::default() };
    config.weather.weather_provider = Some(heating_weather::ProviderKind::OpenMeteo);
    config.weather.open_meteo_base_url = provider;
    config.weather.weather_latitude = Some(52.5);
    config.weather.weather_longitude = Some(13.4);
    let server = start_with(config).await;

    let started = Instant::now();
    let response = reqwest::get(format!("http://{}/weather", server.addr)).await.unwrap();
    let took = started.elapsed();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["detail"], "Service Unavailable: the server could not answer within 1 s (--request-timeout-secs)",
        "{body}"
    );
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(5), "answered after {took:?}");

    // Past the request timeout while the handler still waits for the client's body: the client is the slow one.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"POST /zones HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{",
        )
        .await
        .unwrap();
    let (status, _, body) = read_response(&mut stream).await;
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("did not arrive within 1 s (--request-timeout-secs)"), "{body}");
    closed_by_server(&mut stream, Duration::from_secs(2)).await;
    server.stop().await;
    held.abort();
}

#[tokio::test]
async fn a_graceful_shutdown_lets_a_running_request_finish() {
    let server = start(LimitSettings::default()).await;
    let zone = br#"{"name": "Kitchen"}"#;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /zones HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        zone.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // "100 Continue" comes once the handler reads the body: the request is running.
    let mut interim = [0u8; 25];
    tokio::time::timeout(Duration::from_secs(15), stream.read_exact(&mut interim)).await.unwrap().unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");

    let Server { addr, mut shutdown, task, _dir } = server;
    shutdown.take().unwrap().send(()).unwrap();
    // The listener closes...
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after shutdown");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!task.is_finished(), "the server waits for the running request");
    // ...and the running request still completes.
    stream.write_all(zone).await.unwrap();
    let (status, head, body) = read_response(&mut stream).await;
    assert_eq!(status, 201, "{body}");
    assert!(head.contains("connection: close"), "{head}");
    let created: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(created["name"], "Kitchen");
    closed_by_server(&mut stream, Duration::from_secs(2)).await;
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("server stops").unwrap().unwrap();
}
