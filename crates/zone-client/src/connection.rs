//! The TCP side of a link: one Modbus TCP connection to a host and port, which several [`ZoneLink`]s share when
//! their zones sit behind one gateway (same host and port, each its own unit id).
//!
//! Requests on a connection go one at a time (a gateway's serial line takes them so anyway): a request locks the
//! connection, sets its zone's unit id and waits for the answer within the request deadline. A transport failure
//! (timeout, reset, a garbled answer) drops the connection, since a late answer would be taken for the next
//! request's; the next request, of any zone, connects afresh. A failed *connect* puts the connection in backoff
//! (exponential, capped), during which every zone behind it fails at once without a network round trip, so a
//! gateway that is down costs its zones one connect deadline per backoff period, not one each. An exception answer
//! (e.g. 0x0B, no such unit behind the gateway) is only the asking zone's failure: the connection stays.
//!
//! A zone alone on its endpoint behaves as before connections were shared: its own backoff (kept by the link)
//! always outlasts the connection's, so the connection's never shows.

use std::sync::Arc;
use std::time::Duration;

use device_profile::{Block, Table, WriteFunction};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_modbus::client::{Context, Reader, Writer};
use tokio_modbus::prelude::{Slave, SlaveContext};

use crate::{LinkConfig, ZoneError, ZoneLink};

/// One Modbus TCP connection, possibly shared by several links (clones share it).
#[derive(Debug, Clone, Default)]
pub struct Connection(Arc<tokio::sync::Mutex<Channel>>);

#[derive(Default)]
pub(crate) struct Channel {
    ctx: Option<Context>,
    /// After a failed connect: no new attempt before this instant.
    retry_at: Option<Instant>,
    /// The next connect backoff (`None`: the link's initial backoff).
    next_backoff: Option<Duration>,
    last_error: Option<String>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("connected", &self.ctx.is_some())
            .field("retry_at", &self.retry_at)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection of its own (not connected yet).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many holders share this connection (links and the registry keeping it).
    #[must_use]
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// Whether `self` and `other` are the same connection.
    #[must_use]
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Closes the TCP connection (after the request in flight, if any); the next request connects afresh.
    pub async fn close(&self) {
        self.0.lock().await.ctx = None;
    }

    /// Whether the TCP connection is open now (`true` while a request holds it).
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.0.try_lock().map_or(true, |c| c.ctx.is_some())
    }
}

/// One request of a link.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Request<'a> {
    Read(Block),
    Write(WriteFunction, u16, &'a [u16]),
}

fn bits(values: Vec<bool>) -> Vec<u16> {
    values.into_iter().map(u16::from).collect()
}

impl ZoneLink {
    /// Sends one request on the link's connection with the zone's unit id. `retry_closed`: when a connection kept
    /// from earlier turns out closed (a device may close connections it finds idle), once more on a fresh one, so
    /// that is not taken for an outage. A timeout is never retried: that would double the deadline a silent device
    /// costs. Read answers come back as words (bits as 0 or 1); a write's answer is empty.
    pub(crate) async fn request(&mut self, request: Request<'_>, retry_closed: bool) -> Result<Vec<u16>, ZoneError> {
        if let Some(at) = self.retry_at {
            let now = Instant::now();
            if now < at {
                let why = self.last_error.clone().unwrap_or_default();
                return Err(ZoneError::BackingOff(at - now, why));
            }
        }
        let connection = self.connection.clone();
        let mut channel = connection.0.lock().await;
        let reused = channel.ctx.is_some();
        let mut answer = self.send(&mut channel, request).await;
        if reused && retry_closed && matches!(answer, Err(ZoneError::Unreachable(_))) {
            answer = self.send(&mut channel, request).await;
        }
        answer
    }

