//! Zone leases, heartbeats and forwarded writes (several instances on PostgreSQL), and the instances migration
//! over data of the previous schema on both backends.

use std::time::Duration as StdDuration;

use heating_server::storage::{ForwardState, InstanceIdentity, NewForwarded};

use super::*;

/// The instances migration.
const INSTANCES_MIGRATION: i64 = 20261203000005;

async fn migrations_before_instances(backend: &str) -> sqlx::migrate::Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(backend);
    let all = sqlx::migrate::Migrator::new(dir).await.unwrap();
    sqlx::migrate::Migrator::with_migrations(all.iter().filter(|m| m.version < INSTANCES_MIGRATION).cloned().collect())
}

const TTL: StdDuration = StdDuration::from_secs(30);

fn me(id: &str) -> InstanceIdentity {
    InstanceIdentity { id: id.into(), name: format!("{id} host"), advertised_url: None }
}

fn forwarded(zone_id: i64) -> NewForwarded {
    NewForwarded {
        zone_id,
        target_temp: 22.5,
        source: CommandSource::Manual,
        reason: Some("manual target".into()),
        actor: "local".into(),
        hold_until: Some(at(60_000)),
        occupied_at_start: true,
        set_at: at(1000),
        from_instance: "a".into(),
    }
}

/// Leases on a database upgraded from the previous schema, holding a zone and its reading.
async fn leases_work(s: &Storage, old_zone: i64) {
    assert!(s.shares_instances());
    s.heartbeat(&me("a"), 0, TTL).await.unwrap();
    let listed = s.list_instances(TTL).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].name.as_str(), listed[0].alive), ("a", "a host", true));

    // The old zone and a new one; a zone without a device is never leased.
    let new_zone = s.create_zone(&fields("New", Some(1503)), at(0)).await.unwrap().id;
    s.create_zone(&fields("No device", None), at(0)).await.unwrap();
    assert_eq!(s.leasable_zones().await.unwrap(), 2);
    let a = s.acquire_leases("a", 1, TTL).await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].zone_id, old_zone, "lowest zone id first");
    let b = s.acquire_leases("b", 10, TTL).await.unwrap();
    assert_eq!(b.iter().map(|g| g.zone_id).collect::<Vec<_>>(), [new_zone], "a held zone is never taken");
    assert!(s.acquire_leases("c", 10, TTL).await.unwrap().is_empty());
    assert_eq!(s.renew_leases("a", TTL).await.unwrap(), a);
    assert!(s.lease_holds(old_zone, "a", a[0].epoch, StdDuration::from_secs(1)).await.unwrap());
    assert!(!s.lease_holds(old_zone, "a", a[0].epoch, StdDuration::from_secs(60)).await.unwrap(), "margin");
    assert!(!s.lease_holds(old_zone, "b", a[0].epoch, StdDuration::ZERO).await.unwrap());
    assert!(!s.lease_holds(old_zone, "a", a[0].epoch - 1, StdDuration::ZERO).await.unwrap(), "stale epoch");

    // The old reading is the zone's latest.
    let latest = s.latest_readings(&[old_zone, new_zone]).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!((latest[0].zone_id, latest[0].energy_wh), (old_zone, Some(1234)));

    // A write forwarded to the owner: claimed once, by the owner only, then done.
    let id = s.queue_forwarded(&forwarded(old_zone)).await.unwrap();
    assert_eq!(s.forwarded_state(id).await.unwrap(), ForwardState::Queued);
    assert!(s.claim_forwarded("b").await.unwrap().is_empty(), "b does not hold the zone");
    let claimed = s.claim_forwarded("a").await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].request, forwarded(old_zone));
    assert!(s.claim_forwarded("a").await.unwrap().is_empty(), "claimed once");
    assert_eq!(s.forwarded_state(id).await.unwrap(), ForwardState::Claimed);
    assert!(!s.expire_forwarded(id).await.unwrap(), "a claimed write is not withdrawn");
    let cmd = s.insert_command(&command(old_zone, 2000, 22.5, CommandSource::Manual)).await.unwrap();
    s.finish_forwarded(id, Some(&cmd), None).await.unwrap();
    assert_eq!(s.forwarded_state(id).await.unwrap(), ForwardState::Done { command_id: Some(cmd.id), error: None });
    let late = s.queue_forwarded(&forwarded(new_zone)).await.unwrap();
    assert!(s.expire_forwarded(late).await.unwrap());
    assert!(s.claim_forwarded("b").await.unwrap().is_empty(), "an expired write is never sent");

    // Released leases are taken at once, with a new, larger epoch.
    assert_eq!(s.release_leases("a", None).await.unwrap(), 1);
    assert!(s.renew_leases("a", TTL).await.unwrap().is_empty());
    let c = s.acquire_leases("c", 10, TTL).await.unwrap();
    assert_eq!(c.len(), 1);
    assert!(c[0].epoch > a[0].epoch && c[0].epoch > b[0].epoch);
    s.remove_instance("a").await.unwrap();
    assert!(s.list_instances(TTL).await.unwrap().is_empty());
}

