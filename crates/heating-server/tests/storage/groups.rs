//! Zone groups on both backends: the tree's rules (sibling names, parents, only empty groups deleted), zones put in
//! groups, and the upgrade of a database of the previous schema (zones and readings kept, in no group).

use heating_server::domain::ZoneName;
use heating_server::storage::{GroupFields, GroupKind};

use super::*;

fn group(name: &str, kind: GroupKind, parent_id: Option<i64>) -> GroupFields {
    GroupFields { name: ZoneName::parse(name).unwrap(), kind, parent_id }
}

/// The group rules, through `Storage`, on a fresh database.
async fn groups_conform(s: &Storage) {
    let hq = s.create_group(&group("HQ", GroupKind::Building, None), at(0)).await.unwrap();
    assert_eq!((hq.name.as_str(), hq.kind, hq.parent_id, hq.created_at), ("HQ", GroupKind::Building, None, at(0)));
    let f1 = s.create_group(&group("Floor 1", GroupKind::Floor, Some(hq.id)), at(1)).await.unwrap();
    let f2 = s.create_group(&group("Floor 2", GroupKind::Floor, Some(hq.id)), at(2)).await.unwrap();
    assert_conflict(
        s.create_group(&group("Floor 1", GroupKind::Floor, Some(hq.id)), at(3)).await,
        &format!("a group named \"Floor 1\" already exists in group {}", hq.id),
    );
    assert_conflict(
        s.create_group(&group("HQ", GroupKind::Site, None), at(3)).await,
        "a group named \"HQ\" already exists at the top level",
    );
    assert!(matches!(
        s.create_group(&group("X", GroupKind::Group, Some(999_999)), at(3)).await,
        Err(StorageError::NotFound { what: "parent group" })
    ));
    s.create_group(&group("Floor 1", GroupKind::Floor, Some(f2.id)), at(3)).await.unwrap();
    let listed: Vec<_> = s.list_groups().await.unwrap().into_iter().map(|g| (g.name, g.parent_id)).collect();
    assert_eq!(
        listed,
        [
            ("HQ".to_string(), None),
            ("Floor 1".into(), Some(hq.id)),
            ("Floor 2".into(), Some(hq.id)),
            ("Floor 1".into(), Some(f2.id))
        ]
    );

    // Rename and move.
    let moved = s.update_group(f2.id, &group("Floor 2b", GroupKind::Group, Some(f1.id)), at(4)).await.unwrap();
    assert_eq!(
        (moved.name.as_str(), moved.kind, moved.parent_id, moved.updated_at),
        ("Floor 2b", GroupKind::Group, Some(f1.id), at(4))
    );
    assert_eq!(s.get_group(f2.id).await.unwrap(), Some(moved));
    assert!(matches!(
        s.update_group(999_999, &group("X", GroupKind::Group, None), at(4)).await,
        Err(StorageError::NotFound { what: "group" })
    ));

    // Zones in groups.
    let zone = s.create_zone(&fields("Room 1", None), at(5)).await.unwrap();
    assert_eq!(zone.group_id, None);
    let placed = s.set_zone_group(zone.id, Some(f1.id), at(6)).await.unwrap();
    assert_eq!((placed.group_id, placed.updated_at), (Some(f1.id), at(6)));
    assert_eq!(s.get_zone(zone.id).await.unwrap().unwrap().group_id, Some(f1.id));
    let updated = s.update_zone(zone.id, &fields("Room 1a", None), at(7)).await.unwrap();
    assert_eq!(updated.group_id, Some(f1.id), "updating a zone's fields keeps its group");

    // A group's zones, its subgroups' included, read in one query; zones elsewhere are not.
    let deep = s.list_groups().await.unwrap().into_iter().find(|g| g.parent_id == Some(f2.id)).unwrap();
    let deep_zone = s.create_zone(&fields("Room 2", None), at(7)).await.unwrap();
    s.set_zone_group(deep_zone.id, Some(deep.id), at(7)).await.unwrap();
    let lobby = s.create_zone(&fields("Lobby", None), at(7)).await.unwrap();
    let ids = |zones: Vec<heating_server::storage::Zone>| zones.into_iter().map(|z| z.id).collect::<Vec<_>>();
    assert_eq!(ids(s.list_zones_in_group(hq.id).await.unwrap()), [zone.id, deep_zone.id]);
    assert_eq!(ids(s.list_zones_in_group(f1.id).await.unwrap()), [zone.id, deep_zone.id], "Floor 2b is under Floor 1");
    assert_eq!(ids(s.list_zones_in_group(f2.id).await.unwrap()), [deep_zone.id]);
    assert_eq!(ids(s.list_zones_in_group(deep.id).await.unwrap()), [deep_zone.id]);
    assert!(s.list_zones_in_group(999_999).await.unwrap().is_empty());
    s.delete_zone(deep_zone.id, true).await.unwrap();
    s.delete_zone(lobby.id, true).await.unwrap();
    assert!(s.list_zones_in_group(deep.id).await.unwrap().is_empty());
    assert!(matches!(
        s.set_zone_group(zone.id, Some(999_999), at(8)).await,
        Err(StorageError::NotFound { what: "group" })
    ));
    assert!(matches!(
        s.set_zone_group(999_999, Some(f1.id), at(8)).await,
        Err(StorageError::NotFound { what: "zone" })
    ));

    // Only empty groups are deleted.
    let not_empty = |id: i64, what: &str| format!("group {id} is not empty ({what}): move or delete them first");
    assert_conflict(s.delete_group(hq.id).await, &not_empty(hq.id, "1 subgroups, 0 zones"));
    assert_conflict(s.delete_group(f1.id).await, &not_empty(f1.id, "1 subgroups, 1 zones"));
    s.set_zone_group(zone.id, None, at(9)).await.unwrap();
    let inner = s.list_groups().await.unwrap().into_iter().find(|g| g.parent_id == Some(f2.id)).unwrap();
    s.delete_group(inner.id).await.unwrap();
    s.delete_group(f2.id).await.unwrap();
    s.delete_group(f1.id).await.unwrap();
    assert!(matches!(s.delete_group(f1.id).await, Err(StorageError::NotFound { what: "group" })));
    assert_eq!(s.list_groups().await.unwrap().len(), 1);
}

