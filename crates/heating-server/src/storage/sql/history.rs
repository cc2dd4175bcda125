//! `zone_history`: buckets and energy over a range, aggregated in the database, in one read transaction
//! ([`Backend::BEGIN_SNAPSHOT`], one snapshot).
//!
//! Buckets: from the coarsest rollup level that the requested buckets align to (`from` and the width multiples of
//! the level's width: exactly the raw answer), or that is at most a fifth as wide as they are (a requested boundary
//! inside a level bucket moves up to the level's next boundary, by less than a fifth of a bucket); its whole buckets
//! inside the range from the rollup table, the two edges shorter than one level bucket from the raw readings
//! (`history_rollups.rs`). Otherwise (buckets under a minute, or under five minutes and not aligned), one
//! `GROUP BY` of the bucket index `(ts_ms - from) / width` over a range scan of the raw readings'
//! `(zone_id, ts_ms)` index.
//!
//! Energy: the same split, over the level answering the buckets (the 1-minute level under the raw path): the energy
//! used inside each part (the rollups store it per bucket; the raw edges are walked with `LAG`, a few minutes of
//! readings at most) plus the counter steps between consecutive parts. That is exactly the sum of `counter_step` over
//! every pair of consecutive counter values in the range, and a week of one-second readings costs a few hundred
//! rollup rows instead of a window over 604,800.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};

use super::Backend;
use super::history_rollups::{Acc, RAW_STATS_SQL, buckets_of, raw_counter_sql, rolled_counter_sql, rolled_stats_sql};
use super::rollups::{Counter, LEVELS, Level, ceil_to, floor_to};
use crate::storage::{History, HistoryQuery, Resolution, Storage, StorageError, ZoneId};
use crate::time::to_ms;

/// The whole buckets of `level` inside `[from, to)`, as `(lo, hi)`, if there is at least one.
fn inside(level: Level, from: i64, to: i64) -> Option<(i64, i64)> {
    let (lo, hi) = (ceil_to(from, level.width_ms), floor_to(to, level.width_ms));
    (lo < hi).then_some((lo, hi))
}

/// A requested boundary moves by less than this share of a requested bucket (see [`answers`]).
const SNAP_DIVISOR: i64 = 5;

/// Whether `level` answers buckets of `width` from `from`: its buckets tile them (`from` and `width` multiples of
/// its width: the raw answer exactly), or they are at least [`SNAP_DIVISOR`] times as wide (a requested boundary
/// moves to the next level boundary, by less than a fifth of a bucket).
fn answers(level: &Level, from: i64, width: i64) -> bool {
    let w = level.width_ms;
    (from.rem_euclid(w) == 0 && width % w == 0) || width >= SNAP_DIVISOR * w
}

impl Storage {
    /// One zone's readings in `query.from <= ts < query.to`, aggregated in the database into at most
    /// `query.points` time buckets (empty ones left out), with the energy used over the range. Answered from the
    /// coarsest rollup level that the buckets asked for align to or are five times as wide as, else from the raw
    /// readings (see the module's documentation); [`History::resolution`] says which.
    pub async fn zone_history(&self, zone_id: ZoneId, q: HistoryQuery) -> Result<History, StorageError> {
        let (from_ms, to_ms_, width) = (to_ms(q.from()), to_ms(q.to()), q.bucket_ms());
        // The level answering the buckets, with its whole buckets in the range.
        let rolled = LEVELS
            .iter()
            .rev()
            .find(|l| answers(l, from_ms, width))
            .and_then(|&l| inside(l, from_ms, to_ms_).map(|span| (l, span)));
        // The level (and span) counting the energy.
        let counted = rolled.or_else(|| inside(LEVELS[0], from_ms, to_ms_).map(|span| (LEVELS[0], span)));
        on_backend!(self, |pool, B| {
            let mut tx = pool.begin_with(B::BEGIN_SNAPSHOT).await?;
            let mut acc: BTreeMap<i64, Acc> = BTreeMap::new();
            // Raw parts: the whole range, or the two edges around the level's whole buckets.
            let raw_parts = match rolled {
                None => vec![(from_ms, to_ms_)],
                Some((level, (lo, hi))) => {
                    // Only constant table names and phrases are spliced in; values are bound.
                    let rows = sqlx::query(AssertSqlSafe(rolled_stats_sql(level)))
                        .bind(from_ms)
                        .bind(width)
                        .bind(zone_id)
                        .bind(lo)
                        .bind(hi)
                        .fetch_all(&mut *tx)
                        .await?;
                    for row in &rows {
                        acc.entry(row.try_get("bucket")?).or_default().add(row)?;
                    }
                    vec![(from_ms, lo), (hi, to_ms_)]
                }
            };
            for &(a, b) in raw_parts.iter().filter(|(a, b)| a < b) {
                let rows = sqlx::query(RAW_STATS_SQL)
                    .bind(from_ms)
                    .bind(width)
                    .bind(zone_id)
                    .bind(a)
                    .bind(b)
                    .fetch_all(&mut *tx)
                    .await?;
                for row in &rows {
                    acc.entry(row.try_get("bucket")?).or_default().add(row)?;
                }
            }

            // The counter over the parts, in time order.
            let parts: Vec<(String, i64, i64)> = match counted {
                None => vec![(raw_counter_sql(), from_ms, to_ms_)],
                Some((level, (lo, hi))) => vec![
                    (raw_counter_sql(), from_ms, lo),
                    (rolled_counter_sql(level), lo, hi),
                    (raw_counter_sql(), hi, to_ms_),
                ],
            };
            let mut counter = Counter::default();
            for (sql, a, b) in parts {
                if a >= b {
                    continue;
                }
                let row = sqlx::query(AssertSqlSafe(sql)).bind(zone_id).bind(a).bind(b).fetch_one(&mut *tx).await?;
                let n: i64 = row.try_get("n")?;
                let (first, last): (Option<i64>, Option<i64>) = (row.try_get("first")?, row.try_get("last")?);
                if let (true, Some(first), Some(last)) = (n > 0, first, last) {
                    let part =
                        Counter { n, first: Some((first, a)), last: Some((last, b)), used: row.try_get("used")? };
                    counter.append(&part);
                }
            }
            tx.commit().await?;

            let (buckets, readings) = buckets_of(acc, from_ms, width)?;
            let energy_wh = (counter.n >= 2).then_some(counter.used);
            let resolution = rolled.map_or(Resolution::Raw, |(l, _)| l.resolution);
            Ok(History { buckets, readings, energy_wh, resolution })
        })
    }
}
