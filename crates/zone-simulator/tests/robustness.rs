//! What a hostile or broken master cannot do to the simulator, over real TCP on loopback: malformed PDUs are
//! answered with the specification's exception and the connection keeps serving; an MBAP header that cannot be
//! Modbus closes the connection at once; idle and half-sent connections are closed after their timeout; a zone
//! keeps at most its cap of connections, closing the one longest without a request; and a thousand slow
//! connections do not slow down a normal master.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use heating_core::clock::ManualClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_modbus::client::{Reader, tcp};
use tokio_modbus::prelude::Slave;
use zone_simulator::config::Cli;
use zone_simulator::{ConnectionLimits, Simulator, SimulatorConfig, SimulatorHandle};

/// Generous enough for a loaded test machine, far below every timeout the tests wait for.
const PROMPT: Duration = Duration::from_millis(500);

fn monday() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc()
}

async fn start(zones: u32, limits: ConnectionLimits) -> SimulatorHandle {
    let cli = <Cli as clap::Parser>::parse_from(["zone-simulator", "--zones", &zones.to_string()]);
    let config = SimulatorConfig {
        base_port: 0,
        zones: SimulatorConfig::from_cli(&cli).unwrap().zones,
        connections: limits,
        ..SimulatorConfig::default()
    };
    let clock = Arc::new(ManualClock::new(monday()));
    Simulator::bind_with_clock(&config, clock).await.unwrap().spawn()
}

fn limits(idle_ms: u64, frame_ms: u64, max_connections: usize) -> ConnectionLimits {
    ConnectionLimits {
        idle_timeout: Duration::from_millis(idle_ms),
        frame_timeout: Duration::from_millis(frame_ms),
        max_connections,
    }
}

/// An ADU with a correct MBAP header around `pdu`.
fn adu(transaction: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut out = transaction.to_be_bytes().to_vec();
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&u16::try_from(pdu.len() + 1).unwrap().to_be_bytes());
    out.push(unit);
    out.extend_from_slice(pdu);
    out
}

/// Reads one response ADU: (transaction id, unit id, PDU).
async fn response(stream: &mut TcpStream) -> (u16, u8, Vec<u8>) {
    let mut header = [0u8; 7];
    tokio::time::timeout(PROMPT, stream.read_exact(&mut header)).await.expect("an answer in time").unwrap();
    assert_eq!(&header[2..4], &[0, 0], "protocol id 0");
    let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let mut pdu = vec![0u8; len - 1];
    tokio::time::timeout(PROMPT, stream.read_exact(&mut pdu)).await.expect("a whole answer").unwrap();
    (u16::from_be_bytes([header[0], header[1]]), header[6], pdu)
}

const READ_ALL: [u8; 5] = [0x03, 0, 0, 0, 8];

/// Reads registers 0-7 over a raw connection.
async fn read_block(stream: &mut TcpStream, transaction: u16) -> Vec<u16> {
    stream.write_all(&adu(transaction, 1, &READ_ALL)).await.unwrap();
    let (tid, unit, pdu) = response(stream).await;
    assert_eq!((tid, unit, pdu[0], pdu[1]), (transaction, 1, 0x03, 16), "{pdu:?}");
    pdu[2..].chunks_exact(2).map(|w| u16::from_be_bytes([w[0], w[1]])).collect()
}

