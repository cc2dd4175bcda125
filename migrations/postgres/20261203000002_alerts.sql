-- Alerts (PostgreSQL): the same table as migrations/sqlite/. One row per raised alert, kept after it clears; at
-- most one open (not cleared) alert per zone and kind; no foreign key to zones (the history outlives a zone).
CREATE TABLE alerts (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    zone_id            BIGINT NOT NULL,
    kind               TEXT   NOT NULL,
    message            TEXT   NOT NULL,
    raised_ms          BIGINT NOT NULL,
    acknowledged_ms    BIGINT,
    acknowledged_by    TEXT,
    cleared_ms         BIGINT,
    CHECK ((acknowledged_ms IS NULL) = (acknowledged_by IS NULL))
);

CREATE UNIQUE INDEX alerts_one_open ON alerts (zone_id, kind) WHERE cleared_ms IS NULL;
CREATE INDEX alerts_raised ON alerts (raised_ms);
