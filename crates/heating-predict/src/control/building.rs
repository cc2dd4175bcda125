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
use crate::cap::{CapBudget, DemandCap};
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
    /// Start of the first cap window: the windows are the clock's 15-minute windows from here on (the first one
    /// began at or before `made_at`).
    pub windows_from: DateTime<Utc>,
    /// Planned building power per cap window (mean over the window, counting the energy used in the first one
    /// before the plan), W.
    pub building_w: Vec<f64>,
    /// The cap per window (the lowest in force in the part of it the plan covers), W.
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

/// Decides for all zones at once (see the module documentation). The joint plan holds the cap over the clock's
/// 15-minute windows ([`DemandCap::plan_windows`]), the one it starts in counting the energy `budget` (the guard's,
/// for the current window) says was used; `fairness_penalty_eur_per_kh`: the joint plan's penalty on the largest
/// per-zone shortfall.
pub fn control_building(
    zones: &mut [(&mut dyn Controller, ControlContext<'_>)],
    cap: Option<&DemandCap>,
    budget: Option<&CapBudget>,
    fairness_penalty_eur_per_kh: f64,
) -> BuildingDecision {
    let mut outputs: Vec<Option<ControlOutput>> = vec![None; zones.len()];
    let mut prepared: Vec<(usize, PreparedPlan)> = Vec::new();
    for (i, (ctl, ctx)) in zones.iter_mut().enumerate() {
        match ctl.as_predictive() {
            Some(p) => match p.prepare(ctx) {
                Ok(prep) => prepared.push((i, prep)),
                Err(out) => outputs[i] = Some(*out),
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
            let (windows_from, spans) = cap.plan_windows(now, step, p0.t_out.len(), budget);
            let problem = JointProblem {
                zones: prepared.iter().map(|(_, p)| p.problem()).collect(),
                cap: Some(CapSeries { windows: &spans }),
                fairness_penalty_eur_per_kh,
            };
            let mut summary = JointSummary {
                made_at: now,
                zones: prepared.iter().map(|(i, _)| *i).collect(),
                windows_from,
                building_w: Vec::new(),
                cap_w: spans.iter().map(|s| s.cap_w).collect(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::tests::monday;
    use crate::control::{PredictiveConfig, Strategy, ZoneReading, controller};
    use crate::inputs::{Forecast, PriceProfile};
    use crate::model::ZoneModel;
    use crate::occupancy::OccupancyForecast;
    use heating_core::preferences::Preferences;
    use heating_core::units::Setpoint;
    use heating_core::zone::default_profiles;

    /// The five default zones at 05:00 on a Monday, all at 17 °C, and one controller set per call.
    fn decide(strategies: &[Strategy], cap: Option<&DemandCap>, alone: bool) -> BuildingDecision {
        let profiles = default_profiles();
        let models: Vec<ZoneModel> = profiles.iter().map(|p| ZoneModel::from_params(&p.params())).collect();
        let occupancy: Vec<OccupancyForecast> =
            profiles.iter().map(|p| OccupancyForecast::Schedule(p.schedule.clone())).collect();
        let forecast = Forecast::constant(monday(), 0.0);
        let prices = PriceProfile::default();
        let prefs = Preferences::default();
        let now = monday() + chrono::Duration::hours(5);
        let mut controllers: Vec<Box<dyn Controller>> =
            strategies.iter().map(|s| controller(*s, &PredictiveConfig::default())).collect();
        let ctxs: Vec<ControlContext<'_>> = (0..strategies.len())
            .map(|i| ControlContext {
                now,
                utc_offset_minutes: 0,
                reading: Some(ZoneReading {
                    at: now,
                    t_air: 17.0,
                    t_out: Some(0.0),
                    occupied: false,
                    heater_on: false,
                    device_target: Setpoint::from_celsius(17.0).unwrap(),
                }),
                stale_after: chrono::Duration::minutes(45),
                preferences: &prefs,
                hold: None,
                occupancy: &occupancy[i],
                forecast: &forecast,
                prices: &prices,
                model: &models[i],
                hysteresis_k: 0.3,
            })
            .collect();
        if alone {
            let outputs = controllers.iter_mut().zip(&ctxs).map(|(c, ctx)| c.control(ctx)).collect();
            return BuildingDecision { outputs, joint: None };
        }
        let mut zones: Vec<(&mut dyn Controller, ControlContext<'_>)> =
            controllers.iter_mut().map(|c| &mut **c as &mut dyn Controller).zip(ctxs).collect();
        control_building(&mut zones, cap, None, 50.0)
    }

    #[test]
    fn without_a_cap_every_zone_decides_as_it_would_alone() {
        let mixed =
            [Strategy::Predictive, Strategy::Reactive, Strategy::Predictive, Strategy::Scheduled, Strategy::Predictive];
        let together = decide(&mixed, None, false);
        let alone = decide(&mixed, None, true);
        assert!(together.joint.is_none());
        assert_eq!(together.outputs, alone.outputs);
    }

    #[test]
    fn with_a_cap_the_predictive_zones_plan_within_it() {
        let all = [Strategy::Predictive; 5];
        let cap = DemandCap::constant(2.0);
        let d = decide(&all, Some(&cap), false);
        let joint = d.joint.expect("a joint plan");
        assert_eq!(joint.error, None);
        assert_eq!(joint.zones, vec![0, 1, 2, 3, 4]);
        assert!(joint.building_w.iter().all(|w| *w <= 2000.0 + 1e-9), "{:?}", joint.building_w);
        assert!(joint.capped_windows > 0, "cold rooms before the morning: the cap binds");
        assert!(d.outputs.iter().all(|o| o.target.is_some() && o.reason.contains("building cap")), "{:?}", d.outputs);
        // A cap far too small: comfort impossible, said so, and spread.
        let tiny = DemandCap::constant(0.3);
        let joint = decide(&all, Some(&tiny), false).joint.unwrap();
        assert!(joint.comfort_limited.as_deref().is_some_and(|w| w.contains("demand cap")), "{joint:?}");
        assert!(joint.shortfall_kh.iter().filter(|s| **s > 0.01).count() >= 2, "{:?}", joint.shortfall_kh);
    }
}
