//! WeatherAPI.com: `GET {base}/v1/forecast.json?key=K&q=LOCATION&days=N&aqi=no&alerts=no` and `current.json`.
//!
//! Errors arrive as `{"error":{"code":N,"message":"..."}}`; [`map_error`] turns status and code into a
//! [`WeatherError`]. The free plan answers at most 3 days whatever `days` says: the forecast then reports the days
//! it covers in [`Forecast::days`].

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::Url;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Redactor, SettingsError, WeatherError};
use crate::forecast::{
    CurrentWeather, Forecast, ForecastDays, ForecastLocation, HourlyTemperature, LocationQuery, Observation,
    ProviderKind,
};
use crate::http::{HttpUpstream, RawResponse, parse_base_url};
use crate::secret::ApiKey;

/// Where WeatherAPI.com answers.
pub const DEFAULT_BASE_URL: &str = "https://api.weatherapi.com";

/// The WeatherAPI.com provider. `Debug` shows neither the key nor the URL.
#[derive(Debug)]
pub struct WeatherApiProvider {
    http: HttpUpstream,
    key: ApiKey,
}

impl WeatherApiProvider {
    /// `base_url` as in `WEATHERAPI_BASE_URL` (e.g. [`DEFAULT_BASE_URL`]); `timeout` bounds each request.
    pub fn new(base_url: &str, key: ApiKey, timeout: Duration) -> Result<Self, SettingsError> {
        if key.is_empty() {
            return Err(SettingsError::new("WEATHERAPI_KEY is empty"));
        }
        let base = parse_base_url("WEATHERAPI_BASE_URL", base_url)?;
        Ok(Self { http: HttpUpstream::new(base, timeout, Some(&key))?, key })
    }

    /// The normalized forecast.
    pub async fn forecast(&self, location: &LocationQuery, days: ForecastDays) -> Result<Forecast, WeatherError> {
        Ok(self.fetch(location, days).await?.0)
    }

    /// WeatherAPI's `forecast.json` body byte for byte as it came (after checking that it is a well-formed
    /// forecast).
    pub async fn forecast_raw(
        &self,
        location: &LocationQuery,
        days: ForecastDays,
    ) -> Result<Box<RawValue>, WeatherError> {
        Ok(self.fetch(location, days).await?.1)
    }

    /// Both at once, from one upstream call.
    pub(crate) async fn fetch(
        &self,
        location: &LocationQuery,
        days: ForecastDays,
    ) -> Result<(Forecast, Box<RawValue>), WeatherError> {
        let days_text = days.get().to_string();
        let url = self.endpoint(
            "forecast.json",
            &[("q", location.as_str()), ("days", &days_text), ("aqi", "no"), ("alerts", "no")],
        );
        tracing::debug!(provider = "weatherapi", %location, days = days.get(), "requesting forecast");
        let body = self.get_json(url, location).await?;
        let parsed: ForecastBody = serde_json::from_str(body.get()).map_err(|e| self.malformed(&e))?;
        let forecast = normalize_forecast(parsed, Utc::now()).map_err(|detail| self.malformed(&detail))?;
        Ok((forecast, body))
    }

    /// The current conditions (`current.json`), cheaper than a forecast.
    pub async fn current(&self, location: &LocationQuery) -> Result<CurrentWeather, WeatherError> {
        let url = self.endpoint("current.json", &[("q", location.as_str()), ("aqi", "no")]);
        tracing::debug!(provider = "weatherapi", %location, "requesting current conditions");
        let body = self.get_json(url, location).await?;
        let parsed: CurrentBody = serde_json::from_str(body.get()).map_err(|e| self.malformed(&e))?;
        Ok(CurrentWeather {
            provider: ProviderKind::WeatherApi,
            location: parsed.location.into(),
            current: parsed.current.observation().map_err(|detail| self.malformed(&detail))?,
            fetched_at: Utc::now(),
        })
    }

    fn endpoint(&self, file: &str, query: &[(&str, &str)]) -> Url {
        let mut pairs = vec![("key", self.key.expose())];
        pairs.extend_from_slice(query);
        self.http.endpoint(&["v1", file], &pairs)
    }

    async fn get_json(&self, url: Url, location: &LocationQuery) -> Result<Box<RawValue>, WeatherError> {
        let response = self.http.get(url).await?;
        if !response.is_success() {
            return Err(map_error(&response, location, self.http.redactor()));
        }
        serde_json::from_slice(&response.body).map_err(|e| self.malformed(&format!("not JSON: {e}")))
    }

