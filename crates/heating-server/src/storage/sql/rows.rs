//! Row mapping: storage values from a row of either driver, the one generic part of the SQL implementation.

use chrono::{DateTime, Utc};
use heating_core::preferences::Preferences;
use heating_core::units::Setpoint;
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::rollups::RollupBucket;
use crate::storage::model::*;
use crate::storage::{StorageError, ZoneId};
use crate::time::from_ms;

/// Storage values from a row of either driver; what a row needs of its driver is the `where` clause of the `impl`.
pub(super) trait ReadRow: Row {
    fn zone(&self) -> Result<Zone, StorageError>;
    fn reading(&self) -> Result<Reading, StorageError>;
    fn hold(&self) -> Result<StoredHold, StorageError>;
    fn command(&self) -> Result<Command, StorageError>;
    fn token(&self) -> Result<ApiToken, StorageError>;
    fn audit(&self) -> Result<AuditEntry, StorageError>;
    fn alert(&self) -> Result<StoredAlert, StorageError>;
    fn device_profile(&self) -> Result<StoredDeviceProfile, StorageError>;
    fn group(&self) -> Result<ZoneGroup, StorageError>;
    /// A row of a rollup table (`rollups::COLUMNS`): its zone and the bucket.
    fn rollup_bucket(&self) -> Result<(ZoneId, RollupBucket), StorageError>;
}