const OLD_ROWS: &str = "INSERT INTO sensor_readings (zone_id, ts_ms, temperature, occupancy, heater_on, energy_wh) \
                        VALUES ($1, 1000, 20.5, TRUE, FALSE, 1234)";

#[tokio::test]
async fn postgres_upgrades_to_instances_and_leases_work() {
    PgTestDatabase::run(|url| async move {
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        migrations_before_instances("postgres").await.run(&pool).await.unwrap();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO zones (name, created_ms, updated_ms, modbus_port) VALUES ('Old', 0, 0, 1502) RETURNING id",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        sqlx::query(OLD_ROWS).bind(id).execute(&pool).await.unwrap();
        pool.close().await;
        let storage = Storage::connect(&url).await.unwrap();
        leases_work(&storage, id).await;
        storage.close().await;
    })
    .await;
}

#[tokio::test]
async fn sqlite_upgrades_to_the_instances_tables_and_stays_single_instance() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    migrations_before_instances("sqlite").await.run(&pool).await.unwrap();
    sqlx::query("INSERT INTO zones (id, name, created_ms, updated_ms, modbus_port) VALUES (1, 'Old', 0, 0, 1502)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(OLD_ROWS).bind(1i64).execute(&pool).await.unwrap();
    pool.close().await;
    let storage = Storage::connect(&url).await.unwrap();
    assert!(!storage.shares_instances());
    assert!(matches!(storage.acquire_leases("a", 1, TTL).await, Err(StorageError::SingleInstance)));
    assert_eq!(storage.list_zone_readings(1, Default::default()).await.unwrap().len(), 1, "data kept");
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for table in ["instances", "zone_leases", "forwarded_commands"] {
        let (n,): (i64,) =
            sqlx::query_as(AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).fetch_one(&pool).await.unwrap();
        assert_eq!(n, 0, "{table}");
    }
    pool.close().await;
    storage.close().await;
}

/// Ten instances taking leases at once never take a zone twice; an expired lease is taken with a larger epoch.
#[tokio::test]
async fn postgres_leases_taken_at_once_never_overlap_and_expired_ones_are_taken_over() {
    PgTestDatabase::run(|url| async move {
        let storage = Storage::connect(&url).await.unwrap();
        for i in 0..50u16 {
            storage.create_zone(&fields(&format!("z{i}"), Some(2000 + i)), at(0)).await.unwrap();
        }
        let takers = (0..10).map(|i| {
            let s = storage.clone();
            tokio::spawn(async move { s.acquire_leases(&format!("i{i}"), 8, TTL).await.unwrap() })
        });
        let mut taken = Vec::new();
        for t in takers {
            taken.extend(t.await.unwrap().into_iter().map(|g| g.zone_id));
        }
        let n = taken.len();
        taken.sort_unstable();
        taken.dedup();
        assert_eq!(taken.len(), n, "no zone leased twice");
        assert!(n <= 50);
        // Short leases expire and are taken by another instance, with new epochs.
        storage.release_leases("i0", None).await.unwrap();
        let short = storage.acquire_leases("dying", 5, StdDuration::from_millis(200)).await.unwrap();
        assert!(!short.is_empty());
        assert!(storage.acquire_leases("heir", 50, TTL).await.unwrap().iter().all(|g| !short.contains(g)));
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        assert!(storage.renew_leases("dying", TTL).await.unwrap().is_empty(), "an expired lease is not renewed");
        let heir = storage.acquire_leases("heir", 50, TTL).await.unwrap();
        for old in &short {
            let new = heir.iter().find(|g| g.zone_id == old.zone_id).expect("taken over");
            assert!(new.epoch > old.epoch);
        }
        storage.close().await;
    })
    .await;
}
