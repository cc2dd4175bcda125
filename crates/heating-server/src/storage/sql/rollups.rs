//! Rollups: per zone, 1-minute, 15-minute and 1-hour aggregates of the readings (`readings_1m`, `readings_15m`,
//! `readings_1h`; the migration `20261202000002_rollups.sql` explains the columns).
//!
//! Kept up to date in the transaction that stores readings ([`maintain_rollups!`]): the batch is aggregated here per
//! (zone, bucket) first, then merged into the 1-minute and 15-minute levels with one multi-row UPSERT each. Counts,
//! sums, minima and maxima merge exactly in any order. The energy used inside a bucket merges exactly when the new
//! readings all come after the stored ones (the usual case) or all before; a reading landing between stored ones
//! leaves `energy_used` NULL, and such buckets are recomputed from the raw readings before the transaction commits
//! ([`settle_sql`]).
//!
//! The hourly level is folded from the 15-minute one rather than merged with every reading (a third of the
//! rollups' cost at a 1 s poll interval): one watermark for all zones, `rollup_fold.folded_ms` (migration
//! `20261203000003`), says which quarters are in it. The hourly rows hold exactly the 15-minute buckets before the
//! watermark; the 15-minute buckets at or after it are *pending*, and every reader of the hourly level adds them
//! ([`hour_source`], [`merge_pending`]). A batch moves the watermark up to the quarter before its newest reading's
//! ([`watermark_after`]) and folds the quarters it passes ([`fold_sql`]), in the same transaction: nothing is lost
//! to a crash, and nothing is counted twice. A reading older than the watermark (late, or an import) is merged into
//! the hourly level directly, as before. Writers take the watermark's row lock first ([`Backend::LOCK_FOLD`]).
//! `rebuild_rollups` recomputes a range from raw readings, in chunks of one transaction each (the hourly level only
//! below the watermark).

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::Backend;
use super::rows::ReadRow;
use crate::storage::{NewReading, Resolution, Storage, StorageError, ZoneId};
use crate::time::to_ms;

/// One rollup level: its table and bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Level {
    pub resolution: Resolution,
    pub table: &'static str,
    pub width_ms: i64,
}

/// Finest first.
pub(super) const LEVELS: [Level; 3] = [
    Level { resolution: Resolution::Minute, table: "readings_1m", width_ms: 60_000 },
    Level { resolution: Resolution::Quarter, table: "readings_15m", width_ms: 900_000 },
    Level { resolution: Resolution::Hour, table: "readings_1h", width_ms: 3_600_000 },
];

/// The widest level's width: every level's buckets tile it.
const WIDEST_MS: i64 = 3_600_000;

/// The levels merged with every reading.
pub(super) const PER_READING: [Level; 2] = [LEVELS[0], LEVELS[1]];

/// The 15-minute level: the hourly one's source, and the fold's unit.
pub(super) const QUARTER: Level = LEVELS[1];

/// The hourly level, folded from [`QUARTER`].
pub(super) const HOUR: Level = LEVELS[2];

/// Reads the watermark: the first 15-minute bucket not yet folded into the hourly level.
pub(super) const FOLDED_SQL: &str = "SELECT folded_ms FROM rollup_fold";

/// The watermark after a batch whose newest reading is at `newest_ms`: the start of the quarter before that
/// reading's, so that the quarter being filled and the one just ended stay pending (a poll cycle running over a
/// quarter's end writes no late reading).
pub(super) fn watermark_after(newest_ms: i64) -> i64 {
    floor_to(newest_ms, QUARTER.width_ms) - QUARTER.width_ms
}

/// The rollup columns after the key, for `concat!`.
macro_rules! rollup_values {
    () => {
        "n, temp_min, temp_sum, temp_max, target_n, target_min, target_sum, target_max, outdoor_n, outdoor_min, \
         outdoor_sum, outdoor_max, heater_n, heater_on_n, occupied_n, energy_n, energy_first, energy_first_ms, \
         energy_last, energy_last_ms, energy_used"
    };
}

/// The columns of a rollup row, in the order [`RollupRow`] binds them.
pub(super) const COLUMNS: &str = concat!("zone_id, bucket_ms, ", rollup_values!());

/// Start of the bucket of width `w` holding `ms` (floor, also before 1970).
pub(super) fn floor_to(ms: i64, w: i64) -> i64 {
    ms - ms.rem_euclid(w)
}

/// Start of the first bucket of width `w` at or after `ms`.
pub(super) fn ceil_to(ms: i64, w: i64) -> i64 {
    let f = floor_to(ms, w);
    if f == ms { ms } else { f + w }
}

/// SQL of `counter_step(prev, next)` (see `history.rs`).
pub(super) fn step_sql(prev: &str, next: &str) -> String {
    format!(
        "CASE WHEN {next} >= {prev} THEN {next} - {prev} WHEN {prev} >= 4294967296 - 16777216 \
         THEN {next} + 4294967296 - {prev} ELSE {next} END"
    )
}

