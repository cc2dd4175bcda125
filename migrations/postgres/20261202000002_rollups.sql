-- Rollups (PostgreSQL): the same tables and columns as migrations/sqlite/20261202000001_rollups.sql, which explains
-- them.

CREATE TABLE readings_1m (
    zone_id         BIGINT NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    bucket_ms       BIGINT NOT NULL CHECK (bucket_ms % 60000 = 0),
    n               BIGINT NOT NULL CHECK (n > 0),
    temp_min        DOUBLE PRECISION NOT NULL,
    temp_sum        DOUBLE PRECISION NOT NULL,
    temp_max        DOUBLE PRECISION NOT NULL,
    target_n        BIGINT NOT NULL,
    target_min      DOUBLE PRECISION,
    target_sum      DOUBLE PRECISION NOT NULL,
    target_max      DOUBLE PRECISION,
    outdoor_n       BIGINT NOT NULL,
    outdoor_min     DOUBLE PRECISION,
    outdoor_sum     DOUBLE PRECISION NOT NULL,
    outdoor_max     DOUBLE PRECISION,
    heater_n        BIGINT NOT NULL, -- readings that carried the heater flag
    heater_on_n     BIGINT NOT NULL,
    occupied_n      BIGINT NOT NULL,
    energy_n        BIGINT NOT NULL, -- readings that carried the energy counter
    energy_first    BIGINT,
    energy_first_ms BIGINT,
    energy_last     BIGINT,
    energy_last_ms  BIGINT,
    energy_used     BIGINT,
    PRIMARY KEY (zone_id, bucket_ms)
);
CREATE INDEX readings_1m_unsettled ON readings_1m (zone_id, bucket_ms) WHERE energy_used IS NULL;

CREATE TABLE readings_15m (
    zone_id         BIGINT NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    bucket_ms       BIGINT NOT NULL CHECK (bucket_ms % 900000 = 0),
    n               BIGINT NOT NULL CHECK (n > 0),
    temp_min        DOUBLE PRECISION NOT NULL,
    temp_sum        DOUBLE PRECISION NOT NULL,
    temp_max        DOUBLE PRECISION NOT NULL,
    target_n        BIGINT NOT NULL,
    target_min      DOUBLE PRECISION,
    target_sum      DOUBLE PRECISION NOT NULL,
    target_max      DOUBLE PRECISION,
    outdoor_n       BIGINT NOT NULL,
    outdoor_min     DOUBLE PRECISION,
    outdoor_sum     DOUBLE PRECISION NOT NULL,
    outdoor_max     DOUBLE PRECISION,
    heater_n        BIGINT NOT NULL, -- readings that carried the heater flag
    heater_on_n     BIGINT NOT NULL,
    occupied_n      BIGINT NOT NULL,
    energy_n        BIGINT NOT NULL, -- readings that carried the energy counter
    energy_first    BIGINT,
    energy_first_ms BIGINT,
    energy_last     BIGINT,
    energy_last_ms  BIGINT,
    energy_used     BIGINT,
    PRIMARY KEY (zone_id, bucket_ms)
);
CREATE INDEX readings_15m_unsettled ON readings_15m (zone_id, bucket_ms) WHERE energy_used IS NULL;

CREATE TABLE readings_1h (
    zone_id         BIGINT NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    bucket_ms       BIGINT NOT NULL CHECK (bucket_ms % 3600000 = 0),
    n               BIGINT NOT NULL CHECK (n > 0),
    temp_min        DOUBLE PRECISION NOT NULL,
    temp_sum        DOUBLE PRECISION NOT NULL,
    temp_max        DOUBLE PRECISION NOT NULL,
    target_n        BIGINT NOT NULL,
    target_min      DOUBLE PRECISION,
    target_sum      DOUBLE PRECISION NOT NULL,
    target_max      DOUBLE PRECISION,
    outdoor_n       BIGINT NOT NULL,
    outdoor_min     DOUBLE PRECISION,
    outdoor_sum     DOUBLE PRECISION NOT NULL,
    outdoor_max     DOUBLE PRECISION,
    heater_n        BIGINT NOT NULL, -- readings that carried the heater flag
    heater_on_n     BIGINT NOT NULL,
    occupied_n      BIGINT NOT NULL,
    energy_n        BIGINT NOT NULL, -- readings that carried the energy counter
    energy_first    BIGINT,
    energy_first_ms BIGINT,
    energy_last     BIGINT,
    energy_last_ms  BIGINT,
    energy_used     BIGINT,
    PRIMARY KEY (zone_id, bucket_ms)
);
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
