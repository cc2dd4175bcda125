//! One plan for several zones that share a building demand cap: the zones' LPs side by side, coupled by the cap
//! (the mean building power over each cap window at most the cap) and by a fairness term.
//!
//! Without the cap the problem separates into the zones' own LPs. With it, comfort may become impossible; the
//! shortfall is then spread: besides `ρ·Σ s` the objective has `ρ_f·M` with `M ≥ Σ_k s_{z,k}·dt` for every zone
//! (an epigraph variable for the largest per-zone shortfall in K·h), so the LP does not leave all of it in the one
//! room where it happens to be cheapest.

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettings, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus, SupportedConeT, ZeroConeT,
};
use serde::Serialize;

use super::{Objective, Plan, PlanError, PlanProblem};

/// The building's power limit over the horizon.
#[derive(Debug, Clone, Copy)]
pub struct CapSeries<'a> {
    /// Plan steps per cap window (the cap holds for the mean power over each window; 1 with 15-minute steps).
    pub steps_per_window: usize,
    /// Highest mean building power in each window, W (`N / steps_per_window` values, rounded up).
    pub cap_w: &'a [f64],
}

/// Several zones planned together: the same step and horizon for all.
#[derive(Debug, Clone)]
pub struct JointProblem<'a> {
    pub zones: Vec<PlanProblem<'a>>,
    /// `None`: no cap (the zones' own plans, in one solve).
    pub cap: Option<CapSeries<'a>>,
    /// Penalty on the largest per-zone shortfall, € per K·h (on top of each zone's own shortfall penalty).
    pub fairness_penalty_eur_per_kh: f64,
}

/// The joint plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JointPlan {
    /// Each zone's plan, in the order given.
    pub zones: Vec<Plan>,
    /// Planned building power per window (the zones' sum, mean over the window), W.
    pub building_w: Vec<f64>,
    /// Windows where the cap binds (the plan uses it to within 0.1 %).
    pub capped_windows: usize,
    /// Why comfort cannot be kept everywhere, when it cannot: the shortfall left, and where.
    pub comfort_limited: Option<String>,
}

/// Planned shortfall below which comfort counts as kept, K·h.
const SHORTFALL_TOLERANCE_KH: f64 = 0.01;

