-- Device profiles (SQLite): which register map each zone's device speaks, profiles added through the API, and which
-- values of a reading were not measured.

-- The zone's device profile by name (built-in, from DEVICE_PROFILES_DIR, or posted). Zones stored before this
-- migration speak this project's simulator's map.
ALTER TABLE zones ADD COLUMN device_profile TEXT NOT NULL DEFAULT 'heating-sim';
-- The heater's rated power in W when the profile has none (energy is then estimated from heater on-time).
ALTER TABLE zones ADD COLUMN rated_power_w REAL CHECK (rated_power_w IS NULL OR rated_power_w > 0);

-- Profiles posted through `POST /device-profiles` (built-ins and the profiles folder are not stored). A name may have
-- several versions; zones use the highest.
CREATE TABLE device_profiles (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    toml       TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    CONSTRAINT device_profiles_name_version_unique UNIQUE (name, version)
);

-- Which values of a reading were not measured: a bit set, 1 = energy estimated from heater on-time × rated power,
-- 2 = occupancy from the zone's schedule, 4 = heater state inferred. Readings stored before: all measured.
ALTER TABLE sensor_readings ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0 CHECK (estimated >= 0);
