//! Rollup maintenance on request: `rebuild` recomputes the rollups of a range from the raw readings (after an
//! import or a fix). Admins only; audited.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::{self, Change};
use super::{AppState, Caller, Role, ServiceError, require, require_zone};
use crate::storage::{RebuildReport, ZoneId};

/// What to rebuild: one zone or all, over `from <= ts < to`.
#[derive(Debug, Clone, Copy)]
pub struct RebuildRequest {
    pub zone_id: Option<ZoneId>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Recomputes the three rollup levels over the range (widened to whole hours, narrowed to where raw readings
/// exist: see `Storage::rebuild_rollups`). `Invalid` naming `from` when it is not before `to`; `NotFound` for an
/// unknown zone.
pub async fn rebuild(state: &AppState, caller: &Caller, r: RebuildRequest) -> Result<RebuildReport, ServiceError> {
    require(caller, Role::Admin)?;
    if r.from >= r.to {
        return Err(ServiceError::Invalid("from: must be before to".into()));
    }
    if let Some(id) = r.zone_id {
        require_zone(state, id).await?;
    }
    let report = state.storage.rebuild_rollups(r.zone_id, r.from, r.to).await?;
    let details = json!({
        "from": r.from.to_rfc3339(),
        "to": r.to.to_rfc3339(),
        "chunks": report.chunks,
        "rows": report.rows,
    });
    let change = Change { action: "rollups.rebuild", zone_id: r.zone_id, details };
    audit::record(state, caller, state.clock.now(), change).await;
    Ok(report)
}