impl JointProblem<'_> {
    /// Solves all zones at once. The zones' series must have the same length and step.
    pub fn solve(&self) -> Result<JointPlan, PlanError> {
        let first = self.zones.first().ok_or_else(|| PlanError("no zones".into()))?;
        let n = first.validate()?;
        for z in &self.zones {
            if z.validate()? != n || (z.dt_s - first.dt_s).abs() > 1e-9 {
                return Err(PlanError("the zones' horizons or steps differ".into()));
            }
        }
        let per = self.cap.map_or(1, |c| c.steps_per_window.max(1));
        let windows = n.div_ceil(per);
        if let Some(c) = self.cap
            && (c.cap_w.len() < windows || c.cap_w.iter().any(|v| !(v.is_finite() && *v >= 0.0)))
        {
            return Err(PlanError(format!("the cap needs {windows} finite values ≥ 0")));
        }
        let nz = self.zones.len();
        let dt_h = first.dt_s / 3600.0;
        // Variables: per zone [u (fraction of its power), T_1..T_N, s_1..s_N], then M.
        let block = 3 * n;
        let im = nz * block;
        let nv = im + 1;
        let mut q = vec![0.0; nv];
        for (z, p) in self.zones.iter().enumerate() {
            let energy_per_step = p.power_max_w / 1000.0 * dt_h;
            for k in 0..n {
                let w = match p.objective {
                    Objective::Energy => 1.0,
                    Objective::Cost => p.price_eur_kwh[k] + 1e-3,
                };
                q[z * block + k] = w * energy_per_step;
                q[z * block + 2 * n + k] = p.shortfall_penalty_eur_per_kh * dt_h;
            }
        }
        q[im] = self.fairness_penalty_eur_per_kh.max(0.0);
        let scale = q.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
        q.iter_mut().for_each(|v| *v /= scale);

        let mut eq = Triplets::default();
        let mut ineq = Triplets::default();
        for (z, p) in self.zones.iter().enumerate() {
            let (iu, it, is) = (z * block, z * block + n, z * block + 2 * n);
            let a = p.a();
            let b = (1.0 - a) * p.power_max_w / p.ua_w_per_k;
            let free = p.simulate(&vec![0.0; n]);
            for k in 0..n {
                let r = eq.row();
                eq.put(r, it + k, 1.0);
                if k > 0 {
                    eq.put(r, it + k - 1, -a);
                }
                eq.put(r, iu + k, -b);
                let mut rhs = (1.0 - a) * (p.t_out[k] + p.gains_w[k] / p.ua_w_per_k);
                if k == 0 {
                    rhs += a * p.t0;
                }
                eq.rhs.push(rhs);
            }
            for k in 0..n {
                let r = ineq.row();
                ineq.put(r, it + k, -1.0);
                ineq.put(r, is + k, -1.0);
                ineq.rhs.push(-p.lower[k]);
                let r = ineq.row();
                ineq.put(r, it + k, 1.0);
                ineq.rhs.push(p.upper[k].max(free[k + 1] + 1e-3));
                let r = ineq.row();
                ineq.put(r, iu + k, 1.0);
                ineq.rhs.push(1.0);
                let r = ineq.row();
                ineq.put(r, iu + k, -1.0);
                ineq.rhs.push(0.0);
                let r = ineq.row();
                ineq.put(r, is + k, -1.0);
                ineq.rhs.push(0.0);
            }
            // Σ_k s_k·dt ≤ M
            let r = ineq.row();
            for k in 0..n {
                ineq.put(r, is + k, dt_h);
            }
            ineq.put(r, im, -1.0);
            ineq.rhs.push(0.0);
        }
        let r = ineq.row();
        ineq.put(r, im, -1.0);
        ineq.rhs.push(0.0);
        if let Some(cap) = self.cap {
            // Σ_z Σ_{k ∈ w} P_z·u_{z,k} ≤ cap_w·|w|, in kW.
            for w in 0..windows {
                let steps = (w * per)..((w + 1) * per).min(n);
                let r = ineq.row();
                for (z, p) in self.zones.iter().enumerate() {
                    for k in steps.clone() {
                        ineq.put(r, z * block + k, p.power_max_w / 1000.0);
                    }
                }
                ineq.rhs.push(cap.cap_w[w] / 1000.0 * steps.len() as f64);
            }
        }
        let n_eq = eq.rhs.len();
        let m = n_eq + ineq.rhs.len();
        let mut ri = eq.ri;
        ri.extend(ineq.ri.iter().map(|r| r + n_eq));
        let mut ci = eq.ci;
        ci.extend(ineq.ci);
        let mut vals = eq.vals;
        vals.extend(ineq.vals);
        let mut rhs = eq.rhs;
        rhs.extend(ineq.rhs);
        let a_mat = CscMatrix::new_from_triplets(m, nv, ri, ci, vals);
        let p_mat = CscMatrix::<f64>::zeros((nv, nv));
        let cones: [SupportedConeT<f64>; 2] = [ZeroConeT(n_eq), NonnegativeConeT(m - n_eq)];
        let settings = DefaultSettings::<f64> { verbose: false, max_iter: 200, ..DefaultSettings::default() };
        let mut solver = DefaultSolver::new(&p_mat, &q, &a_mat, &rhs, &cones, settings)
            .map_err(|e| PlanError(format!("solver setup: {e}")))?;
        solver.solve();
        match solver.solution.status {
            SolverStatus::Solved | SolverStatus::AlmostSolved => {}
            other => return Err(PlanError(format!("solver status {other:?}"))),
        }
        let x = &solver.solution.x;
        let mut power: Vec<Vec<f64>> = self
            .zones
            .iter()
            .enumerate()
            .map(|(z, p)| x[z * block..z * block + n].iter().map(|u| u.clamp(0.0, 1.0) * p.power_max_w).collect())
            .collect();
        // The solver meets the cap to its tolerance; scale a window down where it is over, so the plan keeps it.
        let mut building_w = Vec::with_capacity(windows);
        let mut capped_windows = 0;
        for w in 0..windows {
            let steps = (w * per)..((w + 1) * per).min(n);
            let len = steps.len() as f64;
            let mean = power.iter().map(|pz| pz[steps.clone()].iter().sum::<f64>()).sum::<f64>() / len;
            let mut used = mean;
            if let Some(cap) = self.cap {
                let c = cap.cap_w[w];
                if mean > c {
                    let f = if mean > 0.0 { c / mean } else { 0.0 };
                    power.iter_mut().for_each(|pz| pz[steps.clone()].iter_mut().for_each(|u| *u *= f));
                    used = c;
                }
                if used >= c * 0.999 && c > 0.0 {
                    capped_windows += 1;
                }
            }
            building_w.push(used);
        }
        let zones: Vec<Plan> = self.zones.iter().zip(power).map(|(p, u)| p.evaluate(u)).collect();
        let total: f64 = zones.iter().map(|p| p.shortfall_kh).sum();
        let comfort_limited = (total > SHORTFALL_TOLERANCE_KH).then(|| {
            let why = if capped_windows > 0 {
                format!("the demand cap binds in {capped_windows} of {windows} windows")
            } else {
                "the heaters cannot keep it".to_string()
            };
            let worst = zones.iter().map(|p| p.shortfall_kh).fold(0.0, f64::max);
            format!("comfort cannot be kept: {total:.2} K·h short over the horizon, at most {worst:.2} K·h in one zone ({why})")
        });
        Ok(JointPlan { zones, building_w, capped_windows, comfort_limited })
    }
}

