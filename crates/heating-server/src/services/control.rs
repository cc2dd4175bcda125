//! Manual control: a target written now and held against the control job ([`set_target`]), a hold cancelled
//! ([`cancel_hold`]), and the prototype's `POST /commands/` ([`create_command`]), which sends like manual control
//! with source `api` and, for a zone without a device, only logs the command as `pending`.
//!
//! A target outside 5..=35 °C or the zone's `min_temp..=max_temp` is refused before anything is sent. Every write
//! goes through [`send_target`], so it has a command row with its outcome.
//!
//! Operators and admins only; each command records its caller as `actor`, and holds set or cancelled are
//! recorded in the audit log.

use chrono::{DateTime, Duration, Utc};
use heating_core::control::Hold;
use heating_core::units::Setpoint;

use serde_json::json;

use super::audit::{self, Change};
use super::{AppState, Caller, Role, ServiceError, require, require_zone};
use crate::domain::Page;
use crate::fleet::dispatch::{SendError, send_target};
use crate::fleet::{HoldRecord, endpoint_of};
use crate::storage::{Command, CommandSource, CommandStatus, ForwardState, NewCommand, NewForwarded, Zone, ZoneId};

/// Longest manual hold: one week.
pub const MAX_HOLD_MINUTES: i64 = 7 * 24 * 60;
/// Longest reason of a command, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A command as `POST /commands/` takes it.
#[derive(Debug, Clone)]
pub struct CommandRequest {
    pub zone_id: ZoneId,
    pub target_temp: f64,
    pub reason: Option<String>,
}

/// Checks a manual target against the setpoint range and the zone's bounds.
pub fn check_target(zone: &Zone, target_c: f64) -> Result<Setpoint, ServiceError> {
    let target = Setpoint::from_celsius(target_c).map_err(|e| ServiceError::Invalid(format!("target_temp: {e}")))?;
    let p = &zone.preferences;
    if target.celsius() < p.min_temp || target.celsius() > p.max_temp {
        return Err(ServiceError::Invalid(format!(
            "target_temp: {:.1} °C is outside this zone's limits min_temp..max_temp ({:.1}..{:.1} °C)",
            target.celsius(),
            p.min_temp,
            p.max_temp
        )));
    }
    Ok(target)
}

/// Writes `target_c` to the zone's device now and holds it for `hold_minutes` of server time (1 to
/// [`MAX_HOLD_MINUTES`]), or without them until the zone's occupancy next changes.
pub async fn set_target(
    state: &AppState,
    caller: &Caller,
    id: ZoneId,
    target_c: f64,
    hold_minutes: Option<i64>,
) -> Result<(Command, HoldRecord), ServiceError> {
    require(caller, Role::Operator)?;
    let zone = require_zone(state, id).await?;
    let target = check_target(&zone, target_c)?;
    let until = match hold_minutes {
        None => None,
        Some(m) if (1..=MAX_HOLD_MINUTES).contains(&m) => Some(state.clock.now() + Duration::minutes(m)),
        Some(m) => {
            return Err(ServiceError::Invalid(format!("hold_minutes: {m} is outside 1..={MAX_HOLD_MINUTES}")));
        }
    };
    send_manual(state, caller, &zone, target, until, CommandSource::Manual, None).await
}

/// Ends the zone's manual hold: automatic control takes over at its next run. Returns the hold that ended.
pub async fn cancel_hold(state: &AppState, caller: &Caller, id: ZoneId) -> Result<HoldRecord, ServiceError> {
    require(caller, Role::Operator)?;
    require_zone(state, id).await?;
    // Another instance holds the zone: the stored hold is the one in force; its owner drops it at its next lease
    // round (within a third of a lease period).
    let elsewhere = if state.fleet.acts_on(id) {
        None
    } else {
        state.storage.list_holds().await?.iter().find(|h| h.zone_id == id).map(HoldRecord::from)
    };
    let stored = state.storage.delete_hold(id).await?;
    let cancelled = state.fleet.get(id).and_then(|rt| rt.live().hold.take()).or(elsewhere.filter(|_| stored));
    if stored && cancelled.is_none() {
        tracing::warn!(zone_id = id, "a stored hold was not in force; removed");
    }
    match cancelled {
        Some(h) => {
            tracing::info!(zone_id = id, by = %caller.name, "manual hold cancelled");
            let details = json!({"target_temp": h.hold.target.celsius(), "source": h.source.as_str()});
            audit::record(
                state,
                caller,
                state.clock.now(),
                Change { action: "hold.cancel", zone_id: Some(id), details },
            )
            .await;
            Ok(h)
        }
        None => Err(ServiceError::NotFound("No manual hold in force for this zone".into())),
    }
}