impl<R: Row> ReadRow for R
where
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    fn zone(&self) -> Result<Zone, StorageError> {
        let id: i64 = self.try_get("id")?;
        let corrupt = |msg: String| StorageError::Corrupt(format!("zone {id}: {msg}"));
        let prefs_text: String = self.try_get("preferences")?;
        let prefs_json: serde_json::Value = serde_json::from_str(&prefs_text).map_err(|e| corrupt(e.to_string()))?;
        let preferences = Preferences::from_stored(prefs_json, |e| {
            tracing::warn!(zone_id = id, "stored {e}: the default applies until the preferences are saved again")
        })
        .map_err(|e| corrupt(e.to_string()))?;
        let port: Option<i64> = self.try_get("modbus_port")?;
        let modbus_port =
            port.map(|p| u16::try_from(p).map_err(|_| corrupt(format!("modbus_port {p} out of range")))).transpose()?;
        let unit: i64 = self.try_get("modbus_unit_id")?;
        let modbus_unit_id = u8::try_from(unit).map_err(|_| corrupt(format!("modbus_unit_id {unit} out of range")))?;
        Ok(Zone {
            id,
            name: self.try_get("name")?,
            preferences,
            modbus_host: self.try_get("modbus_host")?,
            modbus_port,
            modbus_unit_id,
            device_profile: self.try_get("device_profile")?,
            rated_power_w: self.try_get("rated_power_w")?,
            group_id: self.try_get("group_id")?,
            created_at: time_of(self.try_get("created_ms")?, "created_ms")?,
            updated_at: time_of(self.try_get("updated_ms")?, "updated_ms")?,
        })
    }

    fn group(&self) -> Result<ZoneGroup, StorageError> {
        let id: i64 = self.try_get("id")?;
        let kind: String = self.try_get("kind")?;
        Ok(ZoneGroup {
            id,
            name: self.try_get("name")?,
            kind: kind.parse().map_err(|e| StorageError::Corrupt(format!("group {id}: {e}")))?,
            parent_id: self.try_get("parent_id")?,
            created_at: time_of(self.try_get("created_ms")?, "created_ms")?,
            updated_at: time_of(self.try_get("updated_ms")?, "updated_ms")?,
        })
    }

    fn reading(&self) -> Result<Reading, StorageError> {
        let energy: Option<i64> = self.try_get("energy_wh")?;
        let energy_wh = energy
            .map(|e| u32::try_from(e).map_err(|_| StorageError::Corrupt(format!("energy_wh {e} out of range"))))
            .transpose()?;
        Ok(Reading {
            id: self.try_get("id")?,
            zone_id: self.try_get("zone_id")?,
            ts: time_of(self.try_get("ts_ms")?, "ts_ms")?,
            temperature: self.try_get("temperature")?,
            target_temp: self.try_get("target_temp")?,
            occupancy: self.try_get("occupancy")?,
            heater_on: self.try_get("heater_on")?,
            energy_wh,
            outdoor_temp: self.try_get("outdoor_temp")?,
            estimated: Estimated::from_bits(u8::try_from(self.try_get::<i64, _>("estimated")?).unwrap_or(u8::MAX)),
        })
    }

    fn hold(&self) -> Result<StoredHold, StorageError> {
        let until: Option<i64> = self.try_get("until_ms")?;
        Ok(StoredHold {
            zone_id: self.try_get("zone_id")?,
            target: setpoint(self.try_get("target_temp")?)?,
            until: until.map(|ms| time_of(ms, "until_ms")).transpose()?,
            occupied_at_start: self.try_get("occupied_at_start")?,
            set_at: time_of(self.try_get("set_ms")?, "set_ms")?,
            source: self.try_get::<String, _>("source")?.parse().map_err(StorageError::Corrupt)?,
        })
    }

    fn command(&self) -> Result<Command, StorageError> {
        Ok(Command {
            id: self.try_get("id")?,
            zone_id: self.try_get("zone_id")?,
            ts: time_of(self.try_get("ts_ms")?, "ts_ms")?,
            target_temp: setpoint(self.try_get("target_temp")?)?,
            source: self.try_get::<String, _>("source")?.parse().map_err(StorageError::Corrupt)?,
            reason: self.try_get("reason")?,
            status: self.try_get::<String, _>("status")?.parse().map_err(StorageError::Corrupt)?,
            error: self.try_get("error")?,
            actor: self.try_get("actor")?,
        })
    }

    fn token(&self) -> Result<ApiToken, StorageError> {
        let opt_time = |col: &str| -> Result<Option<DateTime<Utc>>, StorageError> {
            self.try_get::<Option<i64>, _>(col)?.map(|ms| time_of(ms, col)).transpose()
        };
        Ok(ApiToken {
            id: self.try_get("id")?,
            name: self.try_get("name")?,
            role: self.try_get::<String, _>("role")?.parse().map_err(StorageError::Corrupt)?,
            prefix: self.try_get("prefix")?,
            created_at: time_of(self.try_get("created_ms")?, "created_ms")?,
            last_used_at: opt_time("last_used_ms")?,
            expires_at: opt_time("expires_ms")?,
            revoked_at: opt_time("revoked_ms")?,
        })
    }

    fn audit(&self) -> Result<AuditEntry, StorageError> {
        let id: i64 = self.try_get("id")?;
        let details: String = self.try_get("details")?;
        Ok(AuditEntry {
            id,
            ts: time_of(self.try_get("ts_ms")?, "ts_ms")?,
            actor: self.try_get("actor")?,
            action: self.try_get("action")?,
            zone_id: self.try_get("zone_id")?,
            details: serde_json::from_str(&details)
                .map_err(|e| StorageError::Corrupt(format!("audit entry {id}: details: {e}")))?,
        })
    }

    fn alert(&self) -> Result<StoredAlert, StorageError> {
        let id: i64 = self.try_get("id")?;
        let kind: String = self.try_get("kind")?;
        let kind = kind.parse().map_err(|e| StorageError::Corrupt(format!("alert {id}: {e}")))?;
        let ack_ms: Option<i64> = self.try_get("acknowledged_ms")?;
        let ack_by: Option<String> = self.try_get("acknowledged_by")?;
        let acknowledged = match (ack_ms, ack_by) {
            (Some(ms), Some(by)) => Some((time_of(ms, "acknowledged_ms")?, by)),
            _ => None,
        };
        let cleared: Option<i64> = self.try_get("cleared_ms")?;
        Ok(StoredAlert {
            id,
            zone_id: self.try_get("zone_id")?,
            kind,
            message: self.try_get("message")?,
            raised_at: time_of(self.try_get("raised_ms")?, "raised_ms")?,
            acknowledged,
            cleared_at: cleared.map(|ms| time_of(ms, "cleared_ms")).transpose()?,
        })
    }

    fn device_profile(&self) -> Result<StoredDeviceProfile, StorageError> {
        let version: i64 = self.try_get("version")?;
        Ok(StoredDeviceProfile {
            id: self.try_get("id")?,
            name: self.try_get("name")?,
            version: u32::try_from(version)
                .map_err(|_| StorageError::Corrupt(format!("device profile version {version} out of range")))?,
            toml: self.try_get("toml")?,
            created_at: time_of(self.try_get("created_ms")?, "created_ms")?,
            actor: self.try_get("actor")?,
        })
    }

    fn rollup_bucket(&self) -> Result<(ZoneId, RollupBucket), StorageError> {
        let bucket = RollupBucket {
            start: time_of(self.try_get("bucket_ms")?, "bucket_ms")?,
            count: self.try_get("n")?,
            temperature: (self.try_get("temp_min")?, self.try_get("temp_sum")?, self.try_get("temp_max")?),
            target: (
                self.try_get("target_n")?,
                self.try_get("target_min")?,
                self.try_get("target_sum")?,
                self.try_get("target_max")?,
            ),
            outdoor: (
                self.try_get("outdoor_n")?,
                self.try_get("outdoor_min")?,
                self.try_get("outdoor_sum")?,
                self.try_get("outdoor_max")?,
            ),
            heater: (self.try_get("heater_n")?, self.try_get("heater_on_n")?),
            occupied: self.try_get("occupied_n")?,
            energy: (
                self.try_get("energy_n")?,
                self.try_get("energy_first")?,
                self.try_get("energy_last")?,
                self.try_get("energy_used")?,
            ),
        };
        Ok((self.try_get("zone_id")?, bucket))
    }
}

pub(super) fn time_of(ms: i64, what: &str) -> Result<DateTime<Utc>, StorageError> {
    from_ms(ms).ok_or_else(|| StorageError::Corrupt(format!("{what} {ms} is not a valid time")))
}

fn setpoint(celsius: f64) -> Result<Setpoint, StorageError> {
    Setpoint::from_celsius(celsius).map_err(|e| StorageError::Corrupt(e.to_string()))
}
