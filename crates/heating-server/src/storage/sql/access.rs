//! API tokens and the audit log. Tokens are stored as the SHA-256 of the token (the caller hashes it; nothing here
//! sees a token), looked up by that hash through its unique index. Audit entries are only ever added.

use chrono::{DateTime, Utc};

use super::rows::ReadRow;
use crate::domain::Page;
use crate::storage::{ApiToken, AuditEntry, NewAuditEntry, NewToken, Storage, StorageError, TokenId, ZoneId};
use crate::time::to_ms;

const TOKEN_COLUMNS: &str = "id, name, role, prefix, created_ms, last_used_ms, expires_ms, revoked_ms";
const AUDIT_COLUMNS: &str = "id, ts_ms, actor, action, zone_id, details";

impl Storage {
    /// Stores a token. `Conflict` when its name is taken (by an active or a revoked token).
    pub async fn create_token(&self, t: &NewToken) -> Result<ApiToken, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!(
                "INSERT INTO api_tokens (name, role, token_hash, prefix, created_ms, expires_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(t.name.as_str())
                .bind(t.role.as_str())
                .bind(t.token_hash.as_str())
                .bind(t.prefix.as_str())
                .bind(to_ms(t.created_at))
                .bind(t.expires_at.map(to_ms))
                .fetch_one(pool)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => {
                        StorageError::Conflict(format!("a token named {:?} already exists", t.name.as_str()))
                    }
                    _ => e.into(),
                })?;
            row.token()
        })
    }

    /// The token whose hash is `token_hash`, active or not.
    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token_hash).fetch_optional(pool).await?;
            row.as_ref().map(ReadRow::token).transpose()
        })
    }

    /// The token with this id, active or not.
    pub async fn get_token(&self, id: TokenId) -> Result<Option<ApiToken>, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(ReadRow::token).transpose()
        })
    }

    /// The token named `name`, active or not.
    pub async fn token_by_name(&self, name: &str) -> Result<Option<ApiToken>, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE name = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name).fetch_optional(pool).await?;
            row.as_ref().map(ReadRow::token).transpose()
        })
    }

    /// A page of tokens (revoked ones included), by id.
    pub async fn list_tokens(&self, page: Page) -> Result<Vec<ApiToken>, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id LIMIT $1 OFFSET $2");
            let rows =
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(page.limit()).bind(page.skip()).fetch_all(pool).await?;
            rows.iter().map(ReadRow::token).collect()
        })
    }

    /// Revokes a token at `now` (a token revoked before keeps its first revocation time); the token as it is then.
    /// `NotFound` (`what`: "token").
    pub async fn revoke_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<ApiToken, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!(
                "UPDATE api_tokens SET revoked_ms = COALESCE(revoked_ms, $1) WHERE id = $2 RETURNING {TOKEN_COLUMNS}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to_ms(now)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map_or(Err(StorageError::NotFound { what: "token" }), ReadRow::token)
        })
    }

    /// Records that the token was used at `now`.
    pub async fn touch_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<(), StorageError> {
        on_backend!(self, |pool| {
            sqlx::query("UPDATE api_tokens SET last_used_ms = $1 WHERE id = $2")
                .bind(to_ms(now))
                .bind(id)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Adds an entry to the audit log.
    pub async fn insert_audit(&self, e: &NewAuditEntry) -> Result<AuditEntry, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!(
                "INSERT INTO audit_log (ts_ms, actor, action, zone_id, details) VALUES ($1, $2, $3, $4, $5) \
                 RETURNING {AUDIT_COLUMNS}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(to_ms(e.ts))
                .bind(e.actor.as_str())
                .bind(e.action.as_str())
                .bind(e.zone_id)
                .bind(e.details.to_string())
                .fetch_one(pool)
                .await?;
            row.audit()
        })
    }

    /// A page of the audit log, newest first; only one zone's entries when `zone_id` is given.
    pub async fn list_audit(&self, zone_id: Option<ZoneId>, page: Page) -> Result<Vec<AuditEntry>, StorageError> {
        on_backend!(self, |pool| {
            let filter = if zone_id.is_some() { "WHERE zone_id = $3 " } else { "" };
            let sql = format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log {filter}ORDER BY ts_ms DESC, id DESC LIMIT $1 OFFSET $2"
            );
            let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(page.limit()).bind(page.skip());
            let query = if let Some(id) = zone_id { query.bind(id) } else { query };
            let rows = query.fetch_all(pool).await?;
            rows.iter().map(ReadRow::audit).collect()
        })
    }
}
