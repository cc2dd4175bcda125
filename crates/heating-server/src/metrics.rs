//! The server's Prometheus metrics: one [`Metrics`] owned by the application (in `AppState`, shared with the fleet),
//! holding the registry of what happens over time — Modbus requests, control writes, controller steps, job runs,
//! HTTP requests — and [`Metrics::render`], which adds what is true now (each zone's reading and health, the
//! database's size and rows) and encodes everything in the Prometheus text format 0.0.4.
//!
//! Conventions (<https://prometheus.io/docs/practices/naming/>): every name starts with `heating_`; base units as
//! suffixes (`_seconds`, `_celsius`, `_joules`, `_watts`, `_bytes`); counters end in `_total`; flags are 0/1 gauges;
//! an enumeration (a zone's health) is one series per state with the value 1 for the state it is in. Labels stay
//! bounded: zone series carry `zone_id` and `zone_name` only (so they are linear in the number of zones), and a
//! zone gone from the fleet has no series at the next scrape (they are built at scrape time from the fleet); every
//! other label takes values from a fixed set (an operation, an outcome, a command source and status, a job, a
//! strategy, an HTTP method, a route *template* and a status code).
//!
//! Hooks stay one line where the event happens: `Metrics::modbus` wraps a request (poller, dispatch),
//! `control_write` (dispatch), `controller_step` (strategy), `job_run` (the job loops), `http_request` (an HTTP
//! middleware, through the metrics service).

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus::{
    CounterVec, Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use zone_client::ZoneError;

use crate::storage::{CommandSource, CommandStatus};

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long database statistics (row counts, size) are reused before they are queried again.
pub const DATABASE_STATS_TTL: Duration = Duration::from_secs(30);

/// A Modbus request kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModbusOp {
    /// A poll: read of the eight registers.
    Read,
    /// A target write with its read-back.
    Write,
}

impl ModbusOp {
    fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// The `outcome` label of a Modbus request.
#[must_use]
pub fn modbus_outcome(error: Option<&ZoneError>) -> &'static str {
    match error {
        None => "ok",
        Some(ZoneError::Exception { .. }) => "exception",
        Some(ZoneError::Timeout(_)) => "timeout",
        Some(ZoneError::Unreachable(_)) => "unreachable",
        Some(ZoneError::Invalid(_) | ZoneError::InvalidReading(_)) => "invalid",
        Some(ZoneError::BadTarget(_)) => "refused",
        Some(ZoneError::BackingOff(..)) => "backing_off",
        Some(ZoneError::NotConfirmed { .. }) => "not_confirmed",
    }
}

/// A zone as a scrape shows it (built from the fleet by the metrics service).
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneSample {
    pub id: i64,
    pub name: String,
    /// `unknown`, `online`, `degraded` or `offline`.
    pub health: &'static str,
    pub reading: Option<ReadingSample>,
}

/// The newest reading of a zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadingSample {
    /// Unix time of the reading, seconds (server clock).
    pub at_seconds: f64,
    pub air_celsius: f64,
    pub target_celsius: f64,
    pub outdoor_celsius: f64,
    pub heater_on: bool,
    pub occupied: bool,
    pub heater_power_watts: f64,
    /// The device's energy counter, Wh.
    pub energy_wh: f64,
}

/// The health states, each a series of `heating_zone_health_state`.
pub const HEALTH_STATES: [&str; 4] = ["unknown", "online", "degraded", "offline"];

/// What the database holds (queried at most every [`DATABASE_STATS_TTL`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatabaseStats {
    /// Rows per table.
    pub rows: Vec<(&'static str, i64)>,
    /// Bytes on disk: the SQLite file (page count × page size), or PostgreSQL's total size of the server's tables.
    pub size_bytes: Option<i64>,
    /// Bytes per table with its indexes; empty when unknown.
    pub table_bytes: TableBytes,
}

/// The application's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    modbus_requests: IntCounterVec,
    modbus_duration: HistogramVec,
    control_writes: IntCounterVec,
    controller_step: HistogramVec,
    job_duration: HistogramVec,
    job_last_run: GaugeVec,
    http_duration: HistogramVec,
    retention_deleted: IntCounterVec,
    database: Mutex<Option<(Instant, DatabaseStats)>>,
    /// `/status`'s own copy of the statistics (it never waits for them: they are read in the background), apart
    /// from the scrapes' so a status request never makes a scrape's figures older.
    status_database: Mutex<Option<(Instant, DatabaseStats)>>,
    /// A refresh of `status_database` runs in the background.
    database_refreshing: std::sync::atomic::AtomicBool,
    /// Bytes per table, read at most every [`TABLE_BYTES_TTL`] (SQLite reads every page to count them).
    table_bytes: Mutex<Option<(Instant, TableBytes)>>,
}