#[derive(Default)]
struct Triplets {
    ri: Vec<usize>,
    ci: Vec<usize>,
    vals: Vec<f64>,
    rhs: Vec<f64>,
}

impl Triplets {
    fn row(&self) -> usize {
        self.rhs.len()
    }

    fn put(&mut self, r: usize, c: usize, v: f64) {
        self.ri.push(r);
        self.ci.push(c);
        self.vals.push(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A day at 15-minute steps: comfort 20.5 °C from 06:00 to 09:00 and 17:00 to 22:00, 16.5 °C otherwise, 0 °C
    /// outside, time-of-use prices.
    struct Day {
        t_out: Vec<f64>,
        gains: Vec<f64>,
        lower: Vec<f64>,
        upper: Vec<f64>,
        price: Vec<f64>,
    }

    fn day(upper: f64) -> Day {
        let n = 96;
        let hour = |k: usize| (k % 96) as f64 / 4.0;
        let comfort = |h: f64| (6.0..9.0).contains(&h) || (17.0..22.0).contains(&h);
        Day {
            t_out: vec![0.0; n],
            gains: vec![50.0; n],
            lower: (0..n).map(|k| if comfort(hour(k + 1)) { 20.5 } else { 16.5 }).collect(),
            upper: vec![upper; n],
            price: (0..n)
                .map(|k| match hour(k) {
                    h if h < 7.0 => 0.10,
                    h if (17.0..21.0).contains(&h) => 0.25,
                    _ => 0.18,
                })
                .collect(),
        }
    }

    fn zone(d: &Day, ua: f64, c: f64, p: f64) -> PlanProblem<'_> {
        PlanProblem {
            dt_s: 900.0,
            t0: 18.0,
            ua_w_per_k: ua,
            capacitance_j_per_k: c,
            power_max_w: p,
            t_out: &d.t_out,
            gains_w: &d.gains,
            lower: &d.lower,
            upper: &d.upper,
            price_eur_kwh: &d.price,
            objective: Objective::Cost,
            shortfall_penalty_eur_per_kh: 50.0,
        }
    }

    fn three(d: &Day) -> Vec<PlanProblem<'_>> {
        vec![zone(d, 45.0, 5.0e6, 2500.0), zone(d, 30.0, 2.0e6, 1500.0), zone(d, 25.0, 2.5e6, 1200.0)]
    }

    #[test]
    fn without_a_cap_the_joint_plan_is_the_zones_own_plans() {
        let d = day(21.0);
        let joint = JointProblem { zones: three(&d), cap: None, fairness_penalty_eur_per_kh: 50.0 }.solve().unwrap();
        for (z, p) in three(&d).iter().zip(&joint.zones) {
            let alone = z.solve().unwrap();
            assert!(
                (alone.cost_eur - p.cost_eur).abs() < 1e-3 * alone.cost_eur,
                "{} vs {}",
                alone.cost_eur,
                p.cost_eur
            );
        }
        assert_eq!(joint.comfort_limited, None);
    }

