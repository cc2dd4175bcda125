-- Initial schema (SQLite). Times are INTEGER unix milliseconds UTC (`*_ms`), temperatures REAL °C.
-- A PostgreSQL backend keeps its own migrations under migrations/postgres/ with the same tables and columns.

CREATE TABLE zones (
    id             INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so old references stay unambiguous
    name           TEXT    NOT NULL,
    preferences    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(preferences)),
    modbus_host    TEXT    NOT NULL DEFAULT 'localhost',
    modbus_port    INTEGER          CHECK (modbus_port IS NULL OR modbus_port BETWEEN 1 AND 65535),
    modbus_unit_id INTEGER NOT NULL DEFAULT 1 CHECK (modbus_unit_id BETWEEN 0 AND 255),
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    CONSTRAINT zones_name_unique UNIQUE (name),
    -- NULLs are distinct in a UNIQUE constraint: any number of zones without a device (no port) may share a host.
    CONSTRAINT zones_modbus_endpoint_unique UNIQUE (modbus_host, modbus_port, modbus_unit_id)
);

CREATE TABLE sensor_readings (
    id           INTEGER PRIMARY KEY,
    zone_id      INTEGER NOT NULL REFERENCES zones (id) ON DELETE RESTRICT,
    ts_ms        INTEGER NOT NULL,
    temperature  REAL    NOT NULL,
    target_temp  REAL,
    occupancy    INTEGER NOT NULL CHECK (occupancy IN (0, 1)),
    heater_on    INTEGER          CHECK (heater_on IN (0, 1)),
    energy_wh    INTEGER          CHECK (energy_wh >= 0),
    outdoor_temp REAL
);

-- Per-zone history, newest first, and time-bucketed aggregates over (zone, time range).
CREATE INDEX sensor_readings_zone_ts ON sensor_readings (zone_id, ts_ms);
-- All zones' readings, newest first (GET /sensordata/).
CREATE INDEX sensor_readings_ts ON sensor_readings (ts_ms);

CREATE TABLE commands (
    id          INTEGER PRIMARY KEY,
    zone_id     INTEGER NOT NULL REFERENCES zones (id) ON DELETE RESTRICT,
    ts_ms       INTEGER NOT NULL,
    target_temp REAL    NOT NULL CHECK (target_temp BETWEEN 5.0 AND 35.0),
    source      TEXT    NOT NULL CHECK (source IN ('control', 'manual', 'api')),
    reason      TEXT,
    status      TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'confirmed', 'failed')),
    error       TEXT
);

CREATE INDEX commands_zone_ts ON commands (zone_id, ts_ms);
-- The poller looks for commands still to send.
CREATE INDEX commands_pending ON commands (status) WHERE status = 'pending';