/// Energy counted between two consecutive counter values; the SQL of [`step_sql`] in Rust.
pub(super) fn counter_step(prev: i64, next: i64) -> i64 {
    const WRAP: i64 = 1 << 32;
    if next >= prev {
        next - prev
    } else if prev >= WRAP - (1 << 24) {
        next + WRAP - prev
    } else {
        next
    }
}

/// A bucket's aggregate, as stored (or as merged into a stored one).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RollupRow {
    pub zone_id: ZoneId,
    pub bucket_ms: i64,
    pub n: i64,
    pub temp: (f64, f64, f64),
    pub target: Sums,
    pub outdoor: Sums,
    pub heater_n: i64,
    pub heater_on_n: i64,
    pub occupied_n: i64,
    pub energy: Counter,
}

/// Count, min, sum and max of an optional value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Sums {
    pub n: i64,
    pub min: Option<f64>,
    pub sum: f64,
    pub max: Option<f64>,
}

impl Sums {
    /// Adds another part's sums.
    pub fn merge(&mut self, other: Sums) {
        self.n += other.n;
        self.sum += other.sum;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    fn add(&mut self, v: Option<f64>) {
        if let Some(v) = v {
            self.n += 1;
            self.sum += v;
            self.min = Some(self.min.map_or(v, |m| m.min(v)));
            self.max = Some(self.max.map_or(v, |m| m.max(v)));
        }
    }
}

/// The energy counter over a run of readings in time order: how many carried it, the first and last value with
/// their times, and the energy counted between consecutive values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Counter {
    pub n: i64,
    pub first: Option<(i64, i64)>,
    pub last: Option<(i64, i64)>,
    pub used: i64,
}

impl Counter {
    /// Appends a value read at `ms` (after every value so far).
    pub fn push(&mut self, value: i64, ms: i64) {
        if let Some((prev, _)) = self.last {
            self.used += counter_step(prev, value);
        } else {
            self.first = Some((value, ms));
        }
        self.last = Some((value, ms));
        self.n += 1;
    }

    /// Appends a later run: its energy, plus the step between this run's last value and its first.
    pub fn append(&mut self, later: &Counter) {
        match (self.last, later.first) {
            (Some((prev, _)), Some((next, _))) => {
                self.used += later.used + counter_step(prev, next);
                self.last = later.last;
                self.n += later.n;
            }
            (None, _) => *self = *later,
            (_, None) => {}
        }
    }
}

/// The batch's readings aggregated into `level`'s buckets, ordered by (zone, bucket). Readings of one zone are taken
/// in time order, ties in batch order (the order the INSERT gives them ids in).
pub(super) fn aggregate(readings: &[NewReading], level: Level) -> Vec<RollupRow> {
    let mut order: Vec<usize> = (0..readings.len()).collect();
    order.sort_by_key(|&i| (readings[i].zone_id, to_ms(readings[i].ts), i));
    let mut rows: Vec<RollupRow> = Vec::new();
    for i in order {
        let r = &readings[i];
        let ms = to_ms(r.ts);
        let bucket_ms = floor_to(ms, level.width_ms);
        let same = rows.last().is_some_and(|row| row.zone_id == r.zone_id && row.bucket_ms == bucket_ms);
        if !same {
            rows.push(RollupRow {
                zone_id: r.zone_id,
                bucket_ms,
                n: 0,
                temp: (r.temperature, 0.0, r.temperature),
                target: Sums::default(),
                outdoor: Sums::default(),
                heater_n: 0,
                heater_on_n: 0,
                occupied_n: 0,
                energy: Counter::default(),
            });
        }
        let row = rows.last_mut().expect("pushed above");
        row.n += 1;
        row.temp = (row.temp.0.min(r.temperature), row.temp.1 + r.temperature, row.temp.2.max(r.temperature));
        row.target.add(r.target_temp);
        row.outdoor.add(r.outdoor_temp);
        if let Some(on) = r.heater_on {
            row.heater_n += 1;
            row.heater_on_n += i64::from(on);
        }
        row.occupied_n += i64::from(r.occupancy);
        if let Some(e) = r.energy_wh {
            row.energy.push(i64::from(e), ms);
        }
    }
    rows
}

/// `INSERT INTO level (columns) ` — followed by the VALUES, then [`upsert_tail`].
pub(super) fn upsert_head(level: Level) -> String {
    format!("INSERT INTO {} ({COLUMNS}) ", level.table)
}

/// `INSERT INTO level (columns) SELECT … FROM (` — followed by `VALUES` rows of one reading each (zone, bucket,
/// temperature, target, outdoor, heater flag, occupancy, counter, its time), `) AS v WHERE TRUE` and
/// [`upsert_tail`]: a bucket of one reading from 9 bound values instead of 23 (`WHERE TRUE`: SQLite's parser needs it
/// before `ON CONFLICT` after a `SELECT`).
pub(super) fn single_head(level: Level) -> String {
    let count = |c: &str| format!("CASE WHEN {c} IS NULL THEN 0 ELSE 1 END");
    format!(
        "INSERT INTO {table} ({COLUMNS}) SELECT column1, column2, 1, column3, column3, column3, \
         {target_n}, column4, COALESCE(column4, 0.0), column4, {outdoor_n}, column5, COALESCE(column5, 0.0), column5, \
         {heater_n}, CASE WHEN column6 THEN 1 ELSE 0 END, CASE WHEN column7 THEN 1 ELSE 0 END, \
         {energy_n}, column8, column9, column8, column9, 0 FROM (",
        table = level.table,
        target_n = count("column4"),
        outdoor_n = count("column5"),
        heater_n = count("column6"),
        energy_n = count("column8"),
    )
}

