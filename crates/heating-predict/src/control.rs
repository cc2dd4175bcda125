//! Setpoint controllers behind one interface, for the scenario runner and the server alike.
//!
//! A [`Controller`] is asked, once per control interval and zone, for the target to write; the zone's own on/off
//! thermostat (± hysteresis around the target) still does the switching. Controllers keep per-zone state (the
//! predictive one remembers when it last saw people and its last plan), so the caller holds one per zone.
//!
//! | strategy | target |
//! |---|---|
//! | `constant` | 21 °C always (a plain thermostat) |
//! | `reactive` | [`heating_core::control::decide`]: the server's rule on the *measured* occupancy |
//! | `scheduled` | `occupied_temp` while the expected schedule is active, else `unoccupied_temp` |
//! | `predictive` | a 24 h price-aware plan by linear programming (see [`Predictive`]) |
//!
//! Every strategy skips a decision without a fresh reading, and obeys a manual hold ([`ControlContext::hold`])
//! until it expires; [`ControlOutput::hold_expired`] then tells the caller to forget it. A write is due when the
//! target differs from the device's by 0.1 K or more (as in [`heating_core::control`]).

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use heating_core::control::{ControlInput, Decision, Hold, ReadingView, decide};
use heating_core::preferences::Preferences;
use heating_core::units::Setpoint;
use serde::{Deserialize, Serialize};

use crate::inputs::{Forecast, PriceProfile};
use crate::lp::{Objective, PlanProblem};
use crate::model::ZoneModel;
use crate::occupancy::OccupancyForecast;

/// The control strategies: the domain's [`ControlStrategy`](heating_core::preferences::ControlStrategy), also a
/// zone preference.
pub use heating_core::preferences::{ControlStrategy as Strategy, UnknownStrategy};

/// What a controller knows of the zone's newest reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneReading {
    pub at: DateTime<Utc>,
    /// Air temperature as read (0.1 K resolution), °C.
    pub t_air: f64,
    /// Outdoor temperature the device reports, if any.
    pub t_out: Option<f64>,
    pub occupied: bool,
    pub heater_on: bool,
    /// The target the device holds.
    pub device_target: Setpoint,
}

/// Everything a controller may look at for one decision.
#[derive(Debug, Clone, Copy)]
pub struct ControlContext<'a> {
    pub now: DateTime<Utc>,
    /// Site-local offset from UTC, minutes.
    pub utc_offset_minutes: i32,
    pub reading: Option<ZoneReading>,
    /// A reading older than this is stale: no decision.
    pub stale_after: Duration,
    pub preferences: &'a Preferences,
    /// A manual hold, if any (wins over every strategy until it expires).
    pub hold: Option<Hold>,
    /// Expected occupancy (configured or learned schedule).
    pub occupancy: &'a OccupancyForecast,
    /// Outdoor-temperature forecast.
    pub forecast: &'a Forecast,
    pub prices: &'a PriceProfile,
    /// The zone's thermal model (identified, fallback or configured).
    pub model: &'a ZoneModel,
    /// The zone thermostat's hysteresis, K either side of the target.
    pub hysteresis_k: f64,
}

impl ControlContext<'_> {
    fn local_now(&self) -> chrono::NaiveDateTime {
        (self.now + Duration::minutes(i64::from(self.utc_offset_minutes))).naive_utc()
    }

    /// The fresh reading, or why there is none.
    fn fresh_reading(&self) -> Result<ZoneReading, String> {
        match self.reading {
            None => Err("no reading yet".into()),
            Some(r) if self.now - r.at > self.stale_after => {
                Err(format!("newest reading is {} s old", (self.now - r.at).num_seconds()))
            }
            Some(r) => Ok(r),
        }
    }

    fn active_hold(&self, occupied: bool) -> Option<Hold> {
        self.hold.filter(|h| h.is_active(self.now, occupied))
    }

    /// The answer while a manual hold is in force: its target, within the zone's bounds.
    fn hold_output(&self, occupied: bool) -> Option<ControlOutput> {
        self.active_hold(occupied).map(|h| ControlOutput {
            target: self.setpoint(h.target.celsius()),
            reason: "manual hold".into(),
            ..hold_out()
        })
    }

    fn setpoint(&self, celsius: f64) -> Option<Setpoint> {
        Setpoint::from_celsius(self.preferences.clamp(celsius)).ok()
    }
}

