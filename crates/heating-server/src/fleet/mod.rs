//! The live side of the zones: one [`ZoneRuntime`] per zone that has a Modbus endpoint, holding its persistent
//! link, its health, its newest reading, the control decision in force, a manual hold and its last command.
//!
//! The database is the record; the fleet is what the poller, the control job, manual commands and `/status`
//! share in memory. It follows the database: API handlers that change zones call [`Fleet::mark_dirty`], and the
//! next poll cycle reloads the zone list ([`Fleet::sync`]) — one query, only when something changed. A zone whose
//! endpoint is unchanged keeps its runtime (and connection); a changed endpoint gets a fresh link; a deleted zone's
//! runtime is dropped, which closes its connection.
//!
//! Zones behind one Modbus TCP gateway (the same host and port, distinct unit ids) share one connection: their
//! requests go one at a time, each with its zone's unit id (`zone_client::Connection`). The fleet keeps one
//! connection per host and port while a zone uses it; health, backoff after a zone's own failures, and everything
//! else stay per zone.
//!
//! The fleet holds state; the behaviour lives elsewhere: [`dispatch`] sends a target to a device (the one way any
//! write reaches a device), [`signals`] logs health changes once each, `crate::strategy` decides targets,
//! `crate::learning` fills [`Learned`].

pub mod dispatch;
mod lease;
pub mod reading;
pub mod signals;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use device_profile::Profile;
use heating_core::control::Hold;
use heating_core::preferences::Preferences;
use heating_predict::Identification;
use heating_predict::model::ZoneModel;
use zone_client::{Connection, Endpoint, Health, LinkConfig, ZoneLink};

use crate::config::DeviceNetworks;
use crate::metrics::Metrics;
use crate::profiles::ProfileRegistry;
use crate::storage::{Command, CommandSource, InstanceIdentity, Storage, StorageError, StoredHold, Zone, ZoneId};

pub use lease::{Fence, Lease, Leases};
pub use reading::{EnergyEstimate, LiveReading};

/// The control decision in force (the output of the zone's controller, whatever its strategy), and when it was
/// made.
#[derive(Debug, Clone)]
pub struct ActiveDecision {
    pub at: DateTime<Utc>,
    pub strategy: heating_predict::Strategy,
    pub output: heating_predict::ControlOutput,
}

/// A manual hold and who set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HoldRecord {
    pub hold: Hold,
    pub set_at: DateTime<Utc>,
    pub source: CommandSource,
}

impl HoldRecord {
    /// The record to store for `zone_id`.
    #[must_use]
    pub fn stored(&self, zone_id: ZoneId) -> StoredHold {
        StoredHold {
            zone_id,
            target: self.hold.target,
            until: self.hold.until,
            occupied_at_start: self.hold.occupied_at_start,
            set_at: self.set_at,
            source: self.source,
        }
    }
}

impl From<&StoredHold> for HoldRecord {
    fn from(h: &StoredHold) -> Self {
        Self {
            hold: Hold { target: h.target, until: h.until, occupied_at_start: h.occupied_at_start },
            set_at: h.set_at,
            source: h.source,
        }
    }
}

/// What the jobs know of a zone right now.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// Set through [`ZoneRuntime::record_health`], which logs changes.
    pub health: Option<Health>,
    /// The health state last logged (see [`signals`]).
    pub signalled: Option<zone_client::HealthState>,
    pub reading: Option<LiveReading>,
    /// The last control run's decision.
    pub decision: Option<ActiveDecision>,
    pub hold: Option<HoldRecord>,
    pub last_command: Option<Command>,
    /// The predictive controller's last plan and the kind of model it used (`None` for strategies that do not
    /// plan, or when the last run made no plan).
    pub plan: Option<(heating_predict::control::PlanSummary, heating_predict::model::ModelSource)>,
    /// Control writes (of any source) that failed in a row; 0 after a confirmed one.
    pub failed_writes: u32,
}

/// The model a zone's controller uses, from a good fit of the zone's own readings.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedModel {
    /// When the fit was made (server clock).
    pub fitted_at: DateTime<Utc>,
    /// Days of readings fitted.
    pub days: u32,
    pub model: ZoneModel,
    /// RMSE of the fit, K.
    pub rmse_k: f64,
}

/// What the controllers know of a zone from its history (filled by `crate::learning`).
#[derive(Debug, Clone, Default)]
pub struct Learned {
    /// Expected occupancy: rebuilt daily from the database, fed each new reading by the poller in between.
    pub occupancy: heating_predict::LearnedSchedule,
    /// When the occupancy was last rebuilt from the database (server clock).
    pub occupancy_rebuilt_at: Option<DateTime<Utc>>,
    /// When the learning job last fitted the zone's model (server clock).
    pub model_attempted_at: Option<DateTime<Utc>>,
    /// The latest good model fit; `None` until there is one (control then uses the fallback model).
    pub model: Option<LearnedModel>,
    /// The latest fit over each number of days (good or not) and when it was made, reused for a while.
    pub fits: HashMap<u32, (DateTime<Utc>, Identification)>,
}

