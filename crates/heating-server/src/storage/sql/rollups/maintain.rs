//! Keeping the rollups up to date in the transaction that stores readings: the macros `sql.rs` runs inside
//! `on_backend!` (see the module documentation of `rollups.rs`).

/// `upsert_level!(tx, B, readings, level)`: merges `readings` into `level` (one multi-row UPSERT per chunk), in the
/// transaction `tx`. `?` returns from the enclosing method.
macro_rules! upsert_level {
    ($tx:ident, $db:ident, $readings:expr, $level:expr) => {{
        use $crate::storage::sql::rollups as r;
        let level = $level;
        let (singles, rows): (Vec<_>, Vec<_>) = r::aggregate($readings, level).into_iter().partition(|g| g.n == 1);
        // Buckets of one reading (every bucket of a poll cycle): the reading's 9 values, spread in SQL.
        if !singles.is_empty() {
            <$db as $crate::storage::sql::Backend>::upsert_single_buckets(&mut *$tx, level, &singles)
                .await
                .map_err(history_write_error)?;
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
pub(in crate::storage::sql) use upsert_level;

/// `settle_level!(tx, B, level, until)`: recomputes the buckets of the 15-minute or hourly `level` that a late
/// reading left with unsettled energy, from the level below ([`source_of`](super::source_of)), up to `until` (the
/// watermark: the level holds nothing at or after it). `?` returns from the enclosing method.
macro_rules! settle_level {
    ($tx:ident, $level:expr, $until:expr) => {{
        use $crate::storage::sql::rollups as r;
        let (level, until): (r::Level, i64) = ($level, $until);
        let unsettled: Vec<(i64, i64)> =
            sqlx::query_as(sqlx::AssertSqlSafe(r::unsettled_sql(level))).fetch_all(&mut *$tx).await?;
        for (zone_id, bucket_ms) in unsettled {
            sqlx::query(sqlx::AssertSqlSafe(r::clear_sql(level, true)))
                .bind(bucket_ms)
                .bind(bucket_ms + level.width_ms)
                .bind(zone_id)
                .execute(&mut *$tx)
                .await?;
            let end = (bucket_ms + level.width_ms).min(until);
            if end > bucket_ms {
                sqlx::query(sqlx::AssertSqlSafe(r::fold_sql(level, true)))
                    .bind(bucket_ms)
                    .bind(end)
                    .bind(zone_id)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}
pub(in crate::storage::sql) use settle_level;

/// `fold_levels!(tx, B, folded, next, written)`: in the transaction `tx` that holds the fold's lock
/// ([`Backend::LOCK_FOLD`](crate::storage::sql::Backend::LOCK_FOLD), which read `folded`), folds the 1-minute
/// buckets in `folded <= bucket < next` into the 15-minute level, the 15-minute buckets so completed into the hourly
/// level, and stores `next` as the new watermark; then, if anything was written to those two levels (`written`: late
/// readings were merged into them), recomputes their buckets left unsettled, the 15-minute ones first. `next <=
/// folded` folds nothing. `?` returns from the enclosing method.
macro_rules! fold_levels {
    ($tx:ident, $db:ident, $folded:expr, $next:expr, $written:expr) => {{
        use $crate::storage::sql::rollups as r;
        let (folded, next): (i64, i64) = ($folded, $next);
        let mut written: bool = $written;
        if next > folded {
            for level in [r::QUARTER, r::HOUR] {
                sqlx::query(sqlx::AssertSqlSafe(r::fold_sql(level, false)))
                    .bind(folded)
                    .bind(next)
                    .execute(&mut *$tx)
                    .await?;
            }
            sqlx::query("UPDATE rollup_fold SET folded_ms = $1").bind(next).execute(&mut *$tx).await?;
            written = true;
        }
        if written {
            let until = next.max(folded);
            r::settle_level!($tx, r::QUARTER, until);
            r::settle_level!($tx, r::HOUR, until);
        }
    }};
}
pub(in crate::storage::sql) use fold_levels;

/// `maintain_rollups!(tx, B, readings)`: in `sql.rs` (which has `history_write_error`), inside `on_backend!`, in the
/// transaction `tx` that has just stored `readings`: takes the fold's lock, merges them into the 1-minute level and
/// recomputes the buckets left unsettled there (from the raw readings); merges those older than the watermark (late
/// ones) into the 15-minute and hourly levels too; then moves the watermark up to the quarter before the newest
/// reading's, folding the minutes it passes into the coarser levels ([`fold_levels!`]). `?` returns from the
/// enclosing method.
macro_rules! maintain_rollups {
    ($tx:ident, $db:ident, $readings:expr) => {{
        use $crate::storage::sql::rollups as r;
        let readings: &[$crate::storage::NewReading] = $readings;
        let newest = readings.iter().map(|x| $crate::time::to_ms(x.ts)).max();
        // The watermark only rises: a batch that would not move it as last read will not under the lock either,
        // and needs only the shared lock (other instances' batches go on meanwhile).
        let (seen,): (i64,) = sqlx::query_as(r::FOLDED_SQL).fetch_one(&mut *$tx).await?;
        let lock = if newest.is_some_and(|n| r::watermark_after(n) > seen) {
            <$db as $crate::storage::sql::Backend>::LOCK_FOLD
        } else {
            <$db as $crate::storage::sql::Backend>::LOCK_FOLD_SHARED
        };
        let (folded,): (i64,) = sqlx::query_as(lock).fetch_one(&mut *$tx).await?;
        r::upsert_level!($tx, $db, readings, r::MINUTE);
        let unsettled: Vec<(i64, i64)> =
            sqlx::query_as(sqlx::AssertSqlSafe(r::unsettled_sql(r::MINUTE))).fetch_all(&mut *$tx).await?;
        for (zone_id, bucket_ms) in unsettled {
            for sql in [r::clear_sql(r::MINUTE, true), r::rebuild_sql(r::MINUTE, true)] {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(bucket_ms)
                    .bind(bucket_ms + r::MINUTE.width_ms)
                    .bind(zone_id)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
        // Readings in quarters already folded: straight into the coarser levels as well.
        let late = readings.iter().any(|x| $crate::time::to_ms(x.ts) < folded);
        if late {
            let late: Vec<$crate::storage::NewReading> =
                readings.iter().filter(|x| $crate::time::to_ms(x.ts) < folded).cloned().collect();
            r::upsert_level!($tx, $db, &late, r::QUARTER);
            r::upsert_level!($tx, $db, &late, r::HOUR);
        }
        // Under the shared lock `folded >= seen`, so this folds nothing there.
        let next = newest.map_or(folded, r::watermark_after);
        r::fold_levels!($tx, $db, folded, next, late);
    }};
}
pub(in crate::storage::sql) use maintain_rollups;
