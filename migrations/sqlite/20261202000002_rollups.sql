-- Rollups (SQLite): per zone, 1-minute, 15-minute and 1-hour aggregates of sensor_readings, so that history over
-- weeks or years is answered from a few thousand rows and survives the expiry of raw readings. Buckets start at
-- multiples of their width in UTC milliseconds (`bucket_ms`). Sums, not means, so that buckets merge exactly; the
-- energy counter's first and last value (with their times) and the energy used inside the bucket (counter resets and
-- wraps handled as zone_history does), so that the energy of any run of buckets is Σ used + the steps between them.
-- Maintained by the same transaction that stores readings; `energy_used` is NULL only inside that transaction, for a
-- bucket that a late reading landed in the middle of (it is then recomputed from the raw readings).

CREATE TABLE readings_1m (
    zone_id         INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    bucket_ms       INTEGER NOT NULL CHECK (bucket_ms % 60000 = 0),
    n               INTEGER NOT NULL CHECK (n > 0),
    temp_min        REAL NOT NULL,
    temp_sum        REAL NOT NULL,
    temp_max        REAL NOT NULL,
    target_n        INTEGER NOT NULL,
    target_min      REAL,
    target_sum      REAL NOT NULL,
    target_max      REAL,
    outdoor_n       INTEGER NOT NULL,
    outdoor_min     REAL,
    outdoor_sum     REAL NOT NULL,
    outdoor_max     REAL,
    heater_n        INTEGER NOT NULL, -- readings that carried the heater flag
    heater_on_n     INTEGER NOT NULL,
    occupied_n      INTEGER NOT NULL,
    energy_n        INTEGER NOT NULL, -- readings that carried the energy counter
    energy_first    INTEGER,
    energy_first_ms INTEGER,
    energy_last     INTEGER,
    energy_last_ms  INTEGER,
    energy_used     INTEGER,
    PRIMARY KEY (zone_id, bucket_ms)
) WITHOUT ROWID;
CREATE INDEX readings_1m_unsettled ON readings_1m (zone_id, bucket_ms) WHERE energy_used IS NULL;

CREATE TABLE readings_15m (
    zone_id         INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    bucket_ms       INTEGER NOT NULL CHECK (bucket_ms % 900000 = 0),
    n               INTEGER NOT NULL CHECK (n > 0),
    temp_min        REAL NOT NULL,
    temp_sum        REAL NOT NULL,
    temp_max        REAL NOT NULL,
    target_n        INTEGER NOT NULL,
    target_min      REAL,
    target_sum      REAL NOT NULL,
    target_max      REAL,
    outdoor_n       INTEGER NOT NULL,
    outdoor_min     REAL,
    outdoor_sum     REAL NOT NULL,
    outdoor_max     REAL,
    heater_n        INTEGER NOT NULL, -- readings that carried the heater flag
    heater_on_n     INTEGER NOT NULL,
    occupied_n      INTEGER NOT NULL,
    energy_n        INTEGER NOT NULL, -- readings that carried the energy counter
    energy_first    INTEGER,
    energy_first_ms INTEGER,
    energy_last     INTEGER,
    energy_last_ms  INTEGER,
    energy_used     INTEGER,
    PRIMARY KEY (zone_id, bucket_ms)
) WITHOUT ROWID;
CREATE INDEX readings_15m_unsettled ON readings_15m (zone_id, bucket_ms) WHERE energy_used IS NULL;

CREATE TABLE readings_1h (
    zone_id         INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    bucket_ms       INTEGER NOT NULL CHECK (bucket_ms % 3600000 = 0),
    n               INTEGER NOT NULL CHECK (n > 0),
    temp_min        REAL NOT NULL,
    temp_sum        REAL NOT NULL,
    temp_max        REAL NOT NULL,
    target_n        INTEGER NOT NULL,
    target_min      REAL,
    target_sum      REAL NOT NULL,
    target_max      REAL,
    outdoor_n       INTEGER NOT NULL,
    outdoor_min     REAL,
    outdoor_sum     REAL NOT NULL,
    outdoor_max     REAL,
    heater_n        INTEGER NOT NULL, -- readings that carried the heater flag
    heater_on_n     INTEGER NOT NULL,
    occupied_n      INTEGER NOT NULL,
    energy_n        INTEGER NOT NULL, -- readings that carried the energy counter
    energy_first    INTEGER,
    energy_first_ms INTEGER,
    energy_last     INTEGER,
    energy_last_ms  INTEGER,
    energy_used     INTEGER,
    PRIMARY KEY (zone_id, bucket_ms)
) WITHOUT ROWID;
CREATE INDEX readings_1h_unsettled ON readings_1h (zone_id, bucket_ms) WHERE energy_used IS NULL;

