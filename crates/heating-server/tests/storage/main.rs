//! Storage conformance: one scripted suite run through [`Storage`] against every backend, so SQLite and PostgreSQL
//! answer the same calls with the same values, orders and errors.
//!
//! SQLite runs on a fresh temporary file. PostgreSQL runs on a fresh database `heating_test_<unique>` created through
//! `TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`) and dropped afterwards, so parallel tests
//! never share state. An unreachable PostgreSQL fails the test (CI provides one; see `.ci/run`).

use std::num::NonZeroU16;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use heating_core::preferences::Preferences;
use heating_core::units::Setpoint;
use heating_server::domain::{ModbusHost, Page, ZoneName};
use heating_server::storage::{
    CommandSource, CommandStatus, HistoryQuery, NewCommand, NewReading, ReadingFilter, Storage, StorageError,
    StoredHold, ZoneFields,
};
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

mod access;
mod alerts;
mod groups;
mod history;
mod leases;
mod lifecycle;
mod rollup_fold;
mod rollups;
mod stats;
mod upgrades;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// 2026-11-27T10:00:00Z plus `ms` milliseconds.
fn at(ms: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").unwrap().to_utc() + chrono::Duration::milliseconds(ms)
}

fn fields(name: &str, port: Option<u16>) -> ZoneFields {
    ZoneFields {
        name: ZoneName::parse(name).unwrap(),
        preferences: Preferences::default(),
        modbus_host: ModbusHost::parse("localhost").unwrap(),
        modbus_port: port.and_then(NonZeroU16::new),
        modbus_unit_id: 1,
        device_profile: "heating-sim".into(),
        rated_power_w: None,
    }
}

fn page(skip: i64, limit: i64) -> Page {
    Page::new(Some(skip), Some(limit)).unwrap()
}

fn reading(zone_id: i64, ms: i64, temperature: f64) -> NewReading {
    NewReading {
        zone_id,
        ts: at(ms),
        temperature,
        target_temp: None,
        occupancy: false,
        heater_on: None,
        energy_wh: None,
        outdoor_temp: None,
        estimated: Default::default(),
    }
}

fn command(zone_id: i64, ms: i64, celsius: f64, source: CommandSource) -> NewCommand {
    NewCommand {
        zone_id,
        ts: at(ms),
        target_temp: Setpoint::from_celsius(celsius).unwrap(),
        source,
        reason: Some(format!("test {celsius}")),
        status: CommandStatus::Pending,
        actor: "test".into(),
    }
}

fn assert_conflict(result: Result<impl std::fmt::Debug, StorageError>, expected: &str) {
    match result {
        Err(StorageError::Conflict(msg)) => assert_eq!(msg, expected),
        other => panic!("expected Conflict({expected:?}), got {other:?}"),
    }
}

