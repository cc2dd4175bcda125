//! The zone simulator: [`heating_core::zone::SimZone`]s served over Modbus TCP, one zone per listener, or several
//! behind one listener as behind a Modbus TCP gateway (`--units-per-port`, or zones of the config file sharing a
//! port): each answers its own unit id there.
//!
//! [`Simulator::bind`] binds every listener first (so a port clash is reported before anything runs), then
//! [`Simulator::spawn`] serves them until [`SimulatorHandle::shutdown`] or until the handle is dropped. The zones
//! advance lazily to the clock's "now" whenever a master reads or writes them, and a ticker advances all of them
//! once a second so that nothing piles up between reads. Tests and the server's one-process demo use the library;
//! the `zone-simulator` binary is a thin wrapper around it.
//!
//! Each zone speaks a device profile ([`config::ZoneSpec::device_profile`], default `heating-sim`, README's register
//! map): the same physics served through any register map ([`device`]).
//!
//! Each zone reads its Modbus TCP frames itself ([`frame`] checks the MBAP header and the PDU, answering a malformed
//! request with an exception) and bounds what a connection may hold ([`config::ConnectionLimits`]: an idle and a
//! frame-completion timeout, and a cap on connections per zone).

pub mod config;
mod connection;
pub mod device;
mod frame;
mod modbus;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::Utc;
use heating_core::clock::{ScaledClock, SharedClock, WallClock};
use heating_core::registers::ZoneSnapshot;
use heating_core::units::Setpoint;
use heating_core::weather::SyntheticWeather;
use heating_core::zone::SimZone;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::{ConfigError, ConnectionLimits, Listener, SimulatorConfig, ZoneSpec};
pub use device::DeviceMap;

/// What all zones share: the clock, the weather and the physics step.
#[derive(Debug)]
struct Environment {
    clock: SharedClock,
    weather: SyntheticWeather,
    step: chrono::Duration,
}

/// One served zone.
#[derive(Debug)]
pub struct Zone {
    pub name: String,
    pub unit_id: u8,
    /// The register map the zone serves.
    pub device: Arc<DeviceMap>,
    sim: Mutex<SimZone>,
    env: Arc<Environment>,
    faults: Mutex<SensorFaults>,
}

/// Faults of the zone's electronics (not its physics), injected at run time for tests.
#[derive(Debug, Default, Clone, Copy)]
struct SensorFaults {
    /// The air temperature the sensor is stuck at, if frozen.
    frozen_air: Option<f64>,
    /// Target writes are answered with exception 04 (server device failure) and change nothing.
    refuse_writes: bool,
}

impl Zone {
    fn lock(&self) -> MutexGuard<'_, SimZone> {
        // The simulation holds no invariant that a panic elsewhere could break half-way; keep serving.
        self.sim.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn advanced(&self) -> MutexGuard<'_, SimZone> {
        let mut sim = self.lock();
        sim.advance_to(self.env.clock.now(), self.env.step, &self.env.weather);
        sim
    }

    /// The zone's state now (advancing the simulation to the clock's current time first).
    #[must_use]
    pub fn current(&self) -> ZoneSnapshot {
        self.advanced().snapshot()
    }

    /// Sets the target, effective from now.
    pub fn set_target(&self, target: Setpoint) {
        self.advanced().set_target(target);
    }

    /// Changes the room's heat-loss coefficient UA (W/K), effective from now: a window held open, or closed again.
    pub fn set_ua(&self, ua_w_per_k: f64) -> Result<(), heating_core::physics::ParamsError> {
        self.advanced().set_ua(ua_w_per_k)
    }

    /// The room's heat-loss coefficient UA now (W/K).
    #[must_use]
    pub fn ua(&self) -> f64 {
        self.lock().params().ua_w_per_k
    }

    /// Injects or removes a heater fault, effective from now: the heater reports on but no heat reaches the room.
    pub fn set_heater_fault(&self, fault: bool) {
        self.advanced().set_heater_fault(fault);
    }

    fn faults(&self) -> MutexGuard<'_, SensorFaults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Freezes (or thaws) the air temperature sensor, effective from now: while frozen, the served air
    /// temperature stays at its value when frozen, while the room's physics (and every other register) go on.
    pub fn set_sensor_frozen(&self, frozen: bool) {
        let air = frozen.then(|| self.current().air_temperature);
        self.faults().frozen_air = air;
    }

    /// Makes the zone refuse (or accept again) target writes: a refused write is answered with Modbus exception
    /// 04 (server device failure) and changes nothing.
    pub fn set_writes_refused(&self, refused: bool) {
        self.faults().refuse_writes = refused;
    }

    pub(crate) fn writes_refused(&self) -> bool {
        self.faults().refuse_writes
    }

    /// The state served over Modbus: [`Zone::current`] as the zone's sensors report it (a frozen sensor's value).
    pub(crate) fn served(&self) -> ZoneSnapshot {
        let mut snapshot = self.current();
        if let Some(air) = self.faults().frozen_air {
            snapshot.air_temperature = air;
        }
        snapshot
    }
}