-- Backfill from the readings stored before this migration.
INSERT INTO readings_1m (zone_id, bucket_ms, n, temp_min, temp_sum, temp_max, target_n, target_min, target_sum,
    target_max, outdoor_n, outdoor_min, outdoor_sum, outdoor_max, heater_n, heater_on_n, occupied_n, energy_n,
    energy_first, energy_first_ms, energy_last, energy_last_ms, energy_used)
SELECT s.zone_id, s.bucket, s.n, s.temp_min, s.temp_sum, s.temp_max, s.target_n, s.target_min, s.target_sum,
    s.target_max, s.outdoor_n, s.outdoor_min, s.outdoor_sum, s.outdoor_max, s.heater_n, s.heater_on_n, s.occupied_n,
    COALESCE(e.n, 0), e.first, e.first_ms, e.last, e.last_ms, COALESCE(e.used, 0)
FROM (SELECT zone_id, ts_ms - ((ts_ms % 60000) + 60000) % 60000 AS bucket, COUNT(*) AS n,
        MIN(temperature) AS temp_min, SUM(temperature) AS temp_sum, MAX(temperature) AS temp_max,
        COUNT(target_temp) AS target_n, MIN(target_temp) AS target_min, COALESCE(SUM(target_temp), 0) AS target_sum,
        MAX(target_temp) AS target_max,
        COUNT(outdoor_temp) AS outdoor_n, MIN(outdoor_temp) AS outdoor_min,
        COALESCE(SUM(outdoor_temp), 0) AS outdoor_sum, MAX(outdoor_temp) AS outdoor_max,
        COUNT(heater_on) AS heater_n, SUM(CASE WHEN heater_on THEN 1 ELSE 0 END) AS heater_on_n,
        SUM(CASE WHEN occupancy THEN 1 ELSE 0 END) AS occupied_n
    FROM sensor_readings GROUP BY zone_id, ts_ms - ((ts_ms % 60000) + 60000) % 60000) AS s
LEFT JOIN (SELECT zone_id, bucket, COUNT(*) AS n,
        MAX(CASE WHEN prev IS NULL THEN e END) AS first, MAX(CASE WHEN prev IS NULL THEN ts_ms END) AS first_ms,
        MAX(CASE WHEN next IS NULL THEN e END) AS last, MAX(CASE WHEN next IS NULL THEN ts_ms END) AS last_ms,
        CAST(SUM(CASE WHEN prev IS NULL THEN 0 ELSE CASE WHEN e >= prev THEN e - prev WHEN prev >= 4294967296 - 16777216 THEN e + 4294967296 - prev ELSE e END END) AS BIGINT) AS used
    FROM (SELECT zone_id, bucket, ts_ms, e,
            LAG(e) OVER (PARTITION BY zone_id, bucket ORDER BY ts_ms, id) AS prev,
            LEAD(e) OVER (PARTITION BY zone_id, bucket ORDER BY ts_ms, id) AS next
        FROM (SELECT zone_id, id, ts_ms, energy_wh AS e, ts_ms - ((ts_ms % 60000) + 60000) % 60000 AS bucket
            FROM sensor_readings WHERE energy_wh IS NOT NULL) AS c) AS w
    GROUP BY zone_id, bucket) AS e ON e.zone_id = s.zone_id AND e.bucket = s.bucket;
INSERT INTO readings_15m (zone_id, bucket_ms, n, temp_min, temp_sum, temp_max, target_n, target_min, target_sum,
    target_max, outdoor_n, outdoor_min, outdoor_sum, outdoor_max, heater_n, heater_on_n, occupied_n, energy_n,
    energy_first, energy_first_ms, energy_last, energy_last_ms, energy_used)
SELECT s.zone_id, s.bucket, s.n, s.temp_min, s.temp_sum, s.temp_max, s.target_n, s.target_min, s.target_sum,
    s.target_max, s.outdoor_n, s.outdoor_min, s.outdoor_sum, s.outdoor_max, s.heater_n, s.heater_on_n, s.occupied_n,
    COALESCE(e.n, 0), e.first, e.first_ms, e.last, e.last_ms, COALESCE(e.used, 0)
FROM (SELECT zone_id, ts_ms - ((ts_ms % 900000) + 900000) % 900000 AS bucket, COUNT(*) AS n,
        MIN(temperature) AS temp_min, SUM(temperature) AS temp_sum, MAX(temperature) AS temp_max,
        COUNT(target_temp) AS target_n, MIN(target_temp) AS target_min, COALESCE(SUM(target_temp), 0) AS target_sum,
        MAX(target_temp) AS target_max,
        COUNT(outdoor_temp) AS outdoor_n, MIN(outdoor_temp) AS outdoor_min,
        COALESCE(SUM(outdoor_temp), 0) AS outdoor_sum, MAX(outdoor_temp) AS outdoor_max,
        COUNT(heater_on) AS heater_n, SUM(CASE WHEN heater_on THEN 1 ELSE 0 END) AS heater_on_n,
        SUM(CASE WHEN occupancy THEN 1 ELSE 0 END) AS occupied_n
    FROM sensor_readings GROUP BY zone_id, ts_ms - ((ts_ms % 900000) + 900000) % 900000) AS s
