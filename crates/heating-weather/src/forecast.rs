//! The normalized forecast every provider produces, the values a request is made of, and the served wrappers.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::WeatherError;

/// Which provider a forecast came from (and which one `WEATHER_PROVIDER` selects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
pub enum ProviderKind {
    /// WeatherAPI.com (needs `WEATHERAPI_KEY`).
    #[serde(rename = "weatherapi")]
    #[value(name = "weatherapi")]
    WeatherApi,
    /// Open-Meteo (no key; needs coordinates).
    #[serde(rename = "open-meteo")]
    #[value(name = "open-meteo")]
    OpenMeteo,
    /// The deterministic synthetic model the zone simulator uses (no network).
    #[serde(rename = "simulated")]
    #[value(name = "simulated")]
    Simulated,
}

impl ProviderKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WeatherApi => "weatherapi",
            Self::OpenMeteo => "open-meteo",
            Self::Simulated => "simulated",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A number of forecast days, 1 to 14 (WeatherAPI's and this API's limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ForecastDays(u8);

impl ForecastDays {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 14;
    /// `WEATHER_FORECAST_DAYS`' default.
    pub const DEFAULT: Self = Self(3);

    pub fn new(days: u32) -> Result<Self, WeatherError> {
        match u8::try_from(days) {
            Ok(d) if (Self::MIN..=Self::MAX).contains(&d) => Ok(Self(d)),
            _ => Err(WeatherError::InvalidRequest(format!(
                "days must be from {} to {}, got {days}",
                Self::MIN,
                Self::MAX
            ))),
        }
    }

    #[must_use]
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u32> for ForecastDays {
    type Error = WeatherError;

    fn try_from(days: u32) -> Result<Self, Self::Error> {
        Self::new(days)
    }
}

impl fmt::Display for ForecastDays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A location as a client names it: a place name, a postcode, `lat,lon`, anything WeatherAPI's `q` accepts.
/// Trimmed, 1 to 100 characters, no control characters. Two queries that differ only in case or surrounding
/// whitespace share one cache entry ([`LocationQuery::cache_key`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocationQuery(String);

impl LocationQuery {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, WeatherError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(WeatherError::InvalidRequest("location must not be empty".into()));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(WeatherError::InvalidRequest(format!(
                "location must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(WeatherError::InvalidRequest("location must not contain control characters".into()));
        }
        Ok(Self(trimmed.to_string()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalized key: lower case, inner whitespace runs collapsed.
    #[must_use]
    pub fn cache_key(&self) -> String {
        self.0.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
    }

    /// `lat,lon` (as WeatherAPI accepts it), if the query is written that way.
    #[must_use]
    pub fn coordinates(&self) -> Option<Coordinates> {
        let (lat, lon) = self.0.split_once(',')?;
        Coordinates::new(lat.trim().parse().ok()?, lon.trim().parse().ok()?).ok()
    }

    pub(crate) fn matches(&self, name: &str) -> bool {
        LocationQuery::parse(name).is_ok_and(|other| other.cache_key() == self.cache_key())
    }
}

impl fmt::Display for LocationQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A latitude (−90..=90) and longitude (−180..=180) in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    latitude: f64,
    longitude: f64,
}

impl Coordinates {
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, String> {
        if !(latitude.is_finite() && (-90.0..=90.0).contains(&latitude)) {
            return Err(format!("latitude must be from -90 to 90, got {latitude}"));
        }
        if !(longitude.is_finite() && (-180.0..=180.0).contains(&longitude)) {
            return Err(format!("longitude must be from -180 to 180, got {longitude}"));
        }
        Ok(Self { latitude, longitude })
    }

    #[must_use]
    pub fn latitude(self) -> f64 {
        self.latitude
    }

    #[must_use]
    pub fn longitude(self) -> f64 {
        self.longitude
    }
}

impl fmt::Display for Coordinates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.latitude, self.longitude)
    }
}

/// The site's own location: its name and, when known, its coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteLocation {
    pub name: LocationQuery,
    pub coordinates: Option<Coordinates>,
}

/// Where a forecast is for, as the provider names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ForecastLocation {
    /// Place name (WeatherAPI's resolved name, or the configured/queried name).
    pub name: String,
    pub region: Option<String>,
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// IANA time zone, when the provider reports one (e.g. `Europe/London`).
    pub timezone: Option<String>,
}

