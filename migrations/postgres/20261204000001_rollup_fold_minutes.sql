-- The 15-minute rollups folded from the 1-minute ones too (PostgreSQL). Until now every reading was merged into the
-- 1-minute and 15-minute levels, and the hourly level was folded from the 15-minute one; from now on each reading is
-- merged into the 1-minute level only, and the 15-minute level is folded from it with the same watermark, in the
-- same transaction that stores the readings, before the hourly level is folded from it.
--
-- `rollup_fold.folded_ms` now says what both coarser levels hold: `readings_15m` and `readings_1h` hold exactly the
-- readings before it; the 1-minute buckets at or after it are pending, and readers of the coarser levels add them.
-- The 15-minute rows at or after the watermark (pending quarters until now) hold readings the 1-minute level may no
-- longer hold all of (a short `RETENTION_MINUTE`), so they stay: they are folded into the hourly level here, as the
-- code before did, and the watermark moves after the newest quarter, so that every level holds everything before it
-- and nothing is pending (readings arriving before it are merged into all three levels, as late ones are).

INSERT INTO readings_1h (zone_id, bucket_ms, n, temp_min, temp_sum, temp_max, target_n, target_min, target_sum, target_max, outdoor_n, outdoor_min, outdoor_sum, outdoor_max, heater_n, heater_on_n, occupied_n, energy_n, energy_first, energy_first_ms, energy_last, energy_last_ms, energy_used)
SELECT s.zone_id, s.bucket, s.n, s.temp_min, s.temp_sum, s.temp_max, s.target_n, s.target_min, s.target_sum,
    s.target_max, s.outdoor_n, s.outdoor_min, s.outdoor_sum, s.outdoor_max, s.heater_n, s.heater_on_n, s.occupied_n,
    COALESCE(e.n, 0), e.first, e.first_ms, e.last, e.last_ms, COALESCE(e.used, 0)
FROM (SELECT zone_id, bucket_ms - ((bucket_ms % 3600000) + 3600000) % 3600000 AS bucket, CAST(SUM(n) AS BIGINT) AS n,
    MIN(temp_min) AS temp_min, SUM(temp_sum) AS temp_sum, MAX(temp_max) AS temp_max,
    CAST(SUM(target_n) AS BIGINT) AS target_n, MIN(target_min) AS target_min, SUM(target_sum) AS target_sum, MAX(target_max) AS target_max,
    CAST(SUM(outdoor_n) AS BIGINT) AS outdoor_n, MIN(outdoor_min) AS outdoor_min, SUM(outdoor_sum) AS outdoor_sum,
    MAX(outdoor_max) AS outdoor_max, CAST(SUM(heater_n) AS BIGINT) AS heater_n, CAST(SUM(heater_on_n) AS BIGINT) AS heater_on_n, CAST(SUM(occupied_n) AS BIGINT) AS occupied_n
    FROM readings_15m WHERE bucket_ms >= (SELECT folded_ms FROM rollup_fold) GROUP BY zone_id, bucket_ms - ((bucket_ms % 3600000) + 3600000) % 3600000) AS s
LEFT JOIN (SELECT zone_id, bucket, CAST(SUM(energy_n) AS BIGINT) AS n,
    MAX(CASE WHEN prev IS NULL THEN energy_first END) AS first,
    MAX(CASE WHEN prev IS NULL THEN energy_first_ms END) AS first_ms,
    MAX(CASE WHEN next IS NULL THEN energy_last END) AS last,
    MAX(CASE WHEN next IS NULL THEN energy_last_ms END) AS last_ms,
    CAST(SUM(energy_used + CASE WHEN prev IS NULL THEN 0 ELSE CASE WHEN energy_first >= prev THEN energy_first - prev WHEN prev >= 4294967296 - 16777216 THEN energy_first + 4294967296 - prev ELSE energy_first END END) AS BIGINT) AS used
    FROM (SELECT zone_id, bucket_ms - ((bucket_ms % 3600000) + 3600000) % 3600000 AS bucket, energy_n, energy_first, energy_first_ms, energy_last, energy_last_ms,
        energy_used,
        LAG(energy_last) OVER (PARTITION BY zone_id, bucket_ms - ((bucket_ms % 3600000) + 3600000) % 3600000 ORDER BY bucket_ms) AS prev,
        LEAD(energy_first) OVER (PARTITION BY zone_id, bucket_ms - ((bucket_ms % 3600000) + 3600000) % 3600000 ORDER BY bucket_ms) AS next
        FROM readings_15m WHERE bucket_ms >= (SELECT folded_ms FROM rollup_fold) AND energy_n > 0) AS c
    GROUP BY zone_id, bucket) AS e ON e.zone_id = s.zone_id AND e.bucket = s.bucket
