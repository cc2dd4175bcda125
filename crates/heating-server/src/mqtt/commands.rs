//! Commands from the broker (Home Assistant), applied through the manual-control service as the operator `mqtt`:
//! the same validation, command rows (actor `mqtt`), holds and audit as the API.
//!
//! - `P/zone/{id}/target/set` with a temperature in °C (`21.5`; a JSON number or string of one): the target is
//!   written now and held until the zone's occupancy changes, or for `MQTT_HOLD_MINUTES`.
//! - `P/zone/{id}/mode/set` with `off`: the zone is held at its `min_temp` (frost protection) for a week, the
//!   longest hold, until `heat` ends it. With `heat`: an `off` hold in force is cancelled, so automatic control
//!   takes over; any other hold is left alone.
//!
//! A payload that is not one of these, a zone that does not exist, or a target outside the zone's limits is
//! refused and logged at WARN; nothing is written.
//!
//! With several instances on one database the broker hands each command to one of them (a shared subscription,
//! [`super::topics::Topics::subscriptions`]); a target for a zone another instance holds is forwarded to it by the
//! control service, which waits through a lease hand-over (up to `FORWARD_TIMEOUT_MS`), so a command sent while
//! the zones change hands is applied once, not dropped.

use std::sync::Arc;

use tokio::sync::{Notify, mpsc};

use super::topics::{CommandKind, MODE_HEAT, MODE_OFF, OFF_HOLD_MINUTES};
use crate::domain::{Caller, Role};
use crate::services::{AppState, ServiceError, control, status};

/// The caller of every command from the broker.
#[must_use]
pub fn caller() -> Caller {
    Caller { name: Caller::MQTT.to_string(), role: Role::Operator }
}

/// One command as it came from the broker.
#[derive(Debug, Clone)]
pub struct Command {
    pub zone: i64,
    pub kind: CommandKind,
    pub payload: Vec<u8>,
}

/// What a command asks for, once its payload is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    Target(f64),
    Heat,
    Off,
}

/// Reads a command's payload; the error says why it is refused.
pub fn parse(kind: CommandKind, payload: &[u8]) -> Result<Action, String> {
    let text = std::str::from_utf8(payload).map_err(|_| "the payload is not UTF-8".to_string())?.trim();
    let shown: String = text.chars().take(40).collect();
    match kind {
        CommandKind::Target => {
            let unquoted = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text).trim();
            match unquoted.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Action::Target(v)),
                _ => Err(format!("target {shown:?} is not a temperature in °C")),
            }
        }
        CommandKind::Mode => match text {
            MODE_HEAT => Ok(Action::Heat),
            MODE_OFF => Ok(Action::Off),
            _ => Err(format!("mode {shown:?} is not one of {MODE_HEAT}, {MODE_OFF}")),
        },
    }
}

/// Applies commands one at a time, in the order they came; after each, wakes the bridge to publish the change.
pub async fn run_worker(state: AppState, mut commands: mpsc::Receiver<Command>, changed: Arc<Notify>) {
    while let Some(command) = commands.recv().await {
        let zone = command.zone;
        match parse(command.kind, &command.payload) {
            Err(why) => tracing::warn!(zone_id = zone, "MQTT command refused: {why}; nothing written"),
            Ok(action) => match apply(&state, zone, action).await {
                Ok(done) => {
                    tracing::info!(zone_id = zone, "MQTT command: {done}");
                    changed.notify_one();
                }
                Err(ServiceError::Internal(e)) => {
                    tracing::error!(zone_id = zone, "MQTT command failed: {e:#}");
                }
                Err(e) => tracing::warn!(zone_id = zone, "MQTT command refused: {e}"),
            },
        }
    }
}

/// Carries out one command through the control service; says what it did.
async fn apply(state: &AppState, zone: i64, action: Action) -> Result<String, ServiceError> {
    let caller = caller();
    match action {
        Action::Target(t) => {
            let hold = state.config.mqtt.hold_minutes;
            let (command, _) = control::set_target(state, &caller, zone, t, hold).await?;
            Ok(format!("target {} sent (command {}, {})", command.target_temp, command.id, command.status))
        }
        Action::Off => {
            let min = current(state, zone).await?.zone.preferences.min_temp;
            let (command, _) = control::set_target(state, &caller, zone, min, Some(OFF_HOLD_MINUTES)).await?;
            Ok(format!("mode off: held at min_temp {min:.1} °C (command {}, {})", command.id, command.status))
        }
        Action::Heat => {
            let z = current(state, zone).await?;
            if super::topics::mode(&z) == MODE_OFF {
                control::cancel_hold(state, &caller, zone).await?;
                Ok("mode heat: the off hold is cancelled, automatic control resumes".into())
            } else {
                Ok("mode heat: already heating, nothing to do".into())
            }
        }
    }
}

/// The zone as the status service sees it now.
async fn current(state: &AppState, zone: i64) -> Result<status::ZoneStatus, ServiceError> {
    status::zone_status(state, zone).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_read_or_refused() {
        assert_eq!(parse(CommandKind::Target, b" 21.5\n"), Ok(Action::Target(21.5)));
        assert_eq!(parse(CommandKind::Target, b"\"19\""), Ok(Action::Target(19.0)));
        for bad in [&b"warm"[..], b"", b"NaN", b"inf", b"\xff", b"{\"t\": 20}"] {
            assert!(parse(CommandKind::Target, bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse(CommandKind::Mode, b"off"), Ok(Action::Off));
        assert_eq!(parse(CommandKind::Mode, b"heat"), Ok(Action::Heat));
        assert!(parse(CommandKind::Mode, b"cool").unwrap_err().contains("not one of heat, off"));
        let long = "x".repeat(10_000);
        assert!(parse(CommandKind::Mode, long.as_bytes()).unwrap_err().len() < 120);
    }
}
