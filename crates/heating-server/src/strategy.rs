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
    /// The target to write (it differs from the device's by 0.1 K or more), with the reason in words.
    pub write: Option<(Setpoint, String)>,
    /// No decision (no fresh reading); the reason is in the zone's live state.
    pub skipped: bool,
    /// A manual hold ended with this run (removed from the live state; the caller removes it from storage).
    pub hold_expired: bool,
}

/// Runs the zone's controller once and records its decision (and plan) in the zone's live state.
pub fn decide_zone(state: &AppState, rt: &ZoneRuntime, run: &RunInputs) -> Decided {
    let prefs = rt.preferences();
    let strategy = zone_strategy(&prefs, state.config.control_strategy());
    let no_weather = Weather::default();
    let weather = run.weather.get(&prefs.weather_location).unwrap_or(&no_weather);
    let model = model_in_use(rt);
    let occupancy = OccupancyForecast::choose(prefs.occupancy_schedule.as_ref(), Some(&rt.learned().occupancy));
    let now = run.now;
    let mut live = rt.live();
    let ctx = ControlContext {
        now,
        utc_offset_minutes: state.config.site_offset_minutes(now),
        reading: live.reading.map(|r| ZoneReading {
            at: r.at,
            t_air: r.snapshot.air_temperature,
            t_out: weather.now_c.or(Some(r.snapshot.outdoor_temperature)),
            occupied: r.snapshot.occupied,
            heater_on: r.snapshot.heater_on,
            device_target: r.snapshot.target,
        }),
        stale_after: run.stale_after,
        preferences: &prefs,
        hold: live.hold.map(|h| h.hold),
        occupancy: &occupancy,
        forecast: &weather.forecast,
        prices: &run.prices,
        model: &model,
        hysteresis_k: HYSTERESIS_K,
    };
    let (output, plan) = run_controller(rt, strategy, &ctx);
    if output.hold_expired {
        tracing::info!(zone_id = rt.id, "manual hold expired");
        live.hold = None;
    }
    let mut decided = Decided { write: None, skipped: false, hold_expired: output.hold_expired };
    match (output.target, live.reading) {
        (Some(target), Some(r)) => {
            if (target.celsius() - r.snapshot.target.celsius()).abs() >= 0.1 - 1e-9 {
                decided.write = Some((target, output.reason.clone()));
            }
        }
        _ => {
            decided.skipped = true;
            tracing::info!(zone_id = rt.id, "no control decision: {}", output.reason);
        }
    }
    live.decision = Some(ActiveDecision { at: now, strategy, output });
    live.plan = plan.map(|p| (p, model.source));
    decided
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