    /// One attempt: connects if needed, sends, and keeps the connection's state (dropped after a transport
    /// failure; its backoff reset by any answer).
    async fn send(&self, channel: &mut Channel, request: Request<'_>) -> Result<Vec<u16>, ZoneError> {
        let config = self.config;
        let ctx = connect(channel, &self.endpoint, &config).await?;
        ctx.set_slave(Slave(self.endpoint.unit_id));
        let deadline = config.request_timeout;
        let answer = match request {
            Request::Read(block) => {
                let (start, count) = (block.start, block.count);
                match block.table {
                    Table::Holding => Self::unpack(
                        tokio::time::timeout(deadline, ctx.read_holding_registers(start, count)).await,
                        deadline,
                    ),
                    Table::Input => Self::unpack(
                        tokio::time::timeout(deadline, ctx.read_input_registers(start, count)).await,
                        deadline,
                    ),
                    Table::Coil => {
                        Self::unpack(tokio::time::timeout(deadline, ctx.read_coils(start, count)).await, deadline)
                            .map(bits)
                    }
                    Table::DiscreteInput => Self::unpack(
                        tokio::time::timeout(deadline, ctx.read_discrete_inputs(start, count)).await,
                        deadline,
                    )
                    .map(bits),
                }
            }
            Request::Write(function, addr, words) => {
                let answer = match function {
                    WriteFunction::Fc06 => {
                        tokio::time::timeout(deadline, ctx.write_single_register(addr, words[0])).await
                    }
                    WriteFunction::Fc16 => {
                        tokio::time::timeout(deadline, ctx.write_multiple_registers(addr, words)).await
                    }
                    WriteFunction::Fc05 => {
                        tokio::time::timeout(deadline, ctx.write_single_coil(addr, words[0] != 0)).await
                    }
                };
                Self::unpack(answer, deadline).map(|()| Vec::new())
            }
        };
        match &answer {
            Err(ZoneError::Timeout(_) | ZoneError::Unreachable(_)) => {
                // A late answer would be taken for the next request's: the next request connects afresh (at once:
                // one silent unit does not put its gateway's other zones in backoff).
                channel.ctx = None;
            }
            _ => {
                channel.retry_at = None;
                channel.next_backoff = None;
            }
        }
        answer
    }
}

/// The open context, connecting first if there is none (within the request deadline). A failed connect puts the
/// connection in backoff; during it, requests fail at once with the connect's error.
async fn connect<'c>(
    channel: &'c mut Channel,
    endpoint: &crate::Endpoint,
    config: &LinkConfig,
) -> Result<&'c mut Context, ZoneError> {
    if channel.ctx.is_none() {
        if let Some(at) = channel.retry_at {
            let now = Instant::now();
            if now < at {
                let why = channel.last_error.clone().unwrap_or_default();
                return Err(ZoneError::Unreachable(format!(
                    "{why} (connection to {}:{} retried in {:.1} s)",
                    endpoint.host,
                    endpoint.port,
                    (at - now).as_secs_f64()
                )));
            }
        }
        let deadline = config.request_timeout;
        let addr = (endpoint.host.as_str(), endpoint.port);
        let stream = match tokio::time::timeout(deadline, TcpStream::connect(addr)).await {
            Err(_) => Err(ZoneError::Timeout(deadline)),
            Ok(Err(e)) => Err(ZoneError::Unreachable(e.to_string())),
            Ok(Ok(s)) => Ok(s),
        };
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                let backoff = channel.next_backoff.unwrap_or(config.backoff_initial);
                channel.retry_at = Some(Instant::now() + backoff);
                channel.next_backoff = Some((backoff * 2).min(config.backoff_max));
                channel.last_error = Some(e.to_string());
                return Err(e);
            }
        };
        let _ = stream.set_nodelay(true);
        channel.ctx = Some(tokio_modbus::client::tcp::attach_slave(stream, Slave(endpoint.unit_id)));
    }
    // Just set above when it was missing.
    channel.ctx.as_mut().ok_or_else(|| ZoneError::Unreachable("not connected".into()))
}
