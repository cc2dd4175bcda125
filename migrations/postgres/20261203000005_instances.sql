-- Several server instances on one PostgreSQL database share the fleet by zone leases (see ARCHITECTURE.md, "the
-- lease protocol"). Lease times are the database's own clock (now()), so the instances' clocks do not matter.

-- One row per running instance, its heartbeat renewed every third of a lease period.
CREATE TABLE instances (
    id             TEXT        PRIMARY KEY,
    name           TEXT        NOT NULL,
    advertised_url TEXT,
    started_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    zones_held     INTEGER     NOT NULL DEFAULT 0
);

-- The fencing tokens: every lease taken gets a new, larger epoch.
CREATE SEQUENCE zone_lease_epochs;

-- At most one lease per zone (the primary key); a lease whose expires_at has passed may be taken by anyone.
CREATE TABLE zone_leases (
    zone_id     BIGINT      PRIMARY KEY REFERENCES zones (id) ON DELETE CASCADE,
    instance_id TEXT        NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    epoch       BIGINT      NOT NULL
);
CREATE INDEX zone_leases_instance ON zone_leases (instance_id);

-- A manual write that arrived at an instance not holding the zone: queued here (and announced by NOTIFY), sent by
-- the zone's owner exactly once (queued -> claimed -> done), or expired by the asking instance when nobody claimed
-- it in time.
CREATE TABLE forwarded_commands (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    zone_id           BIGINT           NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    target_temp       DOUBLE PRECISION NOT NULL CHECK (target_temp BETWEEN 5.0 AND 35.0),
    source            TEXT             NOT NULL CHECK (source IN ('control', 'manual', 'api')),
    reason            TEXT,
    actor             TEXT             NOT NULL,
    hold_until_ms     BIGINT,
    occupied_at_start BOOLEAN          NOT NULL,
    set_ms            BIGINT           NOT NULL,
    from_instance     TEXT             NOT NULL,
    created_at        TIMESTAMPTZ      NOT NULL DEFAULT now(),
    status            TEXT             NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'claimed', 'done', 'expired')),
    claimed_by        TEXT,
    command_id        BIGINT,
    error             TEXT
);
CREATE INDEX forwarded_commands_queued ON forwarded_commands (zone_id) WHERE status = 'queued';
