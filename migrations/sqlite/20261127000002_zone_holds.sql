-- Manual holds (SQLite), so that a restart does not end them. At most one per zone; gone with the zone.
CREATE TABLE zone_holds (
    zone_id           INTEGER PRIMARY KEY REFERENCES zones (id) ON DELETE CASCADE,
    target_temp       REAL    NOT NULL CHECK (target_temp BETWEEN 5.0 AND 35.0),
    until_ms          INTEGER,          -- NULL: until the zone's occupancy changes
    occupied_at_start INTEGER NOT NULL CHECK (occupied_at_start IN (0, 1)),
    set_ms            INTEGER NOT NULL,
    source            TEXT    NOT NULL CHECK (source IN ('control', 'manual', 'api'))
);