/// The merge of a batch's bucket (`excluded`) into the stored one. Energy: appended or prepended when the new
/// readings lie wholly after or before the stored ones (strictly, so that equal times, ordered by id, never
/// guess), else NULL, which [`settle_sql`] finds.
pub(super) fn upsert_tail(level: Level) -> String {
    let t = level.table;
    let lower = |c: &str| {
        format!("{c} = CASE WHEN {t}.{c} IS NULL OR excluded.{c} < {t}.{c} THEN excluded.{c} ELSE {t}.{c} END")
    };
    let upper = |c: &str| {
        format!("{c} = CASE WHEN {t}.{c} IS NULL OR excluded.{c} > {t}.{c} THEN excluded.{c} ELSE {t}.{c} END")
    };
    let add = |c: &str| format!("{c} = {t}.{c} + excluded.{c}");
    let mut set: Vec<String> = vec![add("n"), lower("temp_min"), add("temp_sum"), upper("temp_max")];
    for v in ["target", "outdoor"] {
        set.extend([add(&format!("{v}_n")), lower(&format!("{v}_min")), add(&format!("{v}_sum"))]);
        set.push(upper(&format!("{v}_max")));
    }
    set.extend([add("heater_n"), add("heater_on_n"), add("occupied_n"), add("energy_n")]);
    // NULL times (no counter on one side) compare as unknown, so the CASE keeps the side that has one.
    for c in ["energy_first", "energy_first_ms"] {
        set.push(format!(
            "{c} = CASE WHEN {t}.energy_n = 0 OR excluded.energy_first_ms < {t}.energy_first_ms \
             THEN excluded.{c} ELSE {t}.{c} END"
        ));
    }
    for c in ["energy_last", "energy_last_ms"] {
        set.push(format!(
            "{c} = CASE WHEN {t}.energy_n = 0 OR excluded.energy_last_ms > {t}.energy_last_ms \
             THEN excluded.{c} ELSE {t}.{c} END"
        ));
    }
    set.push(format!(
        "energy_used = CASE WHEN excluded.energy_n = 0 THEN {t}.energy_used \
         WHEN {t}.energy_n = 0 THEN excluded.energy_used \
         WHEN excluded.energy_first_ms > {t}.energy_last_ms \
         THEN {t}.energy_used + excluded.energy_used + {after} \
         WHEN excluded.energy_last_ms < {t}.energy_first_ms \
         THEN {t}.energy_used + excluded.energy_used + {before} ELSE NULL END",
        after = step_sql(&format!("{t}.energy_last"), "excluded.energy_first"),
        before = step_sql("excluded.energy_last", &format!("{t}.energy_first")),
    ));
    format!(" ON CONFLICT (zone_id, bucket_ms) DO UPDATE SET {}", set.join(", "))
}

/// The buckets whose energy a late reading left unsettled.
pub(super) fn unsettled_sql(level: Level) -> String {
    format!("SELECT zone_id, bucket_ms FROM {} WHERE energy_used IS NULL", level.table)
}

/// Deletes a level's rows with `$1 <= bucket_ms < $2` (of zone `$3` when `zone`).
pub(super) fn clear_sql(level: Level, zone: bool) -> String {
    let zone = if zone { " AND zone_id = $3" } else { "" };
    format!("DELETE FROM {} WHERE bucket_ms >= $1 AND bucket_ms < $2{zone}", level.table)
}

