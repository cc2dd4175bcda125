//! Rollups on both backends: each level equals the aggregation of the raw readings (random data with counter resets
//! and wraps, gaps, missing values, equal times, out-of-order batches), history from the rollups equals history
//! from the raw readings (aligned requests exactly, unaligned ones with boundaries moved to the level's), rebuild,
//! and the migration's backfill of readings stored before it.

use heating_server::storage::{History, Resolution, RollupBucket};
use sqlx::migrate::Migrator;

use super::*;

/// The rollups migration.
pub(super) const ROLLUPS_MIGRATION: i64 = 20261202000002;

pub(super) const LEVELS: [(Resolution, i64); 3] =
    [(Resolution::Minute, 60_000), (Resolution::Quarter, 900_000), (Resolution::Hour, 3_600_000)];

/// SplitMix64: the same sequence on every run.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A reading with its place in the insertion order (which is the id order).
#[derive(Debug, Clone)]
pub(super) struct Raw {
    pub(super) reading: NewReading,
    pub(super) ms: i64,
    pub(super) seq: usize,
}

/// About `hours` hours of readings of `zone` from `at(0)`, 1 to 40 s apart, with a gap of 50 minutes, repeated
/// times, missing values, counter resets and one wrap; not in insertion order.
pub(super) fn random_readings(rng: &mut Rng, zone: i64, hours: i64) -> Vec<NewReading> {
    let mut out = Vec::new();
    let (mut ms, mut energy) = (0_i64, 4_294_967_000_u32 - 3_000);
    while ms < hours * 3_600_000 {
        if rng.chance(1) {
            energy = if rng.chance(50) { rng.below(10) as u32 } else { energy.wrapping_add(rng.below(30) as u32) };
        } else {
            energy = energy.wrapping_add(rng.below(4) as u32);
        }
        let heat = rng.below(3);
        out.push(NewReading {
            zone_id: zone,
            ts: at(ms),
            temperature: 15.0 + rng.below(1000) as f64 / 100.0,
            target_temp: (!rng.chance(10)).then(|| 18.0 + rng.below(8) as f64 / 2.0),
            occupancy: rng.chance(40),
            heater_on: if heat == 0 { None } else { Some(heat == 1) },
            energy_wh: (!rng.chance(15)).then_some(energy),
            outdoor_temp: (!rng.chance(20)).then(|| -5.0 + rng.below(200) as f64 / 10.0),
            estimated: Default::default(),
        });
        ms += if rng.chance(5) { 0 } else { 1_000 + rng.below(40_000) as i64 };
        if out.len() == 200 {
            ms += 50 * 60_000;
        }
    }
    out
}

