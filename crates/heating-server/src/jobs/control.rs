//! One control run: for every zone with a device, decide its target with the zone's strategy
//! ([`crate::strategy::decide_zone`], the same path for every strategy; under a demand cap all zones at once,
//! [`crate::strategy::decide_building`]) and write those that differ from the device's by 0.1 K or more (except
//! zones the cap's guard holds off: `crate::jobs::guard` restores their target when it allows them again).
//!
//! Writes go through [`send_target`], which records each command with its outcome, with bounded concurrency. A
//! failed write is not retried here: the next run decides again and writes again if still needed. Holds that ended
//! are removed from storage.

use std::time::Instant;

use crate::state::{AppState, ControlReport};
use crate::strategy::{Decided, RunInputs, decide_building, decide_zone};

/// Decides every zone's target and writes those that changed.
pub async fn control_once(state: &AppState) -> ControlReport {
    let started = Instant::now();
    let zones = state.fleet.owned();
    let run = RunInputs::gather(state, &zones).await;
    let mut report =
        ControlReport { started_at: run.now, duration_ms: 0.0, zones: zones.len(), skipped: 0, writes: 0, failed: 0 };
    let mut due = Vec::new();
    let mut expired = Vec::new();
    let decisions: Vec<Decided> = match state.demand.cap() {
        // Under a demand cap the zones decide together (the predictive ones in one plan within the cap).
        Some(cap) => {
            let (decided, joint) = decide_building(state, &zones, &run, &cap);
            if let Some(msg) = joint.as_ref().and_then(|j| j.comfort_limited.as_deref()) {
                tracing::warn!("demand cap: {msg}");
            }
            state.demand.set_joint(joint);
            decided
        }
        None => zones.iter().map(|rt| decide_zone(state, rt, &run)).collect(),
    };
    for (rt, decided) in zones.iter().zip(decisions) {
        if decided.skipped {
            report.skipped += 1;
        }
        if decided.hold_expired {
            expired.push(rt.id);
        }
        // A zone the demand cap's guard holds off gets the decided target back from the guard when allowed.
        if let Some((target, reason)) = decided.write.filter(|_| !state.demand.is_shed(rt.id)) {
            due.push((rt.clone(), target, reason));
        }
    }
    for id in expired {
        if let Err(e) = state.storage.delete_hold(id).await {
            // Restored at the next fleet reload, found expired again, and removed then.
            tracing::warn!(zone_id = id, "expired hold not removed from the database: {e}");
        }
    }
    report.writes = due.len();
    report.failed = super::send_control_writes(state, due).await;
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    report
}
