//! Command-line options and the scenario they describe.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use heating_core::preferences::Preferences;
use heating_core::weather::SyntheticWeather;
use heating_core::zone::{ZoneProfile, default_profiles};
use heating_predict::cap::{CapWindow, DemandCap};
use heating_predict::control::{PredictiveConfig, Strategy};
use heating_predict::inputs::PriceProfile;
use heating_predict::lp::Objective;
use serde::Deserialize;

use crate::scenario::{ModelChoice, Scenario, ScenarioZone, ScheduleChoice};
use crate::weather::{ForecastModel, WeatherSource, read_prices, read_series};

#[derive(Debug, clap::Parser)]
#[command(name = "heating-bench", about = "Scenario benchmark of the heating control strategies")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run a scenario for one controller or all, write trace.csv and kpis.json, print the table.
    Scenario(Box<ScenarioArgs>),
    /// Time one predictive optimization per zone (the work of one zone per control step), and the joint
    /// optimization of all zones under a demand cap.
    Timing(TimingArgs),
    /// Write the synthetic day-ahead price series (see `crate::prices`) as `timestamp,eur_kwh` CSV.
    Prices(crate::prices::PricesArgs),
}

/// Which controller(s) to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControllerArg {
    One(Strategy),
    All,
}

impl std::str::FromStr for ControllerArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("all") {
            Ok(Self::All)
        } else {
            s.parse().map(Self::One).map_err(|e: heating_predict::control::UnknownStrategy| e.to_string())
        }
    }
}