/// Stores `readings` in shuffled batches (and some one by one), so that many arrive before earlier ones; returns
/// them with their insertion order.
pub(super) async fn store_shuffled(s: &Storage, rng: &mut Rng, readings: Vec<NewReading>) -> Vec<Raw> {
    let mut chunks: Vec<Vec<NewReading>> = Vec::new();
    let mut rest = readings.as_slice();
    while !rest.is_empty() {
        let n = (1 + rng.below(60) as usize).min(rest.len());
        chunks.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    // Mostly in order, a third of the batches moved to a random later place.
    for i in 0..chunks.len() {
        if rng.chance(33) {
            let j = i + rng.below((chunks.len() - i) as u64) as usize;
            chunks.swap(i, j);
        }
    }
    let mut stored = Vec::new();
    for chunk in chunks {
        if chunk.len() <= 2 {
            for r in &chunk {
                s.insert_reading(r).await.unwrap();
            }
        } else {
            s.insert_readings(&chunk).await.unwrap();
        }
        for r in chunk {
            stored.push(Raw { ms: r.ts.timestamp_millis(), seq: stored.len(), reading: r });
        }
    }
    stored
}

/// What a level's rows must hold, computed here from the raw readings.
pub(super) fn expected_rollups(raw: &[Raw], zone: i64, width: i64) -> Vec<RollupBucket> {
    let mut mine: Vec<&Raw> = raw.iter().filter(|r| r.reading.zone_id == zone).collect();
    mine.sort_by_key(|r| (r.ms, r.seq));
    let mut out: Vec<RollupBucket> = Vec::new();
    let mut last_counter: Option<i64> = None;
    for r in mine {
        let start = r.ms - r.ms.rem_euclid(width);
        if out.last().is_none_or(|b| b.start != at(start - at(0).timestamp_millis())) {
            last_counter = None;
            out.push(RollupBucket {
                start: at(start - at(0).timestamp_millis()),
                count: 0,
                temperature: (f64::INFINITY, 0.0, f64::NEG_INFINITY),
                target: (0, None, 0.0, None),
                outdoor: (0, None, 0.0, None),
                heater: (0, 0),
                occupied: 0,
                energy: (0, None, None, Some(0)),
            });
        }
        let b = out.last_mut().unwrap();
        let x = &r.reading;
        b.count += 1;
        b.temperature =
            (b.temperature.0.min(x.temperature), b.temperature.1 + x.temperature, b.temperature.2.max(x.temperature));
        for (acc, v) in [(&mut b.target, x.target_temp), (&mut b.outdoor, x.outdoor_temp)] {
            if let Some(v) = v {
                *acc = (acc.0 + 1, Some(acc.1.map_or(v, |m| m.min(v))), acc.2 + v, Some(acc.3.map_or(v, |m| m.max(v))));
            }
        }
        if let Some(on) = x.heater_on {
            b.heater = (b.heater.0 + 1, b.heater.1 + i64::from(on));
        }
        b.occupied += i64::from(x.occupancy);
        if let Some(e) = x.energy_wh.map(i64::from) {
            let used = b.energy.3.unwrap() + last_counter.map_or(0, |p| step(p, e));
            b.energy = (b.energy.0 + 1, b.energy.1.or(Some(e)), Some(e), Some(used));
            last_counter = Some(e);
        }
    }
    out
}

fn step(prev: i64, next: i64) -> i64 {
    if next >= prev {
        next - prev
    } else if prev >= (1 << 32) - (1 << 24) {
        next + (1 << 32) - prev
    } else {
        next
    }
}

pub(super) fn assert_rollups_equal(got: &[RollupBucket], want: &[RollupBucket], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: buckets");
    for (g, w) in got.iter().zip(want) {
        let ctx = format!("{what} at {}", w.start);
        assert_eq!(
            (g.start, g.count, g.heater, g.occupied, g.energy),
            (w.start, w.count, w.heater, w.occupied, w.energy),
            "{ctx}"
        );
        assert_eq!((g.temperature.0, g.temperature.2), (w.temperature.0, w.temperature.2), "{ctx}");
        assert!(close(g.temperature.1, w.temperature.1), "{ctx}: {g:?} vs {w:?}");
        for (a, b) in [(g.target, w.target), (g.outdoor, w.outdoor)] {
            assert_eq!((a.0, a.1, a.3), (b.0, b.1, b.3), "{ctx}");
            assert!(close(a.2, b.2), "{ctx}: {a:?} vs {b:?}");
        }
    }
}

/// Every level of `zone` against the raw readings.
pub(super) async fn check_levels(s: &Storage, raw: &[Raw], zone: i64, what: &str) {
    for (resolution, width) in LEVELS {
        let got = s.rollup_buckets(zone, resolution).await.unwrap();
        assert_rollups_equal(&got, &expected_rollups(raw, zone, width), &format!("{what}, {}", resolution.as_str()));
    }
}

/// History of `zone` over `[from, to)` in `points` buckets computed here from the raw readings, each reading put in
/// the bucket `index(ms)` says.
pub(super) fn expected_history(raw: &[Raw], zone: i64, q: HistoryQuery, index: impl Fn(i64) -> i64) -> History {
    let (from, to) = (q.from().timestamp_millis(), q.to().timestamp_millis());
    let mut mine: Vec<&Raw> = raw.iter().filter(|r| r.reading.zone_id == zone && r.ms >= from && r.ms < to).collect();
    mine.sort_by_key(|r| (r.ms, r.seq));
    let mut groups: std::collections::BTreeMap<i64, Vec<&NewReading>> = Default::default();
    for r in &mine {
        groups.entry(index(r.ms)).or_default().push(&r.reading);
    }
    let stats = |v: Vec<f64>| {
        (!v.is_empty()).then(|| heating_server::storage::Stats {
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            avg: v.iter().sum::<f64>() / v.len() as f64,
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    };
    let buckets = groups
        .into_iter()
        .map(|(i, rs)| {
            let heater: Vec<bool> = rs.iter().filter_map(|r| r.heater_on).collect();
            heating_server::storage::HistoryBucket {
                start: q.from() + chrono::Duration::milliseconds(i * q.bucket_ms()),
                count: rs.len() as i64,
                temperature: stats(rs.iter().map(|r| r.temperature).collect()).unwrap(),
                target_temp: stats(rs.iter().filter_map(|r| r.target_temp).collect()),
                outdoor_temp: stats(rs.iter().filter_map(|r| r.outdoor_temp).collect()),
                heater_on_fraction: (!heater.is_empty())
                    .then(|| heater.iter().filter(|h| **h).count() as f64 / heater.len() as f64),
                occupied_fraction: rs.iter().filter(|r| r.occupancy).count() as f64 / rs.len() as f64,
            }
        })
        .collect();
    let counters: Vec<i64> = mine.iter().filter_map(|r| r.reading.energy_wh.map(i64::from)).collect();
    let energy_wh = (counters.len() >= 2).then(|| counters.windows(2).map(|w| step(w[0], w[1])).sum());
    History { buckets, readings: mine.len() as i64, energy_wh, resolution: Resolution::Raw }
}

pub(super) fn assert_history_equal(got: &History, want: &History, what: &str) {
    assert_eq!((got.readings, got.energy_wh), (want.readings, want.energy_wh), "{what}: totals");
    assert_eq!(got.buckets.len(), want.buckets.len(), "{what}: buckets");
    for (g, w) in got.buckets.iter().zip(&want.buckets) {
        let ctx = format!("{what}, bucket {}", w.start);
        assert_eq!((g.start, g.count), (w.start, w.count), "{ctx}");
        let same = |a: Option<heating_server::storage::Stats>, b: Option<heating_server::storage::Stats>| match (a, b) {
            (Some(a), Some(b)) => a.min == b.min && a.max == b.max && close(a.avg, b.avg),
            (a, b) => a.is_none() && b.is_none(),
        };
        assert!(same(Some(g.temperature), Some(w.temperature)), "{ctx}: {g:?} vs {w:?}");
        assert!(same(g.target_temp, w.target_temp) && same(g.outdoor_temp, w.outdoor_temp), "{ctx}: {g:?} vs {w:?}");
        let share = |a: Option<f64>, b: Option<f64>| a.zip(b).map_or(a.is_none() && b.is_none(), |(a, b)| close(a, b));
        assert!(share(g.heater_on_fraction, w.heater_on_fraction), "{ctx}: {g:?} vs {w:?}");
        assert!(close(g.occupied_fraction, w.occupied_fraction), "{ctx}");
    }
}

/// `zone_history` against the raw computation: aligned requests bucket for bucket; unaligned ones over more than 6
/// hours with each whole level bucket counted where it starts, the edges from raw readings; totals always the raw
/// ones.
pub(super) async fn check_history(s: &Storage, raw: &[Raw], zone: i64) {
    let hour = 3_600_000;
    let cases: [(i64, i64, u32, Resolution); 10] = [
        (0, 4 * hour, 4, Resolution::Hour),
        (0, 4 * hour, 16, Resolution::Quarter),
        (0, 4 * hour, 240, Resolution::Minute),
        (0, 4 * hour, 480, Resolution::Raw),
        (hour, 3 * hour, 2, Resolution::Hour),
        // Not aligned, longer than 6 hours: boundaries move to the level's.
        (-3 * hour + 7_123, 4 * hour - 1_234, 7, Resolution::Quarter),
        (-3 * hour + 7_123, 4 * hour - 1_234, 3, Resolution::Hour),
        (-3 * hour + 59_999, 4 * hour + 61_001, 100, Resolution::Minute),
        (-hour, 5 * hour + 17, 1, Resolution::Hour),
        // Not aligned, 3 hours: raw.
        (59_999, 3 * hour + 61_001, 20, Resolution::Raw),
    ];
    for (from, to, points, resolution) in cases {
        let q = HistoryQuery::new(at(from), at(to), points).unwrap();
        let what = format!("{from}..{to} in {points}");
        let got = s.zone_history(zone, q).await.unwrap();
        assert_eq!(got.resolution, resolution, "{what}");
        let (f, w) = (q.from().timestamp_millis(), q.bucket_ms());
        let level = LEVELS.iter().find(|l| l.0 == resolution).map_or(1, |l| l.1);
        let (lo, hi) = (
            f + (level - f.rem_euclid(level)) % level,
            q.to().timestamp_millis() - q.to().timestamp_millis().rem_euclid(level),
        );
        let index = |ms: i64| if ms >= lo && ms < hi { (ms - ms.rem_euclid(level) - f) / w } else { (ms - f) / w };
        assert_history_equal(&got, &expected_history(raw, zone, q, index), &what);
        let aligned = f.rem_euclid(level) == 0 && w % level == 0;
        if aligned {
            assert_history_equal(&got, &expected_history(raw, zone, q, |ms| (ms - f) / w), &format!("{what}, raw"));
        }
    }
}

pub(super) async fn rollups_match_raw(s: &Storage) {
    let mut rng = Rng(14);
    let a = s.create_zone(&fields("Rollup A", Some(9100)), at(0)).await.unwrap().id;
    let b = s.create_zone(&fields("Rollup B", Some(9101)), at(0)).await.unwrap().id;
    let mut readings = random_readings(&mut rng, a, 4);
    readings.extend(random_readings(&mut rng, b, 2));
    let raw = store_shuffled(s, &mut rng, readings).await;
    assert!(raw.len() > 700, "{} readings", raw.len());
    check_levels(s, &raw, a, "zone A").await;
    check_levels(s, &raw, b, "zone B").await;
    check_history(s, &raw, a).await;

    // Zone C: the readings of A and B as one zone, stored without the rollups (as the benchmark's hidden switch
    // does), then rebuilt. Two interleaved counters go down and back up inside buckets, ends within the extremes:
    // the case where `last - first` of a bucket is not its energy.
    let c = s.create_zone(&fields("Rollup C", Some(9102)), at(0)).await.unwrap().id;
    let mut raw_c = raw.clone();
    for r in &mut raw_c {
        r.reading.zone_id = c;
    }
    let bare = s.clone().without_rollups();
    for chunk in raw_c.chunks(100) {
        bare.insert_readings(&chunk.iter().map(|r| r.reading.clone()).collect::<Vec<_>>()).await.unwrap();
    }
    assert!(s.rollup_buckets(c, Resolution::Hour).await.unwrap().is_empty());
    let nothing = s.rebuild_rollups(Some(c), at(10), at(10)).await.unwrap();
    assert_eq!((nothing.range, nothing.chunks, nothing.rows), (None, 0, 0));
    let report = s.rebuild_rollups(Some(c), at(-1), at(5 * 3_600_000)).await.unwrap();
    assert_eq!(report.range, Some((at(0), at(4 * 3_600_000))), "whole hours of the readings there are");
    assert!(report.chunks >= 1 && report.rows > 200, "{report:?}");
    check_levels(s, &raw_c, c, "zone C rebuilt").await;
    check_history(s, &raw_c, c).await;
    // A rebuild of everything, or of a part, changes nothing that was right.
    s.rebuild_rollups(None, at(-3_600_000), at(10 * 3_600_000)).await.unwrap();
    s.rebuild_rollups(Some(a), at(1_800_000), at(2_000_000)).await.unwrap();
    check_levels(s, &raw, a, "zone A after rebuilds").await;
    check_levels(s, &raw, b, "zone B after rebuilds").await;

    // A deleted zone takes its rollups along.
    s.delete_zone(c, true).await.unwrap();
    assert!(s.rollup_buckets(c, Resolution::Minute).await.unwrap().is_empty());
    for id in [a, b] {
        s.delete_zone(id, true).await.unwrap();
    }
}

/// The migrations before the rollups, from the backend's folder.
pub(super) async fn migrations_before_rollups(backend: &str) -> Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(backend);
    let all = Migrator::new(dir).await.unwrap();
    Migrator::with_migrations(all.iter().filter(|m| m.version < ROLLUPS_MIGRATION).cloned().collect())
}

/// One INSERT of `readings` as literals (`TRUE`/`FALSE` read as 1/0 by SQLite), for a database without `Storage`.
pub(super) fn insert_literal(readings: &[NewReading]) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "NULL".into());
    let rows: Vec<String> = readings
        .iter()
        .map(|r| {
            format!(
                "({}, {}, {:?}, {}, {}, {}, {}, {})",
                r.zone_id,
                r.ts.timestamp_millis(),
                r.temperature,
                opt(r.target_temp.map(|v| format!("{v:?}"))),
                if r.occupancy { "TRUE" } else { "FALSE" },
                opt(r.heater_on.map(|h| if h { "TRUE".into() } else { "FALSE".into() })),
                opt(r.energy_wh.map(|e| e.to_string())),
                opt(r.outdoor_temp.map(|v| format!("{v:?}"))),
            )
        })
        .collect();
    format!(
        "INSERT INTO sensor_readings (zone_id, ts_ms, temperature, target_temp, occupancy, heater_on, energy_wh, \
         outdoor_temp) VALUES {}",
        rows.join(", ")
    )
}