/// One zone with a device.
#[derive(Debug)]
pub struct ZoneRuntime {
    pub id: ZoneId,
    endpoint: Endpoint,
    /// The device profile the link speaks (rebuilt with a new link when the zone's profile changes).
    profile: Arc<Profile>,
    zone: RwLock<Zone>,
    /// The persistent connection. Held for the length of one request (or one write plus its read-back).
    pub link: tokio::sync::Mutex<ZoneLink>,
    live: Mutex<Live>,
    /// The zone's controller, rebuilt when the strategy changes. Locked briefly, never across an await.
    pub controller: Mutex<Option<Box<dyn heating_predict::Controller>>>,
    learned: Mutex<Learned>,
    /// The energy estimate of a device without a meter; `None` until loaded from the last stored reading.
    pub energy: Mutex<Option<EnergyEstimate>>,
    /// The application's metrics (requests and writes are counted where they happen).
    pub metrics: Arc<Metrics>,
    /// The fleet's leases (shared), for the write fence.
    leases: Arc<RwLock<Leases>>,
    /// This instance's id.
    instance: Arc<str>,
}

impl ZoneRuntime {
    #[allow(clippy::too_many_arguments)]
    fn new(
        zone: Zone,
        endpoint: Endpoint,
        profile: Arc<Profile>,
        config: LinkConfig,
        connection: Connection,
        metrics: Arc<Metrics>,
        leases: Arc<RwLock<Leases>>,
        instance: Arc<str>,
    ) -> Self {
        Self {
            leases,
            instance,
            id: zone.id,
            link: tokio::sync::Mutex::new(ZoneLink::on_connection(
                endpoint.clone(),
                config,
                profile.clone(),
                connection,
            )),
            endpoint,
            profile,
            zone: RwLock::new(zone),
            live: Mutex::new(Live::default()),
            controller: Mutex::new(None),
            learned: Mutex::new(Learned::default()),
            energy: Mutex::new(None),
            metrics,
        }
    }

    #[must_use]
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The device profile the zone's link speaks.
    #[must_use]
    pub fn profile(&self) -> &Arc<Profile> {
        &self.profile
    }

    /// Whether and under which lease this instance may write to the zone's device.
    #[must_use]
    pub fn fence(&self) -> Fence {
        let leases = self.leases.read().unwrap_or_else(PoisonError::into_inner);
        match &leases.held {
            None => Fence::Sole,
            Some(held) => match held.get(&self.id) {
                Some(lease) => {
                    Fence::Held { instance: self.instance.to_string(), epoch: lease.epoch, margin: leases.write_margin }
                }
                None => Fence::Elsewhere,
            },
        }
    }

