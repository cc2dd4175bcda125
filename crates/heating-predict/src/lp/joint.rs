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

/// The building's power limit over the horizon: its cap windows ([`crate::cap::DemandCap::plan_windows`] makes
/// them aligned to the clock), each holding the mean building power over it at most its cap.
#[derive(Debug, Clone, Copy)]
pub struct CapSeries<'a> {
    /// The windows, in time order, covering the horizon.
    pub windows: &'a [CapSpan],
}

/// One cap window, in seconds from the plan's start. The first may begin before the plan (the plan starts inside
/// it: `used_j` was drawn before), the last may end with the plan; a plan step that straddles a bound counts in each
/// window by its overlap (its power is taken as even over the step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CapSpan {
    /// Start and end, s from the plan's start (`from_s` ≤ 0 for the first window, `to_s` ≤ the horizon).
    pub from_s: f64,
    pub to_s: f64,
    /// Highest mean building power over `[from_s, to_s)`, W.
    pub cap_w: f64,
    /// Energy the building used in it before the plan's start, J.
    pub used_j: f64,
}

impl CapSpan {
    /// The energy the plan may use in the window, J (0 when more than that was used already).
    #[must_use]
    pub fn budget_j(&self) -> f64 {
        (self.cap_w * (self.to_s - self.from_s) - self.used_j).max(0.0)
    }

    /// The seconds of `[from_s, to_s)` within step `k` of `dt_s`.
    fn overlap_s(&self, k: usize, dt_s: f64) -> f64 {
        let (a, b) = (k as f64 * dt_s, (k + 1) as f64 * dt_s);
        (b.min(self.to_s) - a.max(self.from_s)).max(0.0)
    }

