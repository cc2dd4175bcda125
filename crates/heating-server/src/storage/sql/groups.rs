//! Zone groups: a tree of named groups (`parent_id`), and which group each zone belongs to (`zones.group_id`).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::rows::ReadRow;
use crate::storage::{GroupFields, GroupId, Storage, StorageError, Zone, ZoneGroup, ZoneId};
use crate::time::to_ms;

const COLUMNS: &str = "id, name, kind, parent_id, created_ms, updated_ms";

/// A unique violation on `zone_groups` is a sibling with the same name; a foreign-key violation a missing parent.
fn group_write_error(e: sqlx::Error, f: &GroupFields) -> StorageError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let under = f.parent_id.map_or_else(|| "at the top level".to_string(), |p| format!("in group {p}"));
            return StorageError::Conflict(format!("a group named {:?} already exists {under}", f.name.as_str()));
        }
        if db.is_foreign_key_violation() {
            return StorageError::NotFound { what: "parent group" };
        }
    }
    e.into()
}

impl Storage {
    /// Creates a group. `Conflict` when a sibling has the name; `NotFound` when the parent does not exist.
    pub async fn create_group(&self, f: &GroupFields, now: DateTime<Utc>) -> Result<ZoneGroup, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!(
                "INSERT INTO zone_groups (name, kind, parent_id, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $4) \
                 RETURNING {COLUMNS}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(f.name.as_str())
                .bind(f.kind.as_str())
                .bind(f.parent_id)
                .bind(to_ms(now))
                .fetch_one(pool)
                .await
                .map_err(|e| group_write_error(e, f))?;
            row.group()
        })
    }

    pub async fn get_group(&self, id: GroupId) -> Result<Option<ZoneGroup>, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!("SELECT {COLUMNS} FROM zone_groups WHERE id = $1");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(ReadRow::group)
                .transpose()
        })
    }

    /// The zones of group `id` and of every group below it, by id: one query, reading only those zones (nothing for
    /// an unknown group).
    pub async fn list_zones_in_group(&self, id: GroupId) -> Result<Vec<Zone>, StorageError> {
        on_backend!(self, |pool| {
            let sql = concat!(
                "WITH RECURSIVE subtree(id) AS (SELECT id FROM zone_groups WHERE id = $1 ",
                "UNION SELECT g.id FROM zone_groups g JOIN subtree s ON g.parent_id = s.id) SELECT ",
                columns!(zones),
                " FROM zones WHERE group_id IN (SELECT id FROM subtree) ORDER BY id"
            );
            sqlx::query(sql).bind(id).fetch_all(pool).await?.iter().map(ReadRow::zone).collect()
        })
    }

    /// Every group, by id.
    pub async fn list_groups(&self) -> Result<Vec<ZoneGroup>, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!("SELECT {COLUMNS} FROM zone_groups ORDER BY id");
            sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?.iter().map(ReadRow::group).collect()
        })
    }

    /// Replaces a group's fields (rename, move). `NotFound`, or `Conflict` as [`Storage::create_group`]. The caller
    /// checks that the new parent is not the group itself or below it.
    pub async fn update_group(
        &self,
        id: GroupId,
        f: &GroupFields,
        now: DateTime<Utc>,
    ) -> Result<ZoneGroup, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!(
                "UPDATE zone_groups SET name = $1, kind = $2, parent_id = $3, updated_ms = $4 WHERE id = $5 \
                 RETURNING {COLUMNS}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(f.name.as_str())
                .bind(f.kind.as_str())
                .bind(f.parent_id)
                .bind(to_ms(now))
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(|e| group_write_error(e, f))?;
            row.as_ref().map_or(Err(StorageError::NotFound { what: "group" }), ReadRow::group)
        })
    }

    /// Deletes an empty group: `Conflict` while it has subgroups or zones (counted in the same statement as the
    /// delete's foreign keys check them, so a group filled meanwhile is refused by the keys), `NotFound` if none.
    pub async fn delete_group(&self, id: GroupId) -> Result<(), StorageError> {
        on_backend!(self, |pool| {
            let row = sqlx::query(
                "SELECT (SELECT COUNT(*) FROM zone_groups WHERE parent_id = $1) AS children, \
                 (SELECT COUNT(*) FROM zones WHERE group_id = $1) AS zones",
            )
            .bind(id)
            .fetch_one(pool)
            .await?;
            let (children, zones): (i64, i64) = (row.try_get("children")?, row.try_get("zones")?);
            if children > 0 || zones > 0 {
                return Err(StorageError::Conflict(format!(
                    "group {id} is not empty ({children} subgroups, {zones} zones): move or delete them first"
                )));
            }
            let done = sqlx::query("DELETE FROM zone_groups WHERE id = $1").bind(id).execute(pool).await.map_err(
                |e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StorageError::Conflict(format!("group {id} is not empty: move or delete its members first"))
                    }
                    _ => e.into(),
                },
            )?;
            if done.rows_affected() == 0 {
                return Err(StorageError::NotFound { what: "group" });
            }
            Ok(())
        })
    }

    /// Puts a zone in a group (`None`: in none). `NotFound` for a missing zone (`zone`) or group (`group`).
    pub async fn set_zone_group(
        &self,
        zone: ZoneId,
        group: Option<GroupId>,
        now: DateTime<Utc>,
    ) -> Result<Zone, StorageError> {
        on_backend!(self, |pool| {
            let sql =
                concat!("UPDATE zones SET group_id = $1, updated_ms = $2 WHERE id = $3 RETURNING ", columns!(zones));
            let row =
                sqlx::query(sql).bind(group).bind(to_ms(now)).bind(zone).fetch_optional(pool).await.map_err(|e| {
                    match &e {
                        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                            StorageError::NotFound { what: "group" }
                        }
                        _ => e.into(),
                    }
                })?;
            row.as_ref().map_or(Err(StorageError::NotFound { what: "zone" }), ReadRow::zone)
        })
    }
}
