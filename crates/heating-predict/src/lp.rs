//! Heating plans by linear programming: the core of the predictive controller and of the perfect-foresight
//! reference.
//!
//! Over `N` steps of length `dt`, with the heater power `u_k ∈ [0, P_max]` held within a step, the exact 1R1C
//! solution is linear: `T_{k+1} = a·T_k + (1 − a)·(T_out,k + (u_k + g_k)/UA)`. The plan minimizes
//! `Σ w_k·u_k·dt + ρ·Σ s_k·dt` subject to `T_k + s_k ≥ lower_k`, `T_k ≤ upper_k`, `s_k ≥ 0`, where `w_k` is the
//! price (cost objective) or 1 (energy objective) and `s_k` is the comfort shortfall with a penalty `ρ` far above
//! any energy price, so the bound is met whenever the heater can meet it. Solved with Clarabel (interior point,
//! sparse, pure Rust).

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettings, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus, SupportedConeT, ZeroConeT,
};
use serde::{Deserialize, Serialize};

mod joint;

pub use joint::{CapSeries, CapSpan, JointPlan, JointProblem};

/// What a plan minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Heater energy.
    Energy,
    /// Heater energy weighted by the price, plus a tie-break of one per mille on energy.
    Cost,
}

/// A planning problem. All series have one value per step (`N = t_out.len()`).
#[derive(Debug, Clone)]
pub struct PlanProblem<'a> {
    pub dt_s: f64,
    /// Air temperature at the start, °C.
    pub t0: f64,
    pub ua_w_per_k: f64,
    pub capacitance_j_per_k: f64,
    /// Highest heater power the plan may use, W.
    pub power_max_w: f64,
    /// Outdoor temperature during each step, °C.
    pub t_out: &'a [f64],
    /// Internal gains during each step, W.
    pub gains_w: &'a [f64],
    /// Lowest acceptable temperature at the end of each step, °C.
    pub lower: &'a [f64],
    /// Highest temperature the plan may aim for at the end of each step, °C (relaxed where the room would be
    /// warmer anyway with the heater off).
    pub upper: &'a [f64],
    /// Price during each step, €/kWh.
    pub price_eur_kwh: &'a [f64],
    pub objective: Objective,
    /// Penalty on comfort shortfall, € per K·h.
    pub shortfall_penalty_eur_per_kh: f64,
}

/// The solution of a [`PlanProblem`], re-simulated from the chosen powers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Heater power during each step, W.
    pub power_w: Vec<f64>,
    /// Temperature at the start and at the end of each step (`N + 1` values), °C.
    pub temp_c: Vec<f64>,
    pub energy_kwh: f64,
    pub cost_eur: f64,
    /// Shortfall below `lower`, K·h.
    pub shortfall_kh: f64,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("planning failed: {0}")]
pub struct PlanError(pub String);

