//! The scenario runner: simulated zones, the chosen controller, KPIs, and the perfect-foresight reference.
//!
//! Per step (default 60 s), as the simulator does it: outdoor temperature and occupancy are observed at the step
//! start and held; the zone's thermostat decides at the step start; the room evolves exactly. Every control
//! interval (default 15 min) the controller gets the zone's reading as the registers give it (temperatures
//! quantized to 0.1 K), a fresh forecast, the price profile and the zone model, and its target is written when it
//! differs from the device's by 0.1 K or more.
//!
//! Trace rows describe one step: `timestamp` is the step's *end*, `t_air` the air temperature then, and the other
//! columns what held during the step. `tdis_kh = Σ max(0, lower_bound − t_air)·dt`, `energy = Σ power·dt`,
//! `cost = Σ power·dt·price`, over the test days only.

use std::time::Instant;

use anyhow::Context;
use chrono::DurationRound;
use chrono::{DateTime, Duration, Utc};
use heating_core::physics::{RoomParams, RoomState, StepInputs, Thermostat};
use heating_core::preferences::Preferences;
use heating_core::schedule::{DEFAULT_JITTER_MINUTES, Occupancy};
use heating_core::units::{Setpoint, decode_deci_celsius, encode_deci_celsius};
use heating_core::zone::ZoneProfile;
use heating_predict::cap::{self, CapBudget, DemandCap, HeaterRequest, allocate};
use heating_predict::control::building::control_building;
use heating_predict::control::{
    ControlContext, Controller, PlanSummary, PredictiveConfig, Strategy, ZoneReading, controller,
};
use heating_predict::inputs::PriceProfile;
use heating_predict::model::{FitCriteria, Sample, ZoneModel, identify};
use heating_predict::occupancy::{LearnedSchedule, OccupancyForecast};
use serde::Serialize;

use crate::weather::{ForecastModel, WeatherSource};

pub use crate::kpis::{
    Kpis, ModelOut, ParamsOut, Reference, ScenarioResult, ScenarioSettings, TRACE_HEADER, TraceRow, ZoneResult,
};

/// Which model the predictive controller gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ModelChoice {
    /// Identified from the zone's own readings (refitted every midnight; the conservative default until good).
    Learned,
    /// The simulator's true parameters.
    True,
}

/// What the controllers know of occupancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleChoice {
    /// The zone's configured (nominal) schedule; the truth adds ± 20 min jitter.
    Nominal,
    /// Learned from the occupancy logged so far (none configured).
    Learned,
}

/// One zone of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioZone {
    pub profile: ZoneProfile,
    pub preferences: Preferences,
}

/// A scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub zones: Vec<ScenarioZone>,
    pub start: DateTime<Utc>,
    pub warmup_days: u32,
    pub test_days: u32,
    pub step: Duration,
    pub control_interval: Duration,
    pub weather: WeatherSource,
    pub forecast: ForecastModel,
    pub prices: PriceProfile,
    pub price_source: String,
    pub model: ModelChoice,
    /// UA and C of the model are scaled by `1 − model_error` (0.2: the model thinks the room heats 25 % faster).
    pub model_error: f64,
    pub schedule: ScheduleChoice,
    pub seed: u64,
    pub predictive: PredictiveConfig,
    /// Compute the perfect-foresight reference.
    pub reference: bool,
    /// A building demand cap: the predictive zones plan jointly within it, and a guard sheds heaters every step
    /// so that no 15-minute mean exceeds it.
    pub demand_cap: Option<DemandCap>,
    /// Day-ahead prices for day D+1 are published at this hour (UTC) of day D: the controllers see a day-ahead
    /// series only that far, the time-of-use table beyond (`None`: all of it from the start).
    pub price_publication_hour: Option<u32>,
    /// The joint plan keeps this fraction of the demand cap (headroom for the thermostats' on/off timing, which
    /// the guard absorbs by shedding); the guard holds the full cap.
    pub cap_plan_fraction: f64,
    /// The cap guard's minimum on-time: a heater it let run keeps its place this long against rooms in equal or
    /// slightly greater need ([`cap::MIN_RUN`] by default; zero: the rotation may switch it off the next step).
    pub cap_min_run: Duration,
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

