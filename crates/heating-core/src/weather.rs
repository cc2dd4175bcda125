//! A deterministic synthetic weather model: the outdoor temperature the simulated zones feel.
//!
//! ```text
//! T_out(t) = mean + daily_amplitude · cos(2π (h_local − 15) / 24) + variation(t)
//! ```
//!
//! The daily cycle peaks at 15:00 site-local time and bottoms out at 03:00. `variation` is a slow, smooth random
//! walk: a seeded value in ± `variation_k` at every knot (each 12 hours, aligned to the Unix epoch), joined by
//! cosine interpolation. It is a pure function of the seed and the instant, so the server's offline weather
//! provider computes exactly what the simulator's zones feel, at any time and in any order (including forecasts of
//! the future). Winter defaults: mean 4 °C, daily ± 3 K, variation ± 2 K (about 0-8 °C on most days).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rng;

const KNOT_SPACING_S: i64 = 12 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticWeather {
    pub seed: u64,
    pub mean_c: f64,
    pub daily_amplitude_k: f64,
    pub variation_k: f64,
    /// Site-local time offset from UTC, in minutes (fixed; no daylight-saving changes).
    pub utc_offset_minutes: i32,
}

impl Default for SyntheticWeather {
    fn default() -> Self {
        Self { seed: 0, mean_c: 4.0, daily_amplitude_k: 3.0, variation_k: 2.0, utc_offset_minutes: 0 }
    }
}

impl SyntheticWeather {
    #[must_use]
    pub fn with_seed(seed: u64) -> Self {
        Self { seed, ..Self::default() }
    }

    fn knot(&self, index: i64) -> f64 {
        // The weather stream is keyed apart from occupancy jitter, which uses the same seed.
        self.variation_k * rng::signed_unit(self.seed, &[0x0057_4541_5448_4552, index as u64])
    }

    /// Outdoor temperature in °C at `at`.
    #[must_use]
    pub fn temperature_at(&self, at: DateTime<Utc>) -> f64 {
        let ms = at.timestamp_millis();
        let local_s = ms as f64 / 1000.0 + f64::from(self.utc_offset_minutes) * 60.0;
        let hour = (local_s / 3600.0).rem_euclid(24.0);
        let daily = self.daily_amplitude_k * (std::f64::consts::TAU * (hour - 15.0) / 24.0).cos();

        let k = ms.div_euclid(KNOT_SPACING_S * 1000);
        let frac = ms.rem_euclid(KNOT_SPACING_S * 1000) as f64 / (KNOT_SPACING_S * 1000) as f64;
        let w = (1.0 - (std::f64::consts::PI * frac).cos()) / 2.0;
        let variation = self.knot(k) * (1.0 - w) + self.knot(k + 1) * w;

        self.mean_c + daily + variation
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn deterministic_by_seed() {
        let a = SyntheticWeather::with_seed(42);
        let b = SyntheticWeather::with_seed(43);
        let t = t0() + Duration::minutes(12_345);
        assert_eq!(a.temperature_at(t), SyntheticWeather::with_seed(42).temperature_at(t));
        assert_ne!(a.temperature_at(t), b.temperature_at(t));
    }

    #[test]
    fn winter_range_and_daily_cycle() {
        let w = SyntheticWeather::with_seed(7);
        let temps: Vec<f64> = (0..(30 * 24)).map(|h| w.temperature_at(t0() + Duration::hours(h))).collect();
        let (lo, hi) = temps.iter().fold((f64::MAX, f64::MIN), |(l, h), &t| (l.min(t), h.max(t)));
        assert!(lo >= 4.0 - 5.0 && hi <= 4.0 + 5.0, "{lo}..{hi}");
        // Afternoons are warmer than nights on average.
        let avg_at = |hour: usize| temps.iter().skip(hour).step_by(24).sum::<f64>() / 30.0;
        assert!(avg_at(15) - avg_at(3) > 4.0);
    }

    #[test]
    fn smooth_at_knots() {
        let w = SyntheticWeather::with_seed(3);
        for k in 1..50 {
            let knot = t0() + Duration::hours(12 * k);
            let before = w.temperature_at(knot - Duration::seconds(1));
            let after = w.temperature_at(knot + Duration::seconds(1));
            assert!((before - after).abs() < 0.01);
        }
    }

    #[test]
    fn local_offset_moves_the_daily_peak() {
        let utc = SyntheticWeather { variation_k: 0.0, ..SyntheticWeather::default() };
        let cet = SyntheticWeather { utc_offset_minutes: 60, ..utc };
        let at_14_utc = t0() + Duration::hours(14);
        assert!((cet.temperature_at(at_14_utc) - (4.0 + 3.0)).abs() < 1e-9, "15:00 local is the peak");
        assert!(utc.temperature_at(at_14_utc) < cet.temperature_at(at_14_utc));
    }
}
