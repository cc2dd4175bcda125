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
use chrono::{DateTime, Duration, Utc};
use heating_core::physics::{RoomParams, RoomState, StepInputs, Thermostat};
use heating_core::preferences::Preferences;
use heating_core::schedule::{DEFAULT_JITTER_MINUTES, Occupancy};
use heating_core::units::{Setpoint, decode_deci_celsius, encode_deci_celsius};
use heating_core::zone::ZoneProfile;
use heating_predict::control::{ControlContext, Controller, PredictiveConfig, Strategy, ZoneReading, controller};
use heating_predict::inputs::PriceProfile;
use heating_predict::lp::{Objective, PlanProblem};
use heating_predict::model::{FitCriteria, FitQuality, Sample, ZoneModel, identify};
use heating_predict::occupancy::{LearnedSchedule, OccupancyForecast};
use serde::Serialize;

use crate::weather::{ForecastModel, WeatherSource};

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
}

/// Settings as written to `kpis.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioSettings {
    pub controller: Strategy,
    pub start: DateTime<Utc>,
    pub warmup_days: u32,
    pub test_days: u32,
    pub step_s: i64,
    pub control_interval_s: i64,
    pub weather: String,
    pub forecast_sigma_24h_k: f64,
    pub prices: String,
    pub model: ModelChoice,
    pub model_error: f64,
    pub schedule: ScheduleChoice,
    pub seed: u64,
    pub comfort_band_k: f64,
    pub storage_upper_band_k: f64,
    pub predictive: PredictiveConfig,
}

/// Zone parameters as written to `kpis.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ParamsOut {
    pub r_k_per_w: f64,
    pub ua_w_per_k: f64,
    pub c_mj_per_k: f64,
    pub heater_power_w: f64,
    pub base_gains_w: f64,
    pub occupied_gains_w: f64,
    pub time_constant_h: f64,
}

impl From<&RoomParams> for ParamsOut {
    fn from(p: &RoomParams) -> Self {
        Self {
            r_k_per_w: p.resistance_k_per_w(),
            ua_w_per_k: p.ua_w_per_k,
            c_mj_per_k: p.capacitance_j_per_k / 1e6,
            heater_power_w: p.heater_power_w,
            base_gains_w: p.base_gains_w,
            occupied_gains_w: p.occupied_gains_w,
            time_constant_h: p.time_constant_s() / 3600.0,
        }
    }
}

/// The model the controller used at the end of the run.
#[derive(Debug, Clone, Serialize)]
pub struct ModelOut {
    pub source: heating_predict::model::ModelSource,
    pub params: ParamsOut,
    pub quality: Option<FitQuality>,
    pub problem: Option<String>,
}

/// The perfect-foresight optimum for one zone over the test days.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Reference {
    pub energy_opt_kwh: f64,
    /// Cost of the least-energy plan.
    pub energy_opt_cost_eur: f64,
    pub cost_opt_eur: f64,
    /// Energy of the least-cost plan.
    pub cost_opt_energy_kwh: f64,
    /// Shortfall left in the optimum (0 unless the heater is too small), K·h.
    pub tdis_opt_kh: f64,
}

/// KPIs of one zone, or the total.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Kpis {
    pub tdis_kh: f64,
    pub energy_kwh: f64,
    pub cost_eur: f64,
    pub setpoint_writes: u64,
    pub heater_switches: u64,
    pub reference: Option<Reference>,
    /// energy / energy optimum
    pub energy_ratio: Option<f64>,
    /// cost / cost optimum
    pub cost_ratio: Option<f64>,
}

impl Kpis {
    fn add(&mut self, o: &Kpis) {
        self.tdis_kh += o.tdis_kh;
        self.energy_kwh += o.energy_kwh;
        self.cost_eur += o.cost_eur;
        self.setpoint_writes += o.setpoint_writes;
        self.heater_switches += o.heater_switches;
        if let Some(r) = o.reference {
            let t = self.reference.get_or_insert_with(Reference::default);
            t.energy_opt_kwh += r.energy_opt_kwh;
            t.energy_opt_cost_eur += r.energy_opt_cost_eur;
            t.cost_opt_eur += r.cost_opt_eur;
            t.cost_opt_energy_kwh += r.cost_opt_energy_kwh;
            t.tdis_opt_kh += r.tdis_opt_kh;
        }
    }

