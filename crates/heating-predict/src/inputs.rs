//! What a controller is told about the future: an outdoor-temperature forecast and an electricity price profile.

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::prices::PriceSeries;

/// An outdoor-temperature forecast: points in time order, linearly interpolated, held flat beyond both ends.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Forecast {
    points: Vec<(DateTime<Utc>, f64)>,
}

impl Forecast {
    /// Builds a forecast; points are sorted by time and non-finite values dropped.
    #[must_use]
    pub fn new(mut points: Vec<(DateTime<Utc>, f64)>) -> Self {
        points.retain(|(_, v)| v.is_finite());
        points.sort_by_key(|(t, _)| *t);
        Self { points }
    }

    /// A forecast that says the same temperature for ever (what a controller assumes with no forecast at all).
    #[must_use]
    pub fn constant(at: DateTime<Utc>, celsius: f64) -> Self {
        Self::new(vec![(at, celsius)])
    }

    #[must_use]
    pub fn points(&self) -> &[(DateTime<Utc>, f64)] {
        &self.points
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The forecast temperature at `at`; `None` for an empty forecast.
    #[must_use]
    pub fn at(&self, at: DateTime<Utc>) -> Option<f64> {
        interpolate(&self.points, at)
    }
}

/// Linear interpolation in time-ordered points, flat beyond both ends.
#[must_use]
pub fn interpolate(points: &[(DateTime<Utc>, f64)], at: DateTime<Utc>) -> Option<f64> {
    let first = points.first()?;
    let last = points.last()?;
    if at <= first.0 {
        return Some(first.1);
    }
    if at >= last.0 {
        return Some(last.1);
    }
    let i = points.partition_point(|(t, _)| *t <= at);
    let (t0, v0) = points[i - 1];
    let (t1, v1) = points[i];
    let span = (t1 - t0).as_seconds_f64();
    if span <= 0.0 {
        return Some(v1);
    }
    let w = (at - t0).as_seconds_f64() / span;
    Some(v0 + (v1 - v0) * w)
}

/// Electricity price in €/kWh over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PriceProfile {
    /// Daily time-of-use bands in site-local time: `(from_hour, to_hour, eur_per_kwh)`, first match wins;
    /// `default_eur_kwh` elsewhere.
    TimeOfUse { bands: Vec<(u32, u32, f64)>, default_eur_kwh: f64, utc_offset_minutes: i32 },
    /// A price series, each value in force from its time until the next point (the last one for ever).
    Series { points: Vec<(DateTime<Utc>, f64)> },
    /// Published prices per interval (day-ahead), and `fallback` beyond them (before their start and from their
    /// end on).
    DayAhead { series: PriceSeries, fallback: Box<PriceProfile> },
}

impl Default for PriceProfile {
    /// 0.10 €/kWh 00-07 h, 0.25 €/kWh 17-21 h, 0.18 €/kWh otherwise (UTC = site time).
    fn default() -> Self {
        Self::TimeOfUse { bands: vec![(0, 7, 0.10), (17, 21, 0.25)], default_eur_kwh: 0.18, utc_offset_minutes: 0 }
    }
}

impl PriceProfile {
    /// Published prices, the default time-of-use table beyond them.
    #[must_use]
    pub fn day_ahead(series: PriceSeries) -> Self {
        Self::DayAhead { series, fallback: Box::new(Self::default()) }
    }

    /// The same profile with only what had been published by `known_until` of a day-ahead series (the fallback
    /// after that); other profiles unchanged.
    #[must_use]
    pub fn published_until(&self, known_until: DateTime<Utc>) -> Self {
        match self {
            Self::DayAhead { series, fallback } => match series.until(known_until) {
                Some(series) => Self::DayAhead { series, fallback: fallback.clone() },
                None => (**fallback).clone(),
            },
            other => other.clone(),
        }
    }

    /// Price in €/kWh in force at `at`.
    #[must_use]
    pub fn at(&self, at: DateTime<Utc>) -> f64 {
        match self {
            Self::TimeOfUse { bands, default_eur_kwh, utc_offset_minutes } => {
                let hour = (at + Duration::minutes(i64::from(*utc_offset_minutes))).hour();
                bands.iter().find(|(from, to, _)| (*from..*to).contains(&hour)).map_or(*default_eur_kwh, |b| b.2)
            }
            Self::Series { points } => {
                let i = points.partition_point(|(t, _)| *t <= at);
                if i == 0 { points.first().map_or(0.0, |p| p.1) } else { points[i - 1].1 }
            }
            Self::DayAhead { series, fallback } => series.at(at).unwrap_or_else(|| fallback.at(at)),
        }
    }

    /// Mean price over `[from, from + len)` sampled each minute (exact for hour-aligned time-of-use bands).
    #[must_use]
    pub fn mean_over(&self, from: DateTime<Utc>, len: Duration) -> f64 {
        let minutes = len.num_minutes().max(1);
        (0..minutes).map(|m| self.at(from + Duration::minutes(m))).sum::<f64>() / minutes as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc() + Duration::hours(h)
    }

    #[test]
    fn forecast_interpolates_and_holds_at_the_ends() {
        let f = Forecast::new(vec![(t(1), 2.0), (t(0), 0.0)]);
        assert_eq!(f.at(t(-5)), Some(0.0));
        assert_eq!(f.at(t(0) + Duration::minutes(30)), Some(1.0));
        assert_eq!(f.at(t(9)), Some(2.0));
        assert_eq!(Forecast::default().at(t(0)), None);
    }

    #[test]
    fn default_time_of_use() {
        let p = PriceProfile::default();
        assert_eq!(p.at(t(3)), 0.10);
        assert_eq!(p.at(t(7)), 0.18);
        assert_eq!(p.at(t(17)), 0.25);
        assert_eq!(p.at(t(20) + Duration::minutes(59)), 0.25);
        assert_eq!(p.at(t(21)), 0.18);
        let s = PriceProfile::Series { points: vec![(t(0), 0.2), (t(2), 0.3)] };
        assert_eq!(s.at(t(-1)), 0.2);
        assert_eq!(s.at(t(1)), 0.2);
        assert_eq!(s.at(t(5)), 0.3);
    }

    #[test]
    fn day_ahead_prices_fall_back_to_the_table_beyond_their_end() {
        let series = PriceSeries::from_points(&[(t(17), 0.31), (t(18), 0.12)]).unwrap();
        let p = PriceProfile::day_ahead(series);
        assert_eq!((p.at(t(16)), p.at(t(17)), p.at(t(18)), p.at(t(19)), p.at(t(27))), (0.18, 0.31, 0.12, 0.25, 0.10));
        assert!((p.mean_over(t(17) + Duration::minutes(30), Duration::hours(1)) - (0.31 + 0.12) / 2.0).abs() < 1e-12);
        let early = p.published_until(t(18));
        assert_eq!((early.at(t(17)), early.at(t(18))), (0.31, 0.25), "not yet published: the table");
        assert_eq!(p.published_until(t(0)), PriceProfile::default());
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["kind"], "day_ahead");
        assert_eq!(serde_json::from_value::<PriceProfile>(json).unwrap(), p);
    }
}
