//! Documents stored by earlier versions load on both backends.

use heating_server::storage::{Estimated, NewDeviceProfile};

use super::*;

/// What an earlier version accepted (with 200) and stored: any value under `control_strategy` and
/// `occupancy_schedule`, then untyped keys.
fn legacy_preferences() -> serde_json::Value {
    json!({"occupied_temp": 22.5, "control_strategy": "predictiv", "occupancy_schedule": ["mon-fri 9-5"], "note": 1})
}

/// The zone written with [`legacy_preferences`] loads, through every read, with the defaults for the values
/// this version cannot read and everything else kept.
async fn legacy_zone_loads(s: &Storage, id: i64) {
    let zone = s.get_zone(id).await.unwrap().expect("the zone loads");
    let p = &zone.preferences;
    assert_eq!((p.control_strategy, p.occupancy_schedule.as_ref()), (None, None));
    assert_eq!((p.occupied_temp, p.extra.get("note")), (22.5, Some(&json!(1))));
    assert_eq!(s.list_zones().await.unwrap(), vec![zone.clone()], "listing zones still works");
    assert_eq!(s.list_zones_page(page(0, 10)).await.unwrap(), vec![zone]);
}

#[tokio::test]
async fn sqlite_loads_preferences_stored_by_earlier_versions() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("legacy.db").display());
    let storage = Storage::connect(&url).await.unwrap();
    let id = storage.create_zone(&fields("Legacy", None), at(0)).await.unwrap().id;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE zones SET preferences = ? WHERE id = ?")
        .bind(legacy_preferences().to_string())
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    legacy_zone_loads(&storage, id).await;
    storage.close().await;
}

#[tokio::test]
async fn postgres_loads_preferences_stored_by_earlier_versions() {
    PgTestDatabase::run(|url| async move {
        let storage = Storage::connect(&url).await.unwrap();
        let id = storage.create_zone(&fields("Legacy", None), at(0)).await.unwrap().id;
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        sqlx::query("UPDATE zones SET preferences = $1::jsonb WHERE id = $2")
            .bind(legacy_preferences().to_string())
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        legacy_zone_loads(&storage, id).await;
        storage.close().await;
    })
    .await;
}

/// The device profiles migration.
const PROFILES_MIGRATION: i64 = 20261202000001;

/// The migrations before device profiles, from the backend's folder.
async fn migrations_before_profiles(backend: &str) -> sqlx::migrate::Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(backend);
    let all = sqlx::migrate::Migrator::new(dir).await.unwrap();
    sqlx::migrate::Migrator::with_migrations(all.iter().filter(|m| m.version < PROFILES_MIGRATION).cloned().collect())
}

/// A zone and a reading stored before device profiles: the zone speaks `heating-sim`, has no rated power, the
/// reading was measured; new zones, readings and posted profiles work.
async fn profiles_upgraded(s: &Storage, zone_id: i64) {
    let zone = s.get_zone(zone_id).await.unwrap().unwrap();
    assert_eq!((zone.device_profile.as_str(), zone.rated_power_w), ("heating-sim", None));
    let readings = s.list_zone_readings(zone_id, Default::default()).await.unwrap();
    assert_eq!(readings.len(), 1);
    assert_eq!((readings[0].estimated, readings[0].energy_wh), (Estimated::NONE, Some(1234)));
    let mut f = fields("Relay", Some(1502));
    f.device_profile = "relay-coil".into();
    f.rated_power_w = Some(1500.0);
    let relay = s.create_zone(&f, at(0)).await.unwrap();
    assert_eq!((relay.device_profile.as_str(), relay.rated_power_w), ("relay-coil", Some(1500.0)));
    let estimated =
        NewReading { estimated: Estimated::ENERGY.with(Estimated::OCCUPANCY, true), ..reading(relay.id, 5, 20.0) };
    let stored = s.insert_reading(&estimated).await.unwrap();
    assert_eq!(stored.estimated.names(), ["energy_wh", "occupancy"]);
    let posted = NewDeviceProfile {
        name: "own".into(),
        version: 1,
        toml: "format = 1".into(),
        created_at: at(7),
        actor: "admin".into(),
    };
    let first = s.insert_device_profile(&posted).await.unwrap();
    assert_eq!((first.name.as_str(), first.version, first.created_at), ("own", 1, at(7)));
    assert_conflict(s.insert_device_profile(&posted).await, "device profile \"own\" version 1 already exists");
    s.insert_device_profile(&NewDeviceProfile { version: 2, ..posted }).await.unwrap();
    let listed: Vec<_> = s.list_device_profiles().await.unwrap().into_iter().map(|p| p.version).collect();
    assert_eq!(listed, [1, 2]);
}

const OLD_ROWS: &str = "INSERT INTO sensor_readings (zone_id, ts_ms, temperature, occupancy, heater_on, energy_wh) \
                        VALUES ($1, 1000, 20.5, TRUE, FALSE, 1234)";

#[tokio::test]
async fn sqlite_upgrades_zones_and_readings_to_device_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    migrations_before_profiles("sqlite").await.run(&pool).await.unwrap();
    sqlx::query("INSERT INTO zones (id, name, created_ms, updated_ms) VALUES (1, 'Old', 0, 0)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(OLD_ROWS).bind(1i64).execute(&pool).await.unwrap();
    pool.close().await;
    let storage = Storage::connect(&url).await.unwrap();
    profiles_upgraded(&storage, 1).await;
    storage.close().await;
}

#[tokio::test]
async fn postgres_upgrades_zones_and_readings_to_device_profiles() {
    PgTestDatabase::run(|url| async move {
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        migrations_before_profiles("postgres").await.run(&pool).await.unwrap();
        let (id,): (i64,) =
            sqlx::query_as("INSERT INTO zones (name, created_ms, updated_ms) VALUES ('Old', 0, 0) RETURNING id")
                .fetch_one(&pool)
                .await
                .unwrap();
        sqlx::query(OLD_ROWS).bind(id).execute(&pool).await.unwrap();
        pool.close().await;
        let storage = Storage::connect(&url).await.unwrap();
        profiles_upgraded(&storage, id).await;
        storage.close().await;
    })
    .await;
}
