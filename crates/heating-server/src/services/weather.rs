//! Weather forecasts from the shared cache (one upstream call per location per TTL; a stale forecast served when
//! the provider fails).

use heating_weather::{ForecastDocument, LocationQuery, ServedForecast, WeatherQuery};

use super::{AppState, ServiceError};

/// The normalized forecast for `query`.
pub async fn forecast(state: &AppState, query: &WeatherQuery) -> Result<ServedForecast, ServiceError> {
    state.weather.query(query).await.map_err(ServiceError::Weather)
}

/// The forecast document for `location` (the provider's own JSON for WeatherAPI.com, the normalized form
/// otherwise), for `days` days or the default.
pub async fn forecast_document(
    state: &AppState,
    location: &str,
    days: Option<u32>,
) -> Result<ForecastDocument, ServiceError> {
    let location = LocationQuery::parse(location).map_err(ServiceError::Weather)?;
    let days = state.weather.days_or_default(days).map_err(ServiceError::Weather)?;
    state.weather.forecast_document(&location, days).await.map_err(ServiceError::Weather)
}
