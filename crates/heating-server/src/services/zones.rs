//! The zone registry: create, read, list, update and delete zones, with their rules (a trimmed name of 1-100
//! characters, valid and complete preferences, a lower-cased Modbus host; a taken name or endpoint is a conflict;
//! a zone with history is deleted only with `cascade`). Every change marks the fleet dirty, so the poller and the
//! control job pick it up at their next cycle.
//!
//! Changes are for admins only (they include the device endpoint the server connects to), are recorded in the
//! audit log, and a device endpoint must lie inside `DEVICE_NETWORKS` when that is set.

use std::num::NonZeroU16;

use heating_core::preferences::Preferences;
use serde_json::{Map, Value, json};

use super::audit::{self, Change};
use super::{AppState, Caller, Role, ServiceError, require, require_zone};
use crate::domain::{ModbusHost, Page, ZoneName};
use crate::storage::{Command, GroupId, Reading, ReadingFilter, StorageError, Zone, ZoneFields, ZoneId};

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
    /// Default `heating-sim`.
    pub device_profile: Option<String>,
    pub rated_power_w: Option<f64>,
    /// The group to put the zone in (default: none).
    pub group_id: Option<GroupId>,
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
    pub device_profile: Option<String>,
    /// `Some(None)` removes it.
    pub rated_power_w: Option<Option<f64>>,
    /// `Some(None)`: in no group.
    pub group_id: Option<Option<GroupId>>,
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

/// With `DEVICE_NETWORKS` set, a zone with a device (a port) must have its host inside them.
fn check_device_network(state: &AppState, fields: &ZoneFields) -> Result<(), ServiceError> {
    if fields.modbus_port.is_none() {
        return Ok(());
    }
    state.config.auth.device_networks.check_host(fields.modbus_host.as_str()).map_err(ServiceError::Invalid)
}

/// The zone's fields as the audit log shows them.
fn audit_fields(zone: &Zone) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(zone.name));
    m.insert("modbus_host".into(), json!(zone.modbus_host));
    m.insert("modbus_port".into(), json!(zone.modbus_port));
    m.insert("modbus_unit_id".into(), json!(zone.modbus_unit_id));
    m.insert("device_profile".into(), json!(zone.device_profile));
    m.insert("rated_power_w".into(), json!(zone.rated_power_w));
    m.insert("group_id".into(), json!(zone.group_id));
    m.insert("preferences".into(), zone.preferences.to_json());
    m
}

/// What an update changed: `{"field": {"from": .., "to": ..}}`, preferences key by key (`preferences.min_temp`).
fn changes(before: &Zone, after: &Zone) -> Value {
    let (mut a, mut b) = (audit_fields(before), audit_fields(after));
    let (pa, pb) = (a.remove("preferences"), b.remove("preferences"));
    let mut out = Map::new();
    for (k, from) in &a {
        let to = b.get(k).cloned().unwrap_or(Value::Null);
        if *from != to {
            out.insert(k.clone(), json!({"from": from, "to": to}));
        }
    }
    let empty = Map::new();
    let (pa, pb) = (pa.as_ref().and_then(Value::as_object), pb.as_ref().and_then(Value::as_object));
    let (pa, pb) = (pa.unwrap_or(&empty), pb.unwrap_or(&empty));
    for k in pa.keys().chain(pb.keys().filter(|k| !pa.contains_key(*k))) {
        let (from, to) = (pa.get(k).unwrap_or(&Value::Null), pb.get(k).unwrap_or(&Value::Null));
        if from != to {
            out.insert(format!("preferences.{k}"), json!({"from": from, "to": to}));
        }
    }
    Value::Object(out)
}

/// A known profile's name (default `heating-sim`), or `Invalid` listing the known ones.
fn check_profile(state: &AppState, name: Option<String>) -> Result<String, ServiceError> {
    let name = name.unwrap_or_else(|| device_profile::DEFAULT_PROFILE.to_string());
    if state.profiles.get(&name).is_some() {
        Ok(name)
    } else {
        Err(ServiceError::Invalid(format!(
            "device_profile: unknown device profile {name:?} (known: {})",
            state.profiles.names()
        )))
    }
}

fn check_rated_power(power: Option<f64>) -> Result<Option<f64>, ServiceError> {
    match power {
        Some(p) if !(p.is_finite() && p > 0.0 && p <= 1_000_000.0) => {
            Err(ServiceError::Invalid(format!("rated_power_w: must be above 0 and at most 1000000 W, got {p}")))
        }
        other => Ok(other),
    }
}

/// The group exists, or `Invalid` naming `group_id`.
async fn check_group(state: &AppState, id: GroupId) -> Result<(), ServiceError> {
    match state.storage.get_group(id).await? {
        Some(_) => Ok(()),
        None => Err(ServiceError::Invalid(format!("group_id: no group {id}"))),
    }
}