    fn malformed(&self, detail: &dyn std::fmt::Display) -> WeatherError {
        WeatherError::Malformed { detail: self.http.redactor().clean(&detail.to_string()) }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: Option<u32>,
    message: Option<String>,
}

/// Status and WeatherAPI error code to [`WeatherError`]: the code decides when there is one, the status otherwise.
///
/// | status / code | error |
/// |---|---|
/// | 429 | `Throttled` |
/// | 1002 key missing, 2006 key invalid, 2008 key disabled; other 401/403 | `ApiKeyRejected` |
/// | 2007 monthly quota exceeded | `QuotaExceeded` |
/// | 2009 plan lacks access | `PlanLacksAccess` |
/// | 1006 no location found | `LocationNotFound` |
/// | 1003 `q` missing, 1005 bad URL; other 4xx | `BadRequest` |
/// | 9999 internal; 5xx, anything else | `Upstream` |
fn map_error(response: &RawResponse, location: &LocationQuery, redactor: &Redactor) -> WeatherError {
    let parsed = serde_json::from_slice::<ErrorBody>(&response.body).ok().map(|b| b.error);
    let code = parsed.as_ref().and_then(|e| e.code);
    let message = parsed.and_then(|e| e.message).unwrap_or_default();
    let status = response.status;
    let detail = redactor.clean(&match code {
        Some(code) => format!("HTTP {status}, code {code}: {message}"),
        None => format!("HTTP {status}"),
    });
    let retry_after = response.retry_after;
    match (status, code) {
        (429, _) => WeatherError::Throttled { detail, retry_after },
        (_, Some(1002 | 2006 | 2008)) => WeatherError::ApiKeyRejected { detail },
        (_, Some(2007)) => WeatherError::QuotaExceeded { detail, retry_after },
        (_, Some(2009)) => WeatherError::PlanLacksAccess { detail },
        (_, Some(1006)) => WeatherError::LocationNotFound { location: location.to_string(), detail },
        (_, Some(1003 | 1005)) => WeatherError::BadRequest { detail },
        (_, Some(9999)) => WeatherError::Upstream { detail },
        (401 | 403, _) => WeatherError::ApiKeyRejected { detail },
        (400..=499, _) => WeatherError::BadRequest { detail },
        _ => WeatherError::Upstream { detail },
    }
}

#[derive(Deserialize)]
struct ForecastBody {
    location: Location,
    current: Current,
    forecast: ForecastDaysBody,
}

#[derive(Deserialize)]
struct CurrentBody {
    location: Location,
    current: Current,
}

#[derive(Deserialize)]
struct Location {
    name: String,
    region: Option<String>,
    country: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    tz_id: Option<String>,
}

impl From<Location> for ForecastLocation {
    fn from(l: Location) -> Self {
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        Self {
            name: l.name,
            region: non_empty(l.region),
            country: non_empty(l.country),
            latitude: l.lat,
            longitude: l.lon,
            timezone: non_empty(l.tz_id),
        }
    }
}

#[derive(Deserialize)]
struct Current {
    last_updated_epoch: i64,
    temp_c: f64,
}

impl Current {
    fn observation(&self) -> Result<Observation, String> {
        Ok(Observation { temperature_c: self.temp_c, observed_at: epoch(self.last_updated_epoch)? })
    }
}

#[derive(Deserialize)]
struct ForecastDaysBody {
    forecastday: Vec<Day>,
}

#[derive(Deserialize)]
struct Day {
    hour: Vec<Hour>,
}

#[derive(Deserialize)]
struct Hour {
    time_epoch: i64,
    time: String,
    temp_c: f64,
}

fn epoch(secs: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| format!("epoch {secs} out of range"))
}

fn normalize_forecast(body: ForecastBody, fetched_at: DateTime<Utc>) -> Result<Forecast, String> {
    if body.forecast.forecastday.is_empty() {
        return Err("forecast.forecastday is empty".into());
    }
    let days = u8::try_from(body.forecast.forecastday.len()).unwrap_or(u8::MAX);
    let mut hourly = Vec::with_capacity(body.forecast.forecastday.len() * 24);
    for hour in body.forecast.forecastday.iter().flat_map(|d| &d.hour) {
        let local_time = NaiveDateTime::parse_from_str(&hour.time, "%Y-%m-%d %H:%M")
            .map_err(|e| format!("hour time {:?}: {e}", hour.time))?;
        hourly.push(HourlyTemperature { time: epoch(hour.time_epoch)?, local_time, temperature_c: hour.temp_c });
    }
    hourly.sort_by_key(|h| h.time);
    Ok(Forecast {
        provider: ProviderKind::WeatherApi,
        current: Some(body.current.observation()?),
        location: body.location.into(),
        hourly,
        days,
        fetched_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> RawResponse {
        RawResponse { status, retry_after: None, body: body.as_bytes().to_vec() }
    }

    fn code(status: u16, code: u32) -> WeatherError {
        let body = format!(r#"{{"error":{{"code":{code},"message":"m"}}}}"#);
        map_error(&response(status, &body), &LocationQuery::parse("x").unwrap(), &Redactor::default())
    }

    #[test]
    fn codes_decide() {
        assert!(matches!(code(401, 1002), WeatherError::ApiKeyRejected { .. }));
        assert!(matches!(code(401, 2006), WeatherError::ApiKeyRejected { .. }));
        assert!(matches!(code(403, 2008), WeatherError::ApiKeyRejected { .. }));
        assert!(matches!(code(403, 2007), WeatherError::QuotaExceeded { .. }));
        assert!(matches!(code(403, 2009), WeatherError::PlanLacksAccess { .. }));
        assert!(matches!(code(400, 1006), WeatherError::LocationNotFound { .. }));
        assert!(matches!(code(400, 1003), WeatherError::BadRequest { .. }));
        assert!(matches!(code(400, 1005), WeatherError::BadRequest { .. }));
        assert!(matches!(code(400, 9999), WeatherError::Upstream { .. }));
        assert!(matches!(code(429, 2007), WeatherError::Throttled { .. }));
        assert!(matches!(code(400, 4242), WeatherError::BadRequest { .. }));
        let loc = LocationQuery::parse("x").unwrap();
        let plain = |s| map_error(&response(s, "<html>oops</html>"), &loc, &Redactor::default());
        assert!(matches!(plain(500), WeatherError::Upstream { .. }));
        assert!(matches!(plain(401), WeatherError::ApiKeyRejected { .. }));
        assert!(matches!(plain(404), WeatherError::BadRequest { .. }));
        assert!(matches!(plain(302), WeatherError::Upstream { .. }));
    }
}