    /// The steps overlapping the window and the fraction of each step within it.
    fn steps(&self, n: usize, dt_s: f64) -> impl Iterator<Item = (usize, f64)> + '_ {
        let first = (self.from_s.max(0.0) / dt_s).floor() as usize;
        let last = ((self.to_s / dt_s).ceil() as usize).min(n);
        (first..last).map(move |k| (k, self.overlap_s(k, dt_s) / dt_s)).filter(|(_, f)| *f > 1e-9)
    }
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
    /// Planned building power per cap window (the zones' sum, mean over the window, counting the energy used in it
    /// before the plan), W; per step without a cap.
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
        let windows = self.cap.map_or(0, |c| c.windows.len());
        if let Some(c) = self.cap {
            let horizon = n as f64 * first.dt_s;
            let ok = |w: &CapSpan| {
                w.cap_w.is_finite()
                    && w.cap_w >= 0.0
                    && w.used_j.is_finite()
                    && w.from_s < w.to_s
                    && w.to_s <= horizon + 1e-6
            };
            if c.windows.iter().any(|w| !ok(w)) {
                return Err(PlanError("the cap windows need finite caps ≥ 0 and spans within the horizon".into()));
            }
            let gaps = c.windows.first().map_or(0.0, |w| w.from_s.max(0.0))
                + c.windows.windows(2).map(|p| (p[1].from_s - p[0].to_s).abs()).sum::<f64>();
            if c.windows.is_empty() || gaps > 1e-6 || c.windows.last().is_some_and(|w| w.to_s < horizon - 1e-6) {
                return Err(PlanError(format!("the cap windows must cover the horizon of {horizon} s without gaps")));
            }
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
            // Σ_z Σ_k P_z·u_{z,k}·(overlap_{w,k} / dt) ≤ budget_w / dt, in kW.
            for w in cap.windows {
                let r = ineq.row();
                for (z, p) in self.zones.iter().enumerate() {
                    for (k, f) in w.steps(n, first.dt_s) {
                        ineq.put(r, z * block + k, p.power_max_w / 1000.0 * f);
                    }
                }
                ineq.rhs.push(w.budget_j() / first.dt_s / 1000.0);
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
        // The solver meets the cap to its tolerance; scale a window's steps down where it is over, so the plan keeps
        // it (a step shared with the next window only gets lower there).
        let mut building_w = Vec::with_capacity(windows);
        let mut capped_windows = 0;
        for w in self.cap.map_or(&[][..], |c| c.windows) {
            let planned = |power: &[Vec<f64>]| {
                w.steps(n, first.dt_s)
                    .map(|(k, f)| power.iter().map(|pz| pz[k]).sum::<f64>() * f * first.dt_s)
                    .sum::<f64>()
            };
            let mut used = planned(&power);
            let budget = w.budget_j();
            if used > budget {
                let f = if used > 0.0 { budget / used } else { 0.0 };
                for (k, _) in w.steps(n, first.dt_s) {
                    power.iter_mut().for_each(|pz| pz[k] *= f);
                }
                used = planned(&power);
            }
            if used >= budget * 0.999 && w.cap_w > 0.0 {
                capped_windows += 1;
            }
            building_w.push((used + w.used_j) / (w.to_s - w.from_s));
        }
        if self.cap.is_none() {
            building_w = (0..n).map(|k| power.iter().map(|pz| pz[k]).sum()).collect();
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

    /// Windows of `len_s` from the plan's start, one cap each (the form the plan had before the clock alignment).
    fn from_start(len_s: f64, caps: &[f64], horizon_s: f64) -> Vec<CapSpan> {
        caps.iter()
            .enumerate()
            .map(|(i, &cap_w)| CapSpan {
                from_s: i as f64 * len_s,
                to_s: ((i + 1) as f64 * len_s).min(horizon_s),
                cap_w,
                used_j: 0.0,
            })
            .collect()
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
        let cap_w = from_start(900.0, &[3000.0; 96], 86_400.0);
        assert!(peak > 3000.0, "uncapped, the zones together draw {peak} W");
        let p = JointProblem {
            zones: three(&d),
            cap: Some(CapSeries { windows: &cap_w }),
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
        let cap_w = from_start(3600.0, &[3000.0; 24], 86_400.0);
        let p = JointProblem {
            zones: three(&d),
            cap: Some(CapSeries { windows: &cap_w }),
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
        let cap_w = from_start(900.0, &[500.0; 96], 86_400.0);
        let fair = JointProblem {
            zones: zones(),
            cap: Some(CapSeries { windows: &cap_w }),
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
        let unfair =
            JointProblem { zones: zones(), cap: Some(CapSeries { windows: &cap_w }), fairness_penalty_eur_per_kh: 0.0 }
                .solve()
                .unwrap();
        let unfair_max = unfair.zones.iter().map(|z| z.shortfall_kh).fold(0.0, f64::max);
        let unfair_short: Vec<f64> = unfair.zones.iter().map(|z| z.shortfall_kh).collect();
        assert!(max <= unfair_max + 1e-6, "{short:?} vs {unfair_short:?}");
        eprintln!("fair {short:?}, without the fairness term {unfair_short:?}");
    }

    fn at(min: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc() + chrono::Duration::minutes(min)
    }

    /// The three rooms cold (15 °C: all want full power at once), planned from `start` in 15-minute steps.
    fn cold(d: &Day) -> Vec<PlanProblem<'_>> {
        three(d).into_iter().map(|z| PlanProblem { t0: 15.0, ..z }).collect()
    }

    /// The planned building energy in each clock window `[from + 15 min·i, …)` of a plan from `start`, J (steps'
    /// power taken as even over the step), plus `used` in the first.
    fn clock_energy(plan: &JointPlan, start_s: f64, used_j: f64) -> Vec<f64> {
        let n = plan.zones[0].power_w.len();
        let mut out = vec![0.0; (n * 900 + 900).div_ceil(900)];
        out[0] = used_j;
        for k in 0..n {
            let p: f64 = plan.zones.iter().map(|z| z.power_w[k]).sum();
            let (a, b) = (start_s + k as f64 * 900.0, start_s + (k + 1) as f64 * 900.0);
            for (w, e) in out.iter_mut().enumerate() {
                let (wa, wb) = (w as f64 * 900.0, (w + 1) as f64 * 900.0);
                *e += p * (b.min(wb) - a.max(wa)).max(0.0);
            }
        }
        out
    }

    #[test]
    fn a_plan_started_between_quarter_hours_keeps_every_clock_window() {
        let d = day(21.0);
        let cap = crate::cap::DemandCap::constant(3.0);
        let start = at(7);
        let step = chrono::Duration::minutes(15);
        // As before: windows counted from the plan's own start (00:07-00:22, …) keep the cap, the clock's do not.
        let own = from_start(900.0, &[3000.0; 96], 86_400.0);
        let old =
            JointProblem { zones: cold(&d), cap: Some(CapSeries { windows: &own }), fairness_penalty_eur_per_kh: 50.0 }
                .solve()
                .unwrap();
        let worst = |e: &[f64]| e.iter().fold(0.0f64, |m, j| m.max(*j / 900.0));
        // 00:00-00:07 all heaters on (5.2 kW: the guard allows it, 2.18 MJ of the window's 2.7 MJ): the clock's
        // first window is over.
        let used = crate::cap::CapBudget { window_start: at(0), used_j: 5200.0 * 420.0 };
        let before = clock_energy(&old, 420.0, used.used_j);
        assert!(
            worst(&before) > 3000.0 * 1.05,
            "windows from the plan's start overrun a clock window: {}",
            worst(&before)
        );
        // Aligned to the clock: no clock window above the cap, the first one counting those 7 minutes.
        let (from, windows) = cap.plan_windows(start, step, 96, Some(&used));
        assert_eq!((from, windows.len()), (at(0), 97));
        let new = JointProblem {
            zones: cold(&d),
            cap: Some(CapSeries { windows: &windows }),
            fairness_penalty_eur_per_kh: 50.0,
        }
        .solve()
        .unwrap();
        let e = clock_energy(&new, 420.0, used.used_j);
        // The last window ends with the plan (00:00 the next day to 00:07): its mean over those 7 minutes.
        let last = e.len() - 1;
        for (w, j) in e[..last].iter().enumerate() {
            assert!(*j <= 3000.0 * 900.0 * (1.0 + 1e-9), "clock window {w}: {} W", j / 900.0);
        }
        assert!(e[last] <= 3000.0 * 420.0 * (1.0 + 1e-9));
        assert!(new.capped_windows > 0 && new.building_w.iter().all(|w| *w <= 3000.0 * (1.0 + 1e-9)));
        assert!((new.building_w[0] - e[0] / 900.0).abs() < 1e-6, "{} vs {}", new.building_w[0], e[0] / 900.0);
    }

    #[test]
    fn the_energy_already_used_in_the_window_is_left_out() {
        let d = day(21.0);
        let cap = crate::cap::DemandCap::constant(3.0);
        // 00:07, and 90 % of the window's 3 kW·15 min already used: 0.27 MJ left for 00:07-00:15.
        let budget = crate::cap::CapBudget { window_start: at(0), used_j: 0.9 * 3000.0 * 900.0 };
        let (_, windows) = cap.plan_windows(at(7), chrono::Duration::minutes(15), 96, Some(&budget));
        let plan = JointProblem {
            zones: cold(&d),
            cap: Some(CapSeries { windows: &windows }),
            fairness_penalty_eur_per_kh: 50.0,
        }
        .solve()
        .unwrap();
        let e = clock_energy(&plan, 420.0, budget.used_j);
        assert!(e[0] <= 3000.0 * 900.0 * (1.0 + 1e-9), "{} W", e[0] / 900.0);
        let planned = e[0] - budget.used_j;
        assert!(planned <= 0.1 * 3000.0 * 900.0 * (1.0 + 1e-9) && planned > 0.09 * 3000.0 * 900.0, "{planned} J");
        // Cold rooms take what is left at once, and the full cap in the next window.
        assert!(e[1] > 0.999 * 3000.0 * 900.0, "{} W", e[1] / 900.0);
        // Used beyond the cap: nothing more in that window.
        let over = crate::cap::CapBudget { used_j: 1.2 * 3000.0 * 900.0, ..budget };
        let (_, windows) = cap.plan_windows(at(7), chrono::Duration::minutes(15), 96, Some(&over));
        let plan = JointProblem {
            zones: cold(&d),
            cap: Some(CapSeries { windows: &windows }),
            fairness_penalty_eur_per_kh: 50.0,
        }
        .solve()
        .unwrap();
        assert!(clock_energy(&plan, 420.0, 0.0)[0] < 1e-6 * 3000.0 * 900.0);
    }

    #[test]
    fn a_cap_window_of_the_day_holds_where_its_bound_falls_inside_a_step() {
        // 2 kW from 04:50 to 06:00 (the morning's preheating), plans in 15-minute steps from 00:07: the step
        // 04:37-04:52 straddles 04:50, and the clock window 04:45-05:00 keeps 2 kW.
        let d = day(21.0);
        let cap =
            crate::cap::DemandCap { kw: 4.0, windows: vec!["04:50-06:00=2".parse().unwrap()], utc_offset_minutes: 0 };
        let (_, windows) = cap.plan_windows(at(7), chrono::Duration::minutes(15), 96, None);
        let plan = JointProblem {
            zones: cold(&d),
            cap: Some(CapSeries { windows: &windows }),
            fairness_penalty_eur_per_kh: 50.0,
        }
        .solve()
        .unwrap();
        let e = clock_energy(&plan, 420.0, 4000.0 * 420.0);
        for (w, j) in e.iter().enumerate().take(96) {
            let lowest = cap.lowest_w(at(15 * w as i64), at(15 * w as i64 + 15));
            assert!(*j <= lowest * 900.0 * (1.0 + 1e-9), "clock window {w}: {} W over {lowest} W", j / 900.0);
        }
        assert_eq!((windows[18].cap_w, windows[19].cap_w, windows[20].cap_w), (4000.0, 2000.0, 2000.0));
        let mean: Vec<f64> = e[16..25].iter().map(|j| j / 900.0).collect();
        assert!(mean[3] > 1999.0 && mean[2] > 2001.0, "04:00-06:15: {mean:?}");
    }

    #[test]
    fn on_a_quarter_hour_the_windows_and_the_plan_are_as_before() {
        let d = day(21.0);
        let cap = crate::cap::DemandCap::constant(3.0);
        let used = crate::cap::CapBudget { window_start: at(0), used_j: 1.0e6 };
        let (from, windows) = cap.plan_windows(at(0), chrono::Duration::minutes(15), 96, Some(&used));
        let own = from_start(900.0, &[3000.0; 96], 86_400.0);
        assert_eq!((from, &windows), (at(0), &own));
        let solve = |w: &[CapSpan]| {
            JointProblem { zones: cold(&d), cap: Some(CapSeries { windows: w }), fairness_penalty_eur_per_kh: 50.0 }
                .solve()
                .unwrap()
        };
        assert_eq!(solve(&windows), solve(&own));
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
