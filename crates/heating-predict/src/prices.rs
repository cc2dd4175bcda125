//! Prices as a series: one price per interval (15 minutes or an hour, as day-ahead markets publish them), for the
//! next day or more. [`PriceSeries`] is validated on construction (time order, no gaps or overlaps, finite prices)
//! and looked up by time; beyond its end a [`crate::inputs::PriceProfile::DayAhead`] falls back to another profile
//! (the time-of-use table by default), which is where a controller plans past what has been published.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Highest absolute price accepted, €/kWh (day-ahead prices may be negative; a price beyond this is a unit error).
pub const MAX_ABS_EUR_KWH: f64 = 10.0;

/// One interval's price: in force over `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PriceInterval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub eur_kwh: f64,
}

/// Why a price series was refused; the message names the interval.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("price series: {0}")]
pub struct PriceSeriesError(pub String);

/// Contiguous price intervals in time order (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<PriceInterval>", into = "Vec<PriceInterval>")]
pub struct PriceSeries {
    intervals: Vec<PriceInterval>,
}

impl TryFrom<Vec<PriceInterval>> for PriceSeries {
    type Error = PriceSeriesError;
    fn try_from(v: Vec<PriceInterval>) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<PriceSeries> for Vec<PriceInterval> {
    fn from(s: PriceSeries) -> Self {
        s.intervals
    }
}

impl PriceSeries {
    /// Checks and wraps intervals: at least one; each at least a minute and at most a day long; each starting where
    /// the one before ends (no gap, no overlap, in time order); prices finite and within ±10 €/kWh.
    pub fn new(intervals: Vec<PriceInterval>) -> Result<Self, PriceSeriesError> {
        if intervals.is_empty() {
            return Err(PriceSeriesError("no intervals".into()));
        }
        let at = |i: usize, iv: &PriceInterval| format!("interval {i} ({})", iv.start.format("%Y-%m-%dT%H:%MZ"));
        for (i, iv) in intervals.iter().enumerate() {
            let len = iv.end - iv.start;
            if len < Duration::minutes(1) || len > Duration::days(1) {
                return Err(PriceSeriesError(format!(
                    "{}: must last 1 min to 24 h, not {} s",
                    at(i, iv),
                    len.num_seconds()
                )));
            }
            if !(iv.eur_kwh.is_finite() && iv.eur_kwh.abs() <= MAX_ABS_EUR_KWH) {
                return Err(PriceSeriesError(format!(
                    "{}: price {} €/kWh is not finite or beyond ±{MAX_ABS_EUR_KWH}",
                    at(i, iv),
                    iv.eur_kwh
                )));
            }
            if i > 0 {
                let prev_end = intervals[i - 1].end;
                if iv.start < intervals[i - 1].start {
                    return Err(PriceSeriesError(format!("{}: not in time order", at(i, iv))));
                }
                if iv.start < prev_end {
                    return Err(PriceSeriesError(format!("{}: overlaps the interval before", at(i, iv))));
                }
                if iv.start > prev_end {
                    return Err(PriceSeriesError(format!(
                        "{}: gap of {} s after the interval before",
                        at(i, iv),
                        (iv.start - prev_end).num_seconds()
                    )));
                }
            }
        }
        Ok(Self { intervals })
    }

    /// From `(time, price)` points as a `timestamp,eur_kwh` file holds them: each price in force until the next
    /// point, the last one for as long as the spacing before it (an hour for a single point). Points are sorted
    /// first; two at the same time are refused.
    pub fn from_points(points: &[(DateTime<Utc>, f64)]) -> Result<Self, PriceSeriesError> {
        let mut pts = points.to_vec();
        pts.sort_by_key(|(t, _)| *t);
        if let Some(w) = pts.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(PriceSeriesError(format!("two prices for {}", w[0].0.format("%Y-%m-%dT%H:%MZ"))));
        }
        let last_len = match pts.as_slice() {
            [.., a, b] => b.0 - a.0,
            _ => Duration::hours(1),
        };
        let intervals = pts
            .iter()
            .enumerate()
            .map(|(i, (t, p))| PriceInterval {
                start: *t,
                end: pts.get(i + 1).map_or(*t + last_len, |n| n.0),
                eur_kwh: *p,
            })
            .collect();
        Self::new(intervals)
    }

    #[must_use]
    pub fn intervals(&self) -> &[PriceInterval] {
        &self.intervals
    }

    /// Start of the first interval.
    #[must_use]
    pub fn start(&self) -> DateTime<Utc> {
        self.intervals[0].start
    }

    /// End of the last interval: how far the published prices reach.
    #[must_use]
    pub fn end(&self) -> DateTime<Utc> {
        self.intervals[self.intervals.len() - 1].end
    }