    /// The energy estimate, locked briefly (never across an await).
    pub fn energy(&self) -> MutexGuard<'_, Option<EnergyEstimate>> {
        self.energy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The zone as last loaded from the database.
    #[must_use]
    pub fn zone(&self) -> Zone {
        self.zone.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    #[must_use]
    pub fn preferences(&self) -> Preferences {
        self.zone.read().unwrap_or_else(PoisonError::into_inner).preferences.clone()
    }

    #[must_use]
    pub fn name(&self) -> String {
        self.zone.read().unwrap_or_else(PoisonError::into_inner).name.clone()
    }

    /// The live state, locked briefly (never across an await).
    pub fn live(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What was learned of the zone, locked briefly (never across an await).
    pub fn learned(&self) -> MutexGuard<'_, Learned> {
        self.learned.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The connection to the endpoint's host and port, shared with the zones already on it.
fn connection_for(connections: &mut HashMap<(String, u16), Connection>, endpoint: &Endpoint) -> Connection {
    connections.entry((endpoint.host.clone(), endpoint.port)).or_default().clone()
}

/// Endpoint of a stored zone, if it has a device.
#[must_use]
pub fn endpoint_of(zone: &Zone) -> Option<Endpoint> {
    zone.modbus_port.map(|port| Endpoint { host: zone.modbus_host.clone(), port, unit_id: zone.modbus_unit_id })
}

/// All zone runtimes.
#[derive(Debug)]
pub struct Fleet {
    zones: RwLock<HashMap<ZoneId, Arc<ZoneRuntime>>>,
    /// One connection per device host and port, shared by the zones behind it (kept while a zone uses it).
    connections: Mutex<HashMap<(String, u16), Connection>>,
    dirty: AtomicBool,
    link_config: LinkConfig,
    /// Devices outside these networks are not used (`DEVICE_NETWORKS`).
    device_networks: DeviceNetworks,
    metrics: Arc<Metrics>,
    /// The profiles zones name.
    profiles: Arc<ProfileRegistry>,
    /// Who this instance is, and since when it runs (real time).
    identity: InstanceIdentity,
    started_at: DateTime<Utc>,
    instance: Arc<str>,
    /// Which zones this instance acts on (shared with the runtimes).
    leases: Arc<RwLock<Leases>>,
    /// Held by the poller while a cycle reads: a zone given up waits for the cycle reading it to end
    /// ([`Fleet::quiesce`]).
    pub cycle: tokio::sync::Mutex<()>,
    /// Held while a cycle's readings are stored, which overlaps the next cycle's reading. A cycle takes it before
    /// it lets go of `cycle`, so stores run one at a time, in cycle order.
    pub storing: Arc<tokio::sync::Mutex<()>>,
    /// The zone table's (row count, latest change) last seen by the lease job.
    pub zones_version: Mutex<Option<(i64, i64)>>,
}

impl Fleet {
    /// An empty fleet that loads the zone list at the first cycle.
    #[must_use]
    pub fn new(
        link_config: LinkConfig,
        device_networks: DeviceNetworks,
        metrics: Arc<Metrics>,
        profiles: Arc<ProfileRegistry>,
        identity: InstanceIdentity,
        started_at: DateTime<Utc>,
    ) -> Self {
        Self {
            started_at,
            instance: Arc::from(identity.id.as_str()),
            identity,
            leases: Arc::new(RwLock::new(Leases::default())),
            cycle: tokio::sync::Mutex::new(()),
            storing: Arc::new(tokio::sync::Mutex::new(())),
            zones_version: Mutex::new(None),
            zones: RwLock::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            dirty: AtomicBool::new(true),
            link_config,
            device_networks,
            metrics,
            profiles,
        }
    }

    /// Waits until no poll cycle reads or stores readings of a zone this instance has stopped acting on: the
    /// cycle reading (if any), then the store of what it read (a cycle holds `storing` before it lets go of
    /// `cycle`, so the wait on `storing` comes after that store). Call after [`Fleet::set_held`] dropped them.
    pub async fn quiesce(&self) {
        drop(self.cycle.lock().await);
        drop(self.storing.lock().await);
    }

    /// Zones changed in the database: reload at the next cycle.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Whether a reload is due (and clears the flag).
    pub fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::AcqRel)
    }

    /// Makes the fleet match `zones`: keeps runtimes whose endpoint and profile are unchanged, replaces the others,
    /// drops runtimes of zones that are gone, lost their endpoint, or name a profile the server does not know (a
    /// posted profile that no longer validates).
    pub fn sync(&self, zones: Vec<Zone>) {
        let mut map = self.zones.write().unwrap_or_else(PoisonError::into_inner);
        let mut connections = self.connections.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = HashMap::with_capacity(zones.len());
        for zone in zones {
            let Some(endpoint) = endpoint_of(&zone) else { continue };
            if let Err(why) = self.device_networks.check_host(&endpoint.host) {
                // Stored before DEVICE_NETWORKS was set (or narrowed): not polled, not controlled.
                tracing::warn!(zone_id = zone.id, name = %zone.name, "device not used: {why}");
                continue;
            }
            let Some(known) = self.profiles.get(&zone.device_profile) else {
                tracing::warn!(zone_id = zone.id, name = %zone.name, profile = %zone.device_profile,
                    "device not used: unknown device profile");
                continue;
            };
            let profile = known.profile.clone();
            let id = zone.id;
            let runtime = match map.remove(&id) {
                Some(rt) if rt.endpoint == endpoint && Arc::ptr_eq(&rt.profile, &profile) => {
                    *rt.zone.write().unwrap_or_else(PoisonError::into_inner) = zone;
                    rt
                }
                _ => Arc::new(ZoneRuntime::new(
                    zone,
                    endpoint.clone(),
                    profile,
                    self.link_config,
                    connection_for(&mut connections, &endpoint),
                    self.metrics.clone(),
                    self.leases.clone(),
                    self.instance.clone(),
                )),
            };
            next.insert(id, runtime);
        }
        *map = next;
        // A runtime dropped above lets go of its connection once its last request ends (it holds the link).
        connections.retain(|_, c| c.holders() > 1);
    }

    /// Closes the connections that no zone this instance acts on uses any more (zones given up to, or lost to,
    /// another instance), so that an instance keeps sockets open for its own share of the fleet only.
    pub async fn close_unused_connections(&self) {
        let used: std::collections::HashSet<(String, u16)> =
            self.owned().iter().map(|rt| (rt.endpoint.host.clone(), rt.endpoint.port)).collect();
        let unused: Vec<Connection> = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(key, _)| !used.contains(*key))
            .map(|(_, c)| c.clone())
            .collect();
        for connection in unused {
            connection.close().await;
        }
    }

