//! The predictive controller, [`Predictive`]: model-predictive control by a price-aware plan.

mod config;
mod plan;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{ControlContext, ControlOutput, Controller, Strategy, ZoneReading};
use crate::lp::{Plan, PlanError, PlanProblem};
use crate::model::ZoneModel;
use plan::{Interval, preheat_start, thermostat_target};

pub use config::PredictiveConfig;

/// The last plan, for display.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanSummary {
    pub made_at: DateTime<Utc>,
    pub step_s: i64,
    /// Planned temperatures at `made_at + k·step`.
    pub temp_c: Vec<f64>,
    /// Planned heater power per step, W.
    pub power_w: Vec<f64>,
    /// Lower bound the plan keeps, per step end.
    pub lower_c: Vec<f64>,
    /// Comfort ceiling the plan keeps, per step end (`storage_max_temp` / `occupied_max_temp`).
    pub upper_c: Vec<f64>,
    pub preheat_start: Option<DateTime<Utc>>,
    pub cost_eur: f64,
    pub energy_kwh: f64,
    /// Planned comfort shortfall, K·h (0 unless the heater, or a building demand cap, cannot keep the floor).
    pub shortfall_kh: f64,
}

/// Model-predictive control: every control interval, a 24 h plan by linear programming (see [`crate::lp`]).
///
/// - Comfort requirement: the expected occupancy (schedule or learned), each period brought forward by
///   `arrival_margin`; a period counts as over once people were seen in it and are gone, and as a no-show when
///   nobody came within `no_show_after`; people measured present now always require comfort now.
/// - The plan keeps `T ≥ bound + comfort_margin_k` at every step boundary touching a required period, at least
///   cost (price profile, forecast outdoor temperature, the zone model with the occupied gains where people are
///   expected, and `power_fraction` of its rated power, or once the heater has been seen on for 12 whole control
///   intervals, `observed_power_margin` of the power those intervals show: a model that is off in C or UA shows
///   up as a heater stronger or weaker than modelled).
/// - The output is a *setpoint*: the zone's thermostat switches on below `target − hysteresis`, so the target
///   is the planned temperature at the end of the interval plus the hysteresis, rounded up to 0.1 K. The room
///   then follows the planned path from above: it floats down while the plan floats, heats while the plan
///   heats, and cycles just above the bound while the plan holds it.
#[derive(Debug, Clone)]
pub struct Predictive {
    pub config: PredictiveConfig,
    last_seen_occupied: Option<DateTime<Utc>>,
    plan: Option<PlanSummary>,
    /// The reading of the previous decision.
    previous: Option<ZoneReading>,
    /// Control intervals the heater was on throughout: start and end temperature, outdoor temperature, gains
    /// occupied, duration (s). The newest last.
    heated: std::collections::VecDeque<HeatedInterval>,
}

/// A control interval with the heater on throughout, as read.
#[derive(Debug, Clone, Copy)]
struct HeatedInterval {
    t0: f64,
    t1: f64,
    t_out: f64,
    occupied: bool,
    dt_s: f64,
}

impl Predictive {
    #[must_use]
    pub fn new(config: PredictiveConfig) -> Self {
        Self { config, last_seen_occupied: None, plan: None, previous: None, heated: std::collections::VecDeque::new() }
    }

    /// Records the interval since the previous decision if the heater was on throughout: on at both readings, and
    /// the room never above the device's switch-off point (it rises monotonically while heating).
    fn observe(&mut self, reading: &ZoneReading, h: f64) {
        let Some(prev) = self.previous.replace(*reading) else { return };
        let dt = (reading.at - prev.at).as_seconds_f64();
        let step = self.config.step.as_seconds_f64();
        // The target that held during the interval, and the heater state at its start (readings are within 0.05 K).
        let s = reading.device_target.celsius();
        let on_at_start = prev.t_air + 0.05 < s - h || (prev.heater_on && prev.t_air + 0.05 < s + h);
        let on_throughout =
            on_at_start && reading.heater_on && reading.t_air > prev.t_air && reading.t_air + 0.1 < s + h;
        if (dt - step).abs() > 1.0 || !on_throughout || prev.occupied != reading.occupied {
            return;
        }
        let t_out = match (prev.t_out, reading.t_out) {
            (Some(a), Some(b)) => (a + b) / 2.0,
            _ => return,
        };
        self.heated.push_back(HeatedInterval {
            t0: prev.t_air,
            t1: reading.t_air,
            t_out,
            occupied: reading.occupied,
            dt_s: dt,
        });
        if self.heated.len() > 96 {
            self.heated.pop_front();
        }
    }

