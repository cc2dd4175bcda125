-- Initial schema (PostgreSQL): the same tables and columns as migrations/sqlite/. Times are BIGINT unix
-- milliseconds UTC (`*_ms`), temperatures DOUBLE PRECISION °C, flags BOOLEAN, preferences JSONB.

CREATE TABLE zones (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- a sequence: ids are never reused
    name           TEXT    NOT NULL,
    preferences    JSONB   NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(preferences) = 'object'),
    modbus_host    TEXT    NOT NULL DEFAULT 'localhost',
    modbus_port    BIGINT           CHECK (modbus_port IS NULL OR modbus_port BETWEEN 1 AND 65535),
    modbus_unit_id BIGINT  NOT NULL DEFAULT 1 CHECK (modbus_unit_id BETWEEN 0 AND 255),
    created_ms     BIGINT  NOT NULL,
    updated_ms     BIGINT  NOT NULL,
    CONSTRAINT zones_name_unique UNIQUE (name),
    -- NULLs are distinct in a UNIQUE constraint (the default, NULLS DISTINCT): any number of zones without a
    -- device (no port) may share a host.
    CONSTRAINT zones_modbus_endpoint_unique UNIQUE (modbus_host, modbus_port, modbus_unit_id)
);

CREATE TABLE sensor_readings (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    zone_id      BIGINT           NOT NULL REFERENCES zones (id) ON DELETE RESTRICT,
    ts_ms        BIGINT           NOT NULL,
    temperature  DOUBLE PRECISION NOT NULL,
    target_temp  DOUBLE PRECISION,
    occupancy    BOOLEAN          NOT NULL,
    heater_on    BOOLEAN,
    energy_wh    BIGINT           CHECK (energy_wh >= 0),
    outdoor_temp DOUBLE PRECISION
);

-- Per-zone history, newest first, and time-bucketed aggregates over (zone, time range).
CREATE INDEX sensor_readings_zone_ts ON sensor_readings (zone_id, ts_ms);
-- All zones' readings, newest first (GET /sensordata/).
CREATE INDEX sensor_readings_ts ON sensor_readings (ts_ms);

CREATE TABLE commands (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    zone_id     BIGINT           NOT NULL REFERENCES zones (id) ON DELETE RESTRICT,
    ts_ms       BIGINT           NOT NULL,
    target_temp DOUBLE PRECISION NOT NULL CHECK (target_temp BETWEEN 5.0 AND 35.0),
    source      TEXT             NOT NULL CHECK (source IN ('control', 'manual', 'api')),
    reason      TEXT,
    status      TEXT             NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'sent', 'confirmed', 'failed')),
    error       TEXT
);

CREATE INDEX commands_zone_ts ON commands (zone_id, ts_ms);
-- The poller looks for commands still to send.
CREATE INDEX commands_pending ON commands (status) WHERE status = 'pending';