/// After the upgrade of a database holding readings of the earlier schema: the rollups hold them; new readings
/// merge in; raw readings expired mid-hour stay answered from the rollups and survive a rebuild; a zone whose raw
/// readings are gone still refuses a plain delete.
async fn backfilled(s: &Storage, zone: i64, old: Vec<Raw>, expire: impl AsyncFnOnce(i64)) {
    check_levels(s, &old, zone, "backfilled").await;
    let mut rng = Rng(7);
    let mut later = random_readings(&mut rng, zone, 2);
    for r in &mut later {
        r.ts += chrono::Duration::hours(3);
    }
    let mut raw = old;
    let more = store_shuffled(s, &mut rng, later).await;
    let base = raw.len();
    raw.extend(more.into_iter().map(|r| Raw { seq: r.seq + base, ..r }));
    check_levels(s, &raw, zone, "backfilled and added to").await;
    check_history(s, &raw, zone).await;

    // Raw readings older than 1 h 30 min expire (as retention will do); the hourly history stays.
    let q = HistoryQuery::new(at(0), at(5 * 3_600_000), 5).unwrap();
    let before = s.zone_history(zone, q).await.unwrap();
    expire(5_400_000 + at(0).timestamp_millis()).await;
    let report = s.rebuild_rollups(None, at(0), at(10 * 3_600_000)).await.unwrap();
    assert!(report.range.unwrap().0 >= at(3_600_000), "{report:?}");
    let after = s.zone_history(zone, q).await.unwrap();
    assert_eq!(after.resolution, Resolution::Hour);
    assert_history_equal(&after, &before, "after expiry and rebuild");
    match s.delete_zone(zone, false).await {
        Err(StorageError::HasHistory { readings, .. }) => assert_eq!(readings, raw.len() as i64),
        other => panic!("expected HasHistory, got {other:?}"),
    }
}

