//! Weather configuration: flags over environment variables over defaults, as a `clap::Args` the server flattens
//! into its own command line (`#[command(flatten)] weather: WeatherSettings`).
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--weather-provider` | `WEATHER_PROVIDER` | `weatherapi` when `WEATHERAPI_KEY` is set and non-empty, else `simulated` |
//! | `--weatherapi-key` | `WEATHERAPI_KEY` | none |
//! | `--weatherapi-base-url` | `WEATHERAPI_BASE_URL` | `https://api.weatherapi.com` |
//! | `--open-meteo-base-url` | `OPEN_METEO_BASE_URL` | `https://api.open-meteo.com` |
//! | `--weather-location` | `WEATHER_LOCATION` | none (required by weatherapi unless coordinates are set) |
//! | `--weather-latitude` | `WEATHER_LATITUDE` | none (required by open-meteo) |
//! | `--weather-longitude` | `WEATHER_LONGITUDE` | none (required by open-meteo) |
//! | `--weather-cache-ttl-secs` | `WEATHER_CACHE_TTL_SECS` | `900` (1 to 86400) |
//! | `--weather-max-stale-secs` | `WEATHER_MAX_STALE_SECS` | `21600` (0 to 604800) |
//! | `--weather-timeout-secs` | `WEATHER_TIMEOUT_SECS` | `10` (1 to 300) |
//! | `--weather-forecast-days` | `WEATHER_FORECAST_DAYS` | `3` (1 to 14) |
//!
//! `Debug` prints the key as `[redacted]`; `--help` shows no environment values.

use std::time::Duration;

use clap::Parser;
use heating_core::clock::SharedClock;
use heating_core::weather::SyntheticWeather;

use crate::error::SettingsError;
use crate::forecast::{Coordinates, ForecastDays, LocationQuery, ProviderKind, SiteLocation};
use crate::provider::{OpenMeteoProvider, Provider, SimulatedProvider, WeatherApiProvider, open_meteo, weatherapi};
use crate::secret::ApiKey;
use crate::service::{CachePolicy, ServiceOptions, WeatherService};

/// The site name the simulated provider reports when `WEATHER_LOCATION` is not set.
pub const SIMULATED_SITE_NAME: &str = "simulated site";

const DEFAULT_CACHE_TTL_SECS: u64 = 900;
const DEFAULT_MAX_STALE_SECS: u64 = 21_600;
const DEFAULT_TIMEOUT_SECS: u64 = 10;
const MAX_CACHE_TTL_SECS: u64 = 86_400;
const MAX_MAX_STALE_SECS: u64 = 7 * 86_400;
const MAX_TIMEOUT_SECS: u64 = 300;

/// Weather settings. Build the service with [`WeatherSettings::build`].
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct WeatherSettings {
    /// Weather provider [default: weatherapi when WEATHERAPI_KEY is set, otherwise simulated].
    #[arg(long, env = "WEATHER_PROVIDER", value_enum)]
    pub weather_provider: Option<ProviderKind>,
    /// API key for WeatherAPI.com (sign up at https://www.weatherapi.com/).
    #[arg(long, env = "WEATHERAPI_KEY", hide_env_values = true)]
    pub weatherapi_key: Option<ApiKey>,
    /// Base URL of WeatherAPI.com (change for a proxy or a test double).
    #[arg(long, env = "WEATHERAPI_BASE_URL", default_value = weatherapi::DEFAULT_BASE_URL)]
    pub weatherapi_base_url: String,
    /// Base URL of Open-Meteo.
    #[arg(long, env = "OPEN_METEO_BASE_URL", default_value = open_meteo::DEFAULT_BASE_URL)]
    pub open_meteo_base_url: String,
    /// Site location used when a request names none (a place name, postcode or `lat,lon`), e.g. London.
    #[arg(long, env = "WEATHER_LOCATION")]
    pub weather_location: Option<String>,
    /// Latitude of the site location (needed by Open-Meteo).
    #[arg(long, env = "WEATHER_LATITUDE", allow_negative_numbers = true)]
    pub weather_latitude: Option<f64>,
    /// Longitude of the site location (needed by Open-Meteo).
    #[arg(long, env = "WEATHER_LONGITUDE", allow_negative_numbers = true)]
    pub weather_longitude: Option<f64>,
    /// Seconds a forecast is served from the cache before the provider is asked again.
    #[arg(long, env = "WEATHER_CACHE_TTL_SECS", default_value_t = DEFAULT_CACHE_TTL_SECS,
          value_parser = clap::value_parser!(u64).range(1..=MAX_CACHE_TTL_SECS))]
    pub weather_cache_ttl_secs: u64,
    /// Seconds a forecast may still be served (marked stale) while the provider fails.
    #[arg(long, env = "WEATHER_MAX_STALE_SECS", default_value_t = DEFAULT_MAX_STALE_SECS,
          value_parser = clap::value_parser!(u64).range(0..=MAX_MAX_STALE_SECS))]
    pub weather_max_stale_secs: u64,
    /// Seconds one request to the provider may take, connection and body included.
    #[arg(long, env = "WEATHER_TIMEOUT_SECS", default_value_t = DEFAULT_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_SECS))]
    pub weather_timeout_secs: u64,
    /// Forecast days used when a request names none (1 to 14; WeatherAPI's free plan answers at most 3).
    #[arg(long, env = "WEATHER_FORECAST_DAYS", default_value_t = ForecastDays::DEFAULT.get(),
          value_parser = clap::value_parser!(u8).range(1..=14))]
    pub weather_forecast_days: u8,
}

