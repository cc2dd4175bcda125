//! Alerts on both backends: raise, one open per zone and kind, acknowledge (first one stands), clear, lists by
//! state and zone; and the alerts migration applied to a database holding data of the schema before it.

use heating_server::domain::Page;
use heating_server::storage::{AlertFilter, AlertKind, AlertStates, NewAlert};
use sqlx::migrate::Migrator;

use super::*;

/// The alerts migration.
const ALERTS_MIGRATION: i64 = 20261203000002;

fn new_alert(zone_id: i64, kind: AlertKind, ms: i64) -> NewAlert {
    NewAlert { zone_id, kind, message: format!("{kind} in zone {zone_id}"), raised_at: at(ms) }
}

fn filter(states: AlertStates, zone_id: Option<i64>) -> AlertFilter {
    AlertFilter { states, zone_id, page: Page::first(100) }
}

pub(super) async fn alerts_lifecycle(s: &Storage) {
    let z1 = s.create_zone(&fields("Alerted", Some(6301)), at(0)).await.unwrap().id;
    let z2 = s.create_zone(&fields("Alerted too", Some(6302)), at(0)).await.unwrap().id;
    let a = s.insert_alert(&new_alert(z1, AlertKind::Offline, 1_000)).await.unwrap();
    assert_eq!((a.zone_id, a.kind, a.raised_at, a.state()), (z1, AlertKind::Offline, at(1_000), "active"));
    assert_eq!((a.acknowledged.clone(), a.cleared_at), (None, None));
    assert_eq!(a.message, format!("offline in zone {z1}"));
    assert_conflict(
        s.insert_alert(&new_alert(z1, AlertKind::Offline, 2_000)).await,
        &format!("zone {z1} has an open offline alert"),
    );
    let b = s.insert_alert(&new_alert(z1, AlertKind::BelowComfort, 2_000)).await.unwrap();
    let c = s.insert_alert(&new_alert(z2, AlertKind::Offline, 3_000)).await.unwrap();
    assert_eq!(s.get_alert(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.get_alert(c.id + 1000).await.unwrap(), None);

    // Acknowledged once: the first acknowledgement stands.
    let acked = s.acknowledge_alert(a.id, "night-shift", at(4_000)).await.unwrap().unwrap();
    assert_eq!((acked.acknowledged.clone(), acked.state()), (Some((at(4_000), "night-shift".into())), "acknowledged"));
    let again = s.acknowledge_alert(a.id, "someone-else", at(5_000)).await.unwrap().unwrap();
    assert_eq!(again, acked);
    assert_eq!(s.acknowledge_alert(c.id + 1000, "x", at(5_000)).await.unwrap(), None);

    // Cleared: it keeps its acknowledgement, cannot be acknowledged, and its kind can be raised again.
    let cleared = s.clear_alert(a.id, at(6_000)).await.unwrap();
    assert_eq!(
        (cleared.cleared_at, cleared.state(), cleared.acknowledged),
        (Some(at(6_000)), "cleared", acked.acknowledged)
    );
    assert_eq!(s.clear_alert(a.id, at(7_000)).await.unwrap().cleared_at, Some(at(6_000)), "first clear stands");
    assert_eq!(s.acknowledge_alert(b.id, "op", at(6_500)).await.unwrap().unwrap().state(), "acknowledged");
    assert_eq!(s.acknowledge_alert(a.id, "late", at(8_000)).await.unwrap(), None);
    assert_not_found(s.clear_alert(c.id + 1000, at(8_000)).await, "alert");
    let a2 = s.insert_alert(&new_alert(z1, AlertKind::Offline, 9_000)).await.unwrap();

    let ids = |v: Vec<heating_server::storage::StoredAlert>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(ids(s.open_alerts().await.unwrap()), [b.id, c.id, a2.id], "open ones by id");
    assert_eq!(ids(s.list_alerts(filter(AlertStates::Open, None)).await.unwrap()), [a2.id, c.id, b.id]);
    assert_eq!(ids(s.list_alerts(filter(AlertStates::Active, None)).await.unwrap()), [a2.id, c.id]);
    assert_eq!(ids(s.list_alerts(filter(AlertStates::Acknowledged, None)).await.unwrap()), [b.id]);
    assert_eq!(ids(s.list_alerts(filter(AlertStates::Cleared, None)).await.unwrap()), [a.id]);
    assert_eq!(ids(s.list_alerts(filter(AlertStates::All, Some(z1))).await.unwrap()), [a2.id, b.id, a.id]);
    assert_eq!(ids(s.list_alerts(filter(AlertStates::All, Some(z2))).await.unwrap()), [c.id]);
    let one = AlertFilter { page: page(1, 1), ..filter(AlertStates::All, None) };
    assert_eq!(ids(s.list_alerts(one).await.unwrap()), [c.id]);

    // The history outlives its zone.
    s.delete_zone(z2, true).await.unwrap();
    assert_eq!(ids(s.list_alerts(filter(AlertStates::All, Some(z2))).await.unwrap()), [c.id]);
    for open in s.open_alerts().await.unwrap() {
        s.clear_alert(open.id, at(10_000)).await.unwrap();
    }
    s.delete_zone(z1, true).await.unwrap();
}

async fn migrations_before_alerts(backend: &str) -> Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(backend);
    let all = Migrator::new(dir).await.unwrap();
    Migrator::with_migrations(all.iter().filter(|m| m.version < ALERTS_MIGRATION).cloned().collect())
}

