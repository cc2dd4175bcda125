//! The 15-minute and hourly rollup levels folded from the 1-minute one behind a watermark, on both backends:
//! readers add the pending minutes, late readings, restarts, failed batches, retention folding first, and the
//! upgrades of databases written before each fold.

use heating_server::storage::{Resolution, RollupBucket};
use sqlx::migrate::Migrator;

use super::rollups::{
    Raw, Rng, assert_history_equal, assert_rollups_equal, check_history, check_levels, expected_history,
    expected_rollups, insert_literal, migrations_before_rollups, old_readings, random_readings,
};
use super::*;

/// The tables themselves, beside `Storage`: the watermark and a zone's rows in `readings_15m` and `readings_1h`.
enum Tables {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Tables {
    async fn scalar(&self, sql: &str, zone: i64) -> i64 {
        match self {
            Tables::Sqlite(p) => sqlx::query_scalar(AssertSqlSafe(sql)).bind(zone).fetch_one(p).await.unwrap(),
            Tables::Postgres(p) => sqlx::query_scalar(AssertSqlSafe(sql)).bind(zone).fetch_one(p).await.unwrap(),
        }
    }

    /// The watermark (`$1` is bound and ignored).
    async fn folded(&self) -> i64 {
        self.scalar("SELECT folded_ms FROM rollup_fold WHERE $1 = $1", 0).await
    }

    async fn hour_rows(&self, zone: i64) -> i64 {
        self.scalar("SELECT COUNT(*) FROM readings_1h WHERE zone_id = $1", zone).await
    }

    async fn quarter_rows(&self, zone: i64) -> i64 {
        self.scalar("SELECT COUNT(*) FROM readings_15m WHERE zone_id = $1", zone).await
    }

