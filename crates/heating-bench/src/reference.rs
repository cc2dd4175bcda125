//! The perfect-foresight optimum over the test days: true model, true weather, true occupancy, continuous heater
//! power, from each zone's actual temperature at the start of the test days, by linear programming at the run's
//! step, for energy and for cost. The comfort floor is `lower_bound`, the ceiling `upper_bound` (the trace's
//! columns). Without a demand cap each zone is solved alone; with one, all zones in one LP whose building power
//! keeps the cap as a mean over every aligned 15-minute window, with the same fairness term as the controller's
//! joint plan.

use anyhow::Context;
use heating_core::physics::RoomParams;
use heating_predict::lp::{CapSeries, JointProblem, Objective, Plan, PlanProblem};

use crate::scenario::{Reference, Scenario, lower_bound};

/// What the reference needs of one zone's run: the truth over the test days, one value per step.
#[derive(Debug, Clone, Copy)]
pub struct ZoneTruth<'a> {
    pub params: &'a RoomParams,
    /// Air temperature at the start of the test days.
    pub t0: f64,
    pub t_out: &'a [f64],
    pub occupied: &'a [bool],
    pub price: &'a [f64],
}

struct Series {
    gains: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The optimum for every zone (for a capped run: each zone's part of the joint optimum).
pub fn references(sc: &Scenario, zones: &[ZoneTruth<'_>]) -> anyhow::Result<Vec<Reference>> {
    let band = sc.predictive.comfort_band_k;
    let series: Vec<Series> = zones
        .iter()
        .zip(&sc.zones)
        .map(|(z, spec)| {
            let prefs = &spec.preferences;
            Series {
                gains: z
                    .occupied
                    .iter()
                    .map(|&o| if o { z.params.occupied_gains_w } else { z.params.base_gains_w })
                    .collect(),
                lower: z.occupied.iter().map(|&o| round2(lower_bound(prefs, o, band))).collect(),
                upper: z.occupied.iter().map(|&o| round2(prefs.ceiling(o, sc.predictive.storage_band_k))).collect(),
            }
        })
        .collect();
    let problem = |zi: usize, objective| {
        let (z, s) = (&zones[zi], &series[zi]);
        PlanProblem {
            dt_s: sc.step.as_seconds_f64(),
            t0: z.t0,
            ua_w_per_k: z.params.ua_w_per_k,
            capacitance_j_per_k: z.params.capacitance_j_per_k,
            power_max_w: z.params.heater_power_w,
            t_out: z.t_out,
            gains_w: &s.gains,
            lower: &s.lower,
            upper: &s.upper,
            price_eur_kwh: z.price,
            objective,
            shortfall_penalty_eur_per_kh: sc.predictive.shortfall_penalty_eur_per_kh,
        }
    };
    let (energy, cost): (Vec<Plan>, Vec<Plan>) = match &sc.demand_cap {
        None => {
            let mut e = Vec::new();
            let mut c = Vec::new();
            for zi in 0..zones.len() {
                let name = &sc.zones[zi].profile.name;
                e.push(problem(zi, Objective::Energy).solve().with_context(|| format!("reference for zone {name}"))?);
                c.push(problem(zi, Objective::Cost).solve().with_context(|| format!("reference for zone {name}"))?);
            }
            (e, c)
        }
        Some(cap) => {
            let n = zones.first().map_or(0, |z| z.t_out.len());
            let test_start = sc.start + chrono::Duration::days(i64::from(sc.warmup_days));
            let (_, windows) = cap.plan_windows(test_start, sc.step, n, None);
            let joint = |objective| {
                JointProblem {
                    zones: (0..zones.len()).map(|zi| problem(zi, objective)).collect(),
                    cap: Some(CapSeries { windows: &windows }),
                    fairness_penalty_eur_per_kh: sc.predictive.shortfall_penalty_eur_per_kh,
                }
                .solve()
                .context("joint reference under the demand cap")
            };
            (joint(Objective::Energy)?.zones, joint(Objective::Cost)?.zones)
        }
    };
    Ok(energy
        .iter()
        .zip(&cost)
        .map(|(e, c)| Reference {
            energy_opt_kwh: e.energy_kwh,
            energy_opt_cost_eur: e.cost_eur,
            cost_opt_eur: c.cost_eur,
            cost_opt_energy_kwh: c.energy_kwh,
            tdis_opt_kh: e.shortfall_kh.max(c.shortfall_kh),
        })
        .collect())
}