/// Waits until the peer closes `stream` (end of file or reset), returning how long that took, or `None` if it
/// is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 64];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn malformed_pdus_get_the_specified_exception_and_the_connection_keeps_serving() {
    let sim = start(1, ConnectionLimits::default()).await;
    let mut stream = TcpStream::connect(sim.addrs()[0]).await.unwrap();
    let illegal_function = 0x01;
    let illegal_value = 0x03;
    let cases: [(&str, &[u8], u8); 16] = [
        ("FC03 with 3 data bytes", &[0x03, 0, 0, 8], illegal_value),
        ("FC03 with 5 data bytes", &[0x03, 0, 0, 0, 8, 0], illegal_value),
        ("FC03 with no data", &[0x03], illegal_value),
        ("FC04 with 2 data bytes", &[0x04, 0, 0], illegal_value),
        ("FC06 with 3 data bytes", &[0x06, 0, 1, 0], illegal_value),
        ("FC06 with 6 data bytes", &[0x06, 0, 1, 0, 215, 0], illegal_value),
        ("FC16 byte count 2 for 1 register, no data", &[0x10, 0, 1, 0, 1, 2], illegal_value),
        ("FC16 byte count 4 for 1 register", &[0x10, 0, 1, 0, 1, 4, 0, 215, 0, 0], illegal_value),
        ("FC16 byte count 2 for 2 registers", &[0x10, 0, 1, 0, 2, 2, 0, 215], illegal_value),
        ("FC16 one data byte short", &[0x10, 0, 1, 0, 1, 2, 0], illegal_value),
        ("FC16 one data byte over", &[0x10, 0, 1, 0, 1, 2, 0, 215, 9], illegal_value),
        ("FC16 cut in its header", &[0x10, 0, 1, 0], illegal_value),
        ("FC01 with bad length", &[0x01, 0], illegal_function),
        ("FC43 device identification", &[0x2B, 0x0E, 0x01, 0x00], illegal_function),
        ("user function 0x64", &[0x64, 1, 2, 3], illegal_function),
        ("function code with the exception bit", &[0x83, 0, 0, 0, 8], illegal_function),
    ];
    for (i, (what, pdu, code)) in cases.into_iter().enumerate() {
        let tid = 0x100 + u16::try_from(i).unwrap();
        stream.write_all(&adu(tid, 1, pdu)).await.unwrap();
        let (got_tid, unit, answer) = response(&mut stream).await;
        assert_eq!((got_tid, unit), (tid, 1), "{what}: transaction and unit echoed");
        assert_eq!(answer, [pdu[0] | 0x80, code], "{what}");
        let regs = read_block(&mut stream, tid + 0x1000).await;
        assert_eq!(regs.len(), 8, "{what}: the same connection then serves a normal read");
        assert_eq!(regs[1], 200, "{what}: nothing was written");
    }
    // Another unit id is refused first, as before, even for a malformed PDU.
    stream.write_all(&adu(7, 2, &[0x03, 0, 0, 8])).await.unwrap();
    assert_eq!(response(&mut stream).await.2, [0x83, 0x0B]);
    // Requests sent back to back are answered in order.
    let mut two = adu(8, 1, &[0x06, 0, 1]);
    two.extend(adu(9, 1, &[0x06, 0, 1, 0, 215]));
    stream.write_all(&two).await.unwrap();
    assert_eq!(response(&mut stream).await, (8, 1, vec![0x86, 0x03]));
    assert_eq!(response(&mut stream).await, (9, 1, vec![0x06, 0, 1, 0, 215]));
    assert_eq!(read_block(&mut stream, 10).await[1], 215);
}