    fn finish(&mut self) {
        if let Some(r) = self.reference {
            self.energy_ratio = (r.energy_opt_kwh > 0.0).then(|| self.energy_kwh / r.energy_opt_kwh);
            self.cost_ratio = (r.cost_opt_eur > 0.0).then(|| self.cost_eur / r.cost_opt_eur);
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ZoneResult {
    pub zone: String,
    pub params: ParamsOut,
    pub model: Option<ModelOut>,
    #[serde(flatten)]
    pub kpis: Kpis,
}

/// Everything `kpis.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub scenario: ScenarioSettings,
    pub zones: Vec<ZoneResult>,
    pub total: Kpis,
}

/// One trace row.
#[derive(Debug, Clone, Copy)]
pub struct TraceRow {
    pub at: DateTime<Utc>,
    pub zone: usize,
    pub t_air: f64,
    pub t_out: f64,
    pub target: f64,
    pub heater_on: bool,
    pub power_w: f64,
    pub occupied: bool,
    pub lower_bound: f64,
    pub price: f64,
}

pub const TRACE_HEADER: &str = "timestamp,zone,t_air,t_out,target,heater_on,power_w,occupied,lower_bound,price_eur_kwh";

impl TraceRow {
    /// The CSV line; KPIs are computed from exactly these rounded values.
    #[must_use]
    pub fn csv(&self, zone_name: &str) -> String {
        format!(
            "{},{},{:.4},{:.3},{:.1},{},{:.0},{},{:.2},{:.4}",
            self.at.format("%Y-%m-%dT%H:%M:%SZ"),
            zone_name,
            self.t_air,
            self.t_out,
            self.target,
            u8::from(self.heater_on),
            self.power_w,
            u8::from(self.occupied),
            self.lower_bound,
            self.price
        )
    }
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
    controller: Box<dyn Controller>,
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
}

/// Timing of the controller calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    pub calls: u64,
    pub total_s: f64,
    pub max_s: f64,
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
                controller: controller(strategy, &sc.predictive),
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
    let mut timing = Timing::default();
    let fit = FitCriteria::default();
    let max_log = (14 * 24 * 60) as usize;

    for i in 0..total_steps {
        let now = sc.start + sc.step * i as i32;
        let scored = i >= warm_steps;
        let t_out = sc.weather.temperature_at(now);
        let local = (now + Duration::minutes(i64::from(offset))).naive_utc();
        let price = sc.prices.at(now);
        let control_now = i % control_every == 0;
        let forecast = control_now.then(|| sc.forecast.issue(&sc.weather, now));
        let midnight = i % steps_per_day == 0 && i > 0;
        for (zi, z) in zones.iter_mut().enumerate() {
            let occupied = z.truth.is_occupied(local);
            let prefs = &sc.zones[zi].preferences;
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
            if let Some(forecast) = &forecast {
                let occupancy = match sc.schedule {
                    ScheduleChoice::Nominal => OccupancyForecast::choose(Some(&sc.zones[zi].profile.schedule), None),
                    ScheduleChoice::Learned => OccupancyForecast::choose(None, Some(&z.learned)),
                };
                let ctx = ControlContext {
                    now,
                    utc_offset_minutes: offset,
                    reading: Some(ZoneReading {
                        at: now,
                        t_air: quantize(z.room.t_air),
                        t_out: Some(quantize(t_out)),
                        occupied,
                        heater_on: z.room.heater_on,
                        device_target: z.target,
                    }),
                    stale_after: sc.control_interval * 3,
                    preferences: prefs,
                    hold: None,
                    occupancy: &occupancy,
                    forecast,
                    prices: &sc.prices,
                    model: &z.model,
                    hysteresis_k: z.thermostat.hysteresis_k,
                };
                let t = Instant::now();
                let out = z.controller.control(&ctx);
                let el = t.elapsed().as_secs_f64();
                timing.calls += 1;
                timing.total_s += el;
                timing.max_s = timing.max_s.max(el);
                if let Some(target) = out.target
                    && (target.deci() - z.target.deci()).abs() >= 1
                {
                    z.target = target;
                    if scored {
                        z.kpis.setpoint_writes += 1;
                    }
                }
            }
            let was_on = z.room.heater_on;
            let inputs = StepInputs { t_out, target: z.target.celsius(), occupied };
            z.room.step(&z.params, &z.thermostat, inputs, step_s);
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
                };
                let dt_h = step_s / 3600.0;
                z.kpis.tdis_kh += (row.lower_bound - row.t_air).max(0.0) * dt_h;
                let e = row.power_w * dt_h / 1000.0;
                z.kpis.energy_kwh += e;
                z.kpis.cost_eur += e * row.price;
                trace(&row, &sc.zones[zi].profile.name)?;
                z.ref_t_out.push(t_out);
                z.ref_occ.push(occupied);
                z.ref_price.push(price);
            }
        }
    }

    let mut results = Vec::new();
    let mut total = Kpis::default();
    for (zi, z) in zones.iter_mut().enumerate() {
        if sc.reference {
            z.kpis.reference = Some(reference(sc, zi, z)?);
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
    };
    Ok((ScenarioResult { scenario: settings, zones: results, total }, timing))
}

/// The perfect-foresight optimum over the test days: true model, true weather, true occupancy, continuous heater
/// power, from the zone's actual temperature at the start of the test days, by linear programming at the run's
/// step, for energy and for cost.
fn reference(sc: &Scenario, zi: usize, z: &ZoneRun) -> anyhow::Result<Reference> {
    let prefs = &sc.zones[zi].preferences;
    let band = sc.predictive.comfort_band_k;
    let gains: Vec<f64> =
        z.ref_occ.iter().map(|&o| if o { z.params.occupied_gains_w } else { z.params.base_gains_w }).collect();
    let lower: Vec<f64> = z.ref_occ.iter().map(|&o| round_to(lower_bound(prefs, o, band), 2)).collect();
    let upper_c = (prefs.occupied_temp.max(prefs.unoccupied_temp) + sc.predictive.storage_band_k).min(prefs.max_temp);
    let upper = vec![upper_c; lower.len()];
    let solve = |objective| {
        PlanProblem {
            dt_s: sc.step.as_seconds_f64(),
            t0: z.test_start_temp,
            ua_w_per_k: z.params.ua_w_per_k,
            capacitance_j_per_k: z.params.capacitance_j_per_k,
            power_max_w: z.params.heater_power_w,
            t_out: &z.ref_t_out,
            gains_w: &gains,
            lower: &lower,
            upper: &upper,
            price_eur_kwh: &z.ref_price,
            objective,
            shortfall_penalty_eur_per_kh: 50.0,
        }
        .solve()
        .with_context(|| format!("reference for zone {}", sc.zones[zi].profile.name))
    };
    let e = solve(Objective::Energy)?;
    let c = solve(Objective::Cost)?;
    Ok(Reference {
        energy_opt_kwh: e.energy_kwh,
        energy_opt_cost_eur: e.cost_eur,
        cost_opt_eur: c.cost_eur,
        cost_opt_energy_kwh: c.energy_kwh,
        tdis_opt_kh: e.shortfall_kh.max(c.shortfall_kh),
    })
}
