//! The outdoor temperature the simulated zones feel (synthetic or from a CSV file), the forecasts the controllers
//! get, and price profiles from files.

use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, DurationRound, NaiveDateTime, Utc};
use heating_core::rng;
use heating_core::weather::SyntheticWeather;
use heating_predict::inputs::{Forecast, PriceProfile, interpolate};
use heating_predict::prices::PriceSeries;

/// Where the true outdoor temperature comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum WeatherSource {
    Synthetic(SyntheticWeather),
    /// Hourly (or any) points, linearly interpolated, flat beyond the ends.
    Series {
        name: String,
        points: Vec<(DateTime<Utc>, f64)>,
    },
}

impl WeatherSource {
    #[must_use]
    pub fn temperature_at(&self, at: DateTime<Utc>) -> f64 {
        match self {
            Self::Synthetic(w) => w.temperature_at(at),
            Self::Series { points, .. } => interpolate(points, at).unwrap_or(0.0),
        }
    }

    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Synthetic(w) => format!(
                "synthetic (seed {}, mean {} °C, daily ±{} K, variation ±{} K)",
                w.seed, w.mean_c, w.daily_amplitude_k, w.variation_k
            ),
            Self::Series { name, points } => format!("csv {name} ({} points)", points.len()),
        }
    }
}

/// Forecasts as a weather service would issue them: every hour, hourly points for the next 26 hours, each the
/// truth plus an error that grows with the lead time as a seeded random walk, `sigma_24h_k` standard deviation at
/// 24 h (0 gives perfect forecasts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecastModel {
    pub sigma_24h_k: f64,
    pub seed: u64,
}

const FORECAST_KEY: u64 = 0x464F_5245_4341_5354;

impl ForecastModel {
    /// The forecast in force at `now` (issued at the top of the hour).
    #[must_use]
    pub fn issue(&self, truth: &WeatherSource, now: DateTime<Utc>) -> Forecast {
        let issued = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        let issue_hour = issued.timestamp().div_euclid(3600) as u64;
        // Uniform steps of variance 1/3 each: scale so that 24 of them have the wanted standard deviation.
        let step_scale = self.sigma_24h_k * 3f64.sqrt() / 24f64.sqrt();
        let mut err = 0.0;
        let points = (0..=26)
            .map(|lead: u64| {
                if lead > 0 {
                    err += step_scale * rng::signed_unit(self.seed, &[FORECAST_KEY, issue_hour, lead]);
                }
                let at = issued + Duration::hours(lead as i64);
                (at, truth.temperature_at(at) + err)
            })
            .collect();
        Forecast::new(points)
    }
}

fn parse_time(s: &str) -> anyhow::Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.to_utc());
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    bail!("cannot read time {s:?} (expected RFC 3339 or YYYY-MM-DD HH:MM, UTC)")
}

/// Reads `timestamp,value` rows (a header line is skipped); sorted by time.
pub fn read_series(path: &Path) -> anyhow::Result<Vec<(DateTime<Utc>, f64)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    let mut first = true;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let header = std::mem::replace(&mut first, false);
        let Some((t, v)) = line.split_once(',') else { bail!("{}:{}: expected time,value", path.display(), i + 1) };
        let value: f64 = match v.trim().parse() {
            Ok(v) => v,
            Err(_) if header => continue, // the first line that is not a comment: a header
            Err(_) => bail!("{}:{}: {v:?} is not a number", path.display(), i + 1),
        };
        let at = parse_time(t).with_context(|| format!("{}:{}", path.display(), i + 1))?;
        out.push((at, value));
    }
    if out.is_empty() {
        bail!("{}: no data rows", path.display());
    }
    out.sort_by_key(|(t, _)| *t);
    Ok(out)
}

/// A price profile from a `timestamp,eur_kwh` file: a day-ahead series (each price in force until the next row,
/// the last one as long as the spacing before it; checked for duplicates and impossible prices), with the
/// time-of-use table beyond it.
pub fn read_prices(path: &Path) -> anyhow::Result<PriceProfile> {
    let series = PriceSeries::from_points(&read_series(path)?).with_context(|| path.display().to_string())?;
    Ok(PriceProfile::day_ahead(series))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forecast_error_grows_with_lead_time_and_is_seeded() {
        let truth = WeatherSource::Synthetic(SyntheticWeather::with_seed(1));
        let m = ForecastModel { sigma_24h_k: 0.5, seed: 9 };
        let t0 = DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc();
        let (mut e1, mut e24) = (0.0, 0.0);
        let n = 400;
        for h in 0..n {
            let now = t0 + Duration::hours(h) + Duration::minutes(7);
            let f = m.issue(&truth, now);
            assert_eq!(f, m.issue(&truth, now));
            let issued = t0 + Duration::hours(h);
            assert!((f.at(issued).unwrap() - truth.temperature_at(issued)).abs() < 1e-12);
            e1 += (f.at(issued + Duration::hours(1)).unwrap() - truth.temperature_at(issued + Duration::hours(1)))
                .powi(2);
            e24 += (f.at(issued + Duration::hours(24)).unwrap() - truth.temperature_at(issued + Duration::hours(24)))
                .powi(2);
        }
        let (s1, s24) = ((e1 / n as f64).sqrt(), (e24 / n as f64).sqrt());
        assert!(s1 < 0.2 && (0.3..0.75).contains(&s24), "{s1} {s24}");
    }
}
