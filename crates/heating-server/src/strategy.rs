//! Deciding a zone's target: one path for every strategy.
//!
//! The strategy is the zone's `control_strategy` preference, else the server's `CONTROL_STRATEGY` (default
//! `reactive`). Every strategy — `reactive` (the domain policy, [`heating_core::control::decide`]) included — runs as
//! the zone's own [`heating_predict::Controller`], kept in its [`ZoneRuntime`] and rebuilt when the strategy changes.
//! Each is given the same [`ControlContext`]: the zone's preferences, its newest reading from the poller (stale
//! after three poll intervals of the server clock, so no decision is taken on old data), the site-local time, a
//! manual hold, the weather service's outdoor temperature and hourly forecast (falling back to the zone's own
//! outdoor register), the price provider's prices (`crate::prices`; the time-of-use table by default), the zone's model (its latest good fit,
//! [`crate::learning`], else the conservative fallback for the heater's rated power) and its expected occupancy
//! (the `occupancy_schedule` preference when set, else the occupancy learned from the zone's logged readings).
//!
//! [`decide_zone`] records the decision (and the predictive plan) in the zone's live state and says what to write;
//! writing is the control job's (`crate::jobs::control`).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use chrono::{DateTime, Duration, Utc};
use heating_core::preferences::Preferences;
use heating_core::units::Setpoint;
use heating_predict::{
    ControlContext, ControlOutput, OccupancyForecast, PredictiveConfig, PriceProfile, Strategy, ZoneReading, controller,
};

use crate::fleet::{ActiveDecision, ZoneRuntime};
use crate::learning::model_in_use;
use crate::state::AppState;

/// Hysteresis of the controllers around their setpoints, in K.
pub const HYSTERESIS_K: f64 = 0.3;

/// The zone's strategy: its `control_strategy` preference when set, else the server's `CONTROL_STRATEGY`.
#[must_use]
pub fn zone_strategy(prefs: &Preferences, default: Strategy) -> Strategy {
    prefs.control_strategy.unwrap_or(default)
}

/// What the weather service says for one location: the outdoor temperature now and the hourly forecast.
#[derive(Debug, Default)]
pub struct Weather {
    pub now_c: Option<f64>,
    pub forecast: heating_predict::Forecast,
}

/// Weather per location (`None`: the site default) for `zones`, from the cached weather service.
pub async fn weather_by_location(state: &AppState, zones: &[Arc<ZoneRuntime>]) -> HashMap<Option<String>, Weather> {
    let mut out = HashMap::new();
    let weather = &state.weather;
    let now = state.clock.now();
    let mut locations: Vec<Option<String>> = zones.iter().map(|z| z.preferences().weather_location).collect();
    locations.sort();
    locations.dedup();
    for location in locations {
        let served = match &location {
            None => weather.site_forecast().await,
            Some(name) => match heating_weather::LocationQuery::parse(name) {
                Ok(q) => weather.forecast(&q, weather.default_days()).await,
                Err(e) => Err(e),
            },
        };
        match served {
            Ok(f) => {
                let now_c = f.forecast.temperature_at(now).or(f.forecast.current.as_ref().map(|c| c.temperature_c));
                let points = f.forecast.hourly.iter().map(|h| (h.time, h.temperature_c)).collect();
                out.insert(location, Weather { now_c, forecast: heating_predict::Forecast::new(points) });
            }
            Err(e) => tracing::warn!(location = location.as_deref().unwrap_or("site"), "no weather for control: {e}"),
        }
    }
    out
}

/// What one control run shares across zones.
#[derive(Debug)]
pub struct RunInputs {
    pub now: DateTime<Utc>,
    /// Readings older than this are not acted on.
    pub stale_after: Duration,
    pub weather: HashMap<Option<String>, Weather>,
    pub prices: PriceProfile,
}

impl RunInputs {
    /// The inputs of a run at the server's now: the weather of every zone's location, the cached prices.
    pub async fn gather(state: &AppState, zones: &[Arc<ZoneRuntime>]) -> Self {
        let stale_after = Duration::milliseconds(
            (state.config.poll_interval().as_secs_f64() * 3.0 * state.clock.scale() * 1000.0).round() as i64,
        );
        Self {
            now: state.clock.now(),
            stale_after,
            weather: weather_by_location(state, zones).await,
            prices: state.prices.profile().await,
        }
    }
}