    /// The heater's effect as observed over the recorded intervals, relative to what the model predicts for its
    /// rated power (1: as modelled); `None` with fewer than 12 observations.
    fn observed_power_ratio(&self, m: &ZoneModel) -> Option<f64> {
        if self.heated.len() < 12 {
            return None;
        }
        let (mut seen, mut modelled) = (0.0, 0.0);
        for o in &self.heated {
            let g = m.gains_w(o.occupied);
            let free = m.advance(o.t0, o.t_out, g, o.dt_s);
            let full = m.advance(o.t0, o.t_out, g + m.heater_power_w, o.dt_s);
            seen += o.t1 - free;
            modelled += full - free;
        }
        (modelled > 0.0 && seen > 0.0).then(|| seen / modelled)
    }

    /// Minute-by-minute comfort requirement over the horizon, from `now`.
    fn requirement(&self, ctx: &ControlContext<'_>, occupied_now: bool) -> Vec<bool> {
        let cfg = &self.config;
        let lookback = 48 * 60usize;
        let horizon = cfg.horizon.num_minutes().max(1) as usize;
        let from = ctx.now - Duration::minutes(lookback as i64);
        let expected = ctx.occupancy.minutes(from, lookback + horizon, ctx.utc_offset_minutes);
        let margin = cfg.arrival_margin.num_minutes().max(0) as usize;
        let no_show = cfg.no_show_after.num_minutes().max(0) as usize;
        let mut need = vec![false; horizon];
        let mut i = 0;
        while i < expected.len() {
            if !expected[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i < expected.len() && expected[i] {
                i += 1;
            }
            let end = i; // [start, end) in minutes since `from`
            if end <= lookback {
                continue;
            }
            let early = start.saturating_sub(margin);
            if early <= lookback && !occupied_now {
                // The period is under way (now is inside it, margin included).
                let window_start = from + Duration::minutes(early as i64);
                let seen = self.last_seen_occupied.is_some_and(|t| t >= window_start);
                let no_show_now = lookback >= start + no_show && !seen;
                if seen || no_show_now {
                    continue;
                }
            }
            for m in early.max(lookback)..end {
                need[m - lookback] = true;
            }
        }
        if occupied_now {
            let first = (cfg.step.num_minutes().max(1) as usize).min(horizon);
            need[..first].iter_mut().for_each(|n| *n = true);
        }
        need
    }
}

impl Controller for Predictive {
    fn strategy(&self) -> Strategy {
        Strategy::Predictive
    }

    fn planned_preheat_start(&self) -> Option<DateTime<Utc>> {
        self.plan.as_ref().and_then(|p| p.preheat_start)
    }

    fn last_plan(&self) -> Option<&PlanSummary> {
        self.plan.as_ref()
    }

    fn control(&mut self, ctx: &ControlContext<'_>) -> ControlOutput {
        match self.prepare(ctx) {
            Ok(prepared) => {
                let plan = prepared.problem().solve();
                self.finish(ctx, prepared, plan)
            }
            Err(out) => *out,
        }
    }