/// Bytes per table (with its indexes).
pub type TableBytes = Vec<(&'static str, i64)>;

/// How long bytes per table are reused before they are read again.
pub const TABLE_BYTES_TTL: Duration = Duration::from_secs(600);

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str], buckets: &[f64]) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), labels)
        .expect("a valid histogram definition");
    registry.register(Box::new(h.clone())).expect("metric names are unique");
    h
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter definition");
    registry.register(Box::new(c.clone())).expect("metric names are unique");
    c
}

fn gauges(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge definition");
    registry.register(Box::new(g.clone())).expect("metric names are unique");
    g
}

/// Buckets of a Modbus request on a LAN (1 ms up to the longest deadline).
const MODBUS_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Buckets of an HTTP request (Prometheus' defaults).
const HTTP_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Buckets of one controller step: microseconds (reactive) up to seconds (a predictive optimisation).
const STEP_BUCKETS: &[f64] = &[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
/// Buckets of a job run (a poll cycle, a control run, a learning run).
const JOB_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

impl Metrics {
    #[must_use]
    pub fn new() -> Self {
        let r = Registry::new();
        let build = IntGaugeVec::new(Opts::new("heating_build_info", "The server's version (always 1)."), &["version"])
            .expect("a valid gauge definition");
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        r.register(Box::new(build)).expect("metric names are unique");
        Self {
            modbus_requests: counter(
                &r,
                "heating_modbus_requests_total",
                "Modbus requests to zone devices by operation (read, write) and outcome (ok, exception, timeout, \
                 unreachable, invalid, not_confirmed, backing_off: not sent, the link waits to reconnect; refused: a \
                 target the device profile cannot write, not sent).",
                &["operation", "outcome"],
            ),
            modbus_duration: histogram(
                &r,
                "heating_modbus_request_duration_seconds",
                "Time of a Modbus request sent to a zone device (a write includes its read-back), by operation.",
                &["operation"],
                MODBUS_BUCKETS,
            ),
            control_writes: counter(
                &r,
                "heating_control_writes_total",
                "Targets sent to devices by source (control, manual, api) and status (confirmed, failed).",
                &["source", "status"],
            ),
            controller_step: histogram(
                &r,
                "heating_controller_step_duration_seconds",
                "Time of one zone's controller step (for the predictive strategy, its optimisation), by strategy.",
                &["strategy"],
                STEP_BUCKETS,
            ),
            job_duration: histogram(
                &r,
                "heating_job_duration_seconds",
                "Time of a background job's run, by job (poll: one poll cycle over every zone; control; learn).",
                &["job"],
                JOB_BUCKETS,
            ),
            job_last_run: gauges(
                &r,
                "heating_job_last_run_timestamp_seconds",
                "Unix time (wall clock) when each background job last finished a run.",
                &["job"],
            ),
            http_duration: histogram(
                &r,
                "heating_http_request_duration_seconds",
                "Time to answer an HTTP request (until the response head), by method, route template and status.",
                &["method", "route", "status"],
                HTTP_BUCKETS,
            ),
            retention_deleted: counter(
                &r,
                "heating_retention_deleted_rows_total",
                "Rows the retention job deleted, by table.",
                &["table"],
            ),
            database: Mutex::new(None),
            status_database: Mutex::new(None),
            table_bytes: Mutex::new(None),
            database_refreshing: std::sync::atomic::AtomicBool::new(false),
            registry: r,
        }
    }

    /// Runs a Modbus request, counting its outcome and timing it (requests not sent, in backoff, are not timed).
    pub async fn modbus<T>(
        &self,
        op: ModbusOp,
        request: impl Future<Output = Result<T, ZoneError>>,
    ) -> Result<T, ZoneError> {
        let started = Instant::now();
        let result = request.await;
        let error = result.as_ref().err();
        self.modbus_requests.with_label_values(&[op.as_str(), modbus_outcome(error)]).inc();
        if !matches!(error, Some(ZoneError::BackingOff(..))) {
            self.modbus_duration.with_label_values(&[op.as_str()]).observe(started.elapsed().as_secs_f64());
        }
        result
    }

    /// A target write finished (`confirmed` or `failed`).
    pub fn control_write(&self, source: CommandSource, status: CommandStatus) {
        self.control_writes.with_label_values(&[source.as_str(), status.as_str()]).inc();
    }

    /// One zone's controller step took `took`.
    pub fn controller_step(&self, strategy: &str, took: Duration) {
        self.controller_step.with_label_values(&[strategy]).observe(took.as_secs_f64());
    }

    /// A run of `job` (`poll`, `control`, `learn`) took `duration_ms` milliseconds.
    pub fn job_run(&self, job: &str, duration_ms: f64) {
        self.job_duration.with_label_values(&[job]).observe(duration_ms / 1000.0);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.job_last_run.with_label_values(&[job]).set(now.as_secs_f64());
    }

    /// An HTTP request was answered. `route` is the route's template (`/zones/{id}`), never the raw path;
    /// `method` is one of the standard methods or `other`.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.http_duration.with_label_values(&[method, route, &status.to_string()]).observe(took.as_secs_f64());
    }

    /// The cached database statistics, if younger than [`DATABASE_STATS_TTL`].
    #[must_use]
    pub fn cached_database_stats(&self) -> Option<DatabaseStats> {
        let cache = self.database.lock().unwrap_or_else(PoisonError::into_inner);
        cache.as_ref().filter(|(at, _)| at.elapsed() < DATABASE_STATS_TTL).map(|(_, stats)| stats.clone())
    }

    /// The statistics `/status` last had read, however old, with their age.
    pub fn status_database_stats(&self) -> Option<(Duration, DatabaseStats)> {
        let cache = self.status_database.lock().unwrap_or_else(PoisonError::into_inner);
        cache.as_ref().map(|(at, stats)| (at.elapsed(), stats.clone()))
    }

    /// Bytes per table if read less than [`TABLE_BYTES_TTL`] ago.
    pub fn cached_table_bytes(&self) -> Option<TableBytes> {
        let cache = self.table_bytes.lock().unwrap_or_else(PoisonError::into_inner);
        cache.as_ref().filter(|(at, _)| at.elapsed() < TABLE_BYTES_TTL).map(|(_, b)| b.clone())
    }

    pub fn cache_table_bytes(&self, bytes: TableBytes) {
        *self.table_bytes.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), bytes));
    }

    /// Keeps `stats` for the next `/status` requests.
    pub fn cache_status_database_stats(&self, stats: DatabaseStats) {
        *self.status_database.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), stats));
    }

    /// Claims the background refresh of the statistics: `false` if one already runs. Released by
    /// [`Self::database_refreshed`].
    pub fn claim_database_refresh(&self) -> bool {
        !self.database_refreshing.swap(true, std::sync::atomic::Ordering::AcqRel)
    }

    pub fn database_refreshed(&self) {
        self.database_refreshing.store(false, std::sync::atomic::Ordering::Release);
    }

    /// The retention job deleted `rows` rows of `table`.
    pub fn retention_deleted(&self, table: &str, rows: u64) {
        self.retention_deleted.with_label_values(&[table]).inc_by(rows);
    }

    /// Keeps `stats` for the next scrapes.
    pub fn cache_database_stats(&self, stats: DatabaseStats) {
        *self.database.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), stats));
    }

    /// Every metric in the Prometheus text format: the registry's, plus the zones' and the database's as of now.
    pub fn render(&self, zones: &[ZoneSample], database: Option<&DatabaseStats>) -> Result<String, prometheus::Error> {
        let now = Registry::new();
        register_zones(&now, zones)?;
        if let Some(db) = database {
            register_database(&now, db)?;
        }
        let mut families = self.registry.gather();
        families.extend(now.gather());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        TextEncoder::new().encode(&families, &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

const ZONE_LABELS: &[&str] = &["zone_id", "zone_name"];

fn zone_gauge(registry: &Registry, name: &str, help: &str) -> Result<GaugeVec, prometheus::Error> {
    let g = GaugeVec::new(Opts::new(name, help), ZONE_LABELS)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn register_zones(r: &Registry, zones: &[ZoneSample]) -> Result<(), prometheus::Error> {
    let count = IntGauge::new("heating_zones", "Zones with a Modbus device that the server polls.")?;
    count.set(i64::try_from(zones.len()).unwrap_or(i64::MAX));
    r.register(Box::new(count))?;
    let health = GaugeVec::new(
        Opts::new(
            "heating_zone_health_state",
            "A zone's connection health: 1 for the state it is in (unknown, online, degraded, offline), else 0.",
        ),
        &["zone_id", "zone_name", "state"],
    )?;
    r.register(Box::new(health.clone()))?;
    let air = zone_gauge(r, "heating_zone_air_temperature_celsius", "Air temperature of the zone's newest reading.")?;
    let target = zone_gauge(r, "heating_zone_target_temperature_celsius", "Target temperature the device holds.")?;
    let outdoor = zone_gauge(r, "heating_zone_outdoor_temperature_celsius", "Outdoor temperature the device reports.")?;
    let heater = zone_gauge(r, "heating_zone_heater_on", "Whether the zone's heater is on (1) or off (0).")?;
    let occupied = zone_gauge(r, "heating_zone_occupied", "Whether the zone is occupied (1) or not (0).")?;
    let power = zone_gauge(r, "heating_zone_heater_power_watts", "The heater's rated power the device reports.")?;
    let at = zone_gauge(r, "heating_zone_reading_timestamp_seconds", "Unix time of the zone's newest reading.")?;
    let energy = CounterVec::new(
        Opts::new(
            "heating_zone_energy_joules_total",
            "The device's heating energy counter (Wh × 3600); resets when the device's counter does.",
        ),
        ZONE_LABELS,
    )?;
    r.register(Box::new(energy.clone()))?;
    for z in zones {
        let id = z.id.to_string();
        let labels = [id.as_str(), z.name.as_str()];
        for state in HEALTH_STATES {
            let value = if state == z.health { 1.0 } else { 0.0 };
            health.with_label_values(&[id.as_str(), z.name.as_str(), state]).set(value);
        }
        let Some(reading) = &z.reading else { continue };
        air.with_label_values(&labels).set(reading.air_celsius);
        target.with_label_values(&labels).set(reading.target_celsius);
        outdoor.with_label_values(&labels).set(reading.outdoor_celsius);
        heater.with_label_values(&labels).set(flag(reading.heater_on));
        occupied.with_label_values(&labels).set(flag(reading.occupied));
        power.with_label_values(&labels).set(reading.heater_power_watts);
        at.with_label_values(&labels).set(reading.at_seconds);
        energy.with_label_values(&labels).inc_by(reading.energy_wh.max(0.0) * 3600.0);
    }
    Ok(())
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

fn register_database(r: &Registry, db: &DatabaseStats) -> Result<(), prometheus::Error> {
    let rows = IntGaugeVec::new(Opts::new("heating_database_rows", "Rows per table of the database."), &["table"])?;
    r.register(Box::new(rows.clone()))?;
    for (table, n) in &db.rows {
        rows.with_label_values(&[*table]).set(*n);
    }
    if let Some(bytes) = db.size_bytes {
        let size = Gauge::new(
            "heating_database_size_bytes",
            "Size of the database: the SQLite file (page count × page size), or the server's tables in PostgreSQL.",
        )?;
        size.set(bytes as f64);
        r.register(Box::new(size))?;
    }
    if !db.table_bytes.is_empty() {
        let bytes = IntGaugeVec::new(
            Opts::new("heating_database_table_bytes", "Bytes per table of the database, its indexes included."),
            &["table"],
        )?;
        r.register(Box::new(bytes.clone()))?;
        for (table, n) in &db.table_bytes {
            bytes.with_label_values(&[*table]).set(*n);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(id: i64, name: &str, health: &'static str) -> ZoneSample {
        ZoneSample {
            id,
            name: name.into(),
            health,
            reading: Some(ReadingSample {
                at_seconds: 1_700_000_000.0,
                air_celsius: 20.5,
                target_celsius: 21.0,
                outdoor_celsius: -3.25,
                heater_on: true,
                occupied: false,
                heater_power_watts: 1500.0,
                energy_wh: 1234.0,
            }),
        }
    }

    #[test]
    fn zone_series_follow_the_zones_given() {
        let m = Metrics::new();
        let text = m.render(&[zone(1, "Living \"Room\"", "online"), zone(2, "Office", "offline")], None).unwrap();
        assert!(text.contains(r#"heating_zone_air_temperature_celsius{zone_id="1",zone_name="Living \"Room\""} 20.5"#));
        assert!(text.contains(r#"heating_zone_health_state{state="offline",zone_id="2",zone_name="Office"} 1"#));
        assert!(text.contains(r#"heating_zone_energy_joules_total{zone_id="1",zone_name="Living \"Room\""} 4442400"#));
        assert!(text.contains("# TYPE heating_zone_energy_joules_total counter"));
        assert!(text.contains(&format!("heating_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))));
        let later = m.render(&[zone(1, "Living Room", "online")], None).unwrap();
        assert!(!later.contains(r#"zone_id="2""#), "a zone gone has no series:\n{later}");
        assert!(later.contains("heating_zones 1"));
    }

    #[test]
    fn outcomes_and_writes_are_counted() {
        let m = Metrics::new();
        let ok: Result<(), ZoneError> = futures::executor::block_on(m.modbus(ModbusOp::Read, async { Ok(()) }));
        assert!(ok.is_ok());
        let backoff = ZoneError::BackingOff(Duration::from_secs(1), "x".into());
        let _ = futures::executor::block_on(m.modbus(ModbusOp::Read, async { Err::<(), _>(backoff) }));
        m.control_write(CommandSource::Manual, CommandStatus::Confirmed);
        m.job_run("poll", 12.0);
        m.http_request("GET", "/zones/{id}", 200, Duration::from_millis(3));
        let db = DatabaseStats { rows: vec![("zones", 3)], size_bytes: Some(4096), table_bytes: vec![("zones", 8192)] };
        let text = m.render(&[], Some(&db)).unwrap();
        for line in [
            r#"heating_modbus_requests_total{operation="read",outcome="ok"} 1"#,
            r#"heating_modbus_requests_total{operation="read",outcome="backing_off"} 1"#,
            r#"heating_modbus_request_duration_seconds_count{operation="read"} 1"#,
            r#"heating_control_writes_total{source="manual",status="confirmed"} 1"#,
            r#"heating_job_duration_seconds_count{job="poll"} 1"#,
            r#"heating_http_request_duration_seconds_count{method="GET",route="/zones/{id}",status="200"} 1"#,
            r#"heating_database_rows{table="zones"} 3"#,
            "heating_database_size_bytes 4096",
            r#"heating_database_table_bytes{table="zones"} 8192"#,
        ] {
            assert!(text.contains(line), "{line} missing in:\n{text}");
        }
    }

    /// Every family a server exports, with the series names each gives (a histogram's `_bucket`, `_sum`, `_count`).
    fn exported() -> std::collections::BTreeMap<String, Vec<String>> {
        let m = Metrics::new();
        let _ = futures::executor::block_on(m.modbus(ModbusOp::Read, async { Ok::<(), ZoneError>(()) }));
        m.control_write(CommandSource::Control, CommandStatus::Confirmed);
        m.controller_step("predictive", Duration::from_millis(20));
        m.job_run("poll", 5.0);
        m.http_request("GET", "/status", 200, Duration::from_millis(1));
        let db = DatabaseStats { rows: vec![("zones", 1)], size_bytes: Some(1), table_bytes: vec![] };
        let text = m.render(&[zone(1, "Office", "online")], Some(&db)).unwrap();
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| {
                let (name, kind) = l.split_once(' ').unwrap();
                let series = if kind == "histogram" {
                    ["_bucket", "_sum", "_count"].iter().map(|s| format!("{name}{s}")).collect()
                } else {
                    vec![name.to_string()]
                };
                (name.to_string(), series)
            })
            .collect()
    }

    /// The Grafana dashboard in `docs/grafana/heating.json` is valid JSON and queries only metrics the server
    /// exports, and every exported family has a panel.
    #[test]
    fn the_grafana_dashboard_uses_the_exported_metrics() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana/heating.json");
        let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut queries = Vec::new();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                queries.push(target["expr"].as_str().unwrap().to_string());
            }
        }
        for variable in dashboard["templating"]["list"].as_array().unwrap() {
            queries.push(variable["definition"].as_str().unwrap().to_string());
        }
        let ids: Vec<_> = dashboard["panels"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
        assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), ids.len(), "panel ids are unique");
        let exported = exported();
        let series: std::collections::BTreeSet<&String> = exported.values().flatten().collect();
        let mut used = std::collections::BTreeSet::new();
        for query in &queries {
            for (i, _) in query.match_indices("heating_") {
                let name: String = query[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                assert!(series.contains(&name), "{name} in {query:?} is not exported");
                used.insert(name);
            }
        }
        for (family, names) in &exported {
            assert!(names.iter().any(|n| used.contains(n)), "{family} has no panel");
        }
    }
}