/// A controller's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlOutput {
    /// The target to write; `None`: decide nothing now (no or stale reading).
    pub target: Option<Setpoint>,
    /// Why, in words.
    pub reason: String,
    /// When the current plan starts heating up for the next expected occupancy (predictive only).
    pub planned_preheat_start: Option<DateTime<Utc>>,
    /// A hold was given but has expired: the caller should forget it.
    pub hold_expired: bool,
}

impl ControlOutput {
    fn skip(why: String) -> Self {
        Self { target: None, reason: why, planned_preheat_start: None, hold_expired: false }
    }
}

/// A setpoint controller for one zone.
pub trait Controller: fmt::Debug + Send {
    fn strategy(&self) -> Strategy;

    /// Decides the target for the coming control interval.
    fn control(&mut self, ctx: &ControlContext<'_>) -> ControlOutput;

    /// When the last plan starts preheating for the next expected occupancy (`None`: no preheat planned, or a
    /// strategy that does not plan).
    fn planned_preheat_start(&self) -> Option<DateTime<Utc>> {
        None
    }

    /// The last plan, for display (predictive only).
    fn last_plan(&self) -> Option<&PlanSummary> {
        None
    }
}

/// Builds a controller for one zone.
#[must_use]
pub fn controller(strategy: Strategy, config: &PredictiveConfig) -> Box<dyn Controller> {
    match strategy {
        Strategy::Constant => Box::new(Constant { celsius: 21.0 }),
        Strategy::Reactive => Box::new(Reactive),
        Strategy::Scheduled => Box::new(Scheduled),
        Strategy::Predictive => Box::new(Predictive::new(*config)),
    }
}

/// 21 °C always.
#[derive(Debug, Clone, Copy)]
pub struct Constant {
    pub celsius: f64,
}

impl Controller for Constant {
    fn strategy(&self) -> Strategy {
        Strategy::Constant
    }

    fn control(&mut self, ctx: &ControlContext<'_>) -> ControlOutput {
        let reading = match ctx.fresh_reading() {
            Ok(r) => r,
            Err(why) => return ControlOutput::skip(why),
        };
        if let Some(held) = ctx.hold_output(reading.occupied) {
            return held;
        }
        ControlOutput {
            target: Setpoint::from_celsius(self.celsius).ok(),
            reason: format!("constant {:.1} °C", self.celsius),
            planned_preheat_start: None,
            hold_expired: ctx.hold.is_some(),
        }
    }
}

/// The server's rule, [`heating_core::control::decide`], on the measured occupancy.
#[derive(Debug, Clone, Copy)]
pub struct Reactive;

impl Controller for Reactive {
    fn strategy(&self) -> Strategy {
        Strategy::Reactive
    }

    fn control(&mut self, ctx: &ControlContext<'_>) -> ControlOutput {
        let input = ControlInput {
            preferences: ctx.preferences,
            now: ctx.now,
            utc_offset_minutes: ctx.utc_offset_minutes,
            reading: ctx.reading.map(|r| ReadingView {
                at: r.at,
                occupied: r.occupied,
                device_target: r.device_target,
                outdoor_c: r.t_out,
            }),
            stale_after: ctx.stale_after,
            weather_outdoor_c: ctx.forecast.at(ctx.now),
            hold: ctx.hold,
        };
        match decide(&input) {
            Decision::Skip { why } => ControlOutput::skip(why),
            Decision::Target { target, reason, hold_expired, .. } => ControlOutput {
                target: Some(target),
                reason: reason.to_string(),
                planned_preheat_start: None,
                hold_expired,
            },
        }
    }
}

/// `occupied_temp` while the expected (nominal or learned) schedule is active, `unoccupied_temp` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Scheduled;

impl Controller for Scheduled {
    fn strategy(&self) -> Strategy {
        Strategy::Scheduled
    }