/// `POST /commands/`: sends the target at once (source `api`, held until the occupancy changes) to a zone with a
/// device; for a zone without one, logs the command as `pending`.
pub async fn create_command(
    state: &AppState,
    caller: &Caller,
    request: CommandRequest,
) -> Result<Command, ServiceError> {
    require(caller, Role::Operator)?;
    let target =
        Setpoint::from_celsius(request.target_temp).map_err(|e| ServiceError::Invalid(format!("target_temp: {e}")))?;
    let reason = request.reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(ServiceError::Invalid(format!("reason: at most {MAX_REASON_CHARS} characters")));
    }
    let zone = require_zone(state, request.zone_id).await?;
    if endpoint_of(&zone).is_some() {
        let target = check_target(&zone, request.target_temp)?;
        let (command, _) = send_manual(state, caller, &zone, target, None, CommandSource::Api, reason).await?;
        return Ok(command);
    }
    let command = NewCommand {
        zone_id: zone.id,
        ts: state.clock.now(),
        target_temp: target,
        source: CommandSource::Api,
        reason,
        status: CommandStatus::Pending,
        actor: caller.name.clone(),
    };
    let stored = state.storage.insert_command(&command).await?;
    tracing::info!(command_id = stored.id, zone_id = stored.zone_id, target = %stored.target_temp, "command logged");
    Ok(stored)
}

/// Whether several instances may share the zones (PostgreSQL): the MQTT bridge then takes commands by shared
/// subscription, one instance per command, and this service forwards each to the zone's holder.
#[must_use]
pub fn shared_by_instances(state: &AppState) -> bool {
    state.storage.shares_instances()
}

/// A page of the zone's commands, newest first.
pub async fn list_commands(state: &AppState, id: ZoneId, page: Page) -> Result<Vec<Command>, ServiceError> {
    require_zone(state, id).await?;
    Ok(state.storage.list_zone_commands(id, page).await?)
}

/// Writes `target` to the zone's device now and holds it until `hold_until` (or the next occupancy change).
/// The zone must have a device. A device that does not take it → `Unavailable`, with a `failed` command row.
async fn send_manual(
    state: &AppState,
    caller: &Caller,
    zone: &Zone,
    target: Setpoint,
    hold_until: Option<DateTime<Utc>>,
    source: CommandSource,
    reason: Option<String>,
) -> Result<(Command, HoldRecord), ServiceError> {
    let Some(endpoint) = endpoint_of(zone) else {
        return Err(ServiceError::Conflict(format!(
            "Zone {:?} has no Modbus endpoint (modbus_port); there is no device to send a target to",
            zone.name
        )));
    };
    if let Err(why) = state.config.auth.device_networks.check_host(&endpoint.host) {
        return Err(ServiceError::Conflict(format!("Zone {:?}: its device is not used: {why}", zone.name)));
    }
    if !state.fleet.acts_on(zone.id) {
        return forward(state, caller, zone, target, hold_until, source, reason).await;
    }
    let runtime = match state.fleet.get(zone.id).filter(|rt| *rt.endpoint() == endpoint) {
        Some(rt) => rt,
        None => {
            state.fleet.reload(&state.storage).await?;
            state.fleet.get(zone.id).ok_or_else(ServiceError::zone_not_found)?
        }
    };
    let reason = reason.or_else(|| Some(hold_reason(source, hold_until)));
    match send_target(&state.storage, &*state.clock, &runtime, target, source, reason, &caller.name).await {
        Ok(command) => {
            let occupied = runtime.live().reading.is_some_and(|r| r.snapshot.occupied);
            let record = HoldRecord {
                hold: Hold { target, until: hold_until, occupied_at_start: occupied },
                set_at: state.clock.now(),
                source,
            };
            runtime.live().hold = Some(record);
            if let Err(e) = state.storage.put_hold(&record.stored(zone.id)).await {
                // The device has the target and the hold is in force; only a restart would end it early.
                tracing::error!(zone_id = zone.id, "manual hold not stored (a restart would end it): {e}");
            }
            let details = json!({"target_temp": target.celsius(), "until": hold_until.map(crate::time::rfc3339),
                                 "source": source.as_str(), "command_id": command.id});
            let change = Change { action: "hold.set", zone_id: Some(zone.id), details };
            audit::record(state, caller, record.set_at, change).await;
            Ok((command, record))
        }
        Err(SendError::Device { command, error }) => Err(ServiceError::Unavailable(format!(
            "Zone {:?} did not take the target ({error}); command {} is recorded as failed",
            zone.name, command.id
        ))),
        Err(SendError::Storage(e)) => Err(e.into()),
        Err(SendError::NotOwner) => Err(ServiceError::Unavailable(format!(
            "Zone {:?} is changing owner between server instances; nothing was sent, try again",
            zone.name
        ))),
    }
}

