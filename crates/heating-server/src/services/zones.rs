//! The zone registry: create, read, list, update and delete zones, with their rules (a trimmed name of 1-100
//! characters, valid and complete preferences, a lower-cased Modbus host; a taken name or endpoint is a conflict;
//! a zone with history is deleted only with `cascade`). Every change marks the fleet dirty, so the poller and the
//! control job pick it up at their next cycle.

use std::num::NonZeroU16;

use heating_core::preferences::Preferences;
use serde_json::Value;

use super::{AppState, ServiceError, require_zone};
use crate::domain::{ModbusHost, Page, ZoneName};
use crate::storage::{Command, Reading, ReadingFilter, Zone, ZoneFields, ZoneId};

/// A zone to register, as a client sent it.
#[derive(Debug, Clone, Default)]
pub struct NewZone {
    pub name: String,
    /// A JSON object of preferences; absent or null: the defaults.
    pub preferences: Option<Value>,
    /// No port: the zone has no device.
    pub modbus_port: Option<NonZeroU16>,
    /// Default `localhost`.
    pub modbus_host: Option<String>,
    /// Default 1.
    pub modbus_unit_id: Option<u8>,
}

/// Changes to a zone: each field given replaces the current value; `preferences` are merged key by key.
#[derive(Debug, Clone, Default)]
pub struct ZonePatch {
    pub name: Option<String>,
    pub preferences: Option<Value>,
    /// `Some(None)` removes the device.
    pub modbus_port: Option<Option<NonZeroU16>>,
    pub modbus_host: Option<String>,
    pub modbus_unit_id: Option<u8>,
}

/// A zone with its latest readings and commands.
#[derive(Debug, Clone)]
pub struct ZoneDetails {
    pub zone: Zone,
    pub readings: Vec<Reading>,
    pub commands: Vec<Command>,
}

fn parse_preferences(value: Option<Value>) -> Result<Preferences, ServiceError> {
    match value {
        None | Some(Value::Null) => Ok(Preferences::default()),
        Some(v) => Preferences::parse_valid(v).map_err(|e| ServiceError::Invalid(e.0)),
    }
}

fn parse_host(raw: Option<&str>) -> Result<ModbusHost, ServiceError> {
    raw.map_or_else(|| Ok(ModbusHost::default()), |h| ModbusHost::parse(h).map_err(ServiceError::Invalid))
}

/// Registers a zone.
pub async fn create(state: &AppState, new: NewZone) -> Result<Zone, ServiceError> {
    let fields = ZoneFields {
        name: ZoneName::parse(&new.name).map_err(ServiceError::Invalid)?,
        preferences: parse_preferences(new.preferences)?,
        modbus_host: parse_host(new.modbus_host.as_deref())?,
        modbus_port: new.modbus_port,
        modbus_unit_id: new.modbus_unit_id.unwrap_or(heating_core::registers::DEFAULT_UNIT_ID),
    };
    let zone = state.storage.create_zone(&fields, state.clock.now()).await?;
    state.fleet.mark_dirty();
    tracing::info!(zone_id = zone.id, name = %zone.name, "zone registered");
    Ok(zone)
}

pub async fn get(state: &AppState, id: ZoneId) -> Result<Zone, ServiceError> {
    require_zone(state, id).await
}

/// A page of zones, by id.
pub async fn list(state: &AppState, page: Page) -> Result<Vec<Zone>, ServiceError> {
    Ok(state.storage.list_zones_page(page).await?)
}

/// Applies `patch` to the zone.
pub async fn update(state: &AppState, id: ZoneId, patch: ZonePatch) -> Result<Zone, ServiceError> {
    let current = require_zone(state, id).await?;
    let mut fields = ZoneFields::of(&current).map_err(|e| ServiceError::Internal(anyhow::anyhow!("zone {id}: {e}")))?;
    if let Some(name) = patch.name {
        fields.name = ZoneName::parse(&name).map_err(ServiceError::Invalid)?;
    }
    if let Some(changes) = patch.preferences {
        let merged = current.preferences.merged(changes).map_err(|e| ServiceError::Invalid(e.0))?;
        merged.validate().map_err(|e| ServiceError::Invalid(e.0))?;
        fields.preferences = merged;
    }
    if let Some(host) = patch.modbus_host {
        fields.modbus_host = ModbusHost::parse(&host).map_err(ServiceError::Invalid)?;
    }
    if let Some(port) = patch.modbus_port {
        fields.modbus_port = port;
    }
    if let Some(unit) = patch.modbus_unit_id {
        fields.modbus_unit_id = unit;
    }
    let zone = state.storage.update_zone(id, &fields, state.clock.now()).await?;
    state.fleet.mark_dirty();
    Ok(zone)
}

/// Deletes the zone; with `cascade` its readings, commands and hold too, in one transaction. Returns the zone as
/// it was.
pub async fn delete(state: &AppState, id: ZoneId, cascade: bool) -> Result<Zone, ServiceError> {
    let zone = require_zone(state, id).await?;
    state.storage.delete_zone(id, cascade).await?;
    state.fleet.mark_dirty();
    tracing::info!(zone_id = id, cascade, "zone deleted");
    Ok(zone)
}

/// The zone with its newest readings and commands (`page` of each).
pub async fn details(state: &AppState, id: ZoneId, page: Page) -> Result<ZoneDetails, ServiceError> {
    let zone = require_zone(state, id).await?;
    let readings = state.storage.list_zone_readings(id, ReadingFilter { page, from: None, to: None }).await?;
    let commands = state.storage.list_zone_commands(id, page).await?;
    Ok(ZoneDetails { zone, readings, commands })
}