#[tokio::test]
async fn an_mbap_header_that_cannot_be_modbus_closes_the_connection_at_once() {
    // Timeouts far longer than the test: a close can only come from the header check.
    let sim = start(1, limits(60_000, 30_000, 16)).await;
    let addr = sim.addrs()[0];
    let headers: [(&str, [u8; 7]); 6] = [
        ("length 65535", [0, 1, 0, 0, 0xFF, 0xFF, 1]),
        ("length 255", [0, 1, 0, 0, 0, 255, 1]),
        ("length 256", [0, 1, 0, 0, 1, 0, 1]),
        ("length 1 (no function code)", [0, 1, 0, 0, 0, 1, 1]),
        ("length 0", [0, 1, 0, 0, 0, 0, 1]),
        ("protocol id 1", [0, 1, 0, 1, 0, 6, 1]),
    ];
    for (what, header) in headers {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&header).await.unwrap();
        if what.starts_with("protocol") {
            stream.write_all(&READ_ALL).await.unwrap();
        }
        let took = closed_within(&mut stream, Duration::from_secs(5)).await;
        assert!(took.is_some_and(|t| t < PROMPT), "{what}: closed at once, not after the frame timeout: {took:?}");
    }
    // The zone serves the next master as usual.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_block(&mut stream, 1).await.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_are_closed_after_their_timeout() {
    let (idle, frame) = (Duration::from_millis(1500), Duration::from_millis(300));
    let sim = start(1, limits(1500, 300, 16)).await;
    let addr = sim.addrs()[0];
    let window = |t: Option<Duration>, low: Duration, what: &str| {
        let t = t.unwrap_or_else(|| panic!("{what}: still open"));
        assert!(t >= low.mul_f64(0.9) && t <= low + Duration::from_secs(1), "{what}: closed after {t:?}");
    };

    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut half_header = TcpStream::connect(addr).await.unwrap();
    half_header.write_all(&[0, 1, 0]).await.unwrap();
    let mut half_pdu = TcpStream::connect(addr).await.unwrap();
    half_pdu.write_all(&adu(1, 1, &READ_ALL)[..9]).await.unwrap();
    let mut after_a_read = TcpStream::connect(addr).await.unwrap();
    read_block(&mut after_a_read, 1).await;

    // A master that sends its request a byte at a time, each byte well within the frame timeout, still has to
    // finish the request within it.
    let slow = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let start = Instant::now();
        for b in adu(1, 1, &READ_ALL) {
            if s.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        closed_within(&mut s, Duration::from_secs(5)).await.map(|_| start.elapsed())
    });

    // A master that keeps asking is never closed, though its whole session lasts several idle timeouts.
    let mut active = TcpStream::connect(addr).await.unwrap();
    let session = Instant::now();
    let mut n = 0;
    while session.elapsed() < idle * 3 {
        n += 1;
        assert_eq!(read_block(&mut active, n).await.len(), 8);
        tokio::time::sleep(idle / 3).await;
    }

    let (h, p) = (closed_within(&mut half_header, PROMPT).await, closed_within(&mut half_pdu, PROMPT).await);
    // Both were closed long ago: their close was already waiting.
    assert!(h.is_some() && p.is_some(), "half-sent requests were closed");
    let slow_took = slow.await.unwrap();
    window(slow_took, frame, "a request sent a byte at a time");
    assert!(slow_took.unwrap() < Duration::from_millis(1200), "closed before its last byte: {slow_took:?}");
    assert!(closed_within(&mut silent, PROMPT).await.is_some(), "a silent connection was closed");
    assert!(closed_within(&mut after_a_read, PROMPT).await.is_some(), "an idle connection was closed");

    // The timing, measured from a fresh start.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let since = Instant::now();
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(&[0, 1, 0, 0, 0]).await.unwrap();
    window(closed_within(&mut half, Duration::from_secs(5)).await, frame, "half a header");
    let t = closed_within(&mut silent, Duration::from_secs(5)).await.map(|_| since.elapsed());
    window(t, idle, "a silent connection");
}

#[tokio::test]
async fn a_full_zone_closes_the_connection_longest_without_a_request() {
    let sim = start(1, limits(60_000, 30_000, 4)).await;
    let addr = sim.addrs()[0];
    // `a` starts a request and never finishes it; b, c and d read.
    let mut a = TcpStream::connect(addr).await.unwrap();
    a.write_all(&[0, 1, 0]).await.unwrap();
    let mut others = Vec::new();
    for i in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        read_block(&mut s, i).await;
        others.push(s);
    }
    // A fifth master is served, and `a` (connected first, no request since) makes room.
    let mut e = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_block(&mut e, 1).await.len(), 8);
    assert!(closed_within(&mut a, PROMPT).await.is_some(), "the oldest unused connection was closed");
    // b reads again, so c is now the one longest without a request.
    read_block(&mut others[0], 2).await;
    let mut f = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_block(&mut f, 1).await.len(), 8);
    assert!(closed_within(&mut others[1], PROMPT).await.is_some(), "c made room");
    assert_eq!(read_block(&mut others[0], 3).await.len(), 8, "b still served");
    assert_eq!(read_block(&mut others[2], 3).await.len(), 8, "d still served");
    assert_eq!(read_block(&mut e, 2).await.len(), 8, "e still served");

    // A thousand connections opened and left idle cannot lock a master out: each new one takes the place of the
    // oldest, so at most four stay open, and a master that connects afterwards is served at once.
    let mut flood = Vec::new();
    for _ in 0..1000 {
        flood.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut fresh = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    assert_eq!(read_block(&mut fresh, 1).await.len(), 8);
    assert!(t.elapsed() < PROMPT);
    let mut open = 0;
    for s in &mut flood {
        if closed_within(s, Duration::from_millis(20)).await.is_none() {
            open += 1;
        }
    }
    assert!(open <= 3, "{open} of the flood's connections are still open");
}

