//! One listener and its connections: timeouts, the connection cap, and the request loop. A listener serves one zone,
//! or several behind it as a Modbus TCP gateway does, each answering its own unit id ([`Gateway`]); a request for
//! a unit id nobody serves there is answered with exception 0x0B by the first zone, exactly as one zone alone answers
//! a wrong unit id.
//!
//! A connection waits at most the idle timeout for the first byte of its next request (counted from the connect or
//! from the previous answer); once that byte has arrived, the rest of the request must arrive within the frame
//! timeout, and the answer must be taken by the peer within the frame timeout too. A zone serves at most
//! `max_connections` at once; a further connection closes the one that has gone longest without a complete
//! request (the "oldest unused connection", as devices with few connection slots do), so that nobody can hold a
//! zone by opening connections and sending nothing.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::Zone;
use crate::config::ConnectionLimits;
use crate::frame::{self, HEADER_LEN};
use crate::modbus::ZoneService;

/// Largest PDU (the MBAP length's upper bound less the unit id).
const MAX_PDU: usize = frame::MAX_LENGTH as usize - 1;
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One admitted connection, as the registry sees it.
#[derive(Debug)]
struct Slot {
    id: u64,
    /// The registry's sequence number at the connect or the last complete request (a strict order, no ties).
    last_request: AtomicU64,
    cancel: CancellationToken,
}

/// The connections of one listener.
#[derive(Debug)]
struct Registry {
    max: usize,
    /// Counts connects and complete requests, ordering them.
    sequence: AtomicU64,
    slots: Mutex<Vec<Arc<Slot>>>,
    /// Cancelled when the listener stops: every connection closes with it.
    all: CancellationToken,
}

impl Registry {
    fn next(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }

    /// Admits a new connection, closing the one longest without a complete request if the zone is full.
    fn admit(self: &Arc<Self>, peer: SocketAddr) -> Admitted {
        let id = self.next();
        let slot = Arc::new(Slot { id, last_request: AtomicU64::new(id), cancel: self.all.child_token() });
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= self.max {
            let oldest = (0..slots.len()).min_by_key(|&i| slots[i].last_request.load(Ordering::Relaxed));
            if let Some(i) = oldest {
                tracing::debug!(%peer, max = self.max, "connection cap reached: closing the oldest unused connection");
                slots.swap_remove(i).cancel.cancel();
            }
        }
        slots.push(slot.clone());
        Admitted { registry: self.clone(), slot }
    }
}

/// Leaves the registry when the connection ends.
#[derive(Debug)]
struct Admitted {
    registry: Arc<Registry>,
    slot: Arc<Slot>,
}

impl Admitted {
    fn touch(&self) {
        self.slot.last_request.store(self.registry.next(), Ordering::Relaxed);
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut slots = self.registry.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = slots.iter().position(|s| s.id == self.slot.id) {
            slots.swap_remove(i);
        }
    }
}

/// The zones served on one listener, by unit id.
#[derive(Debug)]
pub(crate) struct Gateway {
    /// In zone order; never empty.
    services: Vec<ZoneService>,
    /// The index in `services` of the zone with each unit id.
    by_unit: Vec<Option<usize>>,
}

impl Gateway {
    /// The zones of one listener (at least one; config validation made their unit ids distinct).
    pub(crate) fn new(zones: Vec<Arc<Zone>>) -> Self {
        let mut by_unit = vec![None; 256];
        for (i, zone) in zones.iter().enumerate() {
            by_unit[usize::from(zone.unit_id)].get_or_insert(i);
        }
        Self { services: zones.into_iter().map(|zone| ZoneService { zone }).collect(), by_unit }
    }

    /// The zone answering `unit_id`; for a unit id nobody serves, the first zone (which answers 0x0B).
    fn service(&self, unit_id: u8) -> &ZoneService {
        let i = self.by_unit[usize::from(unit_id)].unwrap_or(0);
        &self.services[i]
    }

    fn name(&self) -> &str {
        &self.services[0].zone.name
    }
}