fn quantize(c: f64) -> f64 {
    decode_deci_celsius(encode_deci_celsius(c))
}

/// The comfort lower bound: `occupied_temp − 0.5` K while occupied, `unoccupied_temp − 0.5` K otherwise.
#[must_use]
pub fn lower_bound(prefs: &Preferences, occupied: bool, band_k: f64) -> f64 {
    (if occupied { prefs.occupied_temp } else { prefs.unoccupied_temp }) - band_k
}

struct ZoneRun {
    params: RoomParams,
    thermostat: Thermostat,
    truth: Occupancy,
    room: RoomState,
    target: Setpoint,
    samples: Vec<Sample>,
    learned: LearnedSchedule,
    model: ZoneModel,
    last_id: Option<heating_predict::model::Identification>,
    kpis: Kpis,
    test_start_temp: f64,
    // Truth series over the test days, for the reference.
    ref_t_out: Vec<f64>,
    ref_occ: Vec<bool>,
    ref_price: Vec<f64>,
    /// The controller's target (the device's `target` differs while the cap guard sheds the heater).
    desired: Setpoint,
    /// Guard rounds the heater has been kept off while wanting to run (rotation).
    waited: u32,
    /// The guard holds the heater off (it would be on).
    shed: bool,
    /// When the heater last switched on (None while off).
    on_since: Option<DateTime<Utc>>,
}

/// Timing of the controller calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    pub calls: u64,
    pub total_s: f64,
    pub max_s: f64,
}

impl Timing {
    fn record(&mut self, elapsed_s: f64) {
        self.calls += 1;
        self.total_s += elapsed_s;
        self.max_s = self.max_s.max(elapsed_s);
    }
}

/// The comfort deficit the cap guard ranks a heater by, K. A room at or below its comfort floor (within 0.1 K)
/// comes first (10 K + its deficit: it is losing comfort now); the others by how far they lag the temperature their
/// plan has for now (a planned warm-up that falls behind), or by their floor deficit without a plan.
fn guard_deficit(floor: f64, plan: Option<&PlanSummary>, now: DateTime<Utc>, t_air: f64) -> f64 {
    if floor - t_air > -0.1 {
        return 10.0 + floor - t_air;
    }
    let planned = plan.and_then(|p| {
        let x = (now - p.made_at).as_seconds_f64() / p.step_s as f64;
        let k = x.floor() as usize;
        let (a, b) = (*p.temp_c.get(k)?, *p.temp_c.get(k + 1)?);
        Some(a + (b - a) * (x - k as f64))
    });
    (floor - t_air).max(planned.map_or(f64::NEG_INFINITY, |t| t - t_air))
}

/// When the day-ahead prices known at `now` end: prices for day D+1 are published at `hour` (UTC) on day D.
fn published_until(now: DateTime<Utc>, hour: u32) -> DateTime<Utc> {
    let midnight = now.duration_trunc(Duration::days(1)).unwrap_or(now);
    let days = if now - midnight >= Duration::hours(i64::from(hour)) { 2 } else { 1 };
    midnight + Duration::days(days)
}

/// The target that holds a heater off (the cap guard sheds it): `min_temp`, or lower if the room is that cold.
fn shed_target(prefs: &Preferences, t_air: f64, hysteresis_k: f64, current: Setpoint) -> Setpoint {
    let c = prefs.min_temp.min(((t_air - hysteresis_k - 0.2) * 10.0).floor() / 10.0);
    Setpoint::from_celsius(c.max(Setpoint::MIN_CELSIUS)).unwrap_or(current)
}

fn cap_window_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(cap::WINDOW).unwrap_or(at)
}