    /// How many connections the fleet's zones use (one per device host and port).
    #[must_use]
    pub fn connection_count(&self) -> usize {
        self.connections.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Reloads the zone list from the database now, with the stored manual holds of zones that have none in force.
    pub async fn reload(&self, storage: &Storage) -> Result<(), StorageError> {
        let zones = storage.list_zones().await?;
        let holds = storage.list_holds().await?;
        self.sync(zones);
        self.restore_holds(&holds);
        Ok(())
    }

    /// Reloads the zone list if a zone changed since the last load.
    pub async fn reload_if_dirty(&self, storage: &Storage) -> Result<(), StorageError> {
        if self.take_dirty()
            && let Err(e) = self.reload(storage).await
        {
            self.mark_dirty();
            return Err(e);
        }
        Ok(())
    }

    /// Puts stored holds in force in zones that have none in memory (after a restart, or a new runtime).
    pub fn restore_holds(&self, holds: &[StoredHold]) {
        for h in holds {
            if let Some(rt) = self.get(h.zone_id) {
                let mut live = rt.live();
                if live.hold.is_none() {
                    live.hold = Some(HoldRecord::from(h));
                }
            }
        }
    }

    /// Every runtime, by zone id.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<ZoneRuntime>> {
        let map = self.zones.read().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> = map.values().cloned().collect();
        all.sort_by_key(|rt| rt.id);
        all
    }

    /// This instance.
    #[must_use]
    pub fn identity(&self) -> &InstanceIdentity {
        &self.identity
    }

    /// When this instance started (real time).
    #[must_use]
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// From now on this instance acts only on the zones it holds a lease of (none yet); writes need `write_margin`
    /// of their lease left.
    pub fn share_by_leases(&self, write_margin: std::time::Duration) {
        let mut leases = self.leases.write().unwrap_or_else(PoisonError::into_inner);
        leases.held = Some(HashMap::new());
        leases.write_margin = write_margin;
    }

    /// Whether the fleet is shared by leases with other instances.
    #[must_use]
    pub fn is_shared(&self) -> bool {
        self.leases.read().unwrap_or_else(PoisonError::into_inner).held.is_some()
    }

    /// The leases held now (`None`: the only instance, every zone).
    #[must_use]
    pub fn held(&self) -> Option<HashMap<ZoneId, Lease>> {
        self.leases.read().unwrap_or_else(PoisonError::into_inner).held.clone()
    }

    /// Replaces the leases held (shared mode only).
    pub fn set_held(&self, held: HashMap<ZoneId, Lease>) {
        let mut leases = self.leases.write().unwrap_or_else(PoisonError::into_inner);
        if leases.held.is_some() {
            leases.held = Some(held);
        }
    }

    /// Whether this instance polls and controls the zone.
    #[must_use]
    pub fn acts_on(&self, id: ZoneId) -> bool {
        self.leases.read().unwrap_or_else(PoisonError::into_inner).held.as_ref().is_none_or(|h| h.contains_key(&id))
    }

    /// The runtimes of the zones this instance polls and controls (every zone unless shared), by zone id.
    #[must_use]
    pub fn owned(&self) -> Vec<Arc<ZoneRuntime>> {
        let leases = self.leases.read().unwrap_or_else(PoisonError::into_inner);
        let map = self.zones.read().unwrap_or_else(PoisonError::into_inner);
        let mut owned: Vec<_> = match &leases.held {
            None => map.values().cloned().collect(),
            Some(held) => held.keys().filter_map(|id| map.get(id).cloned()).collect(),
        };
        owned.sort_by_key(|rt| rt.id);
        owned
    }

    /// When the zone may be polled (a zone just taken over waits), `None`: now.
    #[must_use]
    pub fn poll_after(&self, id: ZoneId) -> Option<DateTime<Utc>> {
        let leases = self.leases.read().unwrap_or_else(PoisonError::into_inner);
        leases.held.as_ref().and_then(|h| h.get(&id)).and_then(|l| l.poll_after)
    }

    #[must_use]
    pub fn get(&self, id: ZoneId) -> Option<Arc<ZoneRuntime>> {
        self.zones.read().unwrap_or_else(PoisonError::into_inner).get(&id).cloned()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.zones.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
