-- The tables of several instances sharing one PostgreSQL database (migrations/postgres/20261203000005_instances.sql).
-- SQLite mode is single-instance (a second server on the same file is refused at start) and never uses them; they
-- exist so that both backends have the same migration versions and tables.

CREATE TABLE instances (
    id             TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    advertised_url TEXT,
    started_ms     INTEGER NOT NULL,
    heartbeat_ms   INTEGER NOT NULL,
    zones_held     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE zone_leases (
    zone_id     INTEGER PRIMARY KEY REFERENCES zones (id) ON DELETE CASCADE,
    instance_id TEXT    NOT NULL,
    expires_ms  INTEGER NOT NULL,
    epoch       INTEGER NOT NULL
);
CREATE INDEX zone_leases_instance ON zone_leases (instance_id);

CREATE TABLE forwarded_commands (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    zone_id           INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    target_temp       REAL    NOT NULL CHECK (target_temp BETWEEN 5.0 AND 35.0),
    source            TEXT    NOT NULL CHECK (source IN ('control', 'manual', 'api')),
    reason            TEXT,
    actor             TEXT    NOT NULL,
    hold_until_ms     INTEGER,
    occupied_at_start INTEGER NOT NULL,
    set_ms            INTEGER NOT NULL,
    from_instance     TEXT    NOT NULL,
    created_ms        INTEGER NOT NULL,
    status            TEXT    NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'claimed', 'done', 'expired')),
    claimed_by        TEXT,
    command_id        INTEGER,
    error             TEXT
);