WHERE TRUE
ON CONFLICT (zone_id, bucket_ms) DO UPDATE SET
    n = readings_1h.n + excluded.n,
    temp_min = CASE WHEN readings_1h.temp_min IS NULL OR excluded.temp_min < readings_1h.temp_min THEN excluded.temp_min ELSE readings_1h.temp_min END,
    temp_sum = readings_1h.temp_sum + excluded.temp_sum,
    temp_max = CASE WHEN readings_1h.temp_max IS NULL OR excluded.temp_max > readings_1h.temp_max THEN excluded.temp_max ELSE readings_1h.temp_max END,
    target_n = readings_1h.target_n + excluded.target_n,
    target_min = CASE WHEN readings_1h.target_min IS NULL OR excluded.target_min < readings_1h.target_min THEN excluded.target_min ELSE readings_1h.target_min END,
    target_sum = readings_1h.target_sum + excluded.target_sum,
    target_max = CASE WHEN readings_1h.target_max IS NULL OR excluded.target_max > readings_1h.target_max THEN excluded.target_max ELSE readings_1h.target_max END,
    outdoor_n = readings_1h.outdoor_n + excluded.outdoor_n,
    outdoor_min = CASE WHEN readings_1h.outdoor_min IS NULL OR excluded.outdoor_min < readings_1h.outdoor_min THEN excluded.outdoor_min ELSE readings_1h.outdoor_min END,
    outdoor_sum = readings_1h.outdoor_sum + excluded.outdoor_sum,
    outdoor_max = CASE WHEN readings_1h.outdoor_max IS NULL OR excluded.outdoor_max > readings_1h.outdoor_max THEN excluded.outdoor_max ELSE readings_1h.outdoor_max END,
    heater_n = readings_1h.heater_n + excluded.heater_n,
    heater_on_n = readings_1h.heater_on_n + excluded.heater_on_n,
    occupied_n = readings_1h.occupied_n + excluded.occupied_n,
    energy_n = readings_1h.energy_n + excluded.energy_n,
    energy_first = CASE WHEN readings_1h.energy_n = 0 OR excluded.energy_first_ms < readings_1h.energy_first_ms THEN excluded.energy_first ELSE readings_1h.energy_first END,
    energy_first_ms = CASE WHEN readings_1h.energy_n = 0 OR excluded.energy_first_ms < readings_1h.energy_first_ms THEN excluded.energy_first_ms ELSE readings_1h.energy_first_ms END,
    energy_last = CASE WHEN readings_1h.energy_n = 0 OR excluded.energy_last_ms > readings_1h.energy_last_ms THEN excluded.energy_last ELSE readings_1h.energy_last END,
    energy_last_ms = CASE WHEN readings_1h.energy_n = 0 OR excluded.energy_last_ms > readings_1h.energy_last_ms THEN excluded.energy_last_ms ELSE readings_1h.energy_last_ms END,
    energy_used = CASE WHEN excluded.energy_n = 0 THEN readings_1h.energy_used WHEN readings_1h.energy_n = 0 THEN excluded.energy_used WHEN excluded.energy_first_ms > readings_1h.energy_last_ms THEN readings_1h.energy_used + excluded.energy_used + CASE WHEN excluded.energy_first >= readings_1h.energy_last THEN excluded.energy_first - readings_1h.energy_last WHEN readings_1h.energy_last >= 4294967296 - 16777216 THEN excluded.energy_first + 4294967296 - readings_1h.energy_last ELSE excluded.energy_first END WHEN excluded.energy_last_ms < readings_1h.energy_first_ms THEN readings_1h.energy_used + excluded.energy_used + CASE WHEN readings_1h.energy_first >= excluded.energy_last THEN readings_1h.energy_first - excluded.energy_last WHEN excluded.energy_last >= 4294967296 - 16777216 THEN readings_1h.energy_first + 4294967296 - excluded.energy_last ELSE readings_1h.energy_first END ELSE NULL END;

UPDATE rollup_fold SET folded_ms = GREATEST(folded_ms, COALESCE((SELECT MAX(bucket_ms) + 900000 FROM readings_15m), 0));

-- The fold reads the minutes of all zones between two watermarks.
CREATE INDEX readings_1m_bucket ON readings_1m (bucket_ms);
