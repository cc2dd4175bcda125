-- Access (PostgreSQL): the same tables and columns as migrations/sqlite/: API tokens, the audit log, and who asked
-- for each command.

CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT   NOT NULL,
    role         TEXT   NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_hash   TEXT   NOT NULL, -- SHA-256 of the token, hex; the token itself is never stored
    prefix       TEXT   NOT NULL,
    created_ms   BIGINT NOT NULL,
    last_used_ms BIGINT,
    expires_ms   BIGINT,
    revoked_ms   BIGINT,
    CONSTRAINT api_tokens_name_unique UNIQUE (name),
    CONSTRAINT api_tokens_hash_unique UNIQUE (token_hash)
);

-- No foreign key to zones: the log outlives a deleted zone.
CREATE TABLE audit_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts_ms   BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    action  TEXT   NOT NULL,
    zone_id BIGINT,
    details TEXT   NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_ts ON audit_log (ts_ms);
CREATE INDEX audit_log_zone_ts ON audit_log (zone_id, ts_ms);

ALTER TABLE commands ADD COLUMN actor TEXT NOT NULL DEFAULT 'unknown';
UPDATE commands SET actor = 'control' WHERE source = 'control';
