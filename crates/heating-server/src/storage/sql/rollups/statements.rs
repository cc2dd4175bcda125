//! The rollups' SQL: the merge of a batch's buckets into a level ([`upsert_tail`]), the recomputation of a level's
//! buckets from the raw readings ([`rebuild_sql`]) or from the level below ([`fold_sql`]), and what readers of a
//! level read in place of its table ([`level_rows`]: its rows and the pending minutes).

use super::{COLUMNS, HOUR, Level, MINUTE, QUARTER, step_sql};

/// `INSERT INTO level (columns) ` — followed by the VALUES, then [`upsert_tail`].
pub(in crate::storage::sql) fn upsert_head(level: Level) -> String {
    format!("INSERT INTO {} ({COLUMNS}) ", level.table)
}

/// `INSERT INTO level (columns) SELECT … FROM ` — followed by rows of one reading each named `column1` to `column9`
/// (zone, bucket, temperature, target, outdoor, heater flag, occupancy, counter, its time: SQLite's `(VALUES …) AS
/// v`, PostgreSQL's `UNNEST(…) AS v(column1, …)`, see `Backend::upsert_single_buckets`), ` WHERE TRUE` and
/// [`upsert_tail`]: a bucket of one reading from 9 values instead of 23 (`WHERE TRUE`: SQLite's parser needs it
/// before `ON CONFLICT` after a `SELECT`).
pub(in crate::storage) fn single_select(level: Level) -> String {
    let count = |c: &str| format!("CASE WHEN {c} IS NULL THEN 0 ELSE 1 END");
    format!(
        "INSERT INTO {table} ({COLUMNS}) SELECT column1, column2, 1, column3, column3, column3, \
         {target_n}, column4, COALESCE(column4, 0.0), column4, {outdoor_n}, column5, COALESCE(column5, 0.0), column5, \
         {heater_n}, CASE WHEN column6 THEN 1 ELSE 0 END, CASE WHEN column7 THEN 1 ELSE 0 END, \
         {energy_n}, column8, column9, column8, column9, 0 FROM ",
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
pub(in crate::storage) fn upsert_tail(level: Level) -> String {
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
pub(in crate::storage::sql) fn unsettled_sql(level: Level) -> String {
    format!("SELECT zone_id, bucket_ms FROM {} WHERE energy_used IS NULL", level.table)
}

/// Deletes a level's rows with `$1 <= bucket_ms < $2` (of zone `$3` when `zone`).
pub(in crate::storage::sql) fn clear_sql(level: Level, zone: bool) -> String {
    let zone = if zone { " AND zone_id = $3" } else { "" };
    format!("DELETE FROM {} WHERE bucket_ms >= $1 AND bucket_ms < $2{zone}", level.table)
}

/// Recomputes a level's rows from the raw readings with `$1 <= ts_ms < $2` (of zone `$3` when `zone`): the range
/// must be aligned to the level and cleared first ([`clear_sql`]). The same statement as the migration's backfill.
pub(in crate::storage::sql) fn rebuild_sql(level: Level, zone: bool) -> String {
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

/// The level `level` is folded from: the 15-minute level from the 1-minute one, the hourly from the 15-minute one.
pub(in crate::storage::sql) fn source_of(level: Level) -> Level {
    if level == HOUR { QUARTER } else { MINUTE }
}

/// Folds the rows of the level below `level` ([`source_of`]) with `$1 <= bucket_ms < $2` (of zone `$3` when `zone`)
/// into `level`: summed per (zone, bucket of `level`), the energy chained over the source rows in time order (the
/// energy used in each plus the counter steps between them), merged by [`upsert_tail`] (the folded rows all come
/// after what the stored rows hold).
pub(in crate::storage::sql) fn fold_sql(level: Level, zone: bool) -> String {
    let w = level.width_ms;
    let bucket = format!("bucket_ms - ((bucket_ms % {w}) + {w}) % {w}");
    let filter = format!("bucket_ms >= $1 AND bucket_ms < $2{}", if zone { " AND zone_id = $3" } else { "" });
    let sum = |c: &str| format!("CAST(SUM({c}) AS BIGINT) AS {c}");
    format!(
        "INSERT INTO {table} ({COLUMNS}) \
         SELECT s.zone_id, s.bucket, s.n, s.temp_min, s.temp_sum, s.temp_max, s.target_n, s.target_min, \
         s.target_sum, s.target_max, s.outdoor_n, s.outdoor_min, s.outdoor_sum, s.outdoor_max, s.heater_n, \
         s.heater_on_n, s.occupied_n, COALESCE(e.n, 0), e.first, e.first_ms, e.last, e.last_ms, COALESCE(e.used, 0) \
         FROM (SELECT zone_id, {bucket} AS bucket, {n}, MIN(temp_min) AS temp_min, SUM(temp_sum) AS temp_sum, \
         MAX(temp_max) AS temp_max, {target_n}, MIN(target_min) AS target_min, SUM(target_sum) AS target_sum, \
         MAX(target_max) AS target_max, {outdoor_n}, MIN(outdoor_min) AS outdoor_min, \
         SUM(outdoor_sum) AS outdoor_sum, MAX(outdoor_max) AS outdoor_max, {heater_n}, {heater_on_n}, {occupied_n} \
         FROM {source} WHERE {filter} GROUP BY zone_id, {bucket}) AS s \
         LEFT JOIN (SELECT zone_id, bucket, CAST(SUM(energy_n) AS BIGINT) AS n, \
         MAX(CASE WHEN prev IS NULL THEN energy_first END) AS first, \
         MAX(CASE WHEN prev IS NULL THEN energy_first_ms END) AS first_ms, \
         MAX(CASE WHEN next IS NULL THEN energy_last END) AS last, \
         MAX(CASE WHEN next IS NULL THEN energy_last_ms END) AS last_ms, \
         CAST(SUM(energy_used + CASE WHEN prev IS NULL THEN 0 ELSE {step} END) AS BIGINT) AS used \
         FROM (SELECT zone_id, {bucket} AS bucket, energy_n, energy_first, energy_first_ms, energy_last, \
         energy_last_ms, energy_used, \
         LAG(energy_last) OVER (PARTITION BY zone_id, {bucket} ORDER BY bucket_ms) AS prev, \
         LEAD(energy_first) OVER (PARTITION BY zone_id, {bucket} ORDER BY bucket_ms) AS next \
         FROM {source} WHERE {filter} AND energy_n > 0) AS c \
         GROUP BY zone_id, bucket) AS e ON e.zone_id = s.zone_id AND e.bucket = s.bucket WHERE TRUE{tail}",
        table = level.table,
        source = source_of(level).table,
        n = sum("n"),
        target_n = sum("target_n"),
        outdoor_n = sum("outdoor_n"),
        heater_n = sum("heater_n"),
        heater_on_n = sum("heater_on_n"),
        occupied_n = sum("occupied_n"),
        step = step_sql("prev", "energy_first"),
        tail = upsert_tail(level),
    )
}

/// What a reader of `level` reads in place of its table: for the 1-minute level the table itself, for the coarser
/// ones their rows with `{lo} <= bucket_ms < {hi}` and the pending 1-minute rows with `{pending} <= bucket_ms < {hi}`
/// (callers bind `max(lo, watermark)`), of zone `{zone}`. Columns: [`COLUMNS`], `bucket_ms` the level's bucket, and
/// `at_ms`, the row's own start (time order: a pending minute comes after the stored row of its bucket, which holds
/// only what lies before the watermark).
pub(in crate::storage::sql) fn level_rows(level: Level, zone: &str, lo: &str, hi: &str, pending: &str) -> String {
    let own = format!(
        "SELECT {COLUMNS}, bucket_ms AS at_ms FROM {} WHERE zone_id = {zone} AND bucket_ms >= {lo} AND bucket_ms < {hi}",
        level.table
    );
    if level == MINUTE {
        return format!("({own}) AS rows_");
    }
    let w = level.width_ms;
    format!(
        "({own} UNION ALL SELECT zone_id, bucket_ms - ((bucket_ms % {w}) + {w}) % {w} AS bucket_ms, {values}, \
         bucket_ms AS at_ms FROM {minute} WHERE zone_id = {zone} AND bucket_ms >= {pending} AND bucket_ms < {hi}) \
         AS rows_",
        values = rollup_values!(),
        minute = MINUTE.table,
    )
}