#[tokio::test]
async fn sqlite_groups_conform() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("groups.db").display());
    let storage = Storage::connect(&url).await.unwrap();
    groups_conform(&storage).await;
    storage.close().await;
}

#[tokio::test]
async fn postgres_groups_conform() {
    PgTestDatabase::run(|url| async move {
        let storage = Storage::connect(&url).await.unwrap();
        groups_conform(&storage).await;
        storage.close().await;
    })
    .await;
}

/// The groups migration.
const GROUPS_MIGRATION: i64 = 20261203000001;

/// The migrations before groups, from the backend's folder.
async fn migrations_before_groups(backend: &str) -> sqlx::migrate::Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(backend);
    let all = sqlx::migrate::Migrator::new(dir).await.unwrap();
    assert!(all.iter().any(|m| m.version == GROUPS_MIGRATION), "the groups migration is in {backend}'s folder");
    sqlx::migrate::Migrator::with_migrations(all.iter().filter(|m| m.version < GROUPS_MIGRATION).cloned().collect())
}

const OLD_READING: &str = "INSERT INTO sensor_readings (zone_id, ts_ms, temperature, occupancy, heater_on, energy_wh) \
                           VALUES ($1, 1000, 20.5, TRUE, FALSE, 1234)";

/// A zone and its reading stored by the previous schema: kept, in no group; groups work on the upgraded database.
async fn groups_upgraded(s: &Storage, zone_id: i64) {
    let zone = s.get_zone(zone_id).await.unwrap().unwrap();
    assert_eq!((zone.name.as_str(), zone.group_id, zone.device_profile.as_str()), ("Old", None, "relay-coil"));
    let readings = s.list_zone_readings(zone_id, Default::default()).await.unwrap();
    assert_eq!((readings.len(), readings[0].energy_wh), (1, Some(1234)));
    let g = s.create_group(&group("Floor 1", GroupKind::Floor, None), at(0)).await.unwrap();
    assert_eq!(s.set_zone_group(zone_id, Some(g.id), at(1)).await.unwrap().group_id, Some(g.id));
    assert_eq!(s.list_zones().await.unwrap()[0].group_id, Some(g.id));
}

#[tokio::test]
async fn sqlite_upgrades_a_database_of_the_previous_schema_to_groups() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    migrations_before_groups("sqlite").await.run(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO zones (id, name, created_ms, updated_ms, device_profile) VALUES (1, 'Old', 0, 0, 'relay-coil')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(OLD_READING).bind(1i64).execute(&pool).await.unwrap();
    pool.close().await;
    let storage = Storage::connect(&url).await.unwrap();
    groups_upgraded(&storage, 1).await;
    storage.close().await;
}

#[tokio::test]
async fn postgres_upgrades_a_database_of_the_previous_schema_to_groups() {
    PgTestDatabase::run(|url| async move {
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        migrations_before_groups("postgres").await.run(&pool).await.unwrap();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO zones (name, created_ms, updated_ms, device_profile) VALUES ('Old', 0, 0, 'relay-coil') \
             RETURNING id",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        sqlx::query(OLD_READING).bind(id).execute(&pool).await.unwrap();
        pool.close().await;
        let storage = Storage::connect(&url).await.unwrap();
        groups_upgraded(&storage, id).await;
        storage.close().await;
    })
    .await;
}