    async fn close(&self) {
        match self {
            Tables::Sqlite(p) => p.close().await,
            Tables::Postgres(p) => p.close().await,
        }
    }
}

/// Stores `batch` in one call and records it with its insertion order.
async fn store_batch(s: &Storage, raw: &mut Vec<Raw>, batch: Vec<NewReading>) {
    if batch.len() == 1 {
        s.insert_reading(&batch[0]).await.unwrap();
    } else {
        s.insert_readings(&batch).await.unwrap();
    }
    for r in batch {
        raw.push(Raw { ms: r.ts.timestamp_millis(), seq: raw.len(), reading: r });
    }
}

/// The levels as every reader sees them (rows, export pages of one, export of all zones) against the raw readings;
/// the coarser two with their pending minutes.
async fn check_hours(s: &Storage, raw: &[Raw], zone: i64, what: &str) {
    check_levels(s, raw, zone, what).await;
    for level in [Resolution::Quarter, Resolution::Hour] {
        let what = format!("{what}, {}", level.as_str());
        let rows = s.rollup_buckets(zone, level).await.unwrap();
        let mut paged = Vec::new();
        let mut after = None;
        while let [(z, bucket)] =
            s.rollups_page(level, Some(zone), at(-86_400_000), at(86_400_000), after, 1).await.unwrap().as_slice()
        {
            after = Some((*z, bucket.start));
            paged.push(bucket.clone());
        }
        assert_rollups_equal(&paged, &rows, &format!("{what}, export pages"));
        let all = s.rollups_page(level, None, at(0), at(5 * 3_600_000), None, 1000).await.unwrap();
        let mine: Vec<RollupBucket> = all.into_iter().filter(|(z, _)| *z == zone).map(|(_, b)| b).collect();
        assert_rollups_equal(&mine, &rows, &format!("{what}, export of all zones"));
    }
}

/// The 15-minute and hourly levels folded from the minutes: only readings before the watermark are in `readings_15m`
/// and `readings_1h`, readers add the pending minutes; the watermark follows the newest reading (a quarter behind),
/// late readings in folded quarters (energy between stored values) are merged into every level and settled; a
/// restart mid-quarter changes nothing; a failed batch moves nothing; the retention of the 1-minute and 15-minute
/// levels folds what it trims first.
async fn levels_fold_from_minutes(url: &str, tables: &Tables) {
    let s = Storage::connect(url).await.unwrap();
    assert_eq!(tables.folded().await, 0, "an empty database: nothing folded");
    let zone = s.create_zone(&fields("Folded", Some(9120)), at(0)).await.unwrap().id;
    let other = s.create_zone(&fields("Folded too", Some(9121)), at(0)).await.unwrap().id;
    let mut rng = Rng(99);
    let readings = random_readings(&mut rng, zone, 4);
    let minute = |m: i64| m * 60_000;
    let (mut early, mut held): (Vec<NewReading>, Vec<NewReading>) = (Vec::new(), Vec::new());
    for (i, r) in readings.iter().filter(|r| r.ts < at(minute(20))).enumerate() {
        // Every fifth reading of the first quarter comes late.
        if i % 5 == 2 && r.ts < at(minute(15)) { held.push(r.clone()) } else { early.push(r.clone()) }
    }
    let mut raw = Vec::new();
    // The first 20 minutes, a minute per batch: both quarters pending.
    for m in 0..20 {
        let batch: Vec<NewReading> =
            early.iter().filter(|r| r.ts >= at(minute(m)) && r.ts < at(minute(m + 1))).cloned().collect();
        if !batch.is_empty() {
            store_batch(&s, &mut raw, batch).await;
        }
    }
    let newest = raw.iter().map(|r| r.ms).max().unwrap();
    assert!(newest >= at(minute(15)).timestamp_millis(), "readings in the second quarter");
    assert_eq!(tables.folded().await, at(0).timestamp_millis(), "the quarter before the newest reading's");
    assert_eq!((tables.quarter_rows(zone).await, tables.hour_rows(zone).await), (0, 0), "nothing folded yet");
    check_hours(&s, &raw, zone, "two quarters pending").await;
    let q = HistoryQuery::new(at(0), at(minute(30)), 2).unwrap();
    let history = s.zone_history(zone, q).await.unwrap();
    assert_eq!(history.resolution, Resolution::Quarter);
    let f = q.from().timestamp_millis();
    assert_history_equal(&history, &expected_history(&raw, zone, q, |ms| (ms - f) / 900_000), "pending quarters");
    let q = HistoryQuery::new(at(0), at(3_600_000), 1).unwrap();
    let history = s.zone_history(zone, q).await.unwrap();
    assert_eq!(history.resolution, Resolution::Hour);
    let f = q.from().timestamp_millis();
    assert_history_equal(&history, &expected_history(&raw, zone, q, |ms| (ms - f) / 3_600_000), "pending hour");

    // Up to 35 minutes: the first quarter folds when the third begins.
    let batch: Vec<NewReading> =
        readings.iter().filter(|r| r.ts >= at(minute(20)) && r.ts < at(minute(35))).cloned().collect();
    store_batch(&s, &mut raw, batch).await;
    assert_eq!(tables.folded().await, at(minute(15)).timestamp_millis());
    assert_eq!(tables.quarter_rows(zone).await, 1, "the first quarter folded");
    assert_eq!(tables.hour_rows(zone).await, 1, "the first quarter folded into its hour");
    check_hours(&s, &raw, zone, "one quarter folded").await;

    // The held-back readings of the first quarter, now folded: late, one by one and as a batch, with another zone's.
    store_batch(&s, &mut raw, vec![held[0].clone()]).await;
    let mut late = held[1..].to_vec();
    late.push(NewReading { zone_id: other, ..held[0].clone() });
    store_batch(&s, &mut raw, late).await;
    assert_eq!(tables.folded().await, at(minute(15)).timestamp_millis(), "late readings move nothing");
    assert_eq!(tables.quarter_rows(zone).await, 1, "merged into the folded quarter");
    check_hours(&s, &raw, zone, "late readings in a folded quarter").await;
    check_hours(&s, &raw, other, "another zone's late reading").await;

    // A restart in the middle of a quarter, then the rest in batches of 40 (a batch over a quarter's or an hour's
    // end folds what it passes).
    s.close().await;
    let s = Storage::connect(url).await.unwrap();
    check_hours(&s, &raw, zone, "after a restart").await;
    let rest: Vec<NewReading> = readings.iter().filter(|r| r.ts >= at(minute(35))).cloned().collect();
    for chunk in rest.chunks(40) {
        store_batch(&s, &mut raw, chunk.to_vec()).await;
    }
    let newest = raw.iter().map(|r| r.ms).max().unwrap();
    let expected = newest - newest.rem_euclid(900_000) - 900_000;
    assert_eq!(tables.folded().await, expected);
    check_hours(&s, &raw, zone, "four hours").await;
    check_history(&s, &raw, zone).await;

    // A batch that fails (a zone that does not exist) changes nothing, the watermark included.
    let mut failing = vec![reading(zone, newest + 3_600_000, 20.0)];
    failing.push(reading(999_999, newest + 3_600_000, 20.0));
    assert!(s.insert_readings(&failing).await.is_err());
    assert_eq!(tables.folded().await, expected, "rolled back");
    check_hours(&s, &raw, zone, "after a failed batch").await;

    // Trimming the 1-minute level up to a cutoff inside a quarter folds the minutes it deletes first (up to that
    // quarter's end); the coarser levels keep them.
    assert_eq!(expected, at(3 * 3_600_000 + minute(30)).timestamp_millis(), "the last two quarters pending");
    let cutoff = at(3 * 3_600_000 + minute(40));
    while s.purge_batch(heating_server::storage::Retained::Minute, cutoff, 7).await.unwrap() > 0 {}
    assert_eq!(tables.folded().await, at(3 * 3_600_000 + minute(45)).timestamp_millis());
    let minutes = s.rollup_buckets(zone, Resolution::Minute).await.unwrap();
    assert!(!minutes.is_empty() && minutes.iter().all(|m| m.start >= cutoff), "minutes trimmed");
    for (level, width) in [(Resolution::Quarter, 900_000), (Resolution::Hour, 3_600_000)] {
        let rows = s.rollup_buckets(zone, level).await.unwrap();
        assert_rollups_equal(&rows, &expected_rollups(&raw, zone, width), "after the minutes' retention");
    }

    // Trimming the 15-minute level folds the quarters it deletes first; the hourly level keeps them.
    let cutoff = at(5 * 3_600_000);
    while s.purge_batch(heating_server::storage::Retained::Minute, cutoff, 50).await.unwrap() > 0 {}
    while s.purge_batch(heating_server::storage::Retained::Quarter, cutoff, 7).await.unwrap() > 0 {}
    assert_eq!(tables.folded().await, cutoff.timestamp_millis());
    assert!(s.rollup_buckets(zone, Resolution::Quarter).await.unwrap().is_empty(), "quarters trimmed");
    let hours = s.rollup_buckets(zone, Resolution::Hour).await.unwrap();
    assert_rollups_equal(&hours, &expected_rollups(&raw, zone, 3_600_000), "hours after the quarters' retention");
    assert_eq!(tables.hour_rows(zone).await, hours.len() as i64, "all in the hourly table now");
    // A plain delete still counts every reading, raw or rolled up.
    match s.delete_zone(zone, false).await {
        Err(StorageError::HasHistory { readings, .. }) => {
            assert_eq!(readings, raw.iter().filter(|r| r.reading.zone_id == zone).count() as i64)
        }
        other => panic!("expected HasHistory, got {other:?}"),
    }
    s.close().await;
}

#[tokio::test]
async fn sqlite_folds_quarters_and_hours_from_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("fold.db").display());
    Storage::connect(&url).await.unwrap().close().await;
    let tables = Tables::Sqlite(sqlx::SqlitePool::connect(&url).await.unwrap());
    levels_fold_from_minutes(&url, &tables).await;
    tables.close().await;
}

