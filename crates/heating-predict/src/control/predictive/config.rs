//! The predictive controller's settings, [`PredictiveConfig`].

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::lp::Objective;

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
    ///
    /// It is not money: it makes every kWh look dearer by the same amount, so cheap hours look less cheap against
    /// dear ones and heat stored for a price peak (paid for in extra losses) less worth it. The default, 0.10, was
    /// chosen on the benchmark's hold-out seeds 2 and 3 (not on seed 1, where the acceptance rows are measured):
    /// the lower of 0.10 and 0.20 that keeps the headline scenario's energy within 1.05 × the least-energy
    /// optimum on both (1.046 / 1.044, cost 1.026 / 1.027; with 0.20: 1.036 / 1.035, cost 1.037 / 1.036), which
    /// with comfort ceilings of 24/22 °C also costs less (seed 2: 1.030 against 1.052 × the optimum).
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
            energy_weight_eur_kwh: 0.1,
            shortfall_penalty_eur_per_kh: 50.0,
        }
    }
}