/// Runs a scenario for one strategy. `trace` receives every test-period row.
pub fn run(
    sc: &Scenario,
    strategy: Strategy,
    mut trace: impl FnMut(&TraceRow, &str) -> anyhow::Result<()>,
) -> anyhow::Result<(ScenarioResult, Timing)> {
    anyhow::ensure!(!sc.zones.is_empty(), "no zones");
    anyhow::ensure!(
        sc.step > Duration::zero() && sc.control_interval >= sc.step,
        "step must be positive and ≤ control interval"
    );
    anyhow::ensure!(
        sc.control_interval.num_seconds() % sc.step.num_seconds().max(1) == 0,
        "the control interval must be a multiple of the step"
    );
    let band = sc.predictive.comfort_band_k;
    let mut zones: Vec<ZoneRun> = sc
        .zones
        .iter()
        .enumerate()
        .map(|(key, z)| {
            z.profile.validate().map_err(|e| anyhow::anyhow!(e.0))?;
            z.preferences.validate().map_err(|e| anyhow::anyhow!(e.0))?;
            let params = z.profile.params();
            Ok(ZoneRun {
                params,
                thermostat: Thermostat { hysteresis_k: z.profile.hysteresis_k },
                truth: Occupancy::new(z.profile.schedule.clone(), sc.seed, key as u64, DEFAULT_JITTER_MINUTES),
                room: RoomState::new(z.profile.initial_temperature_c.unwrap_or(z.profile.initial_target_c)),
                target: Setpoint::from_celsius(z.profile.initial_target_c).context("initial target")?,
                samples: Vec::new(),
                learned: LearnedSchedule::default(),
                model: match sc.model {
                    ModelChoice::True => ZoneModel::from_params(&params),
                    ModelChoice::Learned => ZoneModel::fallback(params.heater_power_w),
                }
                .scaled(1.0 - sc.model_error),
                last_id: None,
                kpis: Kpis::default(),
                test_start_temp: 0.0,
                ref_t_out: Vec::new(),
                ref_occ: Vec::new(),
                ref_price: Vec::new(),
                desired: Setpoint::from_celsius(z.profile.initial_target_c).context("initial target")?,
                waited: 0,
                shed: false,
                on_since: None,
            })
        })
        .collect::<anyhow::Result<_>>()?;

    let step_s = sc.step.as_seconds_f64();
    let steps_per_day = (86_400.0 / step_s).round() as i64;
    let warm_steps = i64::from(sc.warmup_days) * steps_per_day;
    let total_steps = warm_steps + i64::from(sc.test_days) * steps_per_day;
    let control_every = sc.control_interval.num_seconds() / sc.step.num_seconds();
    let sample_every = (60 / sc.step.num_seconds().max(1)).max(1);
    let offset = match &sc.weather {
        WeatherSource::Synthetic(w) => w.utc_offset_minutes,
        WeatherSource::Series { .. } => 0,
    };
    let mut controllers: Vec<Box<dyn Controller>> =
        sc.zones.iter().map(|_| controller(strategy, &sc.predictive)).collect();
    let plan_cap = sc.demand_cap.as_ref().map(|c| DemandCap {
        kw: c.kw * sc.cap_plan_fraction,
        windows: c.windows.iter().map(|w| cap::CapWindow { kw: w.kw * sc.cap_plan_fraction, ..*w }).collect(),
        utc_offset_minutes: c.utc_offset_minutes,
    });
    let mut timing = Timing::default();
    let fit = FitCriteria::default();
    let max_log = (14 * 24 * 60) as usize;
    let mut budget = CapBudget::new(sc.start);
    // Building energy per aligned 15-minute window of the test days, for `max_15min_kw`.
    let mut window: Option<(DateTime<Utc>, f64)> = None;
    let mut max_window_kw: f64 = 0.0;

    for i in 0..total_steps {
        let now = sc.start + sc.step * i as i32;
        let scored = i >= warm_steps;
        let t_out = sc.weather.temperature_at(now);
        let local = (now + Duration::minutes(i64::from(offset))).naive_utc();
        let price = sc.prices.at(now);
        let control_now = i % control_every == 0;
        let forecast = control_now.then(|| sc.forecast.issue(&sc.weather, now));
        let known_prices = match (control_now, sc.price_publication_hour) {
            (true, Some(h)) => Some(sc.prices.published_until(published_until(now, h))),
            _ => None,
        };
        let prices = known_prices.as_ref().unwrap_or(&sc.prices);
        let midnight = i % steps_per_day == 0 && i > 0;
        let mut occupied_now = Vec::with_capacity(zones.len());
        let mut occupancy_now = Vec::with_capacity(zones.len());
        for (zi, z) in zones.iter_mut().enumerate() {
            let occupied = z.truth.is_occupied(local);
            occupied_now.push(occupied);
            if i == warm_steps {
                z.test_start_temp = z.room.t_air;
            }
            if i % sample_every == 0 {
                let s = Sample {
                    at: now,
                    t_air: quantize(z.room.t_air),
                    t_out: quantize(t_out),
                    heater_on: z.room.heater_on,
                    occupied,
                };
                z.samples.push(s);
                if z.samples.len() > max_log + 1000 {
                    z.samples.drain(..1000);
                }
                z.learned.record(now, occupied, offset);
            }
            if midnight && sc.model == ModelChoice::Learned {
                let from = z.samples.len().saturating_sub(max_log);
                let id = identify(&z.samples[from..], z.params.heater_power_w, &fit);
                z.model = id.model.scaled(1.0 - sc.model_error);
                z.last_id = Some(id);
            }
            if control_now {
                occupancy_now.push(match sc.schedule {
                    ScheduleChoice::Nominal => OccupancyForecast::choose(Some(&sc.zones[zi].profile.schedule), None),
                    ScheduleChoice::Learned => OccupancyForecast::choose(None, Some(&z.learned)),
                });
            }
        }
        if let Some(forecast) = &forecast {
            let ctxs: Vec<ControlContext<'_>> = zones
                .iter()
                .enumerate()
                .map(|(zi, z)| ControlContext {
                    now,
                    utc_offset_minutes: offset,
                    reading: Some(ZoneReading {
                        at: now,
                        t_air: quantize(z.room.t_air),
                        t_out: Some(quantize(t_out)),
                        occupied: occupied_now[zi],
                        heater_on: z.room.heater_on,
                        device_target: z.target,
                    }),
                    stale_after: sc.control_interval * 3,
                    preferences: &sc.zones[zi].preferences,
                    hold: None,
                    occupancy: &occupancy_now[zi],
                    forecast,
                    prices,
                    model: &z.model,
                    hysteresis_k: z.thermostat.hysteresis_k,
                })
                .collect();
            let targets: Vec<Option<Setpoint>> = if let Some(plan_cap) = &plan_cap {
                // One building step: the predictive zones plan jointly within the cap.
                let mut pairs: Vec<(&mut dyn Controller, ControlContext<'_>)> =
                    controllers.iter_mut().map(|c| &mut **c as &mut dyn Controller).zip(ctxs).collect();
                let t = Instant::now();
                let decision = control_building(
                    &mut pairs,
                    Some(plan_cap),
                    Some(&budget),
                    sc.predictive.shortfall_penalty_eur_per_kh,
                );
                timing.record(t.elapsed().as_secs_f64());
                decision.outputs.into_iter().map(|o| o.target).collect()
            } else {
                let mut out = Vec::with_capacity(zones.len());
                for (c, ctx) in controllers.iter_mut().zip(&ctxs) {
                    let t = Instant::now();
                    let o = c.control(ctx);
                    timing.record(t.elapsed().as_secs_f64());
                    out.push(o.target);
                }
                out
            };
            for (z, target) in zones.iter_mut().zip(targets) {
                if let Some(target) = target
                    && (target.deci() - z.desired.deci()).abs() >= 1
                {
                    z.desired = target;
                }
            }
        }
        // The cap guard: which heaters may run this step; the others are held off by a low target.
        let cap_w = sc.demand_cap.as_ref().map(|c| c.cap_w(now));
        let allowed: Vec<bool> = match cap_w {
            Some(cap_w) => {
                let available = budget.available_w(now, cap_w);
                let requests: Vec<HeaterRequest> = zones
                    .iter()
                    .enumerate()
                    .map(|(zi, z)| HeaterRequest {
                        power_w: z.params.heater_power_w,
                        // A heater the guard holds off would be on (its thermostat kept it on): ask for it.
                        wants_on: z.thermostat.decide(z.room.t_air, z.desired.celsius(), z.room.heater_on || z.shed),
                        deficit_k: guard_deficit(
                            lower_bound(&sc.zones[zi].preferences, occupied_now[zi], band),
                            controllers[zi].last_plan(),
                            now,
                            quantize(z.room.t_air),
                        ),
                        waited: z.waited,
                        in_min_run: z.room.heater_on && !z.shed && z.on_since.is_some_and(|t| now - t < sc.cap_min_run),
                    })
                    .collect();
                let allowed = allocate(&requests, available);
                for ((z, r), a) in zones.iter_mut().zip(&requests).zip(&allowed) {
                    z.waited = if r.wants_on && !a { z.waited + 1 } else { 0 };
                }
                requests.iter().zip(allowed).map(|(r, a)| a || !r.wants_on).collect()
            }
            None => vec![true; zones.len()],
        };
        let wanted: Vec<bool> = zones
            .iter()
            .map(|z| z.thermostat.decide(z.room.t_air, z.desired.celsius(), z.room.heater_on || z.shed))
            .collect();
        let mut building_w = 0.0;
        for (zi, z) in zones.iter_mut().enumerate() {
            let occupied = occupied_now[zi];
            let prefs = &sc.zones[zi].preferences;
            let h = z.thermostat.hysteresis_k;
            let device = if !allowed[zi] {
                z.shed = true;
                shed_target(prefs, z.room.t_air, h, z.target)
            } else if z.shed && wanted[zi] && !z.room.heater_on {
                // Released: switch it back on (within the hysteresis band the thermostat would keep it off), the
                // controller's target follows at the next step.
                let kick = ((z.room.t_air + h + 0.15) * 10.0).ceil() / 10.0;
                Setpoint::from_celsius(kick.max(z.desired.celsius()).min(Setpoint::MAX_CELSIUS)).unwrap_or(z.desired)
            } else {
                z.shed = false;
                z.desired
            };
            if device.deci() != z.target.deci() {
                z.target = device;
                if scored {
                    z.kpis.setpoint_writes += 1;
                }
            }
            let was_on = z.room.heater_on;
            let inputs = StepInputs { t_out, target: z.target.celsius(), occupied };
            z.room.step(&z.params, &z.thermostat, inputs, step_s);
            if z.room.heater_on {
                building_w += z.params.heater_power_w;
            }
            if z.room.heater_on != was_on {
                z.on_since = z.room.heater_on.then_some(now);
            }
            if scored {
                if z.room.heater_on != was_on {
                    z.kpis.heater_switches += 1;
                }
                let row = TraceRow {
                    at: now + sc.step,
                    zone: zi,
                    t_air: round_to(z.room.t_air, 4),
                    t_out: round_to(t_out, 3),
                    target: z.target.celsius(),
                    heater_on: z.room.heater_on,
                    power_w: if z.room.heater_on { z.params.heater_power_w.round() } else { 0.0 },
                    occupied,
                    lower_bound: round_to(lower_bound(prefs, occupied, band), 2),
                    price: round_to(price, 4),
                    upper_bound: round_to(prefs.ceiling(occupied, sc.predictive.storage_band_k), 2),
                    cap_kw: cap_w.map(|c| c / 1000.0),
                    shed: !allowed[zi],
                };
                let dt_h = step_s / 3600.0;
                z.kpis.tdis_kh += (row.lower_bound - row.t_air).max(0.0) * dt_h;
                z.kpis.tover_kh += (row.t_air - row.upper_bound).max(0.0) * dt_h;
                z.kpis.shed_steps += u64::from(row.shed);
                let e = row.power_w * dt_h / 1000.0;
                z.kpis.energy_kwh += e;
                z.kpis.cost_eur += e * row.price;
                trace(&row, &sc.zones[zi].profile.name)?;
                z.ref_t_out.push(t_out);
                z.ref_occ.push(occupied);
                z.ref_price.push(price);
            }
        }
        budget.record(now, building_w, step_s);
        if scored {
            let w0 = cap_window_start(now);
            match &mut window {
                Some((start, j)) if *start == w0 => *j += building_w * step_s,
                _ => {
                    if let Some((_, j)) = window {
                        max_window_kw = max_window_kw.max(j / cap::WINDOW.as_seconds_f64() / 1000.0);
                    }
                    window = Some((w0, building_w * step_s));
                }
            }
        }
    }
    if let Some((_, j)) = window {
        max_window_kw = max_window_kw.max(j / cap::WINDOW.as_seconds_f64() / 1000.0);
    }

    let mut results = Vec::new();
    let mut total = Kpis::default();
    let refs = if sc.reference { Some(crate::reference::references(sc, &zones_ref(&zones))?) } else { None };
    for (zi, z) in zones.iter_mut().enumerate() {
        if let Some(refs) = &refs {
            z.kpis.reference = Some(refs[zi]);
        }
        z.kpis.finish();
        total.add(&z.kpis);
        let model = (strategy == Strategy::Predictive).then(|| ModelOut {
            source: z.model.source,
            params: ParamsOut::from(&z.model.params()),
            quality: z.last_id.as_ref().and_then(|id| id.quality),
            problem: z.last_id.as_ref().and_then(|id| id.problem.clone()),
        });
        results.push(ZoneResult {
            zone: sc.zones[zi].profile.name.clone(),
            params: ParamsOut::from(&z.params),
            model,
            kpis: z.kpis.clone(),
        });
    }
    total.finish();
    total.max_15min_kw = Some(max_window_kw);
    let settings = ScenarioSettings {
        controller: strategy,
        start: sc.start,
        warmup_days: sc.warmup_days,
        test_days: sc.test_days,
        step_s: sc.step.num_seconds(),
        control_interval_s: sc.control_interval.num_seconds(),
        weather: sc.weather.describe(),
        forecast_sigma_24h_k: sc.forecast.sigma_24h_k,
        prices: sc.price_source.clone(),
        model: sc.model,
        model_error: sc.model_error,
        schedule: sc.schedule,
        seed: sc.seed,
        comfort_band_k: band,
        storage_upper_band_k: sc.predictive.storage_band_k,
        predictive: sc.predictive,
        ceilings_c: sc
            .zones
            .iter()
            .map(|z| {
                let p = &z.preferences;
                (z.profile.name.clone(), p.ceiling(false, band_upper(sc)), p.ceiling(true, band_upper(sc)))
            })
            .collect(),
        demand_cap: sc.demand_cap.clone(),
        price_publication_hour: sc.price_publication_hour,
        cap_plan_fraction: sc.demand_cap.as_ref().map(|_| sc.cap_plan_fraction),
        cap_min_run_min: sc.demand_cap.as_ref().map(|_| sc.cap_min_run.num_minutes()),
    };
    Ok((ScenarioResult { scenario: settings, zones: results, total }, timing))
}

fn band_upper(sc: &Scenario) -> f64 {
    sc.predictive.storage_band_k
}

fn zones_ref(zones: &[ZoneRun]) -> Vec<crate::reference::ZoneTruth<'_>> {
    zones
        .iter()
        .map(|z| crate::reference::ZoneTruth {
            params: &z.params,
            t0: z.test_start_temp,
            t_out: &z.ref_t_out,
            occupied: &z.ref_occ,
            price: &z.ref_price,
        })
        .collect()
}