    fn as_predictive(&mut self) -> Option<&mut Predictive> {
        Some(self)
    }
}

/// One zone's planning problem as [`Predictive::prepare`] sets it up, owned, with what turning its plan into a
/// target needs ([`Predictive::finish`]). The building step ([`super::building`]) plans several at once.
#[derive(Debug, Clone)]
pub struct PreparedPlan {
    pub dt_s: f64,
    pub t0: f64,
    pub ua_w_per_k: f64,
    pub capacitance_j_per_k: f64,
    pub power_max_w: f64,
    pub t_out: Vec<f64>,
    pub gains_w: Vec<f64>,
    /// Lowest temperature at the end of each step, °C.
    pub lower: Vec<f64>,
    /// Comfort ceiling at the end of each step, °C.
    pub upper: Vec<f64>,
    /// Price plus the energy weight, €/kWh.
    pub price_eur_kwh: Vec<f64>,
    pub objective: crate::lp::Objective,
    pub shortfall_penalty_eur_per_kh: f64,
    reading: ZoneReading,
    need: Vec<bool>,
    interval_lb: Vec<f64>,
    vac_lb: f64,
    occ_lb: f64,
}

impl PreparedPlan {
    /// The LP of this zone alone.
    #[must_use]
    pub fn problem(&self) -> PlanProblem<'_> {
        PlanProblem {
            dt_s: self.dt_s,
            t0: self.t0,
            ua_w_per_k: self.ua_w_per_k,
            capacitance_j_per_k: self.capacitance_j_per_k,
            power_max_w: self.power_max_w,
            t_out: &self.t_out,
            gains_w: &self.gains_w,
            lower: &self.lower,
            upper: &self.upper,
            price_eur_kwh: &self.price_eur_kwh,
            objective: self.objective,
            shortfall_penalty_eur_per_kh: self.shortfall_penalty_eur_per_kh,
        }
    }
}

impl Predictive {
    /// Sets up this decision's plan: the comfort requirement, the bounds (floor and ceiling), forecast, gains,
    /// prices and usable heater power. `Err` holds the answer when there is nothing to plan (no fresh reading, a
    /// manual hold).
    pub fn prepare(&mut self, ctx: &ControlContext<'_>) -> Result<PreparedPlan, Box<ControlOutput>> {
        let reading = ctx.fresh_reading().map_err(|why| Box::new(ControlOutput::skip(why)))?;
        if reading.occupied {
            self.last_seen_occupied = Some(reading.at);
        }
        self.observe(&reading, ctx.hysteresis_k);
        if let Some(held) = ctx.hold_output(reading.occupied) {
            return Err(Box::new(held));
        }
        let cfg = self.config;
        let p = ctx.preferences;
        let step_min = cfg.step.num_minutes().max(1) as usize;
        let n = (cfg.horizon.num_minutes().max(1) as usize).div_ceil(step_min);
        let need = self.requirement(ctx, reading.occupied);
        let occ_lb = p.clamp(p.occupied_temp) - cfg.comfort_band_k;
        let vac_lb = p.clamp(p.unoccupied_temp) - cfg.comfort_band_k;
        // Bound during each interval, then at each boundary (it must hold on both sides).
        let required: Vec<bool> = (0..n)
            .map(|k| need[(k * step_min).min(need.len())..((k + 1) * step_min).min(need.len())].iter().any(|x| *x))
            .collect();
        let interval_lb: Vec<f64> = required.iter().map(|&r| if r { occ_lb } else { vac_lb }).collect();
        let lower: Vec<f64> =
            (0..n).map(|k| interval_lb[k].max(interval_lb[(k + 1).min(n - 1)]) + cfg.comfort_margin_k).collect();
        // The comfort ceiling: the occupied one where comfort is required on either side of the boundary.
        let interval_ub: Vec<f64> = required.iter().map(|&r| p.ceiling(r, cfg.storage_band_k)).collect();
        let upper: Vec<f64> = (0..n)
            .map(|k| interval_ub[k].min(interval_ub[(k + 1).min(n - 1)]).max(occ_lb + cfg.comfort_margin_k + 0.1))
            .collect();
        let t_now_out = reading.t_out.unwrap_or(5.0);
        let step_at = |k: usize| ctx.now + cfg.step * k as i32;
        let t_out: Vec<f64> = (0..n).map(|k| ctx.forecast.at(step_at(k) + cfg.step / 2).unwrap_or(t_now_out)).collect();
        let m = ctx.model;
        // Gains: as measured now for the first step, then the occupied gains where people are expected (and still
        // required: not gone, not a no-show), pro rata within a step. If they are not there after all, the room is
        // colder than planned, but then it is vacant and held to the vacant bound.
        let expected = ctx.occupancy.minutes(ctx.now, need.len(), ctx.utc_offset_minutes);
        let gains: Vec<f64> = (0..n)
            .map(|k| {
                if k == 0 {
                    return m.gains_w(reading.occupied);
                }
                let (a, b) = ((k * step_min).min(need.len()), ((k + 1) * step_min).min(need.len()));
                let present = (a..b).filter(|&i| need[i] && expected[i]).count() as f64 / (b - a).max(1) as f64;
                m.base_gains_w + (m.occupied_gains_w - m.base_gains_w) * present
            })
            .collect();
        let price: Vec<f64> =
            (0..n).map(|k| ctx.prices.mean_over(step_at(k), cfg.step) + cfg.energy_weight_eur_kwh).collect();
        let power_fraction = match self.observed_power_ratio(m) {
            Some(r) if cfg.observed_power_margin > 0.0 => (r * cfg.observed_power_margin).clamp(0.5, 1.5),
            _ => cfg.power_fraction,
        };
        Ok(PreparedPlan {
            dt_s: cfg.step.as_seconds_f64(),
            t0: reading.t_air,
            ua_w_per_k: m.ua_w_per_k,
            capacitance_j_per_k: m.capacitance_j_per_k,
            power_max_w: m.heater_power_w * power_fraction,
            t_out,
            gains_w: gains,
            lower,
            upper,
            price_eur_kwh: price,
            objective: cfg.objective,
            shortfall_penalty_eur_per_kh: cfg.shortfall_penalty_eur_per_kh,
            reading,
            need,
            interval_lb,
            vac_lb,
            occ_lb,
        })
    }

