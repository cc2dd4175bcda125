-- Manual holds (PostgreSQL): the same table as migrations/sqlite/. At most one per zone; gone with the zone.
CREATE TABLE zone_holds (
    zone_id           BIGINT           PRIMARY KEY REFERENCES zones (id) ON DELETE CASCADE,
    target_temp       DOUBLE PRECISION NOT NULL CHECK (target_temp BETWEEN 5.0 AND 35.0),
    until_ms          BIGINT,          -- NULL: until the zone's occupancy changes
    occupied_at_start BOOLEAN          NOT NULL,
    set_ms            BIGINT           NOT NULL,
    source            TEXT             NOT NULL CHECK (source IN ('control', 'manual', 'api'))
);