/// Recomputes a level's rows from the raw readings with `$1 <= ts_ms < $2` (of zone `$3` when `zone`): the range
/// must be aligned to the level and cleared first ([`clear_sql`]). The same statement as the migration's backfill.
pub(super) fn rebuild_sql(level: Level, zone: bool) -> String {
    let w = level.width_ms;
    let bucket = format!("ts_ms - ((ts_ms % {w}) + {w}) % {w}");
    let filter = format!("ts_ms >= $1 AND ts_ms < $2{}", if zone { " AND zone_id = $3" } else { "" });
    format!(
        "INSERT INTO {table} ({COLUMNS}) \
         SELECT s.zone_id, s.bucket, s.n, s.temp_min, s.temp_sum, s.temp_max, s.target_n, s.target_min, \
         s.target_sum, s.target_max, s.outdoor_n, s.outdoor_min, s.outdoor_sum, s.outdoor_max, s.heater_n, \
         s.heater_on_n, s.occupied_n, COALESCE(e.n, 0), e.first, e.first_ms, e.last, e.last_ms, COALESCE(e.used, 0) \
         FROM (SELECT zone_id, {bucket} AS bucket, COUNT(*) AS n, \
         MIN(temperature) AS temp_min, SUM(temperature) AS temp_sum, MAX(temperature) AS temp_max, \
         COUNT(target_temp) AS target_n, MIN(target_temp) AS target_min, \
         COALESCE(SUM(target_temp), 0.0) AS target_sum, MAX(target_temp) AS target_max, \
         COUNT(outdoor_temp) AS outdoor_n, MIN(outdoor_temp) AS outdoor_min, \
         COALESCE(SUM(outdoor_temp), 0.0) AS outdoor_sum, MAX(outdoor_temp) AS outdoor_max, \
         COUNT(heater_on) AS heater_n, SUM(CASE WHEN heater_on THEN 1 ELSE 0 END) AS heater_on_n, \
         SUM(CASE WHEN occupancy THEN 1 ELSE 0 END) AS occupied_n \
         FROM sensor_readings WHERE {filter} GROUP BY zone_id, {bucket}) AS s \
         LEFT JOIN (SELECT zone_id, bucket, COUNT(*) AS n, \
         MAX(CASE WHEN prev IS NULL THEN e END) AS first, MAX(CASE WHEN prev IS NULL THEN ts_ms END) AS first_ms, \
         MAX(CASE WHEN next IS NULL THEN e END) AS last, MAX(CASE WHEN next IS NULL THEN ts_ms END) AS last_ms, \
         CAST(SUM(CASE WHEN prev IS NULL THEN 0 ELSE {step} END) AS BIGINT) AS used \
         FROM (SELECT zone_id, bucket, ts_ms, e, \
         LAG(e) OVER (PARTITION BY zone_id, bucket ORDER BY ts_ms, id) AS prev, \
         LEAD(e) OVER (PARTITION BY zone_id, bucket ORDER BY ts_ms, id) AS next \
         FROM (SELECT zone_id, id, ts_ms, energy_wh AS e, {bucket} AS bucket \
         FROM sensor_readings WHERE {filter} AND energy_wh IS NOT NULL) AS c) AS w \
         GROUP BY zone_id, bucket) AS e ON e.zone_id = s.zone_id AND e.bucket = s.bucket",
        table = level.table,
        step = step_sql("prev", "e"),
    )
}

/// Folds the 15-minute rows with `$1 <= bucket_ms < $2` (of zone `$3` when `zone`) into the hourly level: summed
/// per (zone, hour), the energy chained over the quarters in time order (the energy used in each plus the counter
/// steps between them), merged by [`upsert_tail`] (the folded quarters all come after what the hourly rows hold).
pub(super) fn fold_sql(zone: bool) -> String {
    let w = HOUR.width_ms;
    let hour = format!("bucket_ms - ((bucket_ms % {w}) + {w}) % {w}");
    let filter = format!("bucket_ms >= $1 AND bucket_ms < $2{}", if zone { " AND zone_id = $3" } else { "" });
    let sum = |c: &str| format!("CAST(SUM({c}) AS BIGINT) AS {c}");
    format!(
        "INSERT INTO {table} ({COLUMNS}) \
         SELECT s.zone_id, s.bucket, s.n, s.temp_min, s.temp_sum, s.temp_max, s.target_n, s.target_min, \
         s.target_sum, s.target_max, s.outdoor_n, s.outdoor_min, s.outdoor_sum, s.outdoor_max, s.heater_n, \
         s.heater_on_n, s.occupied_n, COALESCE(e.n, 0), e.first, e.first_ms, e.last, e.last_ms, COALESCE(e.used, 0) \
         FROM (SELECT zone_id, {hour} AS bucket, {n}, MIN(temp_min) AS temp_min, SUM(temp_sum) AS temp_sum, \
         MAX(temp_max) AS temp_max, {target_n}, MIN(target_min) AS target_min, SUM(target_sum) AS target_sum, \
         MAX(target_max) AS target_max, {outdoor_n}, MIN(outdoor_min) AS outdoor_min, \
         SUM(outdoor_sum) AS outdoor_sum, MAX(outdoor_max) AS outdoor_max, {heater_n}, {heater_on_n}, {occupied_n} \
         FROM {source} WHERE {filter} GROUP BY zone_id, {hour}) AS s \
         LEFT JOIN (SELECT zone_id, bucket, CAST(SUM(energy_n) AS BIGINT) AS n, \
         MAX(CASE WHEN prev IS NULL THEN energy_first END) AS first, \
         MAX(CASE WHEN prev IS NULL THEN energy_first_ms END) AS first_ms, \
         MAX(CASE WHEN next IS NULL THEN energy_last END) AS last, \
         MAX(CASE WHEN next IS NULL THEN energy_last_ms END) AS last_ms, \
         CAST(SUM(energy_used + CASE WHEN prev IS NULL THEN 0 ELSE {step} END) AS BIGINT) AS used \
         FROM (SELECT zone_id, {hour} AS bucket, energy_n, energy_first, energy_first_ms, energy_last, \
         energy_last_ms, energy_used, \
         LAG(energy_last) OVER (PARTITION BY zone_id, {hour} ORDER BY bucket_ms) AS prev, \
         LEAD(energy_first) OVER (PARTITION BY zone_id, {hour} ORDER BY bucket_ms) AS next \
         FROM {source} WHERE {filter} AND energy_n > 0) AS c \
         GROUP BY zone_id, bucket) AS e ON e.zone_id = s.zone_id AND e.bucket = s.bucket WHERE TRUE{tail}",
        table = HOUR.table,
        source = QUARTER.table,
        n = sum("n"),
        target_n = sum("target_n"),
        outdoor_n = sum("outdoor_n"),
        heater_n = sum("heater_n"),
        heater_on_n = sum("heater_on_n"),
        occupied_n = sum("occupied_n"),
        step = step_sql("prev", "energy_first"),
        tail = upsert_tail(HOUR),
    )
}