/// Two hours of readings of zone `zone`, stored by the earlier schema in one INSERT each.
pub(super) fn old_readings(zone: i64) -> Vec<Raw> {
    let mut rng = Rng(3);
    let readings = random_readings(&mut rng, zone, 2);
    readings.into_iter().enumerate().map(|(seq, r)| Raw { ms: r.ts.timestamp_millis(), seq, reading: r }).collect()
}

#[tokio::test]
async fn sqlite_backfills_rollups_of_readings_stored_before() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    migrations_before_rollups("sqlite").await.run(&pool).await.unwrap();
    sqlx::query("INSERT INTO zones (id, name, created_ms, updated_ms) VALUES (1, 'Old', 0, 0)")
        .execute(&pool)
        .await
        .unwrap();
    let old = old_readings(1);
    let rows: Vec<NewReading> = old.iter().map(|r| r.reading.clone()).collect();
    sqlx::raw_sql(AssertSqlSafe(insert_literal(&rows))).execute(&pool).await.unwrap();
    let storage = Storage::connect(&url).await.unwrap();
    let expire = async |cutoff: i64| {
        sqlx::query("DELETE FROM sensor_readings WHERE ts_ms < $1").bind(cutoff).execute(&pool).await.unwrap();
    };
    backfilled(&storage, 1, old, expire).await;
    pool.close().await;
    storage.close().await;
}