/// An observed temperature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Observation {
    /// Outdoor air temperature, °C.
    pub temperature_c: f64,
    /// When the provider observed (or computed) it.
    pub observed_at: DateTime<Utc>,
}

/// One hour of the forecast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HourlyTemperature {
    /// Start of the hour, UTC.
    pub time: DateTime<Utc>,
    /// The same instant as wall-clock time at the location (what the provider calls the hour).
    #[schema(value_type = String, example = "2026-01-05T14:00:00")]
    pub local_time: NaiveDateTime,
    /// Forecast air temperature 2 m above ground, °C.
    pub temperature_c: f64,
}

/// A forecast in the one shape the control job, the API and the dashboard use, whatever the provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Forecast {
    pub provider: ProviderKind,
    pub location: ForecastLocation,
    /// The latest observation, when the provider gives one.
    pub current: Option<Observation>,
    /// Hourly temperatures from local midnight today, ascending. Hours the provider left empty (Open-Meteo `null`)
    /// are omitted.
    pub hourly: Vec<HourlyTemperature>,
    /// Number of local days the forecast actually covers: can be fewer than asked (WeatherAPI's free plan stops at
    /// 3).
    pub days: u8,
    /// When this server received it from the provider.
    pub fetched_at: DateTime<Utc>,
}

impl Forecast {
    /// The forecast cut to its first `days` local days.
    #[must_use]
    pub fn truncated(mut self, days: ForecastDays) -> Self {
        let mut dates: Vec<NaiveDate> = self.hourly.iter().map(|h| h.local_time.date()).collect();
        dates.dedup();
        if let Some(first_excluded) = dates.get(usize::from(days.get())) {
            self.hourly.retain(|h| h.local_time.date() < *first_excluded);
        }
        self.days = self.days.min(days.get());
        self
    }

    /// The outdoor temperature at `at`: interpolated between the two surrounding hours, the nearest end of the
    /// forecast outside it, or the current observation when there are no hours.
    #[must_use]
    pub fn temperature_at(&self, at: DateTime<Utc>) -> Option<f64> {
        let after = self.hourly.partition_point(|h| h.time <= at);
        match (after.checked_sub(1).and_then(|i| self.hourly.get(i)), self.hourly.get(after)) {
            (Some(a), Some(b)) => {
                let span = (b.time - a.time).num_milliseconds() as f64;
                let w = if span > 0.0 { (at - a.time).num_milliseconds() as f64 / span } else { 0.0 };
                Some(a.temperature_c + (b.temperature_c - a.temperature_c) * w)
            }
            (Some(a), None) => Some(a.temperature_c),
            (None, Some(b)) => Some(b.temperature_c),
            (None, None) => self.current.map(|c| c.temperature_c),
        }
    }
}

/// The current conditions alone (WeatherAPI `current.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CurrentWeather {
    pub provider: ProviderKind,
    pub location: ForecastLocation,
    pub current: Observation,
    pub fetched_at: DateTime<Utc>,
}

/// A forecast as served from the cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServedForecast {
    pub forecast: Forecast,
    /// Days asked for; `forecast.days` says how many came.
    pub days_requested: u8,
    /// True when the provider failed and this is the last good forecast, older than the cache TTL.
    pub stale: bool,
    /// Seconds since `forecast` was fetched from the provider.
    pub age_seconds: u64,
}

/// What the prototype path `GET /weather/forecast/{location}` answers: WeatherAPI's own JSON when that provider is
/// active, the normalized [`ServedForecast`] otherwise. Serializes to exactly the body to send; `stale` and
/// `age_seconds` are there for headers (e.g. `Age`).
#[derive(Debug, Clone)]
pub enum ForecastDocument {
    /// WeatherAPI's `forecast.json` body byte for byte, except that `forecast.forecastday` is cut to the days asked
    /// for when the cached answer holds more (then re-serialized: same values, keys in alphabetical order).
    WeatherApi {
        body: Box<serde_json::value::RawValue>,
        stale: bool,
        age_seconds: u64,
    },
    Normalized(ServedForecast),
}