/// What a reader of `level` reads in place of its table: the table itself, or for the hourly level its rows with
/// `{lo} <= bucket_ms < {hi}` and the pending 15-minute rows with `{pending} <= bucket_ms < {hi}` (callers bind
/// `max(lo, watermark)`), of zone `{zone}`. Columns: [`COLUMNS`], `bucket_ms` the level's bucket, and `at_ms`, the
/// row's own start (time order: a pending quarter comes after the hourly row of its hour).
pub(super) fn level_rows(level: Level, zone: &str, lo: &str, hi: &str, pending: &str) -> String {
    let own = format!(
        "SELECT {COLUMNS}, bucket_ms AS at_ms FROM {} WHERE zone_id = {zone} AND bucket_ms >= {lo} AND bucket_ms < {hi}",
        level.table
    );
    if level != HOUR {
        return format!("({own}) AS rows_");
    }
    let w = HOUR.width_ms;
    format!(
        "({own} UNION ALL SELECT zone_id, bucket_ms - ((bucket_ms % {w}) + {w}) % {w} AS bucket_ms, {values}, \
         bucket_ms AS at_ms FROM {quarter} WHERE zone_id = {zone} AND bucket_ms >= {pending} AND bucket_ms < {hi}) \
         AS rows_",
        values = rollup_values!(),
        quarter = QUARTER.table,
    )
}

/// Adds pending 15-minute rows (`pending`: (zone, row), in time order per zone) to hourly rows (`hours`, by zone
/// and start): each merged into the row of its hour, a new row where there is none yet; by zone and start.
pub(super) fn merge_pending(
    hours: Vec<(ZoneId, RollupBucket)>,
    pending: Vec<(ZoneId, RollupBucket)>,
) -> Vec<(ZoneId, RollupBucket)> {
    let mut all: std::collections::BTreeMap<(ZoneId, i64), RollupBucket> =
        hours.into_iter().map(|(z, b)| ((z, b.start.timestamp_millis()), b)).collect();
    for (zone, quarter) in pending {
        let start = floor_to(quarter.start.timestamp_millis(), HOUR.width_ms);
        match all.entry((zone, start)) {
            std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().append(&quarter),
            std::collections::btree_map::Entry::Vacant(e) => {
                let mut first = quarter;
                first.start = crate::time::from_ms(start).unwrap_or(first.start);
                e.insert(first);
            }
        }
    }
    all.into_iter().map(|((z, _), b)| (z, b)).collect()
}

/// `upsert_level!(tx, B, readings, level)`: merges `readings` into `level` (one multi-row UPSERT per chunk), in the
/// transaction `tx`. `?` returns from the enclosing method.
macro_rules! upsert_level {
    ($tx:ident, $db:ident, $readings:expr, $level:expr) => {{
        use $crate::storage::sql::rollups as r;
        let level = $level;
        let (singles, rows): (Vec<_>, Vec<_>) = r::aggregate($readings, level).into_iter().partition(|g| g.n == 1);
        // Buckets of one reading (every bucket of a poll cycle): the reading's 9 values, spread in SQL.
        for chunk in singles.chunks(<$db as $crate::storage::sql::Backend>::ROLLUP_CHUNK) {
            let mut qb = sqlx::QueryBuilder::<$db>::new(r::single_head(level));
            qb.push_values(chunk, |mut b, row| {
                b.push_bind(row.zone_id)
                    .push_bind(row.bucket_ms)
                    .push_bind(row.temp.0)
                    .push_bind(row.target.min)
                    .push_bind(row.outdoor.min)
                    .push_bind((row.heater_n == 1).then_some(row.heater_on_n == 1))
                    .push_bind(row.occupied_n == 1)
                    .push_bind(row.energy.first.map(|f| f.0))
                    .push_bind(row.energy.first.map(|f| f.1));
            });
            qb.push(") AS v WHERE TRUE");
            qb.push(r::upsert_tail(level));
            qb.build().execute(&mut *$tx).await.map_err(history_write_error)?;
        }
        for chunk in rows.chunks(<$db as $crate::storage::sql::Backend>::ROLLUP_CHUNK) {
            let mut qb = sqlx::QueryBuilder::<$db>::new(r::upsert_head(level));
            qb.push_values(chunk, |mut b, row| {
                b.push_bind(row.zone_id)
                    .push_bind(row.bucket_ms)
                    .push_bind(row.n)
                    .push_bind(row.temp.0)
                    .push_bind(row.temp.1)
                    .push_bind(row.temp.2)
                    .push_bind(row.target.n)
                    .push_bind(row.target.min)
                    .push_bind(row.target.sum)
                    .push_bind(row.target.max)
                    .push_bind(row.outdoor.n)
                    .push_bind(row.outdoor.min)
                    .push_bind(row.outdoor.sum)
                    .push_bind(row.outdoor.max)
                    .push_bind(row.heater_n)
                    .push_bind(row.heater_on_n)
                    .push_bind(row.occupied_n)
                    .push_bind(row.energy.n)
                    .push_bind(row.energy.first.map(|f| f.0))
                    .push_bind(row.energy.first.map(|f| f.1))
                    .push_bind(row.energy.last.map(|l| l.0))
                    .push_bind(row.energy.last.map(|l| l.1))
                    .push_bind(row.energy.used);
            });
            qb.push(r::upsert_tail(level));
            qb.build().execute(&mut *$tx).await.map_err(history_write_error)?;
        }
    }};
}
pub(super) use upsert_level;

