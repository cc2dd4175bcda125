//! Open-Meteo (no key): `GET {base}/v1/forecast?latitude&longitude&current=temperature_2m&hourly=temperature_2m
//! &timezone=auto&forecast_days=N`.
//!
//! The answer holds parallel arrays of local times and temperatures (`null` where a value is missing; such hours are
//! left out) and the location's `utc_offset_seconds`. Errors are `{"error":true,"reason":"..."}` with 400 or 429.
//! Open-Meteo does not look names up: a location is either written `lat,lon` or is the site location, whose
//! coordinates come from the configuration.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use crate::error::{Redactor, SettingsError, WeatherError};
use crate::forecast::{
    Coordinates, Forecast, ForecastDays, ForecastLocation, HourlyTemperature, LocationQuery, Observation, ProviderKind,
    SiteLocation,
};
use crate::http::{HttpUpstream, RawResponse, parse_base_url};

/// Where Open-Meteo answers.
pub const DEFAULT_BASE_URL: &str = "https://api.open-meteo.com";

/// The Open-Meteo provider.
#[derive(Debug)]
pub struct OpenMeteoProvider {
    http: HttpUpstream,
    site: Option<SiteLocation>,
}

impl OpenMeteoProvider {
    /// `base_url` as in `OPEN_METEO_BASE_URL`; `site` names the location whose coordinates are configured.
    pub fn new(base_url: &str, site: Option<SiteLocation>, timeout: Duration) -> Result<Self, SettingsError> {
        let base = parse_base_url("OPEN_METEO_BASE_URL", base_url)?;
        Ok(Self { http: HttpUpstream::new(base, timeout, None)?, site })
    }

    /// The normalized forecast for `location` (`lat,lon` or the site location's name).
    pub async fn forecast(&self, location: &LocationQuery, days: ForecastDays) -> Result<Forecast, WeatherError> {
        let (coordinates, name) = self.resolve(location)?;
        let (lat, lon, days_text) =
            (coordinates.latitude().to_string(), coordinates.longitude().to_string(), days.get().to_string());
        let url = self.http.endpoint(
            &["v1", "forecast"],
            &[
                ("latitude", &lat),
                ("longitude", &lon),
                ("current", "temperature_2m"),
                ("hourly", "temperature_2m"),
                ("timezone", "auto"),
                ("forecast_days", &days_text),
            ],
        );
        tracing::debug!(provider = "open-meteo", %location, days = days.get(), "requesting forecast");
        let response = self.http.get(url).await?;
        if !response.is_success() {
            return Err(map_error(&response, self.http.redactor()));
        }
        let malformed = |detail: String| WeatherError::Malformed { detail: self.http.redactor().clean(&detail) };
        let body: Body =
            serde_json::from_slice(&response.body).map_err(|e| malformed(format!("not a forecast: {e}")))?;
        normalize(body, name, Utc::now()).map_err(malformed)
    }