    #[test]
    fn the_joint_plan_keeps_the_cap_in_every_window() {
        let d = day(21.0);
        let alone: Vec<Plan> = three(&d).iter().map(|z| z.solve().unwrap()).collect();
        let peak = (0..96).map(|k| alone.iter().map(|p| p.power_w[k]).sum::<f64>()).fold(0.0, f64::max);
        let cap_w = vec![3000.0; 96];
        assert!(peak > 3000.0, "uncapped, the zones together draw {peak} W");
        let p = JointProblem {
            zones: three(&d),
            cap: Some(CapSeries { steps_per_window: 1, cap_w: &cap_w }),
            fairness_penalty_eur_per_kh: 50.0,
        };
        let joint = p.solve().unwrap();
        for k in 0..96 {
            let w: f64 = joint.zones.iter().map(|z| z.power_w[k]).sum();
            assert!(w <= 3000.0 + 1e-9, "step {k}: {w} W");
        }
        assert!(joint.capped_windows > 0);
        // Comfort is still kept (preheating earlier), at a higher cost.
        assert!(joint.zones.iter().all(|z| z.shortfall_kh < 0.01), "{:?}", joint.comfort_limited);
        let cost = |ps: &[Plan]| ps.iter().map(|p| p.cost_eur).sum::<f64>();
        assert!(cost(&joint.zones) >= cost(&alone) - 1e-6);
        // Windows of several steps: the mean over each window.
        let cap_w = vec![3000.0; 24];
        let p = JointProblem {
            zones: three(&d),
            cap: Some(CapSeries { steps_per_window: 4, cap_w: &cap_w }),
            fairness_penalty_eur_per_kh: 50.0,
        };
        let joint = p.solve().unwrap();
        for w in 0..24 {
            let e: f64 = joint.zones.iter().map(|z| z.power_w[4 * w..4 * w + 4].iter().sum::<f64>()).sum();
            assert!(e / 4.0 <= 3000.0 + 1e-9, "window {w}: {} W", e / 4.0);
        }
    }

    #[test]
    fn when_the_cap_makes_comfort_impossible_it_says_so_and_spreads_the_shortfall() {
        // Two identical rooms, 500 W between them: neither can be kept warm.
        let d = day(21.0);
        let zones =
            || vec![zone(&d, 40.0, 3.0e6, 2000.0), zone(&d, 40.0, 3.0e6, 2000.0), zone(&d, 20.0, 3.0e6, 2000.0)];
        let cap_w = vec![500.0; 96];
        let fair = JointProblem {
            zones: zones(),
            cap: Some(CapSeries { steps_per_window: 1, cap_w: &cap_w }),
            fairness_penalty_eur_per_kh: 50.0,
        }
        .solve()
        .unwrap();
        let why = fair.comfort_limited.as_deref().expect("comfort is impossible");
        assert!(why.contains("demand cap binds"), "{why}");
        let short: Vec<f64> = fair.zones.iter().map(|z| z.shortfall_kh).collect();
        let (max, min) =
            (short.iter().copied().fold(0.0, f64::max), short.iter().copied().fold(f64::INFINITY, f64::min));
        assert!(min > 0.0, "every room gives a little: {short:?}");
        let mut sorted = short.clone();
        sorted.sort_by(f64::total_cmp);
        assert!(sorted[2] - sorted[1] < 0.01 * max, "the worst rooms are levelled: {short:?}");
        // The largest per-zone shortfall is what the fairness term lowers: without it, it is higher.
        let unfair = JointProblem {
            zones: zones(),
            cap: Some(CapSeries { steps_per_window: 1, cap_w: &cap_w }),
            fairness_penalty_eur_per_kh: 0.0,
        }
        .solve()
        .unwrap();
        let unfair_max = unfair.zones.iter().map(|z| z.shortfall_kh).fold(0.0, f64::max);
        let unfair_short: Vec<f64> = unfair.zones.iter().map(|z| z.shortfall_kh).collect();
        assert!(max <= unfair_max + 1e-6, "{short:?} vs {unfair_short:?}");
        eprintln!("fair {short:?}, without the fairness term {unfair_short:?}");
    }

    #[test]
    fn a_higher_ceiling_stores_more_cheap_heat() {
        let (low, high) = (day(21.0), day(24.0));
        let a = zone(&low, 45.0, 5.0e6, 2500.0).solve().unwrap();
        let b = zone(&high, 45.0, 5.0e6, 2500.0).solve().unwrap();
        assert!(a.temp_c.iter().all(|t| *t <= 21.0 + 1e-3));
        assert!(b.temp_c.iter().all(|t| *t <= 24.0 + 1e-3));
        assert!(b.temp_c.iter().any(|t| *t > 21.5), "heat is stored above the comfort temperature");
        assert!(b.cost_eur < a.cost_eur - 0.01, "{} vs {}", b.cost_eur, a.cost_eur);
        assert!(a.shortfall_kh < 1e-3 && b.shortfall_kh < 1e-3);
    }
}