const OLD_READING: &str = "INSERT INTO sensor_readings (zone_id, ts_ms, temperature, occupancy, heater_on, energy_wh) \
                           VALUES ($1, 1000, 20.5, TRUE, FALSE, 1234)";
const OLD_AUDIT: &str = "INSERT INTO audit_log (ts_ms, actor, action, zone_id, details) \
                         VALUES (500, 'admin', 'zone.create', $1, '{}')";

/// What the previous schema held is still there, and alerts work.
async fn alerts_upgraded(s: &Storage, zone_id: i64) {
    assert_eq!(s.get_zone(zone_id).await.unwrap().unwrap().name.as_str(), "Old");
    assert_eq!(s.list_zone_readings(zone_id, Default::default()).await.unwrap().len(), 1);
    assert_eq!(s.list_audit(Some(zone_id), page(0, 10)).await.unwrap().len(), 1);
    assert_eq!(s.open_alerts().await.unwrap(), vec![]);
    let a = s.insert_alert(&new_alert(zone_id, AlertKind::NoHeatRise, 2_000)).await.unwrap();
    let acked = s.acknowledge_alert(a.id, "op", at(3_000)).await.unwrap().unwrap();
    assert_eq!(s.list_alerts(filter(AlertStates::Open, Some(zone_id))).await.unwrap(), vec![acked]);
}

#[tokio::test]
async fn sqlite_upgrades_to_alerts_keeping_the_previous_schemas_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    migrations_before_alerts("sqlite").await.run(&pool).await.unwrap();
    sqlx::query("INSERT INTO zones (id, name, created_ms, updated_ms) VALUES (1, 'Old', 0, 0)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(OLD_READING).bind(1i64).execute(&pool).await.unwrap();
    sqlx::query(OLD_AUDIT).bind(1i64).execute(&pool).await.unwrap();
    pool.close().await;
    let storage = Storage::connect(&url).await.unwrap();
    alerts_upgraded(&storage, 1).await;
    storage.close().await;
}

#[tokio::test]
async fn postgres_upgrades_to_alerts_keeping_the_previous_schemas_data() {
    PgTestDatabase::run(|url| async move {
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        migrations_before_alerts("postgres").await.run(&pool).await.unwrap();
        let (id,): (i64,) =
            sqlx::query_as("INSERT INTO zones (name, created_ms, updated_ms) VALUES ('Old', 0, 0) RETURNING id")
                .fetch_one(&pool)
                .await
                .unwrap();
        sqlx::query(OLD_READING).bind(id).execute(&pool).await.unwrap();
        sqlx::query(OLD_AUDIT).bind(id).execute(&pool).await.unwrap();
        pool.close().await;
        let storage = Storage::connect(&url).await.unwrap();
        alerts_upgraded(&storage, id).await;
        storage.close().await;
    })
    .await;
}
