//! Weather for the heating platform: the outdoor temperature now and hour by hour, from WeatherAPI.com, from
//! Open-Meteo, or from the same synthetic model the simulated zones feel.
//!
//! - [`Forecast`] is the one normalized shape ([`forecast`]); [`ServedForecast`] adds `stale` and `age_seconds`.
//! - [`Provider`] is the one provider interface ([`provider`]): [`WeatherApiProvider`], [`OpenMeteoProvider`],
//!   [`SimulatedProvider`].
//! - [`WeatherService`] caches in front of it: one upstream call per location per TTL, single flight, stale
//!   fallback ([`service`]).
//! - [`WeatherSettings`] is the configuration (`clap::Args`, environment fallbacks) and builds the service
//!   ([`settings`]).
//! - [`WeatherError`] says what went wrong and how to answer over HTTP ([`WeatherError::http_status`],
//!   [`WeatherError::public_message`], [`WeatherError::retry_after_secs`]) ([`error`]).
//!
//! Invariants: the API key is an [`ApiKey`] whose `Debug`/`Display` print `[redacted]`; no error, `Debug` output
//! or log line of this crate contains the key or the upstream URL. This crate knows HTTP only as a client: the
//! server owns the routes.

pub mod error;
pub mod forecast;
mod http;
pub mod provider;
pub mod secret;
pub mod service;
pub mod settings;

pub use error::{API_KEY_REJECTED_MESSAGE, SettingsError, WeatherError};
pub use forecast::{
    Coordinates, CurrentWeather, Forecast, ForecastDays, ForecastDocument, ForecastLocation, HourlyTemperature,
    LocationQuery, Observation, ProviderKind, ServedForecast, SiteLocation, WeatherQuery,
};
pub use provider::{OpenMeteoProvider, Provider, SimulatedProvider, WeatherApiProvider};
pub use secret::ApiKey;
pub use service::{CachePolicy, ServiceOptions, WeatherService};
pub use settings::WeatherSettings;