    /// The price in force at `at`; `None` before the start or from the end on.
    #[must_use]
    pub fn at(&self, at: DateTime<Utc>) -> Option<f64> {
        if at < self.start() || at >= self.end() {
            return None;
        }
        let i = self.intervals.partition_point(|iv| iv.start <= at);
        Some(self.intervals[i - 1].eur_kwh)
    }

    /// How far ahead of `now` the prices are published (zero when they end before `now`).
    #[must_use]
    pub fn ahead_of(&self, now: DateTime<Utc>) -> Duration {
        (self.end() - now).max(Duration::zero())
    }

    /// Checks that prices are published at least `min` ahead of `now` (a feed that stopped updating fails this).
    pub fn check_ahead(&self, now: DateTime<Utc>, min: Duration) -> Result<(), PriceSeriesError> {
        let ahead = self.ahead_of(now);
        if ahead < min {
            return Err(PriceSeriesError(format!(
                "prices end at {}, {:.1} h ahead, less than the {:.1} h required",
                self.end().format("%Y-%m-%dT%H:%MZ"),
                ahead.as_seconds_f64() / 3600.0,
                min.as_seconds_f64() / 3600.0
            )));
        }
        Ok(())
    }

    /// The part of the series before `end` (what had been published by then); `None` if nothing is left.
    #[must_use]
    pub fn until(&self, end: DateTime<Utc>) -> Option<Self> {
        let intervals: Vec<PriceInterval> = self
            .intervals
            .iter()
            .filter(|iv| iv.start < end)
            .map(|iv| PriceInterval { end: iv.end.min(end), ..*iv })
            .filter(|iv| iv.end - iv.start >= Duration::minutes(1))
            .collect();
        (!intervals.is_empty()).then_some(Self { intervals })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc() + Duration::minutes(min)
    }

    fn iv(a: i64, b: i64, p: f64) -> PriceInterval {
        PriceInterval { start: t(a), end: t(b), eur_kwh: p }
    }

    #[test]
    fn a_series_is_contiguous_finite_and_in_order() {
        let ok = PriceSeries::new(vec![iv(0, 15, 0.2), iv(15, 30, -0.01), iv(30, 90, 0.3)]).unwrap();
        assert_eq!((ok.start(), ok.end()), (t(0), t(90)));
        for (bad, words) in [
            (vec![], "no intervals"),
            (vec![iv(0, 15, 0.2), iv(20, 30, 0.2)], "interval 1 (2026-01-05T00:20Z): gap of 300 s"),
            (vec![iv(0, 15, 0.2), iv(10, 30, 0.2)], "interval 1 (2026-01-05T00:10Z): overlaps"),
            (vec![iv(15, 30, 0.2), iv(0, 15, 0.2)], "interval 1 (2026-01-05T00:00Z): not in time order"),
            (vec![iv(0, 15, f64::NAN)], "not finite"),
            (vec![iv(0, 15, 250.0)], "beyond ±10"),
            (vec![iv(0, 0, 0.2)], "must last 1 min to 24 h"),
        ] {
            let e = PriceSeries::new(bad).unwrap_err();
            assert!(e.to_string().contains(words), "{e}");
        }
        // serde goes through the same checks.
        assert!(serde_json::from_value::<PriceSeries>(serde_json::json!([])).is_err());
        let back: PriceSeries = serde_json::from_value(serde_json::to_value(&ok).unwrap()).unwrap();
        assert_eq!(back, ok);
    }

    #[test]
    fn lookup_and_published_horizon() {
        let s = PriceSeries::from_points(&[(t(15), 0.3), (t(0), 0.2), (t(30), 0.4)]).unwrap();
        assert_eq!(s.end(), t(45), "the last point lasts as long as the spacing before it");
        assert_eq!(
            (s.at(t(-1)), s.at(t(0)), s.at(t(14)), s.at(t(15)), s.at(t(44)), s.at(t(45))),
            (None, Some(0.2), Some(0.2), Some(0.3), Some(0.4), None)
        );
        assert_eq!(s.ahead_of(t(5)), Duration::minutes(40));
        assert!(s.check_ahead(t(5), Duration::minutes(40)).is_ok());
        assert!(
            s.check_ahead(t(5), Duration::hours(12))
                .unwrap_err()
                .to_string()
                .contains("0.7 h ahead, less than the 12.0 h")
        );
        let cut = s.until(t(20)).unwrap();
        assert_eq!((cut.end(), cut.at(t(16)), cut.at(t(20))), (t(20), Some(0.3), None));
        assert!(s.until(t(0)).is_none());
        assert!(PriceSeries::from_points(&[(t(0), 0.2), (t(0), 0.3)]).is_err());
    }
}