/// Serves the gateway's zones on `listener` until the task is dropped or aborted, which closes every connection
/// too.
pub(crate) async fn serve(gateway: Arc<Gateway>, listener: TcpListener, limits: ConnectionLimits) {
    let registry = Arc::new(Registry {
        max: limits.max_connections.max(1),
        sequence: AtomicU64::new(0),
        slots: Mutex::new(Vec::new()),
        all: CancellationToken::new(),
    });
    let _close_all = registry.all.clone().drop_guard();
    let mut accept_failing = false;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, typically: keep the zone listening (and say so once per episode).
                if !accept_failing {
                    tracing::warn!(zone = %gateway.name(), "cannot accept Modbus connections: {e}");
                    accept_failing = true;
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        accept_failing = false;
        let _ = stream.set_nodelay(true);
        let admitted = registry.admit(peer);
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let cancel = admitted.slot.cancel.clone();
            let why = match cancel.run_until_cancelled(requests(stream, &gateway, &limits, &admitted)).await {
                None => "replaced by a newer connection (connection cap) or the zone stopped".to_string(),
                Some(why) => why.to_string(),
            };
            tracing::debug!(zone = %gateway.name(), %peer, "Modbus connection closed: {why}");
        });
    }
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
enum Closed {
    #[error("closed by the peer")]
    Peer,
    #[error("idle for {0:?}")]
    Idle(Duration),
    #[error("request not complete within {0:?}")]
    Frame(Duration),
    #[error("answer not taken within {0:?}")]
    Write(Duration),
    #[error(transparent)]
    Header(#[from] frame::HeaderError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn eof_is_peer(e: std::io::Error) -> Closed {
    if e.kind() == std::io::ErrorKind::UnexpectedEof { Closed::Peer } else { Closed::Io(e) }
}

/// The request loop of one connection: returns why it ended.
async fn requests(stream: TcpStream, gateway: &Gateway, limits: &ConnectionLimits, me: &Admitted) -> Closed {
    let mut stream = BufReader::new(stream);
    let mut header = [0u8; HEADER_LEN];
    let mut pdu = [0u8; MAX_PDU];
    let mut out = Vec::with_capacity(HEADER_LEN + MAX_PDU);
    loop {
        match tokio::time::timeout(limits.idle_timeout, stream.read(&mut header[..1])).await {
            Err(_) => return Closed::Idle(limits.idle_timeout),
            Ok(Ok(0)) => return Closed::Peer,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Closed::Io(e),
        }
        let deadline = tokio::time::Instant::now() + limits.frame_timeout;
        match tokio::time::timeout_at(deadline, stream.read_exact(&mut header[1..])).await {
            Err(_) => return Closed::Frame(limits.frame_timeout),
            Ok(Err(e)) => return eof_is_peer(e),
            Ok(Ok(_)) => {}
        }
        // A header that cannot start a Modbus request: close now rather than wait for what its length promised.
        let h = match frame::parse_header(&header) {
            Ok(h) => h,
            Err(e) => return e.into(),
        };
        let body = &mut pdu[..h.pdu_len];
        match tokio::time::timeout_at(deadline, stream.read_exact(body)).await {
            Err(_) => return Closed::Frame(limits.frame_timeout),
            Ok(Err(e)) => return eof_is_peer(e),
            Ok(Ok(_)) => {}
        }
        me.touch();
        let service = gateway.service(h.unit_id);
        let answer = service.answer(h.unit_id, frame::decode_request(body, service.zone.device.functions()));
        if let Err((function, exception)) = &answer {
            tracing::debug!(zone = %service.zone.name, function, ?exception, "request refused");
        }
        out.clear();
        frame::encode_response(&h, &answer, &mut out);
        match tokio::time::timeout(limits.frame_timeout, stream.write_all(&out)).await {
            Err(_) => return Closed::Write(limits.frame_timeout),
            Ok(Err(e)) => return Closed::Io(e),
            Ok(Ok(())) => {}
        }
    }
}