impl ControllerArg {
    #[must_use]
    pub fn strategies(self) -> Vec<Strategy> {
        match self {
            Self::One(s) => vec![s],
            Self::All => Strategy::ALL.to_vec(),
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct ScenarioArgs {
    /// constant, reactive, scheduled, predictive or all.
    #[arg(long, default_value = "all")]
    pub controller: ControllerArg,
    /// TOML file with `[[zones]]` zone profiles (as the simulator reads them) and optional
    /// `[preferences."Zone name"]` tables; default: the five default zones with default preferences (21/17 °C).
    #[arg(long)]
    pub zones: Option<PathBuf>,
    /// First day (UTC midnight), YYYY-MM-DD; the default is a Monday.
    #[arg(long, default_value = "2026-01-05")]
    pub start: NaiveDate,
    /// Days simulated before scoring starts (model identification and schedule learning happen here).
    #[arg(long, default_value_t = 7)]
    pub warmup_days: u32,
    /// Days scored.
    #[arg(long, default_value_t = 14)]
    pub test_days: u32,
    /// Simulation step, seconds.
    #[arg(long, default_value_t = 60)]
    pub step_s: i64,
    /// Control interval, seconds.
    #[arg(long, default_value_t = 900)]
    pub control_interval_s: i64,
    /// `synthetic`, or a CSV file of `timestamp,temp_c` rows (hourly, linearly interpolated).
    #[arg(long, default_value = "synthetic")]
    pub weather: String,
    /// Forecast error: standard deviation at 24 h lead time, K (grows as a random walk; 0 = perfect forecasts).
    #[arg(long, default_value_t = 0.5)]
    pub forecast_sigma: f64,
    /// `tou` (0.10 €/kWh 00-07 h, 0.25 €/kWh 17-21 h, 0.18 €/kWh otherwise) or a CSV file of
    /// `timestamp,eur_kwh` rows (each price in force until the next row).
    #[arg(long, default_value = "tou")]
    pub prices: String,
    /// Model of the predictive controller: identified from the warm-up readings, or the true parameters.
    #[arg(long, value_enum, default_value = "learned")]
    pub model: ModelChoice,
    /// Deliberate model error: UA and C scaled by (1 − e); 0.2 makes the model 20 % off (it thinks the rooms heat
    /// 25 % faster than they do).
    #[arg(long, default_value_t = 0.0)]
    pub model_error: f64,
    /// What controllers know of occupancy: the nominal schedule, or one learned from logged occupancy.
    #[arg(long, value_enum, default_value = "nominal")]
    pub schedule: ScheduleChoice,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory (one subdirectory per controller when running all).
    #[arg(long, default_value = "bench-out")]
    pub out: PathBuf,
    /// Planning: highest temperature heat may be stored up to, above the occupied target, K (applies to the
    /// predictive controller and to the reference alike).
    #[arg(long, default_value_t = PredictiveConfig::default().storage_band_k)]
    pub storage_band_k: f64,
    /// Predictive: fraction of the rated heater power the plan assumes (robustness against optimistic models).
    #[arg(long, default_value_t = PredictiveConfig::default().power_fraction)]
    pub power_fraction: f64,
    /// Predictive: once the heater has been seen on for 12 whole control intervals, plan with this fraction of the
    /// power observed instead (0: always `--power-fraction` of the rated power).
    #[arg(long, default_value_t = PredictiveConfig::default().observed_power_margin)]
    pub observed_power_margin: f64,
    /// Predictive: be at comfort this many minutes before the expected arrival.
    #[arg(long, default_value_t = PredictiveConfig::default().arrival_margin.num_minutes())]
    pub arrival_margin_min: i64,
    /// Predictive: what the plan minimizes.
    #[arg(long, value_enum, default_value = "cost")]
    pub objective: ObjectiveArg,
    /// Predictive: €/kWh added to the price in the plan's objective (trades cost for energy; 0 = pure cost).
    #[arg(long, default_value_t = PredictiveConfig::default().energy_weight_eur_kwh)]
    pub energy_weight: f64,
    /// Predictive: aim this far above the comfort lower bound, K.
    #[arg(long, default_value_t = PredictiveConfig::default().comfort_margin_k)]
    pub comfort_margin_k: f64,
    /// Skip the perfect-foresight reference.
    #[arg(long)]
    pub no_reference: bool,
    /// Comfort ceiling of a vacant room for every zone (its `storage_max_temp` preference), °C; default: the
    /// zone's preference (unset: up to the occupied temperature).
    #[arg(long)]
    pub storage_max: Option<f64>,
    /// Comfort ceiling of an occupied room for every zone (its `occupied_max_temp` preference), °C.
    #[arg(long)]
    pub occupied_max: Option<f64>,
    /// Building demand cap, kW: no 15-minute mean of the building's power above it (predictive zones plan jointly
    /// within it; a guard sheds heaters every step).
    #[arg(long)]
    pub demand_cap_kw: Option<f64>,
    /// Another cap in a window of the day, `HH:MM-HH:MM=KW` (UTC), repeatable; needs `--demand-cap-kw`.
    #[arg(long)]
    pub demand_cap_window: Vec<CapWindow>,
    /// A day-ahead price file's prices for day D+1 are published at this hour (UTC) of day D: controllers see them
    /// from then on, the time-of-use table beyond what is published (the score uses the file's prices throughout).
    #[arg(long, default_value_t = 12)]
    pub price_publication_hour: u32,
    /// With `--demand-cap-kw`: the predictive zones' joint plan keeps this fraction of the cap (headroom for the
    /// thermostats' on/off timing); the guard holds the full cap.
    #[arg(long, default_value_t = 1.0)]
    pub cap_plan_fraction: f64,
    /// With `--demand-cap-kw`: the guard's minimum on-time, minutes: a heater it let run keeps its place this long
    /// against rooms in equal or slightly greater need (0: it may be switched off at the next step).
    #[arg(long, default_value_t = heating_predict::cap::MIN_RUN.num_minutes())]
    pub cap_min_run_min: i64,
}

impl Default for ScenarioArgs {
    fn default() -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            args: ScenarioArgs,
        }
        Wrap::parse_from(["x"]).args
    }
}

/// What the predictive plan minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectiveArg {
    Cost,
    Energy,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TimingArgs {
    /// Optimizations per zone.
    #[arg(long, default_value_t = 96)]
    pub iterations: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZonesFile {
    zones: Vec<ZoneProfile>,
    #[serde(default)]
    preferences: BTreeMap<String, serde_json::Value>,
}

/// Reads a zones file.
pub fn read_zones(path: &std::path::Path) -> anyhow::Result<Vec<ScenarioZone>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: ZonesFile = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut zones = Vec::new();
    for profile in file.zones {
        let preferences = match file.preferences.get(&profile.name) {
            Some(v) => Preferences::parse_valid(v.clone()).map_err(|e| anyhow::anyhow!("{}: {e}", profile.name))?,
            None => Preferences::default(),
        };
        zones.push(ScenarioZone { profile, preferences });
    }
    if let Some(unknown) = file.preferences.keys().find(|k| !zones.iter().any(|z| &z.profile.name == *k)) {
        bail!("preferences for unknown zone {unknown:?}");
    }
    Ok(zones)
}

impl ScenarioArgs {
    /// The scenario these options describe.
    pub fn scenario(&self) -> anyhow::Result<Scenario> {
        let zones = match &self.zones {
            Some(p) => read_zones(p)?,
            None => default_profiles()
                .into_iter()
                .map(|profile| ScenarioZone { profile, preferences: Preferences::default() })
                .collect(),
        };
        let weather = if self.weather == "synthetic" {
            WeatherSource::Synthetic(SyntheticWeather::with_seed(self.seed))
        } else {
            let path = PathBuf::from(&self.weather);
            let name = path.file_name().map_or_else(|| self.weather.clone(), |n| n.to_string_lossy().into_owned());
            WeatherSource::Series { name, points: read_series(&path)? }
        };
        let (prices, price_source, publication) = if self.prices == "tou" {
            (PriceProfile::default(), "time-of-use 0.10 (00-07 h) / 0.25 (17-21 h) / 0.18 €/kWh".to_string(), None)
        } else {
            if self.price_publication_hour > 23 {
                bail!("--price-publication-hour must be 0 to 23");
            }
            let source = format!(
                "csv {} (day-ahead, published {:02}:00 UTC the day before; time-of-use beyond)",
                self.prices, self.price_publication_hour
            );
            (read_prices(std::path::Path::new(&self.prices))?, source, Some(self.price_publication_hour))
        };
        let mut zones = zones;
        for z in &mut zones {
            if let Some(v) = self.storage_max {
                z.preferences.storage_max_temp = Some(v);
            }
            if let Some(v) = self.occupied_max {
                z.preferences.occupied_max_temp = Some(v);
            }
            z.preferences.validate().map_err(|e| anyhow::anyhow!("zone {}: {e}", z.profile.name))?;
        }
        if !(0..=24 * 60).contains(&self.cap_min_run_min) {
            bail!("--cap-min-run-min must be 0 to 1440");
        }
        if !(self.cap_plan_fraction > 0.0 && self.cap_plan_fraction <= 1.0) {
            bail!("--cap-plan-fraction must be above 0 and at most 1");
        }
        let demand_cap = match self.demand_cap_kw {
            Some(kw) => {
                let cap = DemandCap { kw, windows: self.demand_cap_window.clone(), utc_offset_minutes: 0 };
                cap.validate().map_err(|e| anyhow::anyhow!("--demand-cap-kw: {e}"))?;
                Some(cap)
            }
            None if !self.demand_cap_window.is_empty() => bail!("--demand-cap-window needs --demand-cap-kw"),
            None => None,
        };
        if !(self.model_error.is_finite() && self.model_error.abs() < 0.9) {
            bail!("--model-error must be within -0.9..0.9");
        }
        if !(self.forecast_sigma.is_finite() && self.forecast_sigma >= 0.0) {
            bail!("--forecast-sigma must be zero or positive");
        }
        if self.step_s <= 0 || 86_400 % self.step_s != 0 {
            bail!("--step-s must divide a day");
        }
        let start: DateTime<Utc> = self.start.and_hms_opt(0, 0, 0).context("start")?.and_utc();
        Ok(Scenario {
            zones,
            start,
            warmup_days: self.warmup_days,
            test_days: self.test_days,
            step: Duration::seconds(self.step_s),
            control_interval: Duration::seconds(self.control_interval_s),
            weather,
            forecast: ForecastModel { sigma_24h_k: self.forecast_sigma, seed: self.seed },
            prices,
            price_source,
            model: self.model,
            model_error: self.model_error,
            schedule: self.schedule,
            seed: self.seed,
            predictive: PredictiveConfig {
                step: Duration::seconds(self.control_interval_s),
                storage_band_k: self.storage_band_k,
                power_fraction: self.power_fraction,
                observed_power_margin: self.observed_power_margin,
                arrival_margin: Duration::minutes(self.arrival_margin_min),
                energy_weight_eur_kwh: self.energy_weight,
                comfort_margin_k: self.comfort_margin_k,
                objective: match self.objective {
                    ObjectiveArg::Cost => Objective::Cost,
                    ObjectiveArg::Energy => Objective::Energy,
                },
                ..PredictiveConfig::default()
            },
            reference: !self.no_reference,
            demand_cap,
            price_publication_hour: publication,
            cap_plan_fraction: self.cap_plan_fraction,
            cap_min_run: Duration::minutes(self.cap_min_run_min),
        })
    }
}