impl PlanProblem<'_> {
    fn validate(&self) -> Result<usize, PlanError> {
        let n = self.t_out.len();
        if n == 0 {
            return Err(PlanError("empty horizon".into()));
        }
        if [self.gains_w.len(), self.lower.len(), self.upper.len(), self.price_eur_kwh.len()].iter().any(|&l| l != n) {
            return Err(PlanError("series lengths differ".into()));
        }
        let positive = [self.dt_s, self.ua_w_per_k, self.capacitance_j_per_k];
        if positive.iter().any(|v| !(v.is_finite() && *v > 0.0)) || !self.t0.is_finite() {
            return Err(PlanError("dt, UA and C must be positive and t0 finite".into()));
        }
        if !(self.power_max_w.is_finite() && self.power_max_w >= 0.0) {
            return Err(PlanError("heater power must be zero or positive".into()));
        }
        Ok(n)
    }

    /// Decay factor per step.
    fn a(&self) -> f64 {
        (-self.dt_s * self.ua_w_per_k / self.capacitance_j_per_k).exp()
    }

    /// Temperatures (`N + 1`) when the heater uses `power_w`.
    #[must_use]
    pub fn simulate(&self, power_w: &[f64]) -> Vec<f64> {
        let a = self.a();
        let mut t = Vec::with_capacity(power_w.len() + 1);
        t.push(self.t0);
        let mut cur = self.t0;
        for (k, u) in power_w.iter().enumerate() {
            let eq = self.t_out[k] + (u + self.gains_w[k]) / self.ua_w_per_k;
            cur = eq + (cur - eq) * a;
            t.push(cur);
        }
        t
    }

    fn evaluate(&self, power_w: Vec<f64>) -> Plan {
        let temp_c = self.simulate(&power_w);
        let dt_h = self.dt_s / 3600.0;
        let energy: Vec<f64> = power_w.iter().map(|u| u * dt_h / 1000.0).collect();
        Plan {
            energy_kwh: energy.iter().sum(),
            cost_eur: energy.iter().zip(self.price_eur_kwh).map(|(e, p)| e * p).sum(),
            shortfall_kh: self.lower.iter().zip(&temp_c[1..]).map(|(lb, t)| (lb - t).max(0.0) * dt_h).sum(),
            temp_c,
            power_w,
        }
    }

    /// Solves the plan.
    pub fn solve(&self) -> Result<Plan, PlanError> {
        let n = self.validate()?;
        if self.power_max_w == 0.0 {
            return Ok(self.evaluate(vec![0.0; n]));
        }
        let a = self.a();
        let b = (1.0 - a) * self.power_max_w / self.ua_w_per_k;
        let free = self.simulate(&vec![0.0; n]);
        // Variables: x = [u_0..u_{N-1} (fraction of power_max), T_1..T_N, s_1..s_N].
        let (iu, it, is) = (0, n, 2 * n);
        let nv = 3 * n;
        let dt_h = self.dt_s / 3600.0;
        let energy_per_step = self.power_max_w / 1000.0 * dt_h;
        let mut q = vec![0.0; nv];
        for k in 0..n {
            let w = match self.objective {
                Objective::Energy => 1.0,
                Objective::Cost => self.price_eur_kwh[k] + 1e-3,
            };
            q[iu + k] = w * energy_per_step;
            q[is + k] = self.shortfall_penalty_eur_per_kh * dt_h;
        }
        let scale = q.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
        q.iter_mut().for_each(|v| *v /= scale);

        let (mut ri, mut ci, mut vals, mut rhs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut row = 0;
        let put = |r: usize, c: usize, v: f64, ri: &mut Vec<usize>, ci: &mut Vec<usize>, vals: &mut Vec<f64>| {
            ri.push(r);
            ci.push(c);
            vals.push(v);
        };
        // Dynamics (equalities): T_{k+1} − a·T_k − b·u_k = (1 − a)(T_out + g/UA) [+ a·T_0 for k = 0].
        for k in 0..n {
            put(row, it + k, 1.0, &mut ri, &mut ci, &mut vals);
            if k > 0 {
                put(row, it + k - 1, -a, &mut ri, &mut ci, &mut vals);
            }
            put(row, iu + k, -b, &mut ri, &mut ci, &mut vals);
            let mut r = (1.0 - a) * (self.t_out[k] + self.gains_w[k] / self.ua_w_per_k);
            if k == 0 {
                r += a * self.t0;
            }
            rhs.push(r);
            row += 1;
        }
        let n_eq = row;
        for k in 0..n {
            // −T − s ≤ −lower
            put(row, it + k, -1.0, &mut ri, &mut ci, &mut vals);
            put(row, is + k, -1.0, &mut ri, &mut ci, &mut vals);
            rhs.push(-self.lower[k]);
            row += 1;
            // T ≤ upper (never below what the room does with the heater off)
            put(row, it + k, 1.0, &mut ri, &mut ci, &mut vals);
            rhs.push(self.upper[k].max(free[k + 1] + 1e-3));
            row += 1;
            // 0 ≤ u ≤ 1, s ≥ 0
            put(row, iu + k, 1.0, &mut ri, &mut ci, &mut vals);
            rhs.push(1.0);
            row += 1;
            put(row, iu + k, -1.0, &mut ri, &mut ci, &mut vals);
            rhs.push(0.0);
            row += 1;
            put(row, is + k, -1.0, &mut ri, &mut ci, &mut vals);
            rhs.push(0.0);
            row += 1;
        }
        let m = row;
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
        let power = solver.solution.x[iu..iu + n].iter().map(|u| u.clamp(0.0, 1.0) * self.power_max_w).collect();
        Ok(self.evaluate(power))
    }
}

