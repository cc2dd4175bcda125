//! What a run reports: the settings, zone parameters and KPIs written to `kpis.json`, and the `trace.csv` rows.

use chrono::{DateTime, Utc};
use heating_core::physics::RoomParams;
use heating_predict::cap::DemandCap;
use heating_predict::control::{PredictiveConfig, Strategy};
use heating_predict::model::FitQuality;
use serde::Serialize;

use crate::scenario::{ModelChoice, ScheduleChoice};

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
    /// The comfort ceilings of each zone (vacant, occupied), °C.
    pub ceilings_c: Vec<(String, f64, f64)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demand_cap: Option<DemandCap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_publication_hour: Option<u32>,
    /// The fraction of the cap the joint plan keeps (with a cap only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap_plan_fraction: Option<f64>,
    /// The cap guard's minimum on-time, minutes (with a cap only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap_min_run_min: Option<i64>,
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
    /// Σ max(0, `t_air` − `upper_bound`)·dt: time above the comfort ceiling, K·h.
    pub tover_kh: f64,
    /// Steps in which the demand-cap guard kept the heater off although its thermostat wanted it on.
    pub shed_steps: u64,
    /// Highest building mean power over an aligned 15-minute window, kW (total only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_15min_kw: Option<f64>,
}

impl Kpis {
    pub(crate) fn add(&mut self, o: &Kpis) {
        self.tdis_kh += o.tdis_kh;
        self.energy_kwh += o.energy_kwh;
        self.cost_eur += o.cost_eur;
        self.setpoint_writes += o.setpoint_writes;
        self.heater_switches += o.heater_switches;
        self.tover_kh += o.tover_kh;
        self.shed_steps += o.shed_steps;
        if let Some(r) = o.reference {
            let t = self.reference.get_or_insert_with(Reference::default);
            t.energy_opt_kwh += r.energy_opt_kwh;
            t.energy_opt_cost_eur += r.energy_opt_cost_eur;
            t.cost_opt_eur += r.cost_opt_eur;
            t.cost_opt_energy_kwh += r.cost_opt_energy_kwh;
            t.tdis_opt_kh += r.tdis_opt_kh;
        }
    }

    pub(crate) fn finish(&mut self) {
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
    /// The comfort ceiling in force (`occupied_max_temp` while occupied, else `storage_max_temp`).
    pub upper_bound: f64,
    /// The building demand cap in force, kW.
    pub cap_kw: Option<f64>,
    /// The cap guard kept the heater off this step.
    pub shed: bool,
}

/// The trace's columns. The building's power in a step is the sum of `power_w` over the zones' rows with the same
/// `timestamp`; the step runs from `timestamp − step` to `timestamp`.
pub const TRACE_HEADER: &str =
    "timestamp,zone,t_air,t_out,target,heater_on,power_w,occupied,lower_bound,price_eur_kwh,upper_bound,cap_kw,shed";

impl TraceRow {
    /// The CSV line; KPIs are computed from exactly these rounded values.
    #[must_use]
    pub fn csv(&self, zone_name: &str) -> String {
        format!(
            "{},{},{:.4},{:.3},{:.1},{},{:.0},{},{:.2},{:.4},{:.2},{},{}",
            self.at.format("%Y-%m-%dT%H:%M:%SZ"),
            zone_name,
            self.t_air,
            self.t_out,
            self.target,
            u8::from(self.heater_on),
            self.power_w,
            u8::from(self.occupied),
            self.lower_bound,
            self.price,
            self.upper_bound,
            self.cap_kw.map_or_else(String::new, |c| format!("{c:.3}")),
            u8::from(self.shed)
        )
    }
}
