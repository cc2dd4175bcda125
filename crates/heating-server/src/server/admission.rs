//! Which connections the server takes: a global cap (waited for before accepting), a cap per client address
//! (checked after accepting: over it, the connection is closed at once), and the global cap fitted to the
//! process's open-file limit.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The least number of file descriptors kept for everything but HTTP connections (database, device links, files).
const MIN_RESERVED_FILES: u64 = 64;

/// How many HTTP connections a process allowed `soft_limit` open files can hold: all but a quarter of them (at
/// least [`MIN_RESERVED_FILES`]), which stay for the database, the device links and files; at least 1.
#[must_use]
pub fn usable_connections(soft_limit: u64) -> u64 {
    soft_limit.saturating_sub((soft_limit / 4).max(MIN_RESERVED_FILES)).max(1)
}

/// `wanted` connections, or fewer if the open-file limit cannot hold them even after raising the soft limit as far
/// as the hard limit allows. Where the limit cannot be read, `wanted`.
#[must_use]
pub fn fit_to_file_limit(wanted: usize) -> usize {
    let wanted_u64 = wanted as u64;
    // The soft limit at which `usable_connections` reaches `wanted`.
    let needed = (wanted_u64 + MIN_RESERVED_FILES).max(wanted_u64.saturating_mul(4).div_ceil(3) + 1);
    let soft = match rlimit::increase_nofile_limit(needed) {
        Ok(soft) => soft,
        Err(e) => {
            tracing::debug!("could not read or raise the open-file limit: {e}");
            match rlimit::getrlimit(rlimit::Resource::NOFILE) {
                Ok((soft, _hard)) => soft,
                Err(_) => return wanted,
            }
        }
    };
    usize::try_from(usable_connections(soft).min(wanted_u64)).unwrap_or(wanted)
}

/// The two caps, shared by the accept loop and the connections' [`ClientSlot`]s.
#[derive(Debug)]
pub(super) struct Admission {
    global: Arc<Semaphore>,
    max_connections: usize,
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_client: usize,
    full: Throttle,
    refused: Throttle,
    failed: Throttle,
}

impl Admission {
    pub(super) fn new(max_connections: usize, max_per_client: usize) -> Self {
        Self {
            global: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            clients: Arc::default(),
            max_per_client,
            full: Throttle::default(),
            refused: Throttle::default(),
            failed: Throttle::default(),
        }
    }

    /// A place under the global cap; waits (without accepting) while every place is taken.
    pub(super) async fn wait_for_slot(&self) -> OwnedSemaphorePermit {
        if let Ok(permit) = self.global.clone().try_acquire_owned() {
            return permit;
        }
        if let Some(more) = self.full.check() {
            tracing::warn!(
                "{} connections open (--max-connections): new connections wait until one closes{}",
                self.max_connections,
                more.map_or(String::new(), |n| format!(" (reached {n} more times since the last report)"))
            );
        }
        match self.global.clone().acquire_owned().await {
            Ok(permit) => permit,
            // The semaphore is never closed.
            Err(_) => std::future::pending().await,
        }
    }

    /// A place for a connection from `ip`, or `None` (and the connection is to be closed) if that address already
    /// holds `max_per_client` connections. IPv4 addresses mapped into IPv6 count as the IPv4 address.
    pub(super) fn admit(&self, permit: OwnedSemaphorePermit, ip: IpAddr) -> Option<ClientSlot> {
        let ip = ip.to_canonical();
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        let held = clients.entry(ip).or_insert(0);
        if *held >= self.max_per_client {
            drop(clients);
            if let Some(more) = self.refused.check() {
                tracing::warn!(
                    client = %ip,
                    "client holds {} connections (--max-connections-per-client): closing its new connections{}",
                    self.max_per_client,
                    more.map_or(String::new(), |n| format!(" ({n} more refused since the last report)"))
                );
            }
            return None;
        }
        *held += 1;
        Some(ClientSlot { ip, clients: self.clients.clone(), _permit: permit })
    }

    /// After a failed `accept`: a connection the client already gave up on is skipped; anything else (out of file
    /// descriptors above all) is logged and retried after a pause, as axum's server does.
    pub(super) async fn accept_failed(&self, e: &io::Error) {
        use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
        if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted) {
            return;
        }
        if let Some(more) = self.failed.check() {
            tracing::error!(
                "could not accept a connection: {e}{}",
                more.map_or(String::new(), |n| format!(" ({n} more failures since the last report)"))
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A connection's place under both caps, given back when dropped.
#[derive(Debug)]
pub(super) struct ClientSlot {
    ip: IpAddr,
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = clients.get_mut(&self.ip) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                clients.remove(&self.ip);
            }
        }
    }
}

/// At most one report per [`Throttle::PERIOD`] of a condition that may happen thousands of times a second.
#[derive(Debug)]
struct Throttle {
    start: Instant,
    /// Milliseconds after `start` of the last report, plus one (0: never reported).
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl Default for Throttle {
    fn default() -> Self {
        Self { start: Instant::now(), last: AtomicU64::new(0), suppressed: AtomicU64::new(0) }
    }
}

impl Throttle {
    const PERIOD: Duration = Duration::from_secs(10);

    /// `Some(None)` for the first report, `Some(Some(n))` for a later one (`n` occurrences went unreported since),
    /// `None` when this occurrence is not to be reported.
    fn check(&self) -> Option<Option<u64>> {
        self.check_at(u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1)
    }

    /// [`Throttle::check`] at `now`, milliseconds after `start` plus one.
    fn check_at(&self, now: u64) -> Option<Option<u64>> {
        let last = self.last.load(Ordering::Relaxed);
        let period = u64::try_from(Self::PERIOD.as_millis()).unwrap_or(u64::MAX);
        if last != 0 && now.saturating_sub(last) < period
            || self.last.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        Some((last != 0).then_some(suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_of_the_files_stays_for_the_rest() {
        assert_eq!(usable_connections(1024), 768);
        assert_eq!(usable_connections(100), 36);
        assert_eq!(usable_connections(10), 1);
        assert_eq!(usable_connections(1_048_576), 786_432);
    }

    #[test]
    fn a_connection_count_that_fits_is_kept() {
        assert_eq!(fit_to_file_limit(1), 1);
        let fitted = fit_to_file_limit(100_000_000);
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert_eq!(fitted as u64, usable_connections(soft));
    }

    #[tokio::test]
    async fn a_client_over_its_cap_is_refused_and_its_slots_come_back() {
        let admission = Admission::new(10, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = admission.admit(admission.wait_for_slot().await, a).unwrap();
        let _second = admission.admit(admission.wait_for_slot().await, mapped).unwrap();
        assert!(admission.admit(admission.wait_for_slot().await, a).is_none(), "third from the same address");
        let _other = admission.admit(admission.wait_for_slot().await, b).unwrap();
        assert_eq!(admission.global.available_permits(), 10 - 3, "a refused connection gives its place back");
        drop(first);
        let _again = admission.admit(admission.wait_for_slot().await, a).unwrap();
        assert_eq!(admission.global.available_permits(), 10 - 3);
        assert_eq!(admission.clients.lock().unwrap()[&a], 2);
    }

    #[test]
    fn the_throttle_reports_once_per_period_with_the_count_left_out() {
        let throttle = Throttle::default();
        assert_eq!(throttle.check_at(1), Some(None));
        assert_eq!(throttle.check_at(100), None);
        assert_eq!(throttle.check_at(9_000), None);
        assert_eq!(throttle.check_at(10_001), Some(Some(2)));
        assert_eq!(throttle.check_at(10_002), None);
    }
}