    fn control(&mut self, ctx: &ControlContext<'_>) -> ControlOutput {
        let reading = match ctx.fresh_reading() {
            Ok(r) => r,
            Err(why) => return ControlOutput::skip(why),
        };
        if let Some(held) = ctx.hold_output(reading.occupied) {
            return held;
        }
        let active = ctx.occupancy.is_expected(ctx.local_now());
        let p = ctx.preferences;
        let (celsius, why) =
            if active { (p.occupied_temp, "schedule active") } else { (p.unoccupied_temp, "schedule off") };
        ControlOutput {
            target: ctx.setpoint(celsius),
            reason: format!("{why}: {celsius:.1} °C"),
            planned_preheat_start: None,
            // An active hold returned above: one still given here has expired.
            hold_expired: ctx.hold.is_some(),
        }
    }
}

fn hold_out() -> ControlOutput {
    ControlOutput::skip(String::new())
}

/// Durations as whole minutes in serialized form.
mod minutes {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_minutes())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let m = i64::deserialize(d)?;
        if !(0..=7 * 24 * 60).contains(&m) {
            return Err(serde::de::Error::custom(format!("{m} minutes is outside 0..=10080")));
        }
        Ok(Duration::minutes(m))
    }
}

/// Settings of the predictive controller.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictiveConfig {
    /// Planning horizon.
    #[serde(rename = "horizon_min", with = "minutes")]
    pub horizon: Duration,
    /// Plan step (and the control interval the plan assumes).
    #[serde(rename = "step_min", with = "minutes")]
    pub step: Duration,
    /// Be at comfort this long before an expected arrival.
    #[serde(rename = "arrival_margin_min", with = "minutes")]
    pub arrival_margin: Duration,
    /// If nobody has shown up this long after an expected arrival, stop expecting them (until they do show up).
    #[serde(rename = "no_show_after_min", with = "minutes")]
    pub no_show_after: Duration,
    /// Aim this far above the comfort lower bound, K.
    pub comfort_margin_k: f64,
    /// Plan with this fraction of the rated heater power, so that an optimistic model still arrives in time (until
    /// the heater's effect has been observed, see `observed_power_margin`).
    pub power_fraction: f64,
    /// Once the heater has been seen on for 12 whole control intervals, plan with this fraction of the power those
    /// intervals show (the rise against the model's free-running prediction, over the last 96 such intervals)
    /// instead of `power_fraction` of the rated power; 0: never.
    #[serde(default = "default_observed_power_margin")]
    pub observed_power_margin: f64,
    /// Highest temperature the plan may store heat up to, above the higher of the two preference targets, K.
    pub storage_band_k: f64,
    /// Lower comfort bound below each preference target, K (the benchmark scores against 0.5 K).
    pub comfort_band_k: f64,
    pub objective: Objective,
    /// Added to the price in the cost objective, €/kWh: trades some cost for less energy (0: pure cost).
    pub energy_weight_eur_kwh: f64,
    /// Penalty on planned shortfall, € per K·h.
    pub shortfall_penalty_eur_per_kh: f64,
}

fn default_observed_power_margin() -> f64 {
    0.95
}