    fn resolve(&self, location: &LocationQuery) -> Result<(Coordinates, String), WeatherError> {
        if let Some(site) = &self.site
            && let Some(coordinates) = site.coordinates
            && location.matches(site.name.as_str())
        {
            return Ok((coordinates, site.name.to_string()));
        }
        if let Some(coordinates) = location.coordinates() {
            return Ok((coordinates, location.to_string()));
        }
        Err(WeatherError::LocationNotFound {
            location: location.to_string(),
            detail: "Open-Meteo needs coordinates: ask for `lat,lon` or for the site location \
                     (WEATHER_LOCATION with WEATHER_LATITUDE and WEATHER_LONGITUDE)"
                .into(),
        })
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    reason: Option<String>,
}

/// 429 is throttling, any other 4xx a request we should not have sent, 5xx the provider's failure.
fn map_error(response: &RawResponse, redactor: &Redactor) -> WeatherError {
    let reason = serde_json::from_slice::<ErrorBody>(&response.body).ok().and_then(|b| b.reason);
    let status = response.status;
    let detail = redactor.clean(&match reason {
        Some(reason) => format!("HTTP {status}: {reason}"),
        None => format!("HTTP {status}"),
    });
    match status {
        429 => WeatherError::Throttled { detail, retry_after: response.retry_after },
        400..=499 => WeatherError::BadRequest { detail },
        _ => WeatherError::Upstream { detail },
    }
}

#[derive(Deserialize)]
struct Body {
    latitude: f64,
    longitude: f64,
    utc_offset_seconds: i32,
    timezone: Option<String>,
    current: Option<Current>,
    hourly: Hourly,
}

#[derive(Deserialize)]
struct Current {
    time: String,
    temperature_2m: Option<f64>,
}

#[derive(Deserialize)]
struct Hourly {
    time: Vec<String>,
    temperature_2m: Vec<Option<f64>>,
}

/// Local ISO time (`2026-01-05T14:00`, seconds optional) at a fixed offset to UTC.
fn local_to_utc(text: &str, offset_seconds: i32) -> Result<(DateTime<Utc>, NaiveDateTime), String> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|e| format!("time {text:?}: {e}"))?;
    Ok(((local - chrono::Duration::seconds(i64::from(offset_seconds))).and_utc(), local))
}

fn normalize(body: Body, name: String, fetched_at: DateTime<Utc>) -> Result<Forecast, String> {
    let offset = body.utc_offset_seconds;
    if offset.abs() > 18 * 3600 {
        return Err(format!("utc_offset_seconds {offset} out of range"));
    }
    if body.hourly.time.len() != body.hourly.temperature_2m.len() {
        return Err(format!(
            "hourly.time has {} entries but hourly.temperature_2m has {}",
            body.hourly.time.len(),
            body.hourly.temperature_2m.len()
        ));
    }
    let mut dates = BTreeSet::new();
    let mut hourly = Vec::with_capacity(body.hourly.time.len());
    for (text, temperature) in body.hourly.time.iter().zip(&body.hourly.temperature_2m) {
        let (time, local_time) = local_to_utc(text, offset)?;
        dates.insert(local_time.date());
        if let Some(temperature_c) = temperature {
            hourly.push(HourlyTemperature { time, local_time, temperature_c: *temperature_c });
        }
    }
    if dates.is_empty() {
        return Err("hourly.time is empty".into());
    }
    hourly.sort_by_key(|h| h.time);
    let current = match body.current {
        Some(Current { time, temperature_2m: Some(temperature_c) }) => {
            Some(Observation { temperature_c, observed_at: local_to_utc(&time, offset)?.0 })
        }
        _ => None,
    };
    Ok(Forecast {
        provider: ProviderKind::OpenMeteo,
        location: ForecastLocation {
            name,
            region: None,
            country: None,
            latitude: Some(body.latitude),
            longitude: Some(body.longitude),
            timezone: body.timezone,
        },
        current,
        hourly,
        days: u8::try_from(dates.len()).unwrap_or(u8::MAX),
        fetched_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_shift_by_the_offset() {
        let (utc, local) = local_to_utc("2026-01-05T01:00", 3600).unwrap();
        assert_eq!(utc.to_rfc3339(), "2026-01-05T00:00:00+00:00");
        assert_eq!(local.to_string(), "2026-01-05 01:00:00");
        assert!(local_to_utc("yesterday", 0).is_err());
    }

    #[test]
    fn errors_by_status() {
        let r = |status, body: &str| RawResponse { status, retry_after: None, body: body.as_bytes().to_vec() };
        let e = map_error(
            &r(400, r#"{"error":true,"reason":"Latitude must be in range of -90 to 90°."}"#),
            &Redactor::default(),
        );
        assert!(matches!(&e, WeatherError::BadRequest { detail } if detail.contains("Latitude")), "{e:?}");
        assert!(matches!(map_error(&r(429, "{}"), &Redactor::default()), WeatherError::Throttled { .. }));
        assert!(matches!(map_error(&r(502, "bad gateway"), &Redactor::default()), WeatherError::Upstream { .. }));
    }
}