/// The least-energy plan by a direct construction (no solver), for checking: the lowest temperature path that
/// meets every lower bound. Backwards, each bound is carried to the steps before it at full power; forwards, the
/// room floats down with the heater off until that path stops it. Exact for the energy objective, because every
/// feasible path lies above this one and heat loss grows with temperature.
#[must_use]
pub fn least_energy_by_construction(problem: &PlanProblem<'_>) -> Plan {
    let n = problem.t_out.len();
    let a = problem.a();
    let ua = problem.ua_w_per_k;
    let mut need = problem.lower.to_vec();
    for k in (0..n.saturating_sub(1)).rev() {
        // T_{k+1} = a·T_k + (1 − a)·eq  ⇒  T_k ≥ (need_{k+1} − (1 − a)·eq_full) / a.
        let eq = problem.t_out[k + 1] + (problem.power_max_w + problem.gains_w[k + 1]) / ua;
        need[k] = need[k].max((need[k + 1] - (1.0 - a) * eq) / a);
    }
    let mut power = Vec::with_capacity(n);
    let mut t = problem.t0;
    for (k, &need_k) in need.iter().enumerate() {
        let eq0 = problem.t_out[k] + problem.gains_w[k] / ua;
        let free = eq0 + (t - eq0) * a;
        let u = if free >= need_k {
            0.0
        } else {
            // need = a·t + (1 − a)(eq0 + u/UA)
            ((need_k - a * t) / (1.0 - a) - eq0) * ua
        }
        .clamp(0.0, problem.power_max_w);
        let eq = eq0 + u / ua;
        t = eq + (t - eq) * a;
        power.push(u);
    }
    problem.evaluate(power)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Series {
        t_out: Vec<f64>,
        gains: Vec<f64>,
        lower: Vec<f64>,
        upper: Vec<f64>,
        price: Vec<f64>,
    }

    /// Two days at 15-minute steps: comfort 20.5 °C from 07:00 to 09:00 and 17:00 to 22:00, 16.5 °C otherwise.
    fn series() -> Series {
        let n = 2 * 96;
        let hour = |k: usize| (k % 96) as f64 / 4.0;
        let comfort = |h: f64| (7.0..9.0).contains(&h) || (17.0..22.0).contains(&h);
        Series {
            t_out: (0..n).map(|k| 3.0 + 3.0 * ((hour(k) - 15.0) / 24.0 * std::f64::consts::TAU).cos()).collect(),
            gains: vec![50.0; n],
            lower: (0..n).map(|k| if comfort(hour((k + 1) % (2 * 96))) { 20.5 } else { 16.5 }).collect(),
            upper: vec![22.0; n],
            price: (0..n)
                .map(|k| match hour(k) {
                    h if h < 7.0 => 0.10,
                    h if (17.0..21.0).contains(&h) => 0.25,
                    _ => 0.18,
                })
                .collect(),
        }
    }

    fn problem(s: &Series, objective: Objective) -> PlanProblem<'_> {
        PlanProblem {
            dt_s: 900.0,
            t0: 18.0,
            ua_w_per_k: 45.0,
            capacitance_j_per_k: 5.0e6,
            power_max_w: 2500.0,
            t_out: &s.t_out,
            gains_w: &s.gains,
            lower: &s.lower,
            upper: &s.upper,
            price_eur_kwh: &s.price,
            objective,
            shortfall_penalty_eur_per_kh: 50.0,
        }
    }

    #[test]
    fn the_lp_matches_the_constructed_least_energy_plan() {
        let s = series();
        let p = problem(&s, Objective::Energy);
        let lp = p.solve().unwrap();
        let direct = least_energy_by_construction(&p);
        assert!(direct.shortfall_kh < 1e-6, "{}", direct.shortfall_kh);
        assert!(lp.shortfall_kh < 1e-3, "{}", lp.shortfall_kh);
        assert!((lp.energy_kwh - direct.energy_kwh).abs() < 1e-3 * direct.energy_kwh, "{lp:?} vs {direct:?}");
        // The preheat ends exactly at the bound: the temperature at 07:00 is 20.5 °C, not more.
        assert!((lp.temp_c[28] - 20.5).abs() < 0.01, "{}", lp.temp_c[28]);
    }

    #[test]
    fn the_cost_plan_shifts_heat_to_cheap_hours() {
        let s = series();
        let energy = problem(&s, Objective::Energy).solve().unwrap();
        let cost = problem(&s, Objective::Cost).solve().unwrap();
        assert!(cost.cost_eur < energy.cost_eur - 1e-3, "{} vs {}", cost.cost_eur, energy.cost_eur);
        assert!(cost.energy_kwh >= energy.energy_kwh - 1e-6);
        assert!(cost.shortfall_kh < 1e-3);
        assert!(cost.temp_c.iter().all(|t| *t <= 22.0 + 1e-3));
    }
}