/// `fold_hours!(tx, B, folded, next)`: in the transaction `tx` that holds the fold's lock ([`Backend::LOCK_FOLD`],
/// which read `folded`), folds the 15-minute buckets in `folded <= bucket < next` into the hourly level, recomputes
/// the hourly buckets a late reading left unsettled (from the 15-minute level, below `next`) and stores `next` as the
/// new watermark. `next <= folded` folds nothing. `?` returns from the enclosing method.
macro_rules! fold_hours {
    ($tx:ident, $db:ident, $folded:expr, $next:expr, $hour_written:expr) => {{
        use $crate::storage::sql::rollups as r;
        let (folded, next): (i64, i64) = ($folded, $next);
        let mut written: bool = $hour_written;
        if next > folded {
            sqlx::query(sqlx::AssertSqlSafe(r::fold_sql(false))).bind(folded).bind(next).execute(&mut *$tx).await?;
            sqlx::query("UPDATE rollup_fold SET folded_ms = $1").bind(next).execute(&mut *$tx).await?;
            written = true;
        }
        if written {
            let unsettled: Vec<(i64, i64)> =
                sqlx::query_as(sqlx::AssertSqlSafe(r::unsettled_sql(r::HOUR))).fetch_all(&mut *$tx).await?;
            for (zone_id, bucket_ms) in unsettled {
                sqlx::query(sqlx::AssertSqlSafe(r::clear_sql(r::HOUR, true)))
                    .bind(bucket_ms)
                    .bind(bucket_ms + r::HOUR.width_ms)
                    .bind(zone_id)
                    .execute(&mut *$tx)
                    .await?;
                let end = (bucket_ms + r::HOUR.width_ms).min(next.max(folded));
                if end > bucket_ms {
                    sqlx::query(sqlx::AssertSqlSafe(r::fold_sql(true)))
                        .bind(bucket_ms)
                        .bind(end)
                        .bind(zone_id)
                        .execute(&mut *$tx)
                        .await?;
                }
            }
        }
    }};
}
pub(super) use fold_hours;

/// `maintain_rollups!(tx, B, readings)`: in `sql.rs` (which has `history_write_error`), inside `on_backend!`, in the
/// transaction `tx` that has just stored `readings`: takes the fold's lock, merges them into the 1-minute and
/// 15-minute levels and recomputes the buckets left unsettled; merges those older than the watermark (late ones)
/// into the hourly level too; then moves the watermark up to the quarter before the newest reading's, folding the
/// 15-minute buckets it passes into the hourly level ([`fold_hours!`]). `?` returns from the enclosing method.
macro_rules! maintain_rollups {
    ($tx:ident, $db:ident, $readings:expr) => {{
        use $crate::storage::sql::rollups as r;
        let readings: &[$crate::storage::NewReading] = $readings;
        let (folded,): (i64,) =
            sqlx::query_as(<$db as $crate::storage::sql::Backend>::LOCK_FOLD).fetch_one(&mut *$tx).await?;
        for level in r::PER_READING {
            r::upsert_level!($tx, $db, readings, level);
            let unsettled: Vec<(i64, i64)> =
                sqlx::query_as(sqlx::AssertSqlSafe(r::unsettled_sql(level))).fetch_all(&mut *$tx).await?;
            for (zone_id, bucket_ms) in unsettled {
                for sql in [r::clear_sql(level, true), r::rebuild_sql(level, true)] {
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(bucket_ms)
                        .bind(bucket_ms + level.width_ms)
                        .bind(zone_id)
                        .execute(&mut *$tx)
                        .await?;
                }
            }
        }
        // Readings in quarters already folded: straight into the hourly level as well.
        let late = readings.iter().any(|x| $crate::time::to_ms(x.ts) < folded);
        if late {
            let late: Vec<$crate::storage::NewReading> =
                readings.iter().filter(|x| $crate::time::to_ms(x.ts) < folded).cloned().collect();
            r::upsert_level!($tx, $db, &late, r::HOUR);
        }
        let newest = readings.iter().map(|x| $crate::time::to_ms(x.ts)).max().unwrap_or(folded);
        r::fold_hours!($tx, $db, folded, r::watermark_after(newest), late);
    }};
}
pub(super) use maintain_rollups;