/// Acceptance: 1,000 slow or idle connections (half silent, half stuck in the middle of a request) spread over ten
/// zones, while a normal master reads every zone within its normal latency; then every slow one is closed after
/// its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_connections_neither_hold_nor_slow_the_simulator() {
    // Client and server ends of 1,000 connections, in one process.
    let _ = rlimit::increase_nofile_limit(4096);
    let (idle, frame) = (Duration::from_secs(3), Duration::from_secs(1));
    let sim = start(10, limits(3000, 1000, 128)).await;
    let addrs: Vec<SocketAddr> = sim.addrs().to_vec();
    let mut masters = Vec::new();
    for addr in &addrs {
        masters.push(tcp::connect_slave(*addr, Slave(1)).await.unwrap());
    }
    let mut baseline = Duration::ZERO;
    for _ in 0..5 {
        for m in &mut masters {
            let t = Instant::now();
            assert_eq!(m.read_holding_registers(0, 8).await.unwrap().unwrap().len(), 8);
            baseline = baseline.max(t.elapsed());
        }
    }

    // Open the slow connections; each watcher reports how long its connection stayed open.
    let mut watchers = Vec::new();
    for chunk in (0..1000usize).collect::<Vec<_>>().chunks(100) {
        let opened = futures::future::join_all(chunk.iter().map(|&i| {
            let addr = addrs[i % addrs.len()];
            async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                let stuck = i % 2 == 1;
                if stuck {
                    s.write_all(&adu(1, 1, &READ_ALL)[..4]).await.unwrap();
                }
                (s, stuck, Instant::now())
            }
        }))
        .await;
        for (mut s, stuck, since) in opened {
            watchers.push(tokio::spawn(async move {
                let took = closed_within(&mut s, Duration::from_secs(30)).await.map(|_| since.elapsed());
                (stuck, took)
            }));
        }
    }

    // While they are held, and while they are being closed, the normal master reads every zone promptly.
    let mut worst = Duration::ZERO;
    let mut reads = 0;
    let hold = Instant::now();
    while hold.elapsed() < idle + Duration::from_secs(1) {
        for m in &mut masters {
            let t = Instant::now();
            let regs = m.read_holding_registers(0, 8).await.unwrap().unwrap();
            assert_eq!(regs[1], 200);
            worst = worst.max(t.elapsed());
            reads += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("normal master: {reads} reads, worst {worst:?} during the hold, {baseline:?} before");
    assert!(
        worst < Duration::from_millis(250),
        "a read took {worst:?} during the hold ({reads} reads; {baseline:?} at worst before)"
    );

    let (mut stuck_closed, mut idle_closed) = (0, 0);
    for w in watchers {
        let (stuck, took) = w.await.unwrap();
        let took =
            took.unwrap_or_else(|| panic!("a {} connection was never closed", if stuck { "stuck" } else { "idle" }));
        let timeout = if stuck { frame } else { idle };
        assert!(took >= timeout.mul_f64(0.9), "closed before its timeout {timeout:?}: {took:?}");
        assert!(took <= timeout + Duration::from_secs(2), "closed long after its timeout {timeout:?}: {took:?}");
        if stuck {
            stuck_closed += 1;
        } else {
            idle_closed += 1;
        }
    }
    assert_eq!((stuck_closed, idle_closed), (500, 500));
    // The normal master's connections, never idle, are still open.
    for m in &mut masters {
        assert_eq!(m.read_holding_registers(0, 8).await.unwrap().unwrap().len(), 8);
    }
}