#[tokio::test]
async fn postgres_folds_quarters_and_hours_from_minutes() {
    PgTestDatabase::run(|url| async move {
        Storage::connect(&url).await.unwrap().close().await;
        let tables = Tables::Postgres(PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap());
        levels_fold_from_minutes(&url, &tables).await;
        tables.close().await;
    })
    .await;
}

/// The fold's migration.
const FOLD_MIGRATION: i64 = 20261203000003;

/// The migrations before the fold, from the backend's folder.
async fn migrations_before_fold(backend: &str) -> Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(backend);
    let all = Migrator::new(dir).await.unwrap();
    Migrator::with_migrations(all.iter().filter(|m| m.version < FOLD_MIGRATION).cloned().collect())
}

/// A database of the schema before the fold, whose three levels hold all its readings (as that schema kept them):
/// after the upgrade the watermark starts after its newest quarter, nothing is pending or counted twice, and new
/// readings (later, and late) fold as usual.
async fn upgraded_to_the_fold(url: &str, tables: &Tables, zone: i64, old: Vec<Raw>) {
    let s = Storage::connect(url).await.unwrap();
    let newest = old.iter().map(|r| r.ms).max().unwrap();
    assert_eq!(tables.folded().await, newest - newest.rem_euclid(900_000) + 900_000, "after the newest quarter");
    let hours: std::collections::BTreeSet<i64> = old.iter().map(|r| r.ms - r.ms.rem_euclid(3_600_000)).collect();
    assert_eq!(tables.hour_rows(zone).await, hours.len() as i64, "the old hourly rows");
    check_hours(&s, &old, zone, "upgraded").await;
    let mut raw = old;
    let mut rng = Rng(8);
    let mut later = random_readings(&mut rng, zone, 2);
    for r in &mut later {
        r.ts += chrono::Duration::minutes(100);
    }
    // Readings of the last old quarter's hour (late: before the watermark), then later ones.
    let (late, rest): (Vec<NewReading>, Vec<NewReading>) =
        later.into_iter().partition(|r| r.ts.timestamp_millis() < newest - newest.rem_euclid(900_000) + 900_000);
    for chunk in late.chunks(9).chain(rest.chunks(30)) {
        store_batch(&s, &mut raw, chunk.to_vec()).await;
    }
    check_hours(&s, &raw, zone, "upgraded and added to").await;
    check_history(&s, &raw, zone).await;
    s.close().await;
}

