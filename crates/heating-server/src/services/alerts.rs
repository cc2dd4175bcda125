//! Alerts as operators see them: the list (open ones or the history, of one zone or all) and acknowledging one
//! (an operator action: who and when are stored, audited as `alert.acknowledge`, and sent to the webhook and MQTT). Raising
//! and clearing are the alert job's (`crate::jobs::alerts`).

use serde_json::json;

use super::audit::{self, Change};
use super::{AppState, Caller, Role, ServiceError, require};
use crate::alerts::{AlertSummary, Event};
use crate::storage::{AlertFilter, AlertId, StoredAlert, ZoneId};

/// A page of alerts, newest first.
pub async fn list(state: &AppState, filter: AlertFilter) -> Result<Vec<StoredAlert>, ServiceError> {
    Ok(state.storage.list_alerts(filter).await?)
}

/// The open alerts by state and kind (from memory; never waits on the database).
#[must_use]
pub fn summary(state: &AppState) -> AlertSummary {
    state.alerts.summary()
}

/// The open alerts (active or acknowledged) per zone; zones without one are absent (from memory).
#[must_use]
pub fn open_per_zone(state: &AppState) -> std::collections::BTreeMap<ZoneId, usize> {
    state.alerts.open_per_zone()
}

/// The name of an alert's zone, if it still has a device in the fleet.
#[must_use]
pub fn zone_name(state: &AppState, alert: &StoredAlert) -> Option<String> {
    state.fleet.get(alert.zone_id).map(|rt| rt.name())
}

/// The longest note an acknowledgement may carry, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// Acknowledges an open alert as `caller` (operator), with an optional note for the audit log. An alert
/// acknowledged before is returned as it is (its first acknowledgement stands, nothing is recorded again); a cleared
/// one is a conflict.
pub async fn acknowledge(
    state: &AppState,
    caller: &Caller,
    id: AlertId,
    note: Option<String>,
) -> Result<StoredAlert, ServiceError> {
    require(caller, Role::Operator)?;
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if let Some(n) = &note
        && n.chars().count() > MAX_NOTE_CHARS
    {
        return Err(ServiceError::Invalid(format!("note: at most {MAX_NOTE_CHARS} characters")));
    }
    let Some(before) = state.storage.get_alert(id).await? else {
        return Err(ServiceError::NotFound("Alert not found".into()));
    };
    if before.cleared_at.is_some() {
        return Err(ServiceError::Conflict(format!("Alert {id} has cleared; only an open alert can be acknowledged")));
    }
    if before.acknowledged.is_some() {
        return Ok(before);
    }
    let now = state.clock.now();
    let Some(alert) = state.storage.acknowledge_alert(id, &caller.name, now).await? else {
        return Err(ServiceError::Conflict(format!("Alert {id} has cleared; only an open alert can be acknowledged")));
    };
    state.alerts.record(&alert);
    let mut details = json!({"alert_id": alert.id, "kind": alert.kind.as_str()});
    if let Some(n) = note {
        details["note"] = json!(n);
    }
    audit::record(state, caller, now, Change { action: "alert.acknowledge", zone_id: Some(alert.zone_id), details })
        .await;
    tracing::info!(alert_id = alert.id, zone_id = alert.zone_id, kind = %alert.kind, by = %caller.name,
        "alert acknowledged");
    state.alerts.announce(Event::Acknowledged, &alert, zone_name(state, &alert).as_deref(), now);
    Ok(alert)
}
