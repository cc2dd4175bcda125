//! Alerts: raised by the alert job, acknowledged by operators, cleared by the job. A row is never deleted (the
//! history); at most one alert per zone and kind is open (not cleared), kept by the partial unique index
//! `alerts_one_open`.

use chrono::{DateTime, Utc};

use super::rows::ReadRow;
use crate::storage::{AlertFilter, AlertId, AlertStates, NewAlert, Storage, StorageError, StoredAlert};
use crate::time::to_ms;

const ALERT_COLUMNS: &str = "id, zone_id, kind, message, raised_ms, acknowledged_ms, acknowledged_by, cleared_ms";

impl Storage {
    /// Raises an alert. `Conflict` when the zone has an open alert of that kind already.
    pub async fn insert_alert(&self, a: &NewAlert) -> Result<StoredAlert, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!(
                "INSERT INTO alerts (zone_id, kind, message, raised_ms) VALUES ($1, $2, $3, $4) \
                 RETURNING {ALERT_COLUMNS}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(a.zone_id)
                .bind(a.kind.as_str())
                .bind(a.message.as_str())
                .bind(to_ms(a.raised_at))
                .fetch_one(pool)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => {
                        StorageError::Conflict(format!("zone {} has an open {} alert", a.zone_id, a.kind))
                    }
                    _ => e.into(),
                })?;
            row.alert()
        })
    }

    /// The alert with this id.
    pub async fn get_alert(&self, id: AlertId) -> Result<Option<StoredAlert>, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(ReadRow::alert).transpose()
        })
    }

    /// Records who acknowledged an open alert, and when; an alert acknowledged before keeps its first
    /// acknowledgement. `None` when no open alert has this id (it does not exist or has cleared).
    pub async fn acknowledge_alert(
        &self,
        id: AlertId,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<StoredAlert>, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!(
                "UPDATE alerts SET acknowledged_ms = COALESCE(acknowledged_ms, $1), \
                 acknowledged_by = COALESCE(acknowledged_by, $2) \
                 WHERE id = $3 AND cleared_ms IS NULL RETURNING {ALERT_COLUMNS}"
            );
            let row =
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to_ms(at)).bind(actor).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(ReadRow::alert).transpose()
        })
    }

    /// Clears an open alert at `at`; an alert cleared before keeps its time. `NotFound` (`what`: "alert").
    pub async fn clear_alert(&self, id: AlertId, at: DateTime<Utc>) -> Result<StoredAlert, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!(
                "UPDATE alerts SET cleared_ms = COALESCE(cleared_ms, $1) WHERE id = $2 RETURNING {ALERT_COLUMNS}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to_ms(at)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map_or(Err(StorageError::NotFound { what: "alert" }), ReadRow::alert)
        })
    }

    /// Every open alert (active or acknowledged): at most one per zone and kind, by id.
    pub async fn open_alerts(&self) -> Result<Vec<StoredAlert>, StorageError> {
        on_backend!(self, |pool| {
            let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE cleared_ms IS NULL ORDER BY id");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            rows.iter().map(ReadRow::alert).collect()
        })
    }

    /// A page of alerts, newest first (`raised_ms DESC, id DESC`), in the states asked for, of one zone or all.
    pub async fn list_alerts(&self, f: AlertFilter) -> Result<Vec<StoredAlert>, StorageError> {
        on_backend!(self, |pool| {
            let mut conditions = Vec::new();
            match f.states {
                AlertStates::Open => conditions.push("cleared_ms IS NULL"),
                AlertStates::Active => conditions.push("cleared_ms IS NULL AND acknowledged_ms IS NULL"),
                AlertStates::Acknowledged => conditions.push("cleared_ms IS NULL AND acknowledged_ms IS NOT NULL"),
                AlertStates::Cleared => conditions.push("cleared_ms IS NOT NULL"),
                AlertStates::All => {}
            }
            if f.zone_id.is_some() {
                conditions.push("zone_id = $3");
            }
            let filter =
                if conditions.is_empty() { String::new() } else { format!("WHERE {} ", conditions.join(" AND ")) };
            let sql = format!(
                "SELECT {ALERT_COLUMNS} FROM alerts {filter}ORDER BY raised_ms DESC, id DESC LIMIT $1 OFFSET $2"
            );
            let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(f.page.limit()).bind(f.page.skip());
            let query = if let Some(id) = f.zone_id { query.bind(id) } else { query };
            let rows = query.fetch_all(pool).await?;
            rows.iter().map(ReadRow::alert).collect()
        })
    }
}