fn assert_not_found(result: Result<impl std::fmt::Debug, StorageError>, what: &str) {
    match result {
        Err(StorageError::NotFound { what: got }) => assert_eq!(got, what),
        other => panic!("expected NotFound {{ what: {what:?} }}, got {other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// --- the suite ---

/// Every storage behaviour the handlers rely on, in one script over a fresh database.
async fn conformance_suite(storage: &Storage) {
    storage.ping().await.unwrap();
    storage.migrate().await.expect("migrating again changes nothing");
    zones_crud_and_conflicts(storage).await;
    delete_refuses_history_unless_cascade(storage).await;
    readings_batches_ordering_and_filters(storage).await;
    commands_and_status_updates(storage).await;
    history::history_buckets(storage).await;
    rollups::rollups_match_raw(storage).await;
    holds_are_stored_replaced_and_go_with_their_zone(storage).await;
    access::tokens_and_audit(storage).await;
    stats::rows_per_table_and_size(storage).await;
    lifecycle::retention_and_export(storage).await;
    alerts::alerts_lifecycle(storage).await;
}

async fn holds_are_stored_replaced_and_go_with_their_zone(s: &Storage) {
    let a = s.create_zone(&fields("Hold A", Some(6101)), at(0)).await.unwrap();
    let b = s.create_zone(&fields("Hold B", Some(6102)), at(0)).await.unwrap();
    let hold = |zone_id, celsius, until: Option<i64>, source| StoredHold {
        zone_id,
        target: Setpoint::from_celsius(celsius).unwrap(),
        until: until.map(at),
        occupied_at_start: until.is_none(),
        set_at: at(5),
        source,
    };
    assert!(s.list_holds().await.unwrap().is_empty());
    s.put_hold(&hold(b.id, 19.5, None, CommandSource::Api)).await.unwrap();
    s.put_hold(&hold(a.id, 23.0, Some(3_600_000), CommandSource::Manual)).await.unwrap();
    assert_eq!(
        s.list_holds().await.unwrap(),
        [hold(a.id, 23.0, Some(3_600_000), CommandSource::Manual), hold(b.id, 19.5, None, CommandSource::Api)],
        "by zone id, every field back as stored"
    );
    // One per zone: a new hold replaces the old.
    s.put_hold(&hold(a.id, 21.5, Some(7_200_000), CommandSource::Manual)).await.unwrap();
    assert_eq!(s.list_holds().await.unwrap()[0], hold(a.id, 21.5, Some(7_200_000), CommandSource::Manual));
    assert_not_found(s.put_hold(&hold(999_999, 20.0, None, CommandSource::Manual)).await, "zone");
    assert!(s.delete_hold(a.id).await.unwrap());
    assert!(!s.delete_hold(a.id).await.unwrap(), "already gone");
    // Deleting the zone (with its history) deletes its hold.
    s.insert_command(&command(b.id, 10, 19.5, CommandSource::Api)).await.unwrap();
    s.delete_zone(b.id, true).await.unwrap();
    assert!(s.list_holds().await.unwrap().is_empty());
    s.delete_zone(a.id, true).await.unwrap();
}

async fn zones_crud_and_conflicts(s: &Storage) {
    let prefs = Preferences::from_json(json!({"occupied_temp": 22.5, "custom": {"nested": [1, "two", null]}})).unwrap();
    let mut living = fields("Living Room", Some(5020));
    living.preferences = prefs.clone();
    let a = s.create_zone(&living, at(0)).await.unwrap();
    assert_eq!(a.name, "Living Room");
    assert_eq!(a.preferences, prefs, "unknown keys round-trip");
    assert_eq!((a.modbus_host.as_str(), a.modbus_port, a.modbus_unit_id), ("localhost", Some(5020), 1));
    assert_eq!((a.created_at, a.updated_at), (at(0), at(0)));
    assert_eq!(s.get_zone(a.id).await.unwrap().as_ref(), Some(&a));
    assert_eq!(s.get_zone(a.id + 1000).await.unwrap(), None);

    assert_conflict(
        s.create_zone(&fields("Living Room", Some(5099)), at(1)).await,
        "a zone named \"Living Room\" already exists",
    );
    assert_conflict(
        s.create_zone(&fields("Other", Some(5020)), at(1)).await,
        "another zone already uses modbus endpoint localhost:5020 unit 1",
    );
    // The same host and port with another unit id is another endpoint.
    let mut unit2 = fields("Unit Two", Some(5020));
    unit2.modbus_unit_id = 2;
    let u2 = s.create_zone(&unit2, at(2)).await.unwrap();
    // Zones without a port never conflict with each other.
    let n1 = s.create_zone(&fields("No Device 1", None), at(3)).await.unwrap();
    let n2 = s.create_zone(&fields("No Device 2", None), at(4)).await.unwrap();
    assert_eq!((n1.modbus_port, n2.modbus_port), (None, None));
    assert!(a.id < u2.id && u2.id < n1.id && n1.id < n2.id, "ids increase");

    let all = s.list_zones().await.unwrap();
    assert_eq!(all.iter().map(|z| z.id).collect::<Vec<_>>(), vec![a.id, u2.id, n1.id, n2.id], "by id");
    let second_page = s.list_zones_page(page(1, 2)).await.unwrap();
    assert_eq!(second_page.iter().map(|z| z.id).collect::<Vec<_>>(), vec![u2.id, n1.id]);
    assert!(s.list_zones_page(page(10, 5)).await.unwrap().is_empty());

    // Update: fields replaced, created_at kept, updated_at moved.
    let mut renamed = fields("Lounge", Some(5021));
    renamed.preferences = Preferences::default();
    let b = s.update_zone(a.id, &renamed, at(10)).await.unwrap();
    assert_eq!((b.id, b.name.as_str(), b.modbus_port), (a.id, "Lounge", Some(5021)));
    assert_eq!((b.created_at, b.updated_at), (at(0), at(10)));
    assert_eq!(b.preferences, Preferences::default());
    assert_eq!(s.get_zone(a.id).await.unwrap().as_ref(), Some(&b));
    // Updating a zone to its own values is no conflict.
    s.update_zone(a.id, &renamed, at(11)).await.unwrap();
    assert_conflict(
        s.update_zone(n1.id, &fields("Lounge", None), at(12)).await,
        "a zone named \"Lounge\" already exists",
    );
    assert_conflict(
        s.update_zone(n1.id, &fields("No Device 1", Some(5021)), at(12)).await,
        "another zone already uses modbus endpoint localhost:5021 unit 1",
    );
    assert_eq!(s.get_zone(n1.id).await.unwrap().unwrap(), n1, "a refused update changes nothing");
    assert_not_found(s.update_zone(n2.id + 1000, &fields("Ghost", None), at(12)).await, "zone");

    // Deleted ids are never reused, not even the highest one.
    s.delete_zone(n2.id, false).await.unwrap();
    assert_eq!(s.get_zone(n2.id).await.unwrap(), None);
    assert_not_found(s.delete_zone(n2.id, false).await, "zone");
    let n3 = s.create_zone(&fields("No Device 2", None), at(13)).await.unwrap();
    assert!(n3.id > n2.id, "id {} reused after {}", n3.id, n2.id);
    // The name and endpoint of a deleted zone are free again.
    for z in [u2.id, n1.id, n3.id] {
        s.delete_zone(z, false).await.unwrap();
    }
    s.delete_zone(a.id, true).await.unwrap();
    assert!(s.list_zones().await.unwrap().is_empty());
}

async fn delete_refuses_history_unless_cascade(s: &Storage) {
    let z = s.create_zone(&fields("Kept", Some(6000)), at(0)).await.unwrap();
    let other = s.create_zone(&fields("Neighbour", Some(6001)), at(0)).await.unwrap();
    s.insert_readings(&[reading(z.id, 0, 20.0), reading(z.id, 1, 20.1), reading(other.id, 2, 19.0)]).await.unwrap();
    s.insert_command(&command(z.id, 3, 21.0, CommandSource::Control)).await.unwrap();

    match s.delete_zone(z.id, false).await {
        Err(StorageError::HasHistory { readings, commands }) => assert_eq!((readings, commands), (2, 1)),
        other => panic!("expected HasHistory, got {other:?}"),
    }
    assert!(s.get_zone(z.id).await.unwrap().is_some(), "a refused delete deletes nothing");
    assert_eq!(s.list_zone_readings(z.id, ReadingFilter::default()).await.unwrap().len(), 2);

    s.delete_zone(z.id, true).await.unwrap();
    assert_eq!(s.get_zone(z.id).await.unwrap(), None);
    assert!(s.list_zone_readings(z.id, ReadingFilter::default()).await.unwrap().is_empty());
    assert!(s.list_zone_commands(z.id, Page::default()).await.unwrap().is_empty());
    let kept = s.list_zone_readings(other.id, ReadingFilter::default()).await.unwrap();
    assert_eq!(kept.len(), 1, "another zone's history is untouched");
    assert_not_found(s.delete_zone(z.id, true).await, "zone");

    s.delete_zone(other.id, true).await.unwrap();
}

async fn readings_batches_ordering_and_filters(s: &Storage) {
    let z = s.create_zone(&fields("Readings", Some(7000)), at(0)).await.unwrap();
    let y = s.create_zone(&fields("Readings Too", Some(7001)), at(0)).await.unwrap();
    let missing = y.id + 1000;

    // One reading, every field.
    let full = NewReading {
        zone_id: y.id,
        ts: at(-5000),
        temperature: 20.5,
        target_temp: Some(21.0),
        occupancy: true,
        heater_on: Some(true),
        energy_wh: Some(u32::MAX),
        outdoor_temp: Some(-3.25),
        estimated: Default::default(),
    };
    let stored = s.insert_reading(&full).await.unwrap();
    assert_eq!(
        (stored.zone_id, stored.ts, stored.temperature, stored.target_temp, stored.occupancy),
        (y.id, at(-5000), 20.5, Some(21.0), true)
    );
    assert_eq!((stored.heater_on, stored.energy_wh, stored.outdoor_temp), (Some(true), Some(u32::MAX), Some(-3.25)));
    assert_not_found(s.insert_reading(&reading(missing, 0, 1.0)).await, "zone");

    // A batch larger than one multi-row INSERT of either backend (SQLite 500 rows, PostgreSQL 8000), three
    // readings per millisecond so that ties are ordered by id.
    let batch: Vec<NewReading> = (0..9000).map(|i| reading(z.id, i / 3, f64::from(i as i32) / 100.0)).collect();
    assert_eq!(s.insert_readings(&batch).await.unwrap(), 9000);
    assert_eq!(s.insert_readings(&[]).await.unwrap(), 0);

    // All or none: one reading for a missing zone refuses the whole batch.
    let bad = vec![reading(z.id, 100_000, 1.0), reading(missing, 100_001, 2.0), reading(z.id, 100_002, 3.0)];
    assert_not_found(s.insert_readings(&bad).await, "zone");
    let tail = s.list_zone_readings(z.id, ReadingFilter { page: page(8995, 1000), ..Default::default() }).await;
    assert_eq!(tail.unwrap().len(), 5, "exactly the 9000 readings of the good batch");

    // Newest first: ts_ms DESC, id DESC, across pages.
    let mut seen = Vec::new();
    for skip in (0..9000).step_by(1000) {
        let got = s.list_zone_readings(z.id, ReadingFilter { page: page(skip, 1000), ..Default::default() }).await;
        seen.extend(got.unwrap());
    }
    assert_eq!(seen.len(), 9000);
    for pair in seen.windows(2) {
        assert!((pair[0].ts, pair[0].id) > (pair[1].ts, pair[1].id), "{:?} before {:?}", pair[0], pair[1]);
    }
    assert_eq!(seen[0].ts, at(2999));
    assert_eq!(seen[0].temperature, 89.99, "the last reading of the batch is the newest");
    assert_eq!(seen[8999].temperature, 0.0);
    assert_eq!(seen[0].zone_id, z.id);

    // from inclusive, to exclusive.
    let filter = ReadingFilter { page: Page::default(), from: Some(at(100)), to: Some(at(103)) };
    let window = s.list_zone_readings(z.id, filter).await.unwrap();
    assert_eq!(window.len(), 9);
    assert!(window.iter().all(|r| r.ts >= at(100) && r.ts < at(103)));
    assert_eq!((window[0].ts, window[8].ts), (at(102), at(100)));
    let only_from = ReadingFilter { page: Page::default(), from: Some(at(2998)), to: None };
    assert_eq!(s.list_zone_readings(z.id, only_from).await.unwrap().len(), 6);
    let only_to = ReadingFilter { page: Page::default(), from: None, to: Some(at(1)) };
    assert_eq!(s.list_zone_readings(z.id, only_to).await.unwrap().len(), 3);
    let none = ReadingFilter { page: Page::default(), from: Some(at(50_000)), to: None };
    assert!(s.list_zone_readings(z.id, none).await.unwrap().is_empty());

    // A time range in ascending order (model identification); capped to the newest rows.
    let range = s.readings_between(z.id, at(100), at(103), 1000).await.unwrap();
    assert_eq!(range.len(), 9);
    assert!(range.windows(2).all(|p| (p[0].ts, p[0].id) < (p[1].ts, p[1].id)), "ascending");
    assert_eq!((range[0].ts, range[8].ts), (at(100), at(102)));
    let capped = s.readings_between(z.id, at(100), at(103), 4).await.unwrap();
    assert_eq!(capped.len(), 4);
    assert_eq!(capped, range[5..].to_vec(), "the newest four, still ascending");

    // All zones' readings, newest first.
    let newest = s.list_readings(page(0, 4)).await.unwrap();
    assert_eq!(newest.iter().map(|r| r.ts).collect::<Vec<_>>(), vec![at(2999), at(2999), at(2999), at(2998)]);
    let oldest = s.list_readings(page(9000, 10)).await.unwrap();
    assert_eq!(oldest.len(), 1);
    assert_eq!(oldest[0], stored, "y's reading is the oldest of all");

    s.delete_zone(z.id, true).await.unwrap();
    s.delete_zone(y.id, true).await.unwrap();
}

async fn commands_and_status_updates(s: &Storage) {
    let z = s.create_zone(&fields("Commands", Some(8000)), at(0)).await.unwrap();
    let first = s.insert_command(&command(z.id, 1000, 21.0, CommandSource::Control)).await.unwrap();
    assert_eq!(
        (first.zone_id, first.ts, first.target_temp.celsius(), first.source, first.status),
        (z.id, at(1000), 21.0, CommandSource::Control, CommandStatus::Pending)
    );
    assert_eq!((first.reason.as_deref(), first.error.as_deref()), (Some("test 21"), None));
    let mut no_reason = command(z.id, 1000, 22.5, CommandSource::Manual);
    no_reason.reason = None;
    let second = s.insert_command(&no_reason).await.unwrap();
    let third = s.insert_command(&command(z.id, 500, 5.0, CommandSource::Api)).await.unwrap();
    assert_eq!(second.reason, None);
    assert_not_found(s.insert_command(&command(z.id + 1000, 0, 20.0, CommandSource::Api)).await, "zone");

    let sent = s.update_command_status(first.id, CommandStatus::Sent, None).await.unwrap();
    assert_eq!((sent.status, sent.error.as_deref()), (CommandStatus::Sent, None));
    let failed = s.update_command_status(first.id, CommandStatus::Failed, Some("timeout after 1000 ms")).await;
    let failed = failed.unwrap();
    assert_eq!((failed.status, failed.error.as_deref()), (CommandStatus::Failed, Some("timeout after 1000 ms")));
    let confirmed = s.update_command_status(first.id, CommandStatus::Confirmed, None).await.unwrap();
    assert_eq!((confirmed.status, confirmed.error.as_deref()), (CommandStatus::Confirmed, None), "None clears");
    assert_eq!((confirmed.ts, confirmed.target_temp, confirmed.source), (first.ts, first.target_temp, first.source));
    assert_eq!(s.get_command(first.id).await.unwrap().as_ref(), Some(&confirmed));
    assert_eq!(s.get_command(third.id + 1000).await.unwrap(), None);
    assert_not_found(s.update_command_status(third.id + 1000, CommandStatus::Sent, None).await, "command");

    // Newest first, ties by id.
    let listed = s.list_zone_commands(z.id, Page::default()).await.unwrap();
    assert_eq!(listed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![second.id, first.id, third.id]);
    assert_eq!(listed[1], confirmed);
    let paged = s.list_zone_commands(z.id, page(1, 1)).await.unwrap();
    assert_eq!(paged.iter().map(|c| c.id).collect::<Vec<_>>(), vec![first.id]);

    match s.delete_zone(z.id, false).await {
        Err(StorageError::HasHistory { readings, commands }) => assert_eq!((readings, commands), (0, 3)),
        other => panic!("expected HasHistory, got {other:?}"),
    }
    s.delete_zone(z.id, true).await.unwrap();
}

#[tokio::test]
async fn sqlite_storage_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("conformance.db").display());
    let storage = Storage::connect(&url).await.unwrap();
    assert_eq!(format!("{storage:?}"), "Storage::Sqlite");
    conformance_suite(&storage).await;
    storage.close().await;
}

// --- PostgreSQL ---

/// A database of its own on the test server, dropped when the test ends (also after a failure).
struct PgTestDatabase {
    admin: PgConnection,
    name: String,
    url: String,
}

impl PgTestDatabase {
    /// Creates `heating_test_<unique>` through `TEST_POSTGRES_URL`; panics with a clear message if the server
    /// cannot be reached.
    async fn create() -> Self {
        let admin_url = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
        let options: PgConnectOptions =
            admin_url.parse().unwrap_or_else(|e| panic!("TEST_POSTGRES_URL is not a PostgreSQL URL: {e}"));
        let mut admin = tokio::time::timeout(Duration::from_secs(10), options.connect())
            .await
            .map_err(|_| "no answer within 10 s".to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .unwrap_or_else(|e| {
                let (host, port) = (options.get_host(), options.get_port());
                let db = options.get_database().unwrap_or_default();
                panic!(
                    "PostgreSQL is unreachable at {host}:{port}/{db} ({e}). These tests need it: start it (see \
                     .ci/run: `pg_ctlcluster <version> main start`) or point TEST_POSTGRES_URL at a server with trust \
                     or password login and a database to connect to."
                )
            });
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000_000;
        let name = format!("heating_test_{}_{}_{}", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed));
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on the test server failed: {e}"));
        let url = options.database(&name).to_url_lossy().to_string();
        Self { admin, name, url }
    }

    async fn drop_database(mut self) {
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
            .execute(&mut self.admin)
            .await
            .unwrap_or_else(|e| panic!("DROP DATABASE {} failed: {e}", self.name));
        let _ = self.admin.close().await;
    }

    /// Runs `test` with the database's URL, then drops the database whatever the outcome, then passes a panic on.
    async fn run<F, Fut>(test: F)
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let db = Self::create().await;
        let outcome = tokio::spawn(test(db.url.clone())).await;
        db.drop_database().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

#[tokio::test]
async fn postgres_storage_conforms() {
    PgTestDatabase::run(|url| async move {
        assert!(url.starts_with("postgres://"), "{url}");
        let storage = Storage::connect(&url).await.unwrap();
        assert_eq!(format!("{storage:?}"), "Storage::Postgres");
        conformance_suite(&storage).await;
        storage.close().await;
    })
    .await;
}

#[tokio::test]
async fn postgres_accepts_both_schemes_and_migrates_once() {
    PgTestDatabase::run(|url| async move {
        let first = Storage::connect(&url).await.unwrap();
        let zone = first.create_zone(&fields("Persisted", Some(5020)), at(0)).await.unwrap();
        first.close().await;

        // The same database through the other scheme: migrations already applied, data kept.
        let other = url.replacen("postgres://", "postgresql://", 1);
        let second = Storage::connect(&other).await.unwrap();
        assert_eq!(second.list_zones().await.unwrap(), vec![zone]);
        second.close().await;

        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        let (applied, ok): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COUNT(*) FILTER (WHERE success) FROM _sqlx_migrations")
                .fetch_one(&pool)
                .await
                .unwrap();
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/postgres"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "sql"))
            .count();
        assert_eq!((applied, ok), (files as i64, files as i64), "each migration applied exactly once");
        pool.close().await;
    })
    .await;
}

#[tokio::test]
async fn postgres_connection_errors_name_no_password() {
    // A port nothing listens on: a database error, never a panic, and never the password.
    let err = Storage::connect("postgres://app:s3cret-pw@127.0.0.1:1/heating").await.unwrap_err();
    let msg = format!("{err:#} {err:?}");
    assert!(matches!(err, StorageError::Database(_)), "{msg}");
    assert!(!msg.contains("s3cret-pw"), "{msg}");
    let err = Storage::connect("mysql://u:pw@host/db").await.unwrap_err();
    assert!(err.to_string().contains("unsupported database URL") && err.to_string().contains("postgres://"), "{err}");
    assert!(!err.to_string().contains("pw@"), "{err}");
}

// --- Documents stored by earlier versions ---