#[tokio::test]
async fn sqlite_upgrades_rollups_to_the_fold() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("before-fold.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    migrations_before_rollups("sqlite").await.run(&pool).await.unwrap();
    sqlx::query("INSERT INTO zones (id, name, created_ms, updated_ms) VALUES (1, 'Old', 0, 0)")
        .execute(&pool)
        .await
        .unwrap();
    let old = old_readings(1);
    let rows: Vec<NewReading> = old.iter().map(|r| r.reading.clone()).collect();
    sqlx::raw_sql(AssertSqlSafe(insert_literal(&rows))).execute(&pool).await.unwrap();
    // The rollups' migration fills the three levels, as the schema before the fold kept them.
    migrations_before_fold("sqlite").await.run(&pool).await.unwrap();
    let tables = Tables::Sqlite(pool);
    upgraded_to_the_fold(&url, &tables, 1, old).await;
    tables.close().await;
}

#[tokio::test]
async fn postgres_upgrades_rollups_to_the_fold() {
    PgTestDatabase::run(|url| async move {
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        migrations_before_rollups("postgres").await.run(&pool).await.unwrap();
        let (id,): (i64,) =
            sqlx::query_as("INSERT INTO zones (name, created_ms, updated_ms) VALUES ('Old', 0, 0) RETURNING id")
                .fetch_one(&pool)
                .await
                .unwrap();
        let old = old_readings(id);
        let rows: Vec<NewReading> = old.iter().map(|r| r.reading.clone()).collect();
        sqlx::raw_sql(AssertSqlSafe(insert_literal(&rows))).execute(&pool).await.unwrap();
        migrations_before_fold("postgres").await.run(&pool).await.unwrap();
        let tables = Tables::Postgres(pool);
        upgraded_to_the_fold(&url, &tables, id, old).await;
        tables.close().await;
    })
    .await;
}

/// The migration that folds the 15-minute level from the minutes too.
const MINUTE_FOLD_MIGRATION: i64 = 20261204000001;

/// The migrations before `version`, from the backend's folder.
async fn migrations_before(backend: &str, version: i64) -> Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(backend);
    let all = Migrator::new(dir).await.unwrap();
    Migrator::with_migrations(all.iter().filter(|m| m.version < version).cloned().collect())
}