impl Default for PredictiveConfig {
    fn default() -> Self {
        Self {
            horizon: Duration::hours(24),
            step: Duration::minutes(15),
            arrival_margin: Duration::minutes(15),
            no_show_after: Duration::minutes(45),
            comfort_margin_k: 0.0,
            power_fraction: 0.85,
            observed_power_margin: default_observed_power_margin(),
            storage_band_k: 0.0,
            comfort_band_k: 0.5,
            objective: Objective::Cost,
            energy_weight_eur_kwh: 0.2,
            shortfall_penalty_eur_per_kh: 50.0,
        }
    }
}

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
    pub preheat_start: Option<DateTime<Utc>>,
    pub cost_eur: f64,
    pub energy_kwh: f64,
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
        let reading = match ctx.fresh_reading() {
            Ok(r) => r,
            Err(why) => return ControlOutput::skip(why),
        };
        if reading.occupied {
            self.last_seen_occupied = Some(reading.at);
        }
        self.observe(&reading, ctx.hysteresis_k);
        if let Some(held) = ctx.hold_output(reading.occupied) {
            return held;
        }
        let cfg = self.config;
        let p = ctx.preferences;
        let step_min = cfg.step.num_minutes().max(1) as usize;
        let n = (cfg.horizon.num_minutes().max(1) as usize).div_ceil(step_min);
        let need = self.requirement(ctx, reading.occupied);
        let occ_lb = p.clamp(p.occupied_temp) - cfg.comfort_band_k;
        let vac_lb = p.clamp(p.unoccupied_temp) - cfg.comfort_band_k;
        // Bound during each interval, then at each boundary (it must hold on both sides).
        let interval_lb: Vec<f64> = (0..n)
            .map(|k| {
                let span = &need[(k * step_min).min(need.len())..((k + 1) * step_min).min(need.len())];
                if span.iter().any(|x| *x) { occ_lb } else { vac_lb }
            })
            .collect();
        let lower: Vec<f64> =
            (0..n).map(|k| interval_lb[k].max(interval_lb[(k + 1).min(n - 1)]) + cfg.comfort_margin_k).collect();
        let upper_c = (p.occupied_temp.max(p.unoccupied_temp) + cfg.storage_band_k).min(p.max_temp);
        let upper = vec![upper_c.max(occ_lb + cfg.comfort_margin_k + 0.1); n];
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
        let problem = PlanProblem {
            dt_s: cfg.step.as_seconds_f64(),
            t0: reading.t_air,
            ua_w_per_k: m.ua_w_per_k,
            capacitance_j_per_k: m.capacitance_j_per_k,
            power_max_w: m.heater_power_w * power_fraction,
            t_out: &t_out,
            gains_w: &gains,
            lower: &lower,
            upper: &upper,
            price_eur_kwh: &price,
            objective: cfg.objective,
            shortfall_penalty_eur_per_kh: cfg.shortfall_penalty_eur_per_kh,
        };
        match problem.solve() {
            Ok(plan) => {
                let interval =
                    Interval { model: m, t_out: t_out[0], gains_w: gains[0], dt_s: cfg.step.as_seconds_f64() };
                let target_c =
                    thermostat_target(&plan, lower[0], &reading, ctx.hysteresis_k, problem.power_max_w, &interval);
                let preheat_start = preheat_start(&plan.temp_c, &interval_lb, vac_lb, occ_lb).map(step_at);
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
                    lower_c: lower,
                    preheat_start,
                    cost_eur: plan.cost_eur,
                    energy_kwh: plan.energy_kwh,
                });
                ControlOutput {
                    target: ctx.setpoint(target_c),
                    reason,
                    planned_preheat_start: preheat_start,
                    hold_expired: ctx.hold.is_some(),
                }
            }
            Err(e) => {
                // No plan: be safe, like the schedule with the margin applied.
                self.plan = None;
                let comfort = need.first().copied().unwrap_or(false) || need.iter().take(4 * step_min).any(|x| *x);
                let c = if comfort { p.occupied_temp } else { p.unoccupied_temp };
                ControlOutput {
                    target: ctx.setpoint(c),
                    reason: format!("{e}; fallback {c:.1} °C"),
                    planned_preheat_start: None,
                    hold_expired: ctx.hold.is_some(),
                }
            }
        }
    }
}

