-- Alerts (SQLite): one row per raised alert, kept after it clears (the history). At most one open (not cleared)
-- alert per zone and kind. No foreign key to zones: the history outlives a deleted zone, like the audit log.
CREATE TABLE alerts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
    zone_id            INTEGER NOT NULL,
    kind               TEXT    NOT NULL,
    message            TEXT    NOT NULL,
    raised_ms          INTEGER NOT NULL,
    acknowledged_ms    INTEGER,
    acknowledged_by    TEXT,
    cleared_ms         INTEGER,
    CHECK ((acknowledged_ms IS NULL) = (acknowledged_by IS NULL))
);

CREATE UNIQUE INDEX alerts_one_open ON alerts (zone_id, kind) WHERE cleared_ms IS NULL;
CREATE INDEX alerts_raised ON alerts (raised_ms);