/// One INSERT of the rows of `table` (of bucket width `width`) holding `raw`, all of one zone, as literals.
fn rollup_insert(table: &str, width: i64, raw: &[Raw]) -> String {
    let zone = raw[0].reading.zone_id;
    let opt = |v: Option<String>| v.unwrap_or_else(|| "NULL".into());
    let f = |v: Option<f64>| opt(v.map(|v| format!("{v:?}")));
    let i = |v: Option<i64>| opt(v.map(|v| v.to_string()));
    let rows: Vec<String> = expected_rollups(raw, zone, width)
        .iter()
        .map(|b| {
            let start = b.start.timestamp_millis();
            let mut counted: Vec<&Raw> = raw
                .iter()
                .filter(|r| r.ms - r.ms.rem_euclid(width) == start && r.reading.energy_wh.is_some())
                .collect();
            counted.sort_by_key(|r| (r.ms, r.seq));
            let (first_ms, last_ms) = (counted.first().map(|r| r.ms), counted.last().map(|r| r.ms));
            let (t, s, o) = (b.temperature, b.target, b.outdoor);
            format!(
                "({zone}, {start}, {}, {:?}, {:?}, {:?}, {}, {}, {:?}, {}, {}, {}, {:?}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                b.count,
                t.0,
                t.1,
                t.2,
                s.0,
                f(s.1),
                s.2,
                f(s.3),
                o.0,
                f(o.1),
                o.2,
                f(o.3),
                b.heater.0,
                b.heater.1,
                b.occupied,
                b.energy.0,
                i(b.energy.1),
                i(first_ms),
                i(b.energy.2),
                i(last_ms),
                b.energy.3.unwrap(),
            )
        })
        .collect();
    format!(
        "INSERT INTO {table} (zone_id, bucket_ms, n, temp_min, temp_sum, temp_max, target_n, target_min, target_sum, \
         target_max, outdoor_n, outdoor_min, outdoor_sum, outdoor_max, heater_n, heater_on_n, occupied_n, energy_n, \
         energy_first, energy_first_ms, energy_last, energy_last_ms, energy_used) VALUES {}",
        rows.join(", ")
    )
}

/// The statements that put a database of the schema before [`MINUTE_FOLD_MIGRATION`] in the state its code left:
/// 40 minutes of readings of `zone` in every level (the rollups' migration's backfill, then the fold's migration
/// puts the watermark after them), then an hour of readings after the watermark in the raw table and the 1-minute
/// and 15-minute levels only (pending quarters, not yet in the hourly level). Returns the statements and the readings
/// in insertion order.
fn before_minute_fold(zone: i64, folded: i64) -> (Vec<String>, Vec<Raw>) {
    let mut rng = Rng(5);
    let mut pending = random_readings(&mut rng, zone, 1);
    let shift = folded - at(0).timestamp_millis() + 1_000;
    for r in &mut pending {
        r.ts += chrono::Duration::milliseconds(shift);
    }
    let pending: Vec<Raw> =
        pending.into_iter().enumerate().map(|(seq, r)| Raw { ms: r.ts.timestamp_millis(), seq, reading: r }).collect();
    let rows: Vec<NewReading> = pending.iter().map(|r| r.reading.clone()).collect();
    let sql = vec![
        insert_literal(&rows),
        rollup_insert("readings_1m", 60_000, &pending),
        rollup_insert("readings_15m", 900_000, &pending),
    ];
    (sql, pending)
}

/// The 40 minutes of old readings of [`before_minute_fold`].
fn first_readings(zone: i64) -> Vec<Raw> {
    old_readings(zone).into_iter().filter(|r| r.reading.ts < at(40 * 60_000)).collect()
}

