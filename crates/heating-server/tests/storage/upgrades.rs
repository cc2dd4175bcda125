//! Documents stored by earlier versions load on both backends.

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
