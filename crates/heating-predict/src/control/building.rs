//! The building step: every zone's controller decides in one call, so that the predictive zones can plan jointly
//! within a building demand cap (one LP over those zones, [`crate::lp::JointProblem`]).
//!
//! Without a cap each predictive zone plans alone, exactly as [`Controller::control`] does. With one, their plans
//! share the cap: the building's mean planned power over each 15-minute window stays within it, and when comfort
//! cannot be kept everywhere the shortfall is spread over the zones (see [`crate::lp::JointProblem`]) and reported
//! ([`JointSummary::comfort_limited`]). Zones with other strategies decide as usual; only a guard
//! ([`crate::cap::allocate`]) holds them to the cap.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ControlContext, ControlOutput, Controller, PreparedPlan};
use crate::cap::DemandCap;
use crate::lp::{CapSeries, JointProblem};

/// What the building step decided.
#[derive(Debug, Clone)]
pub struct BuildingDecision {
    /// Each zone's answer, in the order given.
    pub outputs: Vec<ControlOutput>,
    /// The joint plan's summary, when predictive zones planned within a cap.
    pub joint: Option<JointSummary>,
}

/// A joint plan in short, for the status page and the logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JointSummary {
    pub made_at: DateTime<Utc>,
    /// The zones (indices into the ones given) planned jointly.
    pub zones: Vec<usize>,
    /// Planned building power per cap window, W.
    pub building_w: Vec<f64>,
    /// The cap per window, W.
    pub cap_w: Vec<f64>,
    /// Windows where the cap binds.
    pub capped_windows: usize,
    /// Planned shortfall per joint zone, K·h.
    pub shortfall_kh: Vec<f64>,
    /// Why comfort cannot be kept everywhere, when it cannot.
    pub comfort_limited: Option<String>,
    /// The joint plan failed and the zones planned alone (the guard still holds the cap): why.
    pub error: Option<String>,
}

/// Decides for all zones at once (see the module documentation). `fairness_penalty_eur_per_kh`: the joint plan's
/// penalty on the largest per-zone shortfall.
pub fn control_building(
    zones: &mut [(&mut dyn Controller, ControlContext<'_>)],
    cap: Option<&DemandCap>,
    fairness_penalty_eur_per_kh: f64,
) -> BuildingDecision {
    let mut outputs: Vec<Option<ControlOutput>> = vec![None; zones.len()];
    let mut prepared: Vec<(usize, PreparedPlan)> = Vec::new();
    for (i, (ctl, ctx)) in zones.iter_mut().enumerate() {
        match ctl.as_predictive() {
            Some(p) => match p.prepare(ctx) {
                Ok(prep) => prepared.push((i, prep)),
                Err(out) => outputs[i] = Some(out),
            },
            None => outputs[i] = Some(ctl.control(ctx)),
        }
    }
    let mut joint = None;
    let same_shape = prepared
        .windows(2)
        .all(|w| w[0].1.t_out.len() == w[1].1.t_out.len() && (w[0].1.dt_s - w[1].1.dt_s).abs() < 1e-9);
    let plans = match (cap, prepared.first()) {
        (Some(cap), Some((first, p0))) if same_shape => {
            let now = zones[*first].1.now;
            let step = chrono::Duration::milliseconds((p0.dt_s * 1000.0).round() as i64);
            let (per, cap_w) = cap.series(now, step, p0.t_out.len());
            let problem = JointProblem {
                zones: prepared.iter().map(|(_, p)| p.problem()).collect(),
                cap: Some(CapSeries { steps_per_window: per, cap_w: &cap_w }),
                fairness_penalty_eur_per_kh,
            };
            let mut summary = JointSummary {
                made_at: now,
                zones: prepared.iter().map(|(i, _)| *i).collect(),
                building_w: Vec::new(),
                cap_w: cap_w.clone(),
                capped_windows: 0,
                shortfall_kh: Vec::new(),
                comfort_limited: None,
                error: None,
            };
            let plans = match problem.solve() {
                Ok(jp) => {
                    summary.building_w = jp.building_w;
                    summary.capped_windows = jp.capped_windows;
                    summary.shortfall_kh = jp.zones.iter().map(|p| p.shortfall_kh).collect();
                    summary.comfort_limited = jp.comfort_limited;
                    jp.zones.into_iter().map(Ok).collect()
                }
                Err(e) => {
                    summary.error = Some(e.to_string());
                    prepared.iter().map(|(_, p)| p.problem().solve()).collect()
                }
            };
            joint = Some(summary);
            plans
        }
        _ => prepared.iter().map(|(_, p)| p.problem().solve()).collect::<Vec<_>>(),
    };
    for ((i, prep), plan) in prepared.into_iter().zip(plans) {
        let (ctl, ctx) = &mut zones[i];
        let Some(p) = ctl.as_predictive() else { continue };
        let mut out = p.finish(ctx, prep, plan);
        if let Some(j) = &joint
            && j.error.is_none()
        {
            out.reason.push_str(&format!(
                ", within the building cap ({} of {} windows at the cap)",
                j.capped_windows,
                j.cap_w.len()
            ));
        }
        outputs[i] = Some(out);
    }
    BuildingDecision {
        outputs: outputs.into_iter().map(|o| o.unwrap_or_else(|| ControlOutput::skip("no decision".into()))).collect(),
        joint,
    }
}