    /// Turns the plan (this zone's alone, or its part of a building's) into the decision, and keeps it for display.
    pub fn finish(
        &mut self,
        ctx: &ControlContext<'_>,
        prep: PreparedPlan,
        plan: Result<Plan, PlanError>,
    ) -> ControlOutput {
        let cfg = self.config;
        let p = ctx.preferences;
        let step_min = cfg.step.num_minutes().max(1) as usize;
        let step_at = |k: usize| ctx.now + cfg.step * k as i32;
        match plan {
            Ok(plan) => {
                let interval =
                    Interval { model: ctx.model, t_out: prep.t_out[0], gains_w: prep.gains_w[0], dt_s: prep.dt_s };
                let target_c = thermostat_target(
                    &plan,
                    prep.lower[0],
                    &prep.reading,
                    ctx.hysteresis_k,
                    prep.power_max_w,
                    &interval,
                );
                let preheat_start =
                    preheat_start(&plan.temp_c, &prep.interval_lb, prep.vac_lb, prep.occ_lb).map(step_at);
                let reason = format!(
                    "plan: {:.1} °C in {} min ({}), {:.2} kWh / {:.2} € over {} h",
                    plan.temp_c[1],
                    step_min,
                    if plan.power_w[0] > 1.0 { "heating" } else { "floating" },
                    plan.energy_kwh,
                    plan.cost_eur,
                    cfg.horizon.num_hours()
                );
                self.plan = Some(PlanSummary {
                    made_at: ctx.now,
                    step_s: cfg.step.num_seconds(),
                    temp_c: plan.temp_c,
                    power_w: plan.power_w,
                    lower_c: prep.lower,
                    upper_c: prep.upper,
                    preheat_start,
                    cost_eur: plan.cost_eur,
                    energy_kwh: plan.energy_kwh,
                    shortfall_kh: plan.shortfall_kh,
                });
                ControlOutput {
                    target: ctx.setpoint(target_c),
                    reason,
                    planned_preheat_start: preheat_start,
                    hold_expired: ctx.hold.is_some(),
                    detail: None,
                }
            }
            Err(e) => {
                // No plan: be safe, like the schedule with the margin applied.
                self.plan = None;
                let need = &prep.need;
                let comfort = need.first().copied().unwrap_or(false) || need.iter().take(4 * step_min).any(|x| *x);
                let c = if comfort { p.occupied_temp } else { p.unoccupied_temp };
                ControlOutput {
                    target: ctx.setpoint(c),
                    reason: format!("{e}; fallback {c:.1} °C"),
                    planned_preheat_start: None,
                    hold_expired: ctx.hold.is_some(),
                    detail: None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::controller;
    use crate::control::tests::monday;
    use crate::inputs::{Forecast, PriceProfile};
    use crate::occupancy::OccupancyForecast;
    use heating_core::physics::{RoomState, StepInputs, Thermostat};
    use heating_core::preferences::Preferences;
    use heating_core::schedule::WeeklySchedule;
    use heating_core::units::Setpoint;
    use heating_core::zone::default_profiles;

    /// An office zone, vacant and set back at 17 °C at 04:00 on a Monday, with people expected at 08:30.
    /// Simulated with the true model: the predictive controller starts preheating well before 08:30, reaches the
    /// bound in time (people arrive at 08:15 here), and reports the planned start.
    fn run(strategy: Strategy, model_factor: f64) -> (f64, Option<DateTime<Utc>>, f64) {
        let profile = &default_profiles()[3];
        let params = profile.params();
        let model = ZoneModel::from_params(&params).scaled(model_factor);
        let schedule = WeeklySchedule::parse(&["mon-fri 08:30-17:30"]).unwrap();
        let occupancy = OccupancyForecast::Schedule(schedule);
        let forecast = Forecast::constant(monday(), 2.0);
        let prices = PriceProfile::default();
        let prefs = Preferences::default();
        let mut ctl = controller(strategy, &PredictiveConfig::default());
        let mut room = RoomState::new(17.0);
        let th = Thermostat::default();
        let mut now = monday() + Duration::hours(4);
        let mut target = Setpoint::from_celsius(17.0).unwrap();
        let mut first_preheat = None;
        let mut tdis = 0.0;
        while now < monday() + Duration::hours(12) {
            let arrived = now >= monday() + Duration::minutes(8 * 60 + 15);
            if (now - monday()).num_minutes() % 15 == 0 {
                let ctx = ControlContext {
                    now,
                    utc_offset_minutes: 0,
                    reading: Some(ZoneReading {
                        at: now,
                        t_air: (room.t_air * 10.0).round() / 10.0,
                        t_out: Some(2.0),
                        occupied: arrived,
                        heater_on: room.heater_on,
                        device_target: target,
                    }),
                    stale_after: Duration::minutes(5),
                    preferences: &prefs,
                    hold: None,
                    occupancy: &occupancy,
                    forecast: &forecast,
                    prices: &prices,
                    model: &model,
                    hysteresis_k: th.hysteresis_k,
                };
                let out = ctl.control(&ctx);
                target = out.target.unwrap();
                if first_preheat.is_none() {
                    first_preheat = ctl.planned_preheat_start();
                }
            }
            room.step(&params, &th, StepInputs { t_out: 2.0, target: target.celsius(), occupied: arrived }, 60.0);
            now += Duration::minutes(1);
            if arrived {
                tdis += (20.5 - room.t_air).max(0.0) / 60.0;
            }
        }
        (tdis, first_preheat, room.energy_j / 3.6e6)
    }

    #[test]
    fn predictive_preheats_in_time_and_says_when() {
        let (tdis, preheat, _) = run(Strategy::Predictive, 1.0);
        assert!(tdis < 0.01, "discomfort {tdis} K·h");
        let start = preheat.expect("a preheat is planned");
        // From 04:00 (now) at the earliest: the night's cheap power may be used to store heat.
        assert!(start >= monday() + Duration::hours(4) && start < monday() + Duration::hours(8), "{start}");
        let (reactive_tdis, none, _) = run(Strategy::Reactive, 1.0);
        assert!(none.is_none());
        assert!(reactive_tdis > 0.5, "reactive heats only once people are there: {reactive_tdis}");
    }

    #[test]
    fn the_plan_keeps_the_comfort_ceilings() {
        let profile = &default_profiles()[3];
        let model = ZoneModel::from_params(&profile.params());
        let occupancy = OccupancyForecast::Schedule(WeeklySchedule::parse(&["mon-fri 08:30-17:30"]).unwrap());
        let forecast = Forecast::constant(monday(), 2.0);
        let prices = PriceProfile::default();
        let now = monday() + Duration::hours(4);
        let plan_for = |prefs: &Preferences| {
            let ctx = ControlContext {
                now,
                utc_offset_minutes: 0,
                reading: Some(ZoneReading {
                    at: now,
                    t_air: 17.0,
                    t_out: Some(2.0),
                    occupied: false,
                    heater_on: false,
                    device_target: Setpoint::from_celsius(17.0).unwrap(),
                }),
                stale_after: Duration::minutes(45),
                preferences: prefs,
                hold: None,
                occupancy: &occupancy,
                forecast: &forecast,
                prices: &prices,
                model: &model,
                hysteresis_k: 0.3,
            };
            let mut ctl = Predictive::new(PredictiveConfig::default());
            assert!(ctl.control(&ctx).target.is_some());
            ctl.last_plan().unwrap().clone()
        };
        // Default: the occupants' temperature throughout, as before the ceilings existed.
        let plan = plan_for(&Preferences::default());
        assert!(plan.upper_c.iter().all(|u| *u == 21.0), "{:?}", plan.upper_c);
        let prefs =
            Preferences::parse_valid(serde_json::json!({"storage_max_temp": 24, "occupied_max_temp": 22})).unwrap();
        let plan = plan_for(&prefs);
        // 04:00 + k·15 min: vacant until 08:15 (people expected 08:30, comfort 15 min early), then occupied.
        assert_eq!(plan.upper_c[0], 24.0);
        assert_eq!(plan.upper_c[15], 24.0, "08:00");
        assert_eq!(plan.upper_c[16], 22.0, "08:15: the boundary into the required period");
        assert_eq!(plan.upper_c[24], 22.0, "10:00");
        assert_eq!(plan.upper_c[60], 24.0, "19:00, vacant again");
        for (k, u) in plan.upper_c.iter().enumerate() {
            assert!(plan.temp_c[k + 1] <= u + 1e-3, "step {k}: {} above {u}", plan.temp_c[k + 1]);
        }
    }

    #[test]
    fn predictive_survives_a_model_twenty_percent_off() {
        let (tdis, _, _) = run(Strategy::Predictive, 0.8);
        assert!(tdis < 0.05, "discomfort {tdis} K·h");
        let (tdis, _, _) = run(Strategy::Predictive, 1.2);
        assert!(tdis < 0.05, "discomfort {tdis} K·h");
    }

    /// Readings of a room heating with the heater on throughout (target far above), every 15 min.
    fn heated_readings(ctl: &mut Predictive, params: &heating_core::physics::RoomParams) {
        let th = Thermostat::default();
        let mut room = RoomState::new(15.0);
        let target = Setpoint::from_celsius(25.0).unwrap();
        for k in 0..20 {
            let at = monday() + Duration::minutes(15 * k);
            let reading = ZoneReading {
                at,
                t_air: (room.t_air * 10.0).round() / 10.0,
                t_out: Some(2.0),
                occupied: false,
                heater_on: room.heater_on,
                device_target: target,
            };
            ctl.observe(&reading, th.hysteresis_k);
            for _ in 0..15 {
                room.step(params, &th, StepInputs { t_out: 2.0, target: 25.0, occupied: false }, 60.0);
            }
        }
    }

    #[test]
    fn the_heaters_effect_is_learned_from_whole_heated_intervals() {
        let params = default_profiles()[1].params();
        for (factor, lo, hi) in [(1.0, 0.95, 1.05), (1.2, 1.15, 1.35), (0.8, 0.7, 0.85)] {
            let model = ZoneModel::from_params(&params).scaled(factor);
            let mut ctl = Predictive::new(PredictiveConfig::default());
            assert_eq!(ctl.observed_power_ratio(&model), None);
            heated_readings(&mut ctl, &params);
            let r = ctl.observed_power_ratio(&model).expect("enough heated intervals");
            assert!((lo..hi).contains(&r), "model × {factor}: ratio {r}");
        }
    }
}
