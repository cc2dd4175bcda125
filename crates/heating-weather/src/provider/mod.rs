//! The one provider interface: an enum over the three providers, chosen by configuration.
//!
//! An enum rather than a trait object: the set is closed, the WeatherAPI provider has an extra capability (its own
//! JSON, for the prototype path) that the cache needs to see, and no boxing or `async-trait` is needed.

pub mod open_meteo;
pub mod simulated;
pub mod weatherapi;

use crate::error::WeatherError;
use crate::forecast::{Forecast, ForecastDays, LocationQuery, ProviderKind};

pub use open_meteo::OpenMeteoProvider;
pub use simulated::SimulatedProvider;
pub use weatherapi::WeatherApiProvider;

/// A weather provider.
#[derive(Debug)]
pub enum Provider {
    WeatherApi(WeatherApiProvider),
    OpenMeteo(OpenMeteoProvider),
    Simulated(SimulatedProvider),
}

/// One upstream answer: the normalized forecast, plus WeatherAPI's own body when it came from WeatherAPI.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub forecast: Forecast,
    pub weatherapi_body: Option<Box<serde_json::value::RawValue>>,
}

impl Provider {
    #[must_use]
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::WeatherApi(_) => ProviderKind::WeatherApi,
            Self::OpenMeteo(_) => ProviderKind::OpenMeteo,
            Self::Simulated(_) => ProviderKind::Simulated,
        }
    }

    /// One upstream call (none for the simulated provider), uncached. Use [`crate::WeatherService`] for caching.
    pub async fn forecast(&self, location: &LocationQuery, days: ForecastDays) -> Result<Forecast, WeatherError> {
        Ok(self.fetch(location, days).await?.forecast)
    }

    pub(crate) async fn fetch(&self, location: &LocationQuery, days: ForecastDays) -> Result<Fetched, WeatherError> {
        match self {
            Self::WeatherApi(p) => {
                let (forecast, body) = p.fetch(location, days).await?;
                Ok(Fetched { forecast, weatherapi_body: Some(body) })
            }
            Self::OpenMeteo(p) => Ok(Fetched { forecast: p.forecast(location, days).await?, weatherapi_body: None }),
            Self::Simulated(p) => Ok(Fetched { forecast: p.forecast(location, days), weatherapi_body: None }),
        }
    }
}

impl From<WeatherApiProvider> for Provider {
    fn from(p: WeatherApiProvider) -> Self {
        Self::WeatherApi(p)
    }
}

impl From<OpenMeteoProvider> for Provider {
    fn from(p: OpenMeteoProvider) -> Self {
        Self::OpenMeteo(p)
    }
}

impl From<SimulatedProvider> for Provider {
    fn from(p: SimulatedProvider) -> Self {
        Self::Simulated(p)
    }
}