/// What the zone's controller decided.
#[derive(Debug)]
pub struct Decided {
    /// The target to write (it differs from the device's by half its step or more), with the reason in words.
    pub write: Option<(Setpoint, String)>,
    /// No decision (no fresh reading); the reason is in the zone's live state.
    pub skipped: bool,
    /// A manual hold ended with this run (removed from the live state; the caller removes it from storage).
    pub hold_expired: bool,
}

/// What a zone's controller is given, gathered before it runs (the live state is not held while it decides).
struct ZoneInputs {
    prefs: Preferences,
    strategy: Strategy,
    model: heating_predict::model::ZoneModel,
    model_source: heating_predict::model::ModelSource,
    occupancy: OccupancyForecast,
    reading: Option<ZoneReading>,
    hold: Option<heating_core::control::Hold>,
}

fn zone_inputs(state: &AppState, rt: &ZoneRuntime, run: &RunInputs) -> ZoneInputs {
    let prefs = rt.preferences();
    let strategy = zone_strategy(&prefs, state.config.control_strategy());
    let no_weather = Weather::default();
    let weather = run.weather.get(&prefs.weather_location).unwrap_or(&no_weather);
    let model = model_in_use(rt);
    let occupancy = OccupancyForecast::choose(prefs.occupancy_schedule.as_ref(), Some(&rt.learned().occupancy));
    let live = rt.live();
    let reading = live.reading.map(|r| ZoneReading {
        at: r.at,
        t_air: r.snapshot.air_temperature,
        t_out: weather.now_c.or(r.outdoor()),
        occupied: r.snapshot.occupied,
        heater_on: r.snapshot.heater_on,
        device_target: r.snapshot.target,
    });
    let hold = live.hold.map(|h| h.hold);
    drop(live);
    ZoneInputs { strategy, model_source: model.source, model, occupancy, reading, hold, prefs }
}

fn context<'a>(state: &AppState, inputs: &'a ZoneInputs, run: &'a RunInputs) -> ControlContext<'a> {
    static NO_FORECAST: std::sync::LazyLock<heating_predict::Forecast> =
        std::sync::LazyLock::new(heating_predict::Forecast::default);
    let forecast = run.weather.get(&inputs.prefs.weather_location).map_or(&*NO_FORECAST, |w| &w.forecast);
    ControlContext {
        now: run.now,
        utc_offset_minutes: state.config.site_offset_minutes(run.now),
        reading: inputs.reading,
        stale_after: run.stale_after,
        preferences: &inputs.prefs,
        hold: inputs.hold,
        occupancy: &inputs.occupancy,
        forecast,
        prices: &run.prices,
        model: &inputs.model,
        hysteresis_k: HYSTERESIS_K,
    }
}

/// Records a decision (and the plan made with it) in the zone's live state and says what to write.
fn record(
    rt: &ZoneRuntime,
    run: &RunInputs,
    inputs: &ZoneInputs,
    output: ControlOutput,
    plan: Option<heating_predict::control::PlanSummary>,
) -> Decided {
    let mut live = rt.live();
    if output.hold_expired && live.hold.map(|h| h.hold) == inputs.hold {
        tracing::info!(zone_id = rt.id, "manual hold expired");
        live.hold = None;
    }
    let mut decided = Decided { write: None, skipped: false, hold_expired: output.hold_expired };
    match (output.target, live.reading) {
        (Some(target), Some(r)) => {
            // Compared on the device's grid (its step may be coarser than 0.1 K): a target the device would round
            // to what it holds is not written again every cycle.
            let spec = rt.profile().target();
            let on_grid = spec.round(target.celsius()).clamp(spec.min, spec.max);
            if !spec.confirms(on_grid, r.snapshot.target.celsius()) {
                decided.write = Some((target, output.reason.clone()));
            }
        }
        _ => {
            decided.skipped = true;
            tracing::info!(zone_id = rt.id, "no control decision: {}", output.reason);
        }
    }
    live.decision = Some(ActiveDecision { at: run.now, strategy: inputs.strategy, output });
    live.plan = plan.map(|p| (p, inputs.model_source));
    decided
}

