//! The audit log: who changed what. Zone changes (create, update with their preferences and device endpoint,
//! delete), holds set and cancelled, and tokens created and revoked are recorded with the caller's name; commands
//! carry theirs in their own `actor` column. Read by admins, newest first.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{AppState, Caller, Role, ServiceError, require};
use crate::domain::Page;
use crate::storage::{AuditEntry, NewAuditEntry, ZoneId};

/// What to record: an action on a zone (or on nothing in particular), with its details.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub action: &'a str,
    pub zone_id: Option<ZoneId>,
    pub details: Value,
}

/// Records `change` by `caller` at `ts` (the time the change itself carries, so that it reads the server clock
/// once). The change is already made, so a failure to record it is logged as an error and not returned.
pub async fn record(state: &AppState, caller: &Caller, ts: DateTime<Utc>, change: Change<'_>) {
    let Change { action, zone_id, details } = change;
    let entry = NewAuditEntry { ts, actor: caller.name.clone(), action: action.to_string(), zone_id, details };
    if let Err(e) = state.storage.insert_audit(&entry).await {
        tracing::error!(actor = %caller.name, action, zone_id, "audit entry not stored: {e}");
    }
}

/// A page of the audit log, newest first, optionally of one zone. Admins only.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    zone_id: Option<ZoneId>,
    page: Page,
) -> Result<Vec<AuditEntry>, ServiceError> {
    require(caller, Role::Admin)?;
    Ok(state.storage.list_audit(zone_id, page).await?)
}