/// Listeners bound, zones built, nothing served yet.
#[derive(Debug)]
pub struct Simulator {
    zones: Vec<Arc<Zone>>,
    listeners: Vec<TcpListener>,
    /// The listener each zone is served on (an index into `listeners`).
    zone_listener: Vec<usize>,
    env: Arc<Environment>,
    limits: ConnectionLimits,
}

/// Why the simulator cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr} for zone {zone:?}: {source}")]
    Bind { addr: SocketAddr, zone: String, source: std::io::Error },
}

impl Simulator {
    /// Validates the configuration, builds the zones and binds one listener per zone.
    pub async fn bind(config: &SimulatorConfig) -> Result<Self, StartError> {
        let clock: SharedClock = if config.time_scale == 1.0 && config.start.is_none() {
            Arc::new(WallClock)
        } else {
            Arc::new(ScaledClock::new(config.start.unwrap_or_else(Utc::now), config.time_scale))
        };
        Self::bind_with_clock(config, clock).await
    }

    /// As [`Simulator::bind`], on a clock the caller shares (the server's demo runs zones and server on one clock).
    pub async fn bind_with_clock(config: &SimulatorConfig, clock: SharedClock) -> Result<Self, StartError> {
        config.validate()?;
        let env = Arc::new(Environment {
            step: chrono::Duration::milliseconds((config.step_s * 1000.0).round() as i64),
            weather: config.weather,
            clock,
        });
        let start = env.clock.now();
        let mut zones = Vec::with_capacity(config.zones.len());
        let mut listeners = Vec::new();
        let mut zone_listener = Vec::with_capacity(config.zones.len());
        let mut by_key: std::collections::HashMap<config::Listener, usize> = std::collections::HashMap::new();
        // One served map per profile, shared by the zones speaking it.
        let mut maps: Vec<Arc<DeviceMap>> = Vec::new();
        for (i, spec) in config.zones.iter().enumerate() {
            let device = match maps.iter().find(|m| m.profile() == &spec.device_profile) {
                Some(m) => m.clone(),
                None => {
                    let m = Arc::new(DeviceMap::new(spec.device_profile.clone()));
                    maps.push(m.clone());
                    m
                }
            };
            let sim = SimZone::new(&spec.profile, i as u64, &env.weather, start).map_err(|e| ConfigError(e.0))?;
            let key = config.listener_of(i)?;
            let index = match by_key.get(&key) {
                Some(&index) => index,
                None => {
                    let addr = SocketAddr::new(config.bind, config.port_of(i)?);
                    let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind {
                        addr,
                        zone: spec.profile.name.clone(),
                        source,
                    })?;
                    listeners.push(listener);
                    by_key.insert(key, listeners.len() - 1);
                    listeners.len() - 1
                }
            };
            zone_listener.push(index);
            zones.push(Arc::new(Zone {
                name: spec.profile.name.clone(),
                unit_id: spec.unit_id,
                device,
                sim: Mutex::new(sim),
                env: env.clone(),
                faults: Mutex::new(SensorFaults::default()),
            }));
        }
        Ok(Self { zones, listeners, zone_listener, env, limits: config.connections })
    }

    /// Starts serving every zone, and the ticker. The returned handle owns every task.
    #[must_use]
    pub fn spawn(self) -> SimulatorHandle {
        let mut gateways: Vec<Vec<Arc<Zone>>> = vec![Vec::new(); self.listeners.len()];
        for (zone, &l) in self.zones.iter().zip(&self.zone_listener) {
            gateways[l].push(zone.clone());
        }
        let mut listener_addrs = Vec::with_capacity(self.listeners.len());
        let mut gates = Vec::with_capacity(self.listeners.len());
        let mut servers = Vec::with_capacity(self.listeners.len());
        for (zones, listener) in gateways.into_iter().zip(self.listeners) {
            let addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            listener_addrs.push(addr);
            let gateway = Arc::new(connection::Gateway::new(zones));
            servers.push(Some(tokio::spawn(connection::serve(gateway.clone(), listener, self.limits))));
            gates.push(gateway);
        }
        let mut addrs = Vec::with_capacity(self.zones.len());
        for (zone, &l) in self.zones.iter().zip(&self.zone_listener) {
            let addr = listener_addrs[l];
            let profile = &zone.device.profile().name;
            tracing::info!(zone = %zone.name, %addr, unit_id = zone.unit_id, %profile, "zone ready");
            addrs.push(addr);
        }
        let ticker = tokio::spawn(tick(self.zones.clone(), self.env.clone()));
        SimulatorHandle {
            zones: self.zones,
            addrs,
            zone_listener: self.zone_listener,
            listener_addrs,
            gateways: gates,
            servers: Mutex::new(servers),
            ticker,
            limits: self.limits,
        }
    }
}