impl Default for WeatherSettings {
    fn default() -> Self {
        Self {
            weather_provider: None,
            weatherapi_key: None,
            weatherapi_base_url: weatherapi::DEFAULT_BASE_URL.to_string(),
            open_meteo_base_url: open_meteo::DEFAULT_BASE_URL.to_string(),
            weather_location: None,
            weather_latitude: None,
            weather_longitude: None,
            weather_cache_ttl_secs: DEFAULT_CACHE_TTL_SECS,
            weather_max_stale_secs: DEFAULT_MAX_STALE_SECS,
            weather_timeout_secs: DEFAULT_TIMEOUT_SECS,
            weather_forecast_days: ForecastDays::DEFAULT.get(),
        }
    }
}

/// For reading the settings alone (flags of the current process ignored): see [`WeatherSettings::from_env`].
#[derive(Parser)]
struct EnvOnly {
    #[command(flatten)]
    settings: WeatherSettings,
}

impl WeatherSettings {
    /// The settings from environment variables and defaults only (for tools that do not parse a command line).
    pub fn from_env() -> Result<Self, SettingsError> {
        EnvOnly::try_parse_from(["heating-weather"]).map(|c| c.settings).map_err(|e| SettingsError::new(e.to_string()))
    }

    /// The key, unless absent or blank.
    #[must_use]
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.weatherapi_key.as_ref().filter(|k| !k.is_empty())
    }

    /// The provider in effect: the one named, else WeatherAPI when a key is set, else simulated.
    #[must_use]
    pub fn effective_provider(&self) -> ProviderKind {
        self.weather_provider.unwrap_or(if self.api_key().is_some() {
            ProviderKind::WeatherApi
        } else {
            ProviderKind::Simulated
        })
    }

    #[must_use]
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.weather_timeout_secs)
    }

    #[must_use]
    pub fn cache_policy(&self) -> CachePolicy {
        CachePolicy {
            ttl: Duration::from_secs(self.weather_cache_ttl_secs),
            max_stale: Duration::from_secs(self.weather_max_stale_secs),
        }
    }

    /// The site location from `WEATHER_LOCATION` and `WEATHER_LATITUDE`/`WEATHER_LONGITUDE`, checked.
    pub fn site(&self) -> Result<Option<SiteLocation>, SettingsError> {
        let coordinates = match (self.weather_latitude, self.weather_longitude) {
            (None, None) => None,
            (Some(lat), Some(lon)) => Some(
                Coordinates::new(lat, lon)
                    .map_err(|e| SettingsError::new(format!("WEATHER_LATITUDE/WEATHER_LONGITUDE: {e}")))?,
            ),
            _ => return Err(SettingsError::new("set both WEATHER_LATITUDE and WEATHER_LONGITUDE, or neither")),
        };
        let name = match self.weather_location.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(raw) => LocationQuery::parse(raw).map_err(|e| SettingsError::new(format!("WEATHER_LOCATION: {e}")))?,
            None => match coordinates {
                Some(c) => LocationQuery::parse(&c.to_string())
                    .map_err(|e| SettingsError::new(format!("WEATHER_LATITUDE/WEATHER_LONGITUDE: {e}")))?,
                None => return Ok(None),
            },
        };
        Ok(Some(SiteLocation { name, coordinates }))
    }

    fn check_ranges(&self) -> Result<ForecastDays, SettingsError> {
        let check = |name: &str, value: u64, range: std::ops::RangeInclusive<u64>| {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(SettingsError::new(format!(
                    "{name} must be from {} to {}, got {value}",
                    range.start(),
                    range.end()
                )))
            }
        };
        check("WEATHER_CACHE_TTL_SECS", self.weather_cache_ttl_secs, 1..=MAX_CACHE_TTL_SECS)?;
        check("WEATHER_MAX_STALE_SECS", self.weather_max_stale_secs, 0..=MAX_MAX_STALE_SECS)?;
        check("WEATHER_TIMEOUT_SECS", self.weather_timeout_secs, 1..=MAX_TIMEOUT_SECS)?;
        ForecastDays::new(u32::from(self.weather_forecast_days)).map_err(|_| {
            SettingsError::new(format!(
                "WEATHER_FORECAST_DAYS must be from 1 to 14, got {}",
                self.weather_forecast_days
            ))
        })
    }

    /// Checks the settings and builds the provider they name. `clock` and `model` are what the simulated zones use
    /// (the simulated provider reads them; the others ignore them).
    pub fn provider(&self, clock: SharedClock, model: SyntheticWeather) -> Result<Provider, SettingsError> {
        self.check_ranges()?;
        let site = self.site()?;
        Ok(match self.effective_provider() {
            ProviderKind::WeatherApi => {
                let key = self.api_key().cloned().ok_or_else(|| {
                    SettingsError::new(
                        "WEATHER_PROVIDER=weatherapi needs WEATHERAPI_KEY: sign up at https://www.weatherapi.com/, \
                         then put WEATHERAPI_KEY=<your key> in .env (or choose open-meteo or simulated)",
                    )
                })?;
                if site.is_none() {
                    return Err(SettingsError::new(
                        "the weatherapi provider needs a site location: set WEATHER_LOCATION (e.g. London), \
                         or WEATHER_LATITUDE and WEATHER_LONGITUDE",
                    ));
                }
                WeatherApiProvider::new(&self.weatherapi_base_url, key, self.timeout())?.into()
            }
            ProviderKind::OpenMeteo => {
                if site.as_ref().and_then(|s| s.coordinates).is_none() {
                    return Err(SettingsError::new(
                        "the open-meteo provider needs the site's coordinates: set WEATHER_LATITUDE and \
                         WEATHER_LONGITUDE (and WEATHER_LOCATION to name them)",
                    ));
                }
                OpenMeteoProvider::new(&self.open_meteo_base_url, site, self.timeout())?.into()
            }
            ProviderKind::Simulated => {
                let site = site.or_else(|| {
                    LocationQuery::parse(SIMULATED_SITE_NAME).ok().map(|name| SiteLocation { name, coordinates: None })
                });
                SimulatedProvider::new(model, clock, site).into()
            }
        })
    }

    /// Checks the settings and builds the cached [`WeatherService`] they describe.
    pub fn build(&self, clock: SharedClock, model: SyntheticWeather) -> Result<WeatherService, SettingsError> {
        let provider = self.provider(clock, model)?;
        let default_days = self.check_ranges()?;
        let default_location = match self.site()? {
            Some(site) => Some(site.name),
            None => {
                LocationQuery::parse(SIMULATED_SITE_NAME).ok().filter(|_| provider.kind() == ProviderKind::Simulated)
            }
        };
        let service = WeatherService::new(
            provider,
            ServiceOptions { policy: self.cache_policy(), default_location, default_days, ..ServiceOptions::default() },
        );
        tracing::info!(
            provider = %service.provider_kind(),
            location = service.default_location().map(LocationQuery::as_str),
            ttl_secs = self.weather_cache_ttl_secs,
            "weather service ready"
        );
        Ok(service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use heating_core::clock::WallClock;
    use std::sync::Arc;

    fn parse(args: &[&str]) -> Result<WeatherSettings, clap::Error> {
        EnvOnly::try_parse_from(std::iter::once("x").chain(args.iter().copied())).map(|c| c.settings)
    }

    fn build(settings: &WeatherSettings) -> Result<WeatherService, SettingsError> {
        settings.build(Arc::new(WallClock), SyntheticWeather::default())
    }

    #[test]
    fn every_variable_is_read() {
        let command = EnvOnly::command();
        let mut envs: Vec<String> =
            command.get_arguments().filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned())).collect();
        envs.sort();
        assert_eq!(
            envs,
            [
                "OPEN_METEO_BASE_URL",
                "WEATHERAPI_BASE_URL",
                "WEATHERAPI_KEY",
                "WEATHER_CACHE_TTL_SECS",
                "WEATHER_FORECAST_DAYS",
                "WEATHER_LATITUDE",
                "WEATHER_LOCATION",
                "WEATHER_LONGITUDE",
                "WEATHER_MAX_STALE_SECS",
                "WEATHER_PROVIDER",
                "WEATHER_TIMEOUT_SECS",
            ]
        );
    }

    #[test]
    fn defaults_and_provider_choice() {
        // Assumes the test environment sets no WEATHER_* variables.
        if std::env::vars().any(|(k, _)| k.starts_with("WEATHER") || k == "OPEN_METEO_BASE_URL") {
            return;
        }
        let parsed = parse(&[]).unwrap();
        assert_eq!(parsed, WeatherSettings::default());
        assert_eq!(parsed.effective_provider(), ProviderKind::Simulated);
        let service = build(&parsed).unwrap();
        assert_eq!(service.provider_kind(), ProviderKind::Simulated);
        assert_eq!(service.default_location().unwrap().as_str(), SIMULATED_SITE_NAME);

        let keyed = parse(&["--weatherapi-key", "abc", "--weather-location", "London"]).unwrap();
        assert_eq!(keyed.effective_provider(), ProviderKind::WeatherApi);
        assert_eq!(build(&keyed).unwrap().provider_kind(), ProviderKind::WeatherApi);
        let blank = parse(&["--weatherapi-key", "  "]).unwrap();
        assert_eq!(blank.effective_provider(), ProviderKind::Simulated);
        let chosen = parse(&["--weatherapi-key", "abc", "--weather-provider", "open-meteo"]).unwrap();
        assert_eq!(chosen.effective_provider(), ProviderKind::OpenMeteo);
        let south =
            parse(&["--weather-provider", "open-meteo", "--weather-latitude", "-33.9", "--weather-longitude", "18.4"]);
        let service = build(&south.unwrap()).unwrap();
        assert_eq!(service.default_location().unwrap().as_str(), "-33.9,18.4");
    }

    #[test]
    fn invalid_settings_are_explained() {
        let err = |s: WeatherSettings| build(&s).unwrap_err().to_string();
        let weatherapi = WeatherSettings { weather_provider: Some(ProviderKind::WeatherApi), ..Default::default() };
        assert!(err(weatherapi.clone()).contains("needs WEATHERAPI_KEY"));
        let no_location = WeatherSettings { weatherapi_key: Some(ApiKey::new("sekrit")), ..weatherapi };
        let e = err(no_location.clone());
        assert!(e.contains("WEATHER_LOCATION") && !e.contains("sekrit"), "{e}");
        let bad_url = WeatherSettings {
            weather_location: Some("London".into()),
            weatherapi_base_url: "not a url".into(),
            ..no_location
        };
        assert!(err(bad_url).contains("WEATHERAPI_BASE_URL"));
        let open_meteo = WeatherSettings { weather_provider: Some(ProviderKind::OpenMeteo), ..Default::default() };
        assert!(err(open_meteo.clone()).contains("WEATHER_LATITUDE"));
        assert!(err(WeatherSettings { weather_latitude: Some(51.5), ..open_meteo.clone() }).contains("both"));
        let far = WeatherSettings { weather_latitude: Some(95.0), weather_longitude: Some(0.0), ..open_meteo };
        assert!(err(far).contains("latitude must be from -90 to 90"));
        assert!(
            err(WeatherSettings { weather_forecast_days: 15, ..Default::default() }).contains("WEATHER_FORECAST_DAYS")
        );
        assert!(
            err(WeatherSettings { weather_cache_ttl_secs: 0, ..Default::default() }).contains("WEATHER_CACHE_TTL_SECS")
        );
        assert!(
            err(WeatherSettings { weather_timeout_secs: 0, ..Default::default() }).contains("WEATHER_TIMEOUT_SECS")
        );
        assert!(parse(&["--weather-forecast-days", "15"]).is_err());
        assert!(parse(&["--weather-provider", "bbc"]).is_err());
        let empty = parse(&["--weather-provider", ""]).unwrap_err().to_string();
        assert!(empty.contains("--weather-provider"), "{empty}");
        let empty_location = parse(&["--weather-location", " "]).unwrap();
        assert_eq!(empty_location.site(), Ok(None));
    }

    #[test]
    fn debug_redacts_the_key() {
        let s = WeatherSettings { weatherapi_key: Some(ApiKey::new("hunter2-key")), ..Default::default() };
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2-key") && shown.contains("[redacted]"), "{shown}");
        let service = build(&WeatherSettings { weather_location: Some("London".into()), ..s }).unwrap();
        assert!(!format!("{service:?}").contains("hunter2-key"));
    }
}
