-- Access (SQLite): API tokens, the audit log, and who asked for each command.

-- API tokens. Only the SHA-256 of a token is stored (hex); `prefix` is its first characters (`hst_` and four more),
-- enough to recognise it in a list, not to use it. A revoked token stays, so its name stays taken and the audit
-- log keeps meaning.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_hash   TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    last_used_ms INTEGER,
    expires_ms   INTEGER,
    revoked_ms   INTEGER,
    CONSTRAINT api_tokens_name_unique UNIQUE (name),
    CONSTRAINT api_tokens_hash_unique UNIQUE (token_hash)
);

-- Who changed what: zones, preferences, holds, tokens. No foreign key to zones: the log outlives a deleted zone.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms   INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    zone_id INTEGER,
    details TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(details))
);

CREATE INDEX audit_log_ts ON audit_log (ts_ms);
CREATE INDEX audit_log_zone_ts ON audit_log (zone_id, ts_ms);

-- Who asked for a command: the control job (`control`), a token's name, `local`. Commands logged before this
-- migration: `control` for the control job's, `unknown` for the others.
ALTER TABLE commands ADD COLUMN actor TEXT NOT NULL DEFAULT 'unknown';
UPDATE commands SET actor = 'control' WHERE source = 'control';
