//! Readings: one posted by hand (checked: a plausible temperature, a target within the setpoint range), and
//! readings listed newest first, for all zones or one zone in a time range.

use chrono::{DateTime, Utc};
use heating_core::units::Setpoint;

use super::{AppState, Caller, Role, ServiceError, require, require_zone};
use crate::domain::Page;
use crate::storage::{NewReading, Reading, ReadingFilter, ZoneId};

/// Temperatures outside this range are refused as implausible, °C.
pub const PLAUSIBLE_CELSIUS: std::ops::RangeInclusive<f64> = -60.0..=100.0;

/// A reading as a client posts it.
#[derive(Debug, Clone)]
pub struct ReadingRequest {
    pub zone_id: ZoneId,
    pub temperature: f64,
    pub occupancy: bool,
    pub target_temp: Option<f64>,
    pub heater_on: Option<bool>,
    pub energy_wh: Option<u32>,
    pub outdoor_temp: Option<f64>,
}

fn plausible(field: &str, v: f64) -> Result<f64, ServiceError> {
    if PLAUSIBLE_CELSIUS.contains(&v) {
        Ok(v)
    } else {
        Err(ServiceError::Invalid(format!(
            "{field}: {v} °C is outside the plausible range {}..={} °C",
            PLAUSIBLE_CELSIUS.start(),
            PLAUSIBLE_CELSIUS.end()
        )))
    }
}

/// Stores a reading taken now (server clock). Operators and admins only.
pub async fn create(state: &AppState, caller: &Caller, r: ReadingRequest) -> Result<Reading, ServiceError> {
    require(caller, Role::Operator)?;
    let target_temp = r
        .target_temp
        .map(|t| {
            Setpoint::from_celsius(t)
                .map(Setpoint::celsius)
                .map_err(|e| ServiceError::Invalid(format!("target_temp: {e}")))
        })
        .transpose()?;
    let reading = NewReading {
        zone_id: r.zone_id,
        ts: state.clock.now(),
        temperature: plausible("temperature", r.temperature)?,
        target_temp,
        occupancy: r.occupancy,
        heater_on: r.heater_on,
        energy_wh: r.energy_wh,
        outdoor_temp: r.outdoor_temp.map(|t| plausible("outdoor_temp", t)).transpose()?,
        estimated: crate::storage::Estimated::NONE,
    };
    Ok(state.storage.insert_reading(&reading).await?)
}

/// A page of all zones' readings, newest first.
pub async fn list(state: &AppState, page: Page) -> Result<Vec<Reading>, ServiceError> {
    Ok(state.storage.list_readings(page).await?)
}

/// A page of the zone's readings in `from..=to`, newest first.
pub async fn list_zone(
    state: &AppState,
    id: ZoneId,
    page: Page,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<Reading>, ServiceError> {
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ServiceError::Invalid("from must not be after to".into()));
    }
    require_zone(state, id).await?;
    Ok(state.storage.list_zone_readings(id, ReadingFilter { page, from, to }).await?)
}

/// Stores a batch of readings taken elsewhere (an import, the demo's simulated history): all or none. Returns how
/// many were stored. Operators and admins only.
pub async fn import(state: &AppState, caller: &Caller, readings: &[NewReading]) -> Result<u64, ServiceError> {
    require(caller, Role::Operator)?;
    Ok(state.storage.insert_readings(readings).await?)
}
