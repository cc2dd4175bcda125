-- The hourly rollups folded from the 15-minute ones (SQLite). Until now every reading was merged into all three
-- rollup levels as it was stored; from now on only into the 1-minute and 15-minute levels, and the hourly level is
-- filled from the 15-minute one a quarter at a time, in the same transaction that stores the readings.
--
-- `rollup_fold.folded_ms` (one row) is the watermark: `readings_1h` holds exactly the 15-minute buckets that start
-- before it; the 15-minute buckets at or after it are pending, and readers of the hourly level add them. Every
-- level held everything before this migration, so the watermark starts after the newest bucket (0 on an empty
-- database: nothing folded, nothing pending).

CREATE TABLE rollup_fold (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    folded_ms INTEGER NOT NULL CHECK (folded_ms % 900000 = 0)
);

INSERT INTO rollup_fold (id, folded_ms)
SELECT 1, COALESCE(
    (SELECT MAX(bucket_ms) + 900000 FROM readings_15m),
    (SELECT MAX(bucket_ms) + 3600000 FROM readings_1h),
    0
);

-- The fold reads the quarters of all zones between two watermarks.
CREATE INDEX readings_15m_bucket ON readings_15m (bucket_ms);