/// What [`Storage::rebuild_rollups`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildReport {
    /// The range recomputed, aligned to whole hours; `None` when no raw reading lay in the range asked for.
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Transactions run.
    pub chunks: u64,
    /// Rollup rows written, all levels.
    pub rows: u64,
}

impl Storage {
    /// Recomputes the three rollup levels from the raw readings in `from <= ts < to` (of one zone, or all), after an
    /// import or a fix. Whole buckets are recomputed (the range widens to whole hours), in chunks of one transaction
    /// each (a day for one zone, an hour for all), so writers wait at most one chunk. Only where raw readings exist:
    /// the range is first narrowed to the oldest and newest raw reading in it, and when it starts at or before the
    /// oldest, the buckets holding that reading are left as they are (the raw readings before it in the same bucket
    /// may have expired), so a rebuild never loses what only the rollups still hold. `from >= to` does nothing.
    pub async fn rebuild_rollups(
        &self,
        zone: Option<ZoneId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<RebuildReport, StorageError> {
        let (from_ms, to_ms_) = (to_ms(from), to_ms(to));
        let mut report = RebuildReport { range: None, chunks: 0, rows: 0 };
        if from_ms >= to_ms_ {
            return Ok(report);
        }
        on_backend!(self, |pool, B| {
            let zone_clause = if zone.is_some() { " AND zone_id = $3" } else { "" };
            let query = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT MIN(ts_ms), MAX(ts_ms) FROM sensor_readings WHERE ts_ms >= $1 AND ts_ms < $2{zone_clause}"
            )))
            .bind(from_ms)
            .bind(to_ms_);
            let query = if let Some(z) = zone { query.bind(z) } else { query };
            let extent: (Option<i64>, Option<i64>) = query.fetch_one(pool).await?;
            let (Some(oldest), Some(newest)) = extent else {
                return Ok(report);
            };
            // Per level: [lo, hi), aligned to the level.
            let bounds: Vec<(Level, i64, i64)> = LEVELS
                .iter()
                .map(|&l| {
                    let lo = if from_ms > oldest { floor_to(from_ms, l.width_ms) } else { ceil_to(oldest, l.width_ms) };
                    (l, lo, ceil_to(newest + 1, l.width_ms))
                })
                .collect();
            let start = floor_to(bounds.iter().map(|b| b.1).min().unwrap_or(oldest), WIDEST_MS);
            let end = ceil_to(newest + 1, WIDEST_MS);
            report.range = Some((super::rows::time_of(start, "range start")?, super::rows::time_of(end, "range end")?));
            let chunk_ms = if zone.is_some() { 24 * WIDEST_MS } else { WIDEST_MS };
            let mut at = start;
            while at < end {
                let next = (at + chunk_ms).min(end);
                let mut tx = pool.begin_with(B::BEGIN_WRITE).await?;
                if let Some(lock) = B::LOCK_READINGS {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let (folded,): (i64,) = sqlx::query_as(B::LOCK_FOLD).fetch_one(&mut *tx).await?;
                for &(level, lo, hi) in &bounds {
                    let (a, b) = (at.max(lo), next.min(hi));
                    if a >= b {
                        continue;
                    }
                    // The hourly level holds only what is before the watermark.
                    let until = if level == HOUR { b.min(folded) } else { b };
                    for (rebuild, sql) in
                        [(false, clear_sql(level, zone.is_some())), (true, rebuild_sql(level, zone.is_some()))]
                    {
                        if rebuild && a >= until {
                            continue;
                        }
                        let query = sqlx::query(AssertSqlSafe(sql)).bind(a).bind(if rebuild { until } else { b });
                        let query = if let Some(z) = zone { query.bind(z) } else { query };
                        let done = query.execute(&mut *tx).await?;
                        if rebuild {
                            report.rows += done.rows_affected();
                        }
                    }
                }
                tx.commit().await?;
                report.chunks += 1;
                at = next;
            }
            Ok(report)
        })
    }

    /// Folds every 15-minute bucket before `upto` (rounded down to a quarter) into the hourly level, if the watermark
    /// is below it: the retention job does so before it trims the 15-minute level, so that no pending quarter is
    /// deleted unfolded. One transaction; whether anything was folded.
    pub async fn fold_rollups(&self, upto: DateTime<Utc>) -> Result<bool, StorageError> {
        let next = floor_to(to_ms(upto), QUARTER.width_ms);
        on_backend!(self, |pool, B| {
            let mut tx = pool.begin_with(B::BEGIN_WRITE).await?;
            let (folded,): (i64,) = sqlx::query_as(B::LOCK_FOLD).fetch_one(&mut *tx).await?;
            if next <= folded {
                return Ok(false);
            }
            fold_hours!(tx, B, folded, next, false);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The rollup rows of one level for a zone, oldest first (for tests and tools); the hourly level with its pending
    /// quarters added.
    pub async fn rollup_buckets(
        &self,
        zone_id: ZoneId,
        resolution: Resolution,
    ) -> Result<Vec<RollupBucket>, StorageError> {
        let Some(level) = LEVELS.iter().find(|l| l.resolution == resolution) else {
            return Ok(Vec::new());
        };
        on_backend!(self, |pool, B| {
            let mut tx = pool.begin_with(B::BEGIN_SNAPSHOT).await?;
            let select = |table: &str| {
                format!("SELECT {COLUMNS} FROM {table} WHERE zone_id = $1 AND bucket_ms >= $2 ORDER BY bucket_ms")
            };
            let rows = sqlx::query(AssertSqlSafe(select(level.table)))
                .bind(zone_id)
                .bind(i64::MIN)
                .fetch_all(&mut *tx)
                .await?;
            let rows: Vec<(ZoneId, RollupBucket)> =
                rows.iter().map(ReadRow::rollup_bucket).collect::<Result<_, _>>()?;
            let rows = if level.resolution == HOUR.resolution {
                // The hourly rows, and the pending quarters added to them.
                let folded: i64 = sqlx::query_scalar(FOLDED_SQL).fetch_one(&mut *tx).await?;
                let pending = sqlx::query(AssertSqlSafe(select(QUARTER.table)))
                    .bind(zone_id)
                    .bind(folded)
                    .fetch_all(&mut *tx)
                    .await?;
                let pending = pending.iter().map(ReadRow::rollup_bucket).collect::<Result<_, _>>()?;
                merge_pending(rows, pending)
            } else {
                rows
            };
            tx.commit().await?;
            Ok(rows.into_iter().map(|(_, bucket)| bucket).collect())
        })
    }
}

/// One stored rollup row, as [`Storage::rollup_buckets`] reads it: sums, not means.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupBucket {
    pub start: DateTime<Utc>,
    pub count: i64,
    /// min, sum, max.
    pub temperature: (f64, f64, f64),
    /// count, min, sum, max.
    pub target: (i64, Option<f64>, f64, Option<f64>),
    pub outdoor: (i64, Option<f64>, f64, Option<f64>),
    /// readings with the flag, with the heater on.
    pub heater: (i64, i64),
    pub occupied: i64,
    /// counter values, first, last, energy used inside.
    pub energy: (i64, Option<i64>, Option<i64>, Option<i64>),
}

impl RollupBucket {
    /// Merges a later bucket's row (all its readings after this one's) into this one.
    fn append(&mut self, later: &RollupBucket) {
        let min = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.count += later.count;
        let (t, l) = (self.temperature, later.temperature);
        self.temperature = (t.0.min(l.0), t.1 + l.1, t.2.max(l.2));
        for (mine, theirs) in [(&mut self.target, later.target), (&mut self.outdoor, later.outdoor)] {
            *mine = (mine.0 + theirs.0, min(mine.1, theirs.1), mine.2 + theirs.2, max(mine.3, theirs.3));
        }
        self.heater = (self.heater.0 + later.heater.0, self.heater.1 + later.heater.1);
        self.occupied += later.occupied;
        let (a, b) = (self.energy, later.energy);
        self.energy = match (a.0, b.0, a.2, b.1) {
            (_, 0, ..) => a,
            (0, ..) => b,
            (_, _, Some(last), Some(first)) => {
                (a.0 + b.0, a.1, b.2, a.3.zip(b.3).map(|(x, y)| x + y + counter_step(last, first)))
            }
            _ => (a.0 + b.0, a.1, b.2, None),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_align_down_and_up_also_before_1970() {
        assert_eq!((floor_to(59_999, 60_000), ceil_to(59_999, 60_000)), (0, 60_000));
        assert_eq!((floor_to(60_000, 60_000), ceil_to(60_000, 60_000)), (60_000, 60_000));
        assert_eq!((floor_to(-1, 60_000), ceil_to(-1, 60_000)), (-60_000, 0));
    }

    #[test]
    fn counters_appended_run_by_run_count_what_one_run_counts() {
        let values = [5, 9, 3, 4_294_967_000, 20, 25];
        let mut whole = Counter::default();
        for (i, v) in values.iter().enumerate() {
            whole.push(*v, i as i64);
        }
        for split in 0..=values.len() {
            let (mut a, mut b) = (Counter::default(), Counter::default());
            for (i, v) in values.iter().enumerate() {
                if i < split { a.push(*v, i as i64) } else { b.push(*v, i as i64) }
            }
            a.append(&b);
            assert_eq!(a, whole, "split at {split}");
        }
    }
}