/// After the upgrade of a database of [`before_minute_fold`]: the pending quarters are in the hourly level, the
/// watermark is after the newest quarter, every level and reader holds each reading once, and new readings (late,
/// and later) are merged and folded as usual.
async fn upgraded_to_the_minute_fold(url: &str, tables: &Tables, zone: i64, old_folded: i64, raw: Vec<Raw>) {
    assert_ne!(old_folded % 3_600_000, 0, "the old watermark inside an hour: the fold merges into its row");
    let s = Storage::connect(url).await.unwrap();
    let newest = raw.iter().map(|r| r.ms).max().unwrap();
    let folded = newest - newest.rem_euclid(900_000) + 900_000;
    assert_eq!(tables.folded().await, folded, "after the newest quarter");
    let distinct = |w: i64| raw.iter().map(|r| r.ms - r.ms.rem_euclid(w)).collect::<std::collections::BTreeSet<_>>();
    assert_eq!(tables.quarter_rows(zone).await, distinct(900_000).len() as i64, "every quarter, none pending");
    assert_eq!(tables.hour_rows(zone).await, distinct(3_600_000).len() as i64, "every hour, the old one merged");
    check_hours(&s, &raw, zone, "upgraded to the minute fold").await;
    let mut raw = raw;
    let mut rng = Rng(9);
    let mut later = random_readings(&mut rng, zone, 1);
    let shift = newest - newest.rem_euclid(900_000) - at(0).timestamp_millis() + 500;
    for r in &mut later {
        r.ts += chrono::Duration::milliseconds(shift);
    }
    // Readings of the newest quarter (late: before the watermark), then later ones.
    let (late, rest): (Vec<NewReading>, Vec<NewReading>) =
        later.into_iter().partition(|r| r.ts.timestamp_millis() < folded);
    assert!(!late.is_empty() && !rest.is_empty());
    for chunk in late.chunks(9).chain(rest.chunks(30)) {
        store_batch(&s, &mut raw, chunk.to_vec()).await;
    }
    check_hours(&s, &raw, zone, "upgraded to the minute fold and added to").await;
    check_history(&s, &raw, zone).await;
    s.close().await;
}

#[tokio::test]
async fn sqlite_upgrades_rollups_to_the_minute_fold() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("before-minute-fold.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    migrations_before_rollups("sqlite").await.run(&pool).await.unwrap();
    sqlx::query("INSERT INTO zones (id, name, created_ms, updated_ms) VALUES (1, 'Old', 0, 0)")
        .execute(&pool)
        .await
        .unwrap();
    let mut raw = first_readings(1);
    let rows: Vec<NewReading> = raw.iter().map(|r| r.reading.clone()).collect();
    sqlx::raw_sql(AssertSqlSafe(insert_literal(&rows))).execute(&pool).await.unwrap();
    migrations_before("sqlite", MINUTE_FOLD_MIGRATION).await.run(&pool).await.unwrap();
    let tables = Tables::Sqlite(pool);
    let old_folded = tables.folded().await;
    let (sql, pending) = before_minute_fold(1, old_folded);
    let Tables::Sqlite(pool) = &tables else { unreachable!() };
    for statement in sql {
        sqlx::raw_sql(AssertSqlSafe(statement)).execute(pool).await.unwrap();
    }
    let base = raw.len();
    raw.extend(pending.into_iter().map(|r| Raw { seq: r.seq + base, ..r }));
    upgraded_to_the_minute_fold(&url, &tables, 1, old_folded, raw).await;
    tables.close().await;
}

#[tokio::test]
async fn postgres_upgrades_rollups_to_the_minute_fold() {
    PgTestDatabase::run(|url| async move {
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        migrations_before_rollups("postgres").await.run(&pool).await.unwrap();
        let (id,): (i64,) =
            sqlx::query_as("INSERT INTO zones (name, created_ms, updated_ms) VALUES ('Old', 0, 0) RETURNING id")
                .fetch_one(&pool)
                .await
                .unwrap();
        let mut raw = first_readings(id);
        let rows: Vec<NewReading> = raw.iter().map(|r| r.reading.clone()).collect();
        sqlx::raw_sql(AssertSqlSafe(insert_literal(&rows))).execute(&pool).await.unwrap();
        migrations_before("postgres", MINUTE_FOLD_MIGRATION).await.run(&pool).await.unwrap();
        let tables = Tables::Postgres(pool);
        let old_folded = tables.folded().await;
        let (sql, pending) = before_minute_fold(id, old_folded);
        let Tables::Postgres(pool) = &tables else { unreachable!() };
        for statement in sql {
            sqlx::raw_sql(AssertSqlSafe(statement)).execute(pool).await.unwrap();
        }
        let base = raw.len();
        raw.extend(pending.into_iter().map(|r| Raw { seq: r.seq + base, ..r }));
        upgraded_to_the_minute_fold(&url, &tables, id, old_folded, raw).await;
        tables.close().await;
    })
    .await;
}