/// Turns the plan's first interval into a target for an on/off thermostat that switches on below
/// `target − h` and off above `target + h`, keeping its state in between.
///
/// - The floor `F` (the bound the plan keeps at the end of the interval) is protected: the target is not below
///   `F + h`, so the heater comes on whenever the room falls to `F` (the one exception is the early switch-off
///   below, and only when the model says the room stays above `F` until the next decision anyway).
/// - Floating or holding (the plan does not heat, or only to hold the floor), heater off: exactly that, `F + h`,
///   so the room drifts down freely to the floor.
/// - Floating or holding, heater on: the lowest target whose switch-off point `target + h` still keeps the room
///   above `F` until the next decision, by the model minute by minute (heater on up to the switch-off point, then
///   off): a target just below `T − h` (off now) if the room can coast through the interval, else a switch-off a
///   little above the room, instead of at `F + 2h`; `F + h` if none does.
/// - Heating, heater on: keep it on until the planned end temperature `E`: target `E − h`.
/// - Heating, heater off, `E` above the room: force it on with a target above `T + h` (the reading is quantized to
///   0.1 K, hence the extra 0.1 K); it will be brought back at the next interval at the latest.
/// - Heating, heater off, `E` not above the room: `E + h` (on as soon as the room falls below `E`).
///
/// Rounded up to 0.1 K, which only ever raises the floor (the early switch-off keeps 0.15 K for the rounding and the
/// quantized reading, and checks the floor also for a room 0.05 K warmer than read, within 0.03 K).
fn thermostat_target(
    plan: &crate::lp::Plan,
    floor: f64,
    reading: &ZoneReading,
    h: f64,
    power_max_w: f64,
    interval: &Interval<'_>,
) -> f64 {
    let s_min = floor + h;
    let end = plan.temp_c[1];
    // "Heating" means more than holding: the plan ends the interval clearly above the floor.
    let heating = plan.power_w[0] > 0.05 * power_max_w && end > floor + 0.05;
    let t = reading.t_air;
    let ceil = |v: f64| (v * 10.0 - 1e-6).ceil() / 10.0;
    let s = if !heating {
        if reading.heater_on {
            // The lowest target (on the 0.1 K grid) whose switch-off point still keeps the room above the floor until
            // the next decision: from "off now" (0.15 K below the reading, for the rounding) up to `s_min`. The room
            // may be up to 0.05 K warmer than read, reaching the switch-off point sooner: 0.03 K of slack for that.
            let mut c = ceil(t - h - 0.15);
            let mut pick = s_min;
            while c < s_min - 1e-6 {
                let off = c + h;
                if interval.lowest(t, off) >= floor && interval.lowest(t + 0.05, off) >= floor - 0.03 {
                    pick = c;
                    break;
                }
                c += 0.1;
            }
            pick
        } else {
            s_min
        }
    } else if reading.heater_on {
        s_min.max(end - h)
    } else if end > t + 0.05 {
        s_min.max(t + h + 0.1)
    } else {
        s_min.max(end + h)
    };
    ceil(s)
}

/// The coming control interval as the model sees it, for the thermostat's switching within it.
struct Interval<'a> {
    model: &'a ZoneModel,
    t_out: f64,
    gains_w: f64,
    dt_s: f64,
}

impl Interval<'_> {
    /// The lowest temperature over the interval, minute by minute, when the heater is on at the start (from `t0`)
    /// and stays on until the room is above `off_above`, then off (`f64::NEG_INFINITY`: off from the start).
    fn lowest(&self, t0: f64, off_above: f64) -> f64 {
        let n = (self.dt_s / 60.0).round().max(1.0) as usize;
        let sub = self.dt_s / n as f64;
        let (mut t, mut on, mut low) = (t0, true, t0);
        for _ in 0..n {
            on = on && t <= off_above;
            let heat = self.gains_w + if on { self.model.heater_power_w } else { 0.0 };
            t = self.model.advance(t, self.t_out, heat, sub);
            low = low.min(t);
        }
        low
    }
}

/// How close to the set-back bound the planned temperature counts as "set back", K.
const SETBACK_BAND_K: f64 = 0.2;

