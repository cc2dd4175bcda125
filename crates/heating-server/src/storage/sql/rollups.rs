//! Rollups: per zone, 1-minute, 15-minute and 1-hour aggregates of the readings (`readings_1m`, `readings_15m`,
//! `readings_1h`; the migration `20261202000002_rollups.sql` explains the columns).
//!
//! Kept up to date in the transaction that stores readings ([`maintain_rollups!`], in `rollups/maintain.rs`): the
//! batch is aggregated here per (zone, minute) first, then merged into the 1-minute level with one multi-row UPSERT.
//! Counts, sums, minima and maxima merge exactly in any order. The energy used inside a bucket merges exactly when
//! the new readings all come after the stored ones (the usual case) or all before; a reading landing between stored
//! ones leaves `energy_used` NULL, and such buckets are recomputed before the transaction commits (the 1-minute
//! level from the raw readings, the coarser ones from the level below).
//!
//! The 15-minute and hourly levels are folded from the 1-minute one rather than merged with every reading (two
//! thirds of the rollups' per-reading cost at a 1 s poll interval): one watermark for all zones,
//! `rollup_fold.folded_ms` (migrations `20261203000003`, `20261204000001`), says what is in them. The 15-minute and
//! hourly rows hold exactly the readings before the watermark (a quarter boundary); the 1-minute buckets at or after
//! it are *pending*, and every reader of the coarser levels adds them ([`level_rows`], [`merge_pending`]). A batch
//! moves the watermark up to the quarter before its newest reading's ([`watermark_after`]) and folds the minutes it
//! passes into the 15-minute level, then those quarters into the hourly level ([`fold_sql`]), in the same
//! transaction: nothing is lost to a crash, and nothing is counted twice. A reading older than the watermark (late,
//! or an import) is merged into all three levels directly. Writers take the watermark's row lock first
//! ([`Backend::LOCK_FOLD`](super::Backend::LOCK_FOLD)). `rebuild_rollups` (`rollups/rebuild.rs`) recomputes a range
//! from raw readings, in chunks of one transaction each (the coarser levels only below the watermark).
//!
//! Files: this one (levels, the batch's aggregation, rows as read and the pending minutes merged into them),
//! `rollups/statements.rs` (the SQL), `rollups/maintain.rs` (the write path), `rollups/rebuild.rs` (rebuild, fold
//! on request, rows of a level).

use chrono::{DateTime, Utc};

use crate::storage::{NewReading, Resolution, ZoneId};
use crate::time::to_ms;

/// One rollup level: its table and bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::storage) struct Level {
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

/// The level merged with every reading, and the pending minutes' source.
pub(in crate::storage) const MINUTE: Level = LEVELS[0];

/// The 15-minute level, folded from [`MINUTE`]; the fold's unit.
pub(super) const QUARTER: Level = LEVELS[1];

/// The hourly level, folded from [`QUARTER`].
pub(super) const HOUR: Level = LEVELS[2];

/// Reads the watermark: the start of the first 1-minute bucket not yet folded into the coarser levels.
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

mod maintain;
mod rebuild;
mod statements;

pub(super) use maintain::{fold_levels, maintain_rollups, settle_level, upsert_level};
pub use rebuild::RebuildReport;
pub(super) use statements::{clear_sql, fold_sql, level_rows, rebuild_sql, unsettled_sql, upsert_head};
pub(in crate::storage) use statements::{single_select, upsert_tail};

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
pub(in crate::storage) struct RollupRow {
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
pub(in crate::storage) struct Sums {
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
pub(in crate::storage) struct Counter {
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

/// Adds pending 1-minute rows (`pending`: (zone, row), in time order per zone) to rows of the coarser `level`
/// (`rows`, by zone and start): each merged into the row of its bucket, a new row where there is none yet; by zone
/// and start.
pub(super) fn merge_pending(
    level: Level,
    rows: Vec<(ZoneId, RollupBucket)>,
    pending: Vec<(ZoneId, RollupBucket)>,
) -> Vec<(ZoneId, RollupBucket)> {
    let mut all: std::collections::BTreeMap<(ZoneId, i64), RollupBucket> =
        rows.into_iter().map(|(z, b)| ((z, b.start.timestamp_millis()), b)).collect();
    for (zone, minute) in pending {
        let start = floor_to(minute.start.timestamp_millis(), level.width_ms);
        match all.entry((zone, start)) {
            std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().append(&minute),
            std::collections::btree_map::Entry::Vacant(e) => {
                let mut first = minute;
                first.start = crate::time::from_ms(start).unwrap_or(first.start);
                e.insert(first);
            }
        }
    }
    all.into_iter().map(|((z, _), b)| (z, b)).collect()
}

/// One stored rollup row, as [`Storage::rollup_buckets`](crate::storage::Storage::rollup_buckets) reads it: sums, not means.
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