impl ForecastDocument {
    #[must_use]
    pub fn stale(&self) -> bool {
        match self {
            Self::WeatherApi { stale, .. } => *stale,
            Self::Normalized(served) => served.stale,
        }
    }

    #[must_use]
    pub fn age_seconds(&self) -> u64 {
        match self {
            Self::WeatherApi { age_seconds, .. } => *age_seconds,
            Self::Normalized(served) => served.age_seconds,
        }
    }
}

impl Serialize for ForecastDocument {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::WeatherApi { body, .. } => body.serialize(serializer),
            Self::Normalized(served) => served.serialize(serializer),
        }
    }
}

/// Query string of `GET /weather?location=&days=` (both optional: the site default location and
/// `WEATHER_FORECAST_DAYS` apply). `days` of the prototype path `GET /weather/forecast/{location}?days=` too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WeatherQuery {
    /// Place name, postcode or `lat,lon`, at most 100 characters, no control characters, not only blanks;
    /// default: the site location (`WEATHER_LOCATION`).
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub location: Option<String>,
    /// Forecast days, 1 to 14; default `WEATHER_FORECAST_DAYS`.
    #[param(minimum = 1, maximum = 14)]
    pub days: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn days_are_bounded() {
        assert!(ForecastDays::new(0).is_err());
        assert_eq!(ForecastDays::new(1).unwrap().get(), 1);
        assert_eq!(ForecastDays::new(14).unwrap().get(), 14);
        assert!(ForecastDays::new(15).is_err());
        assert!(ForecastDays::new(300).is_err());
        assert_eq!(ForecastDays::new(15).unwrap_err().http_status(), 400);
    }

    #[test]
    fn locations_normalize() {
        let a = LocationQuery::parse("  New   York ").unwrap();
        assert_eq!(a.as_str(), "New   York");
        assert_eq!(a.cache_key(), LocationQuery::parse("new york").unwrap().cache_key());
        assert!(LocationQuery::parse(" ").is_err());
        assert!(LocationQuery::parse("a\nb").is_err());
        assert!(LocationQuery::parse(&"x".repeat(101)).is_err());
        let c = LocationQuery::parse("51.52, -0.11").unwrap().coordinates().unwrap();
        assert_eq!((c.latitude(), c.longitude()), (51.52, -0.11));
        assert!(LocationQuery::parse("London").unwrap().coordinates().is_none());
        assert!(LocationQuery::parse("91,0").unwrap().coordinates().is_none());
    }

    fn forecast(hours: i64) -> Forecast {
        let t0 = DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc();
        Forecast {
            provider: ProviderKind::Simulated,
            location: ForecastLocation {
                name: "x".into(),
                region: None,
                country: None,
                latitude: None,
                longitude: None,
                timezone: None,
            },
            current: None,
            hourly: (0..hours)
                .map(|h| HourlyTemperature {
                    time: t0 + Duration::hours(h),
                    local_time: (t0 + Duration::hours(h)).naive_utc(),
                    temperature_c: h as f64,
                })
                .collect(),
            days: (hours / 24) as u8,
            fetched_at: t0,
        }
    }

    #[test]
    fn truncation_keeps_whole_local_days() {
        let f = forecast(72).truncated(ForecastDays::new(2).unwrap());
        assert_eq!((f.hourly.len(), f.days), (48, 2));
        let f = forecast(72).truncated(ForecastDays::new(7).unwrap());
        assert_eq!((f.hourly.len(), f.days), (72, 3));
    }

    #[test]
    fn interpolates_between_hours() {
        let f = forecast(24);
        let t = f.hourly[3].time + Duration::minutes(30);
        assert!((f.temperature_at(t).unwrap() - 3.5).abs() < 1e-9);
        assert_eq!(f.temperature_at(f.hourly[0].time - Duration::hours(5)), Some(0.0));
        assert_eq!(f.temperature_at(f.hourly[23].time + Duration::hours(5)), Some(23.0));
    }
}