/// The words of a hold's reason, as the command row gives it.
fn hold_reason(source: CommandSource, hold_until: Option<DateTime<Utc>>) -> String {
    match hold_until {
        Some(t) => format!("{source} target, held until {}", crate::time::rfc3339(t)),
        None => format!("{source} target, held until the next occupancy change"),
    }
}

/// How often a forwarded write's row is looked at while waiting for its owner.
const FORWARD_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// A write for a zone another instance holds (several instances on PostgreSQL): queued in the database for the
/// owner (a `forwarded_commands` row and a `NOTIFY`), which sends it once through its fenced dispatch and records
/// the command; this waits for that (at most `FORWARD_TIMEOUT_MS`) and answers as if it had sent it itself. A
/// write nobody claimed in time is withdrawn (never sent late): `Unavailable`.
async fn forward(
    state: &AppState,
    caller: &Caller,
    zone: &Zone,
    target: Setpoint,
    hold_until: Option<DateTime<Utc>>,
    source: CommandSource,
    reason: Option<String>,
) -> Result<(Command, HoldRecord), ServiceError> {
    let set_at = state.clock.now();
    let occupied = state.storage.latest_readings(&[zone.id]).await?.first().is_some_and(|r| r.occupancy);
    let me = state.fleet.identity().id.clone();
    let request = NewForwarded {
        zone_id: zone.id,
        target_temp: target.celsius(),
        source,
        reason: reason.or_else(|| Some(hold_reason(source, hold_until))),
        actor: caller.name.clone(),
        hold_until,
        occupied_at_start: occupied,
        set_at,
        from_instance: me,
    };
    let id = state.storage.queue_forwarded(&request).await?;
    let timeout = state.config.instances.forward_timeout(state.config.link_config().request_timeout);
    let deadline = tokio::time::Instant::now() + timeout;
    let done = loop {
        match state.storage.forwarded_state(id).await? {
            ForwardState::Done { command_id, error } => break (command_id, error),
            ForwardState::Expired => break (None, Some("withdrawn".into())),
            ForwardState::Queued | ForwardState::Claimed if tokio::time::Instant::now() >= deadline => {
                let never_sent = state.storage.expire_forwarded(id).await?;
                tracing::warn!(zone_id = zone.id, forwarded = id, never_sent, "forwarded target not confirmed in time");
                return Err(ServiceError::Unavailable(if never_sent {
                    format!(
                        "Zone {:?}: no server instance holding it took the target within {} ms; nothing was sent",
                        zone.name,
                        timeout.as_millis()
                    )
                } else {
                    format!(
                        "Zone {:?}: the server instance holding it did not confirm the target within {} ms; see the \
                         zone's commands for its outcome",
                        zone.name,
                        timeout.as_millis()
                    )
                }));
            }
            ForwardState::Queued | ForwardState::Claimed => tokio::time::sleep(FORWARD_POLL).await,
        }
    };
    let command = match done.0 {
        Some(command_id) => state.storage.get_command(command_id).await?,
        None => None,
    };
    let Some(command) = command else {
        return Err(ServiceError::Unavailable(format!(
            "Zone {:?}: the server instance holding it could not send the target ({})",
            zone.name,
            done.1.unwrap_or_default()
        )));
    };
    if command.status != CommandStatus::Confirmed {
        return Err(ServiceError::Unavailable(format!(
            "Zone {:?} did not take the target ({}); command {} is recorded as failed",
            zone.name,
            done.1.or(command.error).unwrap_or_default(),
            command.id
        )));
    }
    let record = HoldRecord { hold: Hold { target, until: hold_until, occupied_at_start: occupied }, set_at, source };
    let details = json!({"target_temp": target.celsius(), "until": hold_until.map(crate::time::rfc3339),
                         "source": source.as_str(), "command_id": command.id, "forwarded": true});
    audit::record(state, caller, set_at, Change { action: "hold.set", zone_id: Some(zone.id), details }).await;
    Ok((command, record))
}