/// Runs the zone's controller once and records its decision (and plan) in the zone's live state.
pub fn decide_zone(state: &AppState, rt: &ZoneRuntime, run: &RunInputs) -> Decided {
    let inputs = zone_inputs(state, rt, run);
    let ctx = context(state, &inputs, run);
    let (output, plan) = run_controller(rt, inputs.strategy, &ctx);
    record(rt, run, &inputs, output, plan)
}

/// Penalty on the largest per-zone comfort shortfall in the joint plan, €/(K·h) (as the benchmark).
pub const FAIRNESS_EUR_PER_KH: f64 = 50.0;

/// The building step under a demand cap: every zone's controller decides in one call
/// ([`heating_predict::control::building::control_building`]), so the predictive zones plan jointly within the
/// cap; each decision is recorded as [`decide_zone`] records it. Returns the decisions in the zones' order and the
/// joint plan's summary.
pub fn decide_building(
    state: &AppState,
    zones: &[Arc<ZoneRuntime>],
    run: &RunInputs,
    cap: &heating_predict::cap::DemandCap,
) -> (Vec<Decided>, Option<heating_predict::control::building::JointSummary>) {
    let inputs: Vec<ZoneInputs> = zones.iter().map(|rt| zone_inputs(state, rt, run)).collect();
    // Slots locked in the fleet's order (the only place more than one is held), never across an await.
    let mut slots: Vec<_> =
        zones.iter().map(|rt| rt.controller.lock().unwrap_or_else(PoisonError::into_inner)).collect();
    for (slot, inp) in slots.iter_mut().zip(&inputs) {
        let c = slot.get_or_insert_with(|| controller(inp.strategy, &PredictiveConfig::default()));
        if c.strategy() != inp.strategy {
            *c = controller(inp.strategy, &PredictiveConfig::default());
        }
    }
    // The energy the building used so far in the current 15-minute window (the guard's count), which the joint
    // plan's first window leaves out.
    let budget = state.demand.guard().budget;
    let started = std::time::Instant::now();
    let decision = {
        let mut pairs: Vec<(&mut dyn heating_predict::Controller, ControlContext<'_>)> = slots
            .iter_mut()
            .zip(&inputs)
            .filter_map(|(slot, inp)| {
                slot.as_mut().map(|c| (&mut **c as &mut dyn heating_predict::Controller, context(state, inp, run)))
            })
            .collect();
        heating_predict::control::building::control_building(&mut pairs, Some(cap), Some(&budget), FAIRNESS_EUR_PER_KH)
    };
    if let Some(rt) = zones.first() {
        rt.metrics.controller_step("building", started.elapsed());
    }
    let plans: Vec<_> = slots
        .iter()
        .map(|slot| slot.as_deref().and_then(|c| c.last_plan()).filter(|p| p.made_at == run.now).cloned())
        .collect();
    drop(slots);
    let decided = zones
        .iter()
        .zip(&inputs)
        .zip(decision.outputs.into_iter().zip(plans))
        .map(|((rt, inp), (output, plan))| record(rt, run, inp, output, plan))
        .collect();
    (decided, decision.joint)
}

/// The zone's controller for `strategy` (built, or rebuilt when the strategy changed) run on `ctx`, with the plan
/// it made in this run, if any.
fn run_controller(
    rt: &ZoneRuntime,
    strategy: Strategy,
    ctx: &ControlContext<'_>,
) -> (ControlOutput, Option<heating_predict::control::PlanSummary>) {
    let mut slot = rt.controller.lock().unwrap_or_else(PoisonError::into_inner);
    let c = slot.get_or_insert_with(|| controller(strategy, &PredictiveConfig::default()));
    if c.strategy() != strategy {
        *c = controller(strategy, &PredictiveConfig::default());
    }
    let started = std::time::Instant::now();
    let output = c.control(ctx);
    rt.metrics.controller_step(strategy.as_str(), started.elapsed());
    let plan = c.last_plan().filter(|p| p.made_at == ctx.now).cloned();
    (output, plan)
}