/// The step at which the planned warm-up for the next required comfort period starts: the first rise after the
/// plan was last set back (at most [`SETBACK_BAND_K`] above the set-back bound) before that period. All the heat
/// from there on is for the coming period, including heat stored early in cheap hours (the plan may heat, coast,
/// then heat again); when it is not set back now nor later, the first rise from now. `None` when the plan does not
/// heat up for it, when it is under way now, or when no comfort period lies in the horizon.
fn preheat_start(temp_c: &[f64], interval_lb: &[f64], vac_lb: f64, occ_lb: f64) -> Option<usize> {
    if occ_lb <= vac_lb {
        return None;
    }
    let first = interval_lb.iter().position(|lb| *lb >= occ_lb)?;
    if first == 0 {
        return None;
    }
    let set_back = |k: usize| temp_c[k] <= vac_lb + SETBACK_BAND_K;
    let rises = |k: usize| temp_c[k + 1] > temp_c[k] + 1e-3;
    // Back to the last set-back point before the period (or now), then forward to where the plan heats up.
    let mut k = first;
    while k > 0 && !set_back(k) {
        k -= 1;
    }
    while k < first && !rises(k) {
        k += 1;
    }
    (k < first).then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use heating_core::physics::{RoomState, StepInputs, Thermostat};
    use heating_core::schedule::WeeklySchedule;
    use heating_core::zone::default_profiles;

    fn monday() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn the_warm_up_starts_where_the_plan_leaves_the_set_back() {
        let (vac, occ) = (16.5, 20.5);
        // Steps 0-7 vacant, 8-9 comfort.
        let lb = [vac, vac, vac, vac, vac, vac, vac, vac, occ, occ];
        // Set back, heat stored in cheap hours from step 2, coasting, a last heat-up from step 6.
        let stored = [16.6, 16.6, 16.6, 18.0, 19.5, 19.2, 19.0, 20.0, 20.6, 20.6, 20.6];
        assert_eq!(preheat_start(&stored, &lb, vac, occ), Some(2));
        // Warm now (cooling from earlier), then heated from step 5.
        let cooling = [19.0, 18.5, 18.0, 17.6, 17.3, 17.1, 18.5, 19.8, 20.6, 20.6, 20.6];
        assert_eq!(preheat_start(&cooling, &lb, vac, occ), Some(5));
        // Heating right away from the set-back.
        let now = [16.6, 17.5, 18.5, 19.5, 20.0, 20.1, 20.2, 20.4, 20.6, 20.6, 20.6];
        assert_eq!(preheat_start(&now, &lb, vac, occ), Some(0));
        // Comfort required now: no warm-up to announce.
        let lb2 = [occ, occ, vac, vac, vac, vac, vac, vac, occ, occ];
        assert_eq!(preheat_start(&stored, &lb2, vac, occ), None);
        // No heat-up needed: the room coasts into the period above the bound.
        let coast = [22.0, 21.9, 21.8, 21.7, 21.6, 21.5, 21.4, 21.3, 21.2, 21.1, 21.0];
        assert_eq!(preheat_start(&coast, &lb, vac, occ), None);
    }

    #[test]
    fn strategies_parse_and_display() {
        for s in Strategy::ALL {
            assert_eq!(s.as_str().parse::<Strategy>().unwrap(), s);
        }
        assert!("pid".parse::<Strategy>().is_err());
    }

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
    fn predictive_survives_a_model_twenty_percent_off() {
        let (tdis, _, _) = run(Strategy::Predictive, 0.8);
        assert!(tdis < 0.05, "discomfort {tdis} K·h");
        let (tdis, _, _) = run(Strategy::Predictive, 1.2);
        assert!(tdis < 0.05, "discomfort {tdis} K·h");
    }

    #[test]
    fn every_strategy_obeys_a_hold_and_reports_its_end() {
        let prefs = Preferences::default();
        let occupancy = OccupancyForecast::Schedule(WeeklySchedule::parse(&["mon-fri 08:30-17:30"]).unwrap());
        let forecast = Forecast::constant(monday(), 3.0);
        let prices = PriceProfile::default();
        let model = ZoneModel::from_params(&default_profiles()[3].params());
        let hold = Hold {
            target: Setpoint::from_celsius(23.5).unwrap(),
            until: Some(monday() + Duration::hours(1)),
            occupied_at_start: false,
        };
        for s in Strategy::ALL {
            let mut ctl = controller(s, &PredictiveConfig::default());
            let mut ctx = ControlContext {
                now: monday(),
                utc_offset_minutes: 0,
                reading: Some(ZoneReading {
                    at: monday(),
                    t_air: 19.0,
                    t_out: Some(3.0),
                    occupied: false,
                    heater_on: false,
                    device_target: Setpoint::from_celsius(17.0).unwrap(),
                }),
                stale_after: Duration::minutes(5),
                preferences: &prefs,
                hold: Some(hold),
                occupancy: &occupancy,
                forecast: &forecast,
                prices: &prices,
                model: &model,
                hysteresis_k: 0.3,
            };
            let out = ctl.control(&ctx);
            assert_eq!(out.target.unwrap().celsius(), 23.5, "{s}");
            assert!(!out.hold_expired);
            ctx.now = monday() + Duration::hours(2);
            ctx.reading = ctx.reading.map(|r| ZoneReading { at: ctx.now, ..r });
            let out = ctl.control(&ctx);
            assert!(out.hold_expired, "{s}");
            assert!(out.target.unwrap().celsius() < 23.5, "{s}");
        }
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

    #[test]
    fn a_heater_on_while_holding_stops_as_early_as_the_floor_allows() {
        let params = default_profiles()[1].params();
        let model = ZoneModel::from_params(&params);
        let interval = Interval { model: &model, t_out: 3.0, gains_w: model.base_gains_w, dt_s: 900.0 };
        let plan = crate::lp::Plan {
            power_w: vec![100.0],
            temp_c: vec![20.6, 20.5],
            energy_kwh: 0.025,
            cost_eur: 0.0,
            shortfall_kh: 0.0,
        };
        let th = Thermostat::default();
        for t_true in [20.56, 20.6, 20.64, 20.7, 20.9] {
            let reading = ZoneReading {
                at: monday(),
                t_air: (t_true * 10.0f64).round() / 10.0,
                t_out: Some(3.0),
                occupied: true,
                heater_on: true,
                device_target: Setpoint::from_celsius(20.8).unwrap(),
            };
            let target = thermostat_target(&plan, 20.5, &reading, th.hysteresis_k, 1200.0, &interval);
            // Below the plain hold target (which runs the heater up to 21.1 °C) ...
            assert!(target < 20.8 - 1e-9, "{t_true}: {target}");
            // ... and the room stays at the floor until the next decision.
            let mut room = RoomState { t_air: t_true, heater_on: true, energy_j: 0.0 };
            for _ in 0..15 {
                room.step(&params, &th, StepInputs { t_out: 3.0, target, occupied: true }, 60.0);
                assert!(room.t_air > 20.5 - 0.03, "{t_true}: {target} lets the room fall to {}", room.t_air);
            }
        }
    }

    #[test]
    fn stale_readings_mean_no_decision() {
        let prefs = Preferences::default();
        let occupancy = OccupancyForecast::Unknown;
        let forecast = Forecast::default();
        let prices = PriceProfile::default();
        let model = ZoneModel::fallback(1000.0);
        let ctx = ControlContext {
            now: monday(),
            utc_offset_minutes: 0,
            reading: None,
            stale_after: Duration::minutes(5),
            preferences: &prefs,
            hold: None,
            occupancy: &occupancy,
            forecast: &forecast,
            prices: &prices,
            model: &model,
            hysteresis_k: 0.3,
        };
        for s in Strategy::ALL {
            assert!(controller(s, &PredictiveConfig::default()).control(&ctx).target.is_none(), "{s}");
        }
    }
}