async fn tick(zones: Vec<Arc<Zone>>, env: Arc<Environment>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = env.clock.now();
        for zone in &zones {
            zone.lock().advance_to(now, env.step, &env.weather);
        }
    }
}

/// A running simulator. Dropping it stops every zone (listeners closed, connections dropped).
#[derive(Debug)]
pub struct SimulatorHandle {
    zones: Vec<Arc<Zone>>,
    addrs: Vec<SocketAddr>,
    /// The listener of each zone, and each listener's address and zones.
    zone_listener: Vec<usize>,
    listener_addrs: Vec<SocketAddr>,
    gateways: Vec<Arc<connection::Gateway>>,
    /// One per listener.
    servers: Mutex<Vec<Option<JoinHandle<()>>>>,
    ticker: JoinHandle<()>,
    limits: ConnectionLimits,
}

impl SimulatorHandle {
    /// The address each zone listens on, in zone order (zones behind one gateway share it).
    #[must_use]
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The address of each listener (one per port: a gateway, or a zone alone on its port).
    #[must_use]
    pub fn listener_addrs(&self) -> &[SocketAddr] {
        &self.listener_addrs
    }

    #[must_use]
    pub fn zones(&self) -> &[Arc<Zone>] {
        &self.zones
    }

    fn servers(&self) -> MutexGuard<'_, Vec<Option<JoinHandle<()>>>> {
        self.servers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes zone `index` off the network: its listener closes and its open connections drop, as when a device
    /// or its gateway goes away (behind a gateway, every zone on its port goes with it). The zone's simulation
    /// keeps running.
    pub fn stop_zone(&self, index: usize) {
        let listener = self.zone_listener[index];
        if let Some(task) = self.servers().get_mut(listener).and_then(Option::take) {
            task.abort();
        }
    }

    /// Sets zone `index`'s heat-loss coefficient UA (W/K) at run time: a window held open (a larger UA), or closed
    /// again (the earlier value, [`Zone::ua`]). For fault tests.
    pub fn set_ua(&self, index: usize, ua_w_per_k: f64) -> Result<(), heating_core::physics::ParamsError> {
        self.zones[index].set_ua(ua_w_per_k)
    }

    /// Injects (or removes) a heater fault in zone `index`: its heater reports on but heats nothing.
    pub fn set_heater_fault(&self, index: usize, fault: bool) {
        self.zones[index].set_heater_fault(fault);
    }

    /// Freezes (or thaws) zone `index`'s air temperature sensor: the served value stops changing while the room
    /// keeps its physics ([`Zone::set_sensor_frozen`]).
    pub fn set_sensor_frozen(&self, index: usize, frozen: bool) {
        self.zones[index].set_sensor_frozen(frozen);
    }

    /// Makes zone `index` answer target writes with exception 04, or accept them again
    /// ([`Zone::set_writes_refused`]).
    pub fn set_writes_refused(&self, index: usize, refused: bool) {
        self.zones[index].set_writes_refused(refused);
    }

    /// Puts a stopped zone back on the network at the same address (with the other zones of its port).
    pub async fn restart_zone(&self, index: usize) -> std::io::Result<()> {
        let l = self.zone_listener[index];
        let running = self.servers().get_mut(l).and_then(Option::take);
        if let Some(task) = running {
            task.abort();
            let _ = task.await;
        }
        let listener = TcpListener::bind(self.listener_addrs[l]).await?;
        self.servers()[l] = Some(tokio::spawn(connection::serve(self.gateways[l].clone(), listener, self.limits)));
        Ok(())
    }

    /// Stops every zone and waits until their listeners are closed.
    pub async fn shutdown(self) {
        let tasks: Vec<_> = self.servers().drain(..).flatten().collect();
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        self.ticker.abort();
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        for task in self.servers().iter().flatten() {
            task.abort();
        }
        self.ticker.abort();
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM (shared by the binaries of this workspace).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