/// Puts the zone in the group; a group deleted meanwhile is `Invalid` as in [`check_group`].
async fn set_group(state: &AppState, zone: ZoneId, group: Option<GroupId>) -> Result<Zone, ServiceError> {
    state.storage.set_zone_group(zone, group, state.clock.now()).await.map_err(|e| match (e, group) {
        (StorageError::NotFound { what: "group" }, Some(g)) => ServiceError::Invalid(format!("group_id: no group {g}")),
        (e, _) => e.into(),
    })
}

/// Registers a zone. Admins only.
pub async fn create(state: &AppState, caller: &Caller, new: NewZone) -> Result<Zone, ServiceError> {
    require(caller, Role::Admin)?;
    let fields = ZoneFields {
        name: ZoneName::parse(&new.name).map_err(ServiceError::Invalid)?,
        preferences: parse_preferences(new.preferences)?,
        modbus_host: parse_host(new.modbus_host.as_deref())?,
        modbus_port: new.modbus_port,
        modbus_unit_id: new.modbus_unit_id.unwrap_or(heating_core::registers::DEFAULT_UNIT_ID),
        device_profile: check_profile(state, new.device_profile)?,
        rated_power_w: check_rated_power(new.rated_power_w)?,
    };
    check_device_network(state, &fields)?;
    if let Some(g) = new.group_id {
        check_group(state, g).await?;
    }
    let mut zone = state.storage.create_zone(&fields, state.clock.now()).await?;
    if new.group_id.is_some() {
        zone = set_group(state, zone.id, new.group_id).await?;
    }
    state.fleet.mark_dirty();
    let change = Change { action: "zone.create", zone_id: Some(zone.id), details: Value::Object(audit_fields(&zone)) };
    audit::record(state, caller, zone.created_at, change).await;
    tracing::info!(zone_id = zone.id, name = %zone.name, by = %caller.name, "zone registered");
    Ok(zone)
}

pub async fn get(state: &AppState, id: ZoneId) -> Result<Zone, ServiceError> {
    require_zone(state, id).await
}

/// A page of zones, by id.
pub async fn list(state: &AppState, page: Page) -> Result<Vec<Zone>, ServiceError> {
    Ok(state.storage.list_zones_page(page).await?)
}

/// Applies `patch` to the zone. Admins only.
pub async fn update(state: &AppState, caller: &Caller, id: ZoneId, patch: ZonePatch) -> Result<Zone, ServiceError> {
    require(caller, Role::Admin)?;
    let endpoint_changes = patch.modbus_host.is_some() || patch.modbus_port.is_some();
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
    if endpoint_changes {
        check_device_network(state, &fields)?;
    }
    if let Some(name) = patch.device_profile {
        fields.device_profile = check_profile(state, Some(name))?;
    }
    if let Some(power) = patch.rated_power_w {
        fields.rated_power_w = check_rated_power(power)?;
    }
    if let Some(Some(g)) = patch.group_id {
        check_group(state, g).await?;
    }
    let mut zone = state.storage.update_zone(id, &fields, state.clock.now()).await?;
    if let Some(group) = patch.group_id {
        zone = set_group(state, id, group).await?;
    }
    state.fleet.mark_dirty();
    let change = Change { action: "zone.update", zone_id: Some(id), details: changes(&current, &zone) };
    audit::record(state, caller, zone.updated_at, change).await;
    Ok(zone)
}

/// Deletes the zone; with `cascade` its readings, commands and hold too, in one transaction. Returns the zone as
/// it was. Admins only.
pub async fn delete(state: &AppState, caller: &Caller, id: ZoneId, cascade: bool) -> Result<Zone, ServiceError> {
    require(caller, Role::Admin)?;
    let zone = require_zone(state, id).await?;
    state.storage.delete_zone(id, cascade).await?;
    state.fleet.mark_dirty();
    let mut details = audit_fields(&zone);
    details.insert("cascade".into(), json!(cascade));
    let change = Change { action: "zone.delete", zone_id: Some(id), details: Value::Object(details) };
    audit::record(state, caller, state.clock.now(), change).await;
    tracing::info!(zone_id = id, cascade, by = %caller.name, "zone deleted");
    Ok(zone)
}

/// The zone with its newest readings and commands (`page` of each).
pub async fn details(state: &AppState, id: ZoneId, page: Page) -> Result<ZoneDetails, ServiceError> {
    let zone = require_zone(state, id).await?;
    let readings = state.storage.list_zone_readings(id, ReadingFilter { page, from: None, to: None }).await?;
    let commands = state.storage.list_zone_commands(id, page).await?;
    Ok(ZoneDetails { zone, readings, commands })
}