LEFT JOIN (SELECT zone_id, bucket, COUNT(*) AS n,
        MAX(CASE WHEN prev IS NULL THEN e END) AS first, MAX(CASE WHEN prev IS NULL THEN ts_ms END) AS first_ms,
        MAX(CASE WHEN next IS NULL THEN e END) AS last, MAX(CASE WHEN next IS NULL THEN ts_ms END) AS last_ms,
        CAST(SUM(CASE WHEN prev IS NULL THEN 0 ELSE CASE WHEN e >= prev THEN e - prev WHEN prev >= 4294967296 - 16777216 THEN e + 4294967296 - prev ELSE e END END) AS BIGINT) AS used
    FROM (SELECT zone_id, bucket, ts_ms, e,
            LAG(e) OVER (PARTITION BY zone_id, bucket ORDER BY ts_ms, id) AS prev,
            LEAD(e) OVER (PARTITION BY zone_id, bucket ORDER BY ts_ms, id) AS next
        FROM (SELECT zone_id, id, ts_ms, energy_wh AS e, ts_ms - ((ts_ms % 900000) + 900000) % 900000 AS bucket
            FROM sensor_readings WHERE energy_wh IS NOT NULL) AS c) AS w
    GROUP BY zone_id, bucket) AS e ON e.zone_id = s.zone_id AND e.bucket = s.bucket;
INSERT INTO readings_1h (zone_id, bucket_ms, n, temp_min, temp_sum, temp_max, target_n, target_min, target_sum,
    target_max, outdoor_n, outdoor_min, outdoor_sum, outdoor_max, heater_n, heater_on_n, occupied_n, energy_n,
    energy_first, energy_first_ms, energy_last, energy_last_ms, energy_used)
SELECT s.zone_id, s.bucket, s.n, s.temp_min, s.temp_sum, s.temp_max, s.target_n, s.target_min, s.target_sum,
    s.target_max, s.outdoor_n, s.outdoor_min, s.outdoor_sum, s.outdoor_max, s.heater_n, s.heater_on_n, s.occupied_n,
    COALESCE(e.n, 0), e.first, e.first_ms, e.last, e.last_ms, COALESCE(e.used, 0)
FROM (SELECT zone_id, ts_ms - ((ts_ms % 3600000) + 3600000) % 3600000 AS bucket, COUNT(*) AS n,
        MIN(temperature) AS temp_min, SUM(temperature) AS temp_sum, MAX(temperature) AS temp_max,
        COUNT(target_temp) AS target_n, MIN(target_temp) AS target_min, COALESCE(SUM(target_temp), 0) AS target_sum,
        MAX(target_temp) AS target_max,
        COUNT(outdoor_temp) AS outdoor_n, MIN(outdoor_temp) AS outdoor_min,
        COALESCE(SUM(outdoor_temp), 0) AS outdoor_sum, MAX(outdoor_temp) AS outdoor_max,
        COUNT(heater_on) AS heater_n, SUM(CASE WHEN heater_on THEN 1 ELSE 0 END) AS heater_on_n,
        SUM(CASE WHEN occupancy THEN 1 ELSE 0 END) AS occupied_n
    FROM sensor_readings GROUP BY zone_id, ts_ms - ((ts_ms % 3600000) + 3600000) % 3600000) AS s
LEFT JOIN (SELECT zone_id, bucket, COUNT(*) AS n,
        MAX(CASE WHEN prev IS NULL THEN e END) AS first, MAX(CASE WHEN prev IS NULL THEN ts_ms END) AS first_ms,
        MAX(CASE WHEN next IS NULL THEN e END) AS last, MAX(CASE WHEN next IS NULL THEN ts_ms END) AS last_ms,
        CAST(SUM(CASE WHEN prev IS NULL THEN 0 ELSE CASE WHEN e >= prev THEN e - prev WHEN prev >= 4294967296 - 16777216 THEN e + 4294967296 - prev ELSE e END END) AS BIGINT) AS used
    FROM (SELECT zone_id, bucket, ts_ms, e,
            LAG(e) OVER (PARTITION BY zone_id, bucket ORDER BY ts_ms, id) AS prev,
            LEAD(e) OVER (PARTITION BY zone_id, bucket ORDER BY ts_ms, id) AS next
        FROM (SELECT zone_id, id, ts_ms, energy_wh AS e, ts_ms - ((ts_ms % 3600000) + 3600000) % 3600000 AS bucket
            FROM sensor_readings WHERE energy_wh IS NOT NULL) AS c) AS w
    GROUP BY zone_id, bucket) AS e ON e.zone_id = s.zone_id AND e.bucket = s.bucket;
