//! Alerts as operators see them: the list (open ones or the history, of one zone or all) and acknowledging one
//! (an operator action: who and when are stored, audited as `alert.acknowledge`, and sent to the webhook and MQTT). Raising
//! and clearing are the alert job's (`crate::jobs::alerts`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::audit::{self, Change};
use super::{AppState, Caller, Role, ServiceError, require};
use crate::alerts::{AlertSummary, Event};
use crate::storage::{AlertFilter, AlertId, ZoneId};
pub use crate::storage::{AlertKind, StoredAlert};

/// A page of alerts, newest first.
pub async fn list(state: &AppState, filter: AlertFilter) -> Result<Vec<StoredAlert>, ServiceError> {
    Ok(state.storage.list_alerts(filter).await?)
}

/// The open alerts in short (by state, kind and zone), for `/status`: from memory with one instance; with several
/// (PostgreSQL), every instance's, from the database, so any instance answers for the whole fleet.
pub async fn summary(state: &AppState) -> Result<AlertSummary, ServiceError> {
    if !state.storage.shares_instances() {
        return Ok(state.alerts.summary());
    }
    Ok(AlertSummary::of(&state.storage.open_alerts().await?))
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

/// Every alert event from now on, for the MQTT bridge (see [`crate::alerts::AlertState::subscribe`]).
#[must_use]
pub fn subscribe(state: &AppState) -> tokio::sync::broadcast::Receiver<crate::alerts::Announced> {
    state.alerts.subscribe()
}

/// The open alerts as the MQTT bridge of this instance publishes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenToPublish {
    /// The open alerts of the zones this instance holds (every zone with one instance), each with its zone's name
    /// as stored (the fleet may not be loaded yet just after a start).
    pub held: Vec<(StoredAlert, Option<String>)>,
    /// Every open alert's zone and kind, held here or not.
    pub open: BTreeSet<(ZoneId, AlertKind)>,
}

/// The open alerts from storage, for the MQTT bridge's resync.
pub async fn open_to_publish(state: &AppState) -> Result<OpenToPublish, ServiceError> {
    let open = state.storage.open_alerts().await?;
    let mut out = OpenToPublish { open: open.iter().map(|a| (a.zone_id, a.kind)).collect(), ..Default::default() };
    let held: Vec<StoredAlert> = open.into_iter().filter(|a| state.fleet.acts_on(a.zone_id)).collect();
    if held.is_empty() {
        return Ok(out);
    }
    let names: BTreeMap<ZoneId, String> =
        state.storage.list_zones().await?.into_iter().map(|z| (z.id, z.name)).collect();
    out.held = held
        .into_iter()
        .map(|a| {
            let name = names.get(&a.zone_id).cloned();
            (a, name)
        })
        .collect();
    Ok(out)
}

/// Whether this instance publishes, and empties, the alert topics of a zone: it holds the zone (always with one
/// instance), or the zone is gone.
#[must_use]
pub fn published_here(state: &AppState, zone: ZoneId) -> bool {
    state.fleet.get(zone).is_none() || state.fleet.acts_on(zone)
}
