//! Device profiles posted through the API: stored as their TOML text, one row per name and version.

use super::rows::ReadRow;
use crate::storage::{NewDeviceProfile, Storage, StorageError, StoredDeviceProfile};
use crate::time::to_ms;

const COLUMNS: &str = "id, name, version, toml, created_ms, actor";

impl Storage {
    /// Stores a profile. `Conflict` when that name already has that version.
    pub async fn insert_device_profile(&self, p: &NewDeviceProfile) -> Result<StoredDeviceProfile, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!(
                "INSERT INTO device_profiles (name, version, toml, created_ms, actor) VALUES ($1, $2, $3, $4, $5) \
                 RETURNING {COLUMNS}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(p.name.as_str())
                .bind(i64::from(p.version))
                .bind(p.toml.as_str())
                .bind(to_ms(p.created_at))
                .bind(p.actor.as_str())
                .fetch_one(pool)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict(format!(
                        "device profile {:?} version {} already exists",
                        p.name, p.version
                    )),
                    _ => e.into(),
                })?;
            row.device_profile()
        })
    }

    /// Every stored profile, by name then version.
    pub async fn list_device_profiles(&self) -> Result<Vec<StoredDeviceProfile>, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!("SELECT {COLUMNS} FROM device_profiles ORDER BY name, version");
            sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?.iter().map(ReadRow::device_profile).collect()
        })
    }
}