#[tokio::test]
async fn postgres_backfills_rollups_of_readings_stored_before() {
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
        let storage = Storage::connect(&url).await.unwrap();
        let expire = async |cutoff: i64| {
            sqlx::query("DELETE FROM sensor_readings WHERE ts_ms < $1").bind(cutoff).execute(&pool).await.unwrap();
        };
        backfilled(&storage, id, old, expire).await;
        pool.close().await;
        storage.close().await;
    })
    .await;
}

/// Raw readings and 1-minute rollups expired (by the retention job's own batches, which fold the pending minutes into
/// the coarser levels before they trim the 1-minute level): 5-minute buckets over that period are answered from the
/// 15-minute level instead of coming back empty, equal to the raw readings' aggregation with each quarter counted
/// where it starts.
async fn expired_minutes_fall_back(s: &Storage) {
    use heating_server::storage::Retained;
    let zone = s.create_zone(&fields("Expired minutes", Some(9110)), at(0)).await.unwrap().id;
    let mut rng = Rng(21);
    let readings = random_readings(&mut rng, zone, 2);
    let raw = store_shuffled(s, &mut rng, readings).await;
    let q = HistoryQuery::new(at(0), at(2 * 3_600_000), 24).unwrap();
    assert_eq!(q.bucket_ms(), 300_000);
    let fresh = s.zone_history(zone, q).await.unwrap();
    assert_eq!(fresh.resolution, Resolution::Minute);
    let f = q.from().timestamp_millis();
    assert_history_equal(&fresh, &expected_history(&raw, zone, q, |ms| (ms - f) / 300_000), "before expiry");
    // Everything stored is older than the cutoff (the readings end before 2 h), the last minutes still pending.
    let cutoff = at(2 * 3_600_000 + 60_000);
    for table in [Retained::Readings, Retained::Minute] {
        while s.purge_batch(table, cutoff, 100).await.unwrap() > 0 {}
    }
    assert!(s.rollup_buckets(zone, Resolution::Minute).await.unwrap().is_empty());
    let left = s.readings_page(Some(zone), at(0), cutoff, None, 10).await.unwrap();
    assert!(left.is_empty(), "raw readings expired: {left:?}");
    let old = s.zone_history(zone, q).await.unwrap();
    assert_eq!(old.resolution, Resolution::Quarter);
    let quarter = |ms: i64| (ms - ms.rem_euclid(900_000) - f) / 300_000;
    assert_history_equal(&old, &expected_history(&raw, zone, q, quarter), "1-minute level expired");
    assert!(old.buckets.len() < fresh.buckets.len(), "one bucket per quarter");
    s.delete_zone(zone, true).await.unwrap();
}

#[tokio::test]
async fn sqlite_history_falls_back_to_a_coarser_level_where_a_finer_one_expired() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("expired.db").display());
    let storage = Storage::connect(&url).await.unwrap();
    expired_minutes_fall_back(&storage).await;
    storage.close().await;
}

#[tokio::test]
async fn postgres_history_falls_back_to_a_coarser_level_where_a_finer_one_expired() {
    PgTestDatabase::run(|url| async move {
        let storage = Storage::connect(&url).await.unwrap();
        expired_minutes_fall_back(&storage).await;
        storage.close().await;
    })
    .await;
}
