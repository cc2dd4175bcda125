//! Weather: `GET /weather` (normalized forecast with provider, stale flag and age) and the prototype's
//! `GET /weather/forecast/{location}` (WeatherAPI's own JSON when that provider is active, the normalized form
//! otherwise). Both are served from the shared cache: one upstream call per location per TTL.

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use heating_weather::{ServedForecast, WeatherQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query};
use crate::services::weather;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_weather)).routes(routes!(get_forecast))
}

/// The forecast for a location (default: the site), normalized, with its provider, stale flag and age.
#[utoipa::path(
    get, path = "/weather", tag = "weather",
    params(WeatherQuery),
    responses(
        (status = 200, description = "Forecast (from the cache when fresh; `stale` when the provider fails)", body = ServedForecast),
        (status = 400, description = "Bad location or days", body = ErrorBody),
        (status = 404, description = "Unknown location", body = ErrorBody),
        (status = 422, description = "days is not a number", body = ErrorBody),
        (status = 502, description = "The provider rejected the API key or failed", body = ErrorBody),
        (status = 503, description = "Provider quota exceeded or throttling (Retry-After)", body = ErrorBody),
        (status = 504, description = "Provider timed out or unreachable", body = ErrorBody),
    )
)]
async fn get_weather(
    State(state): State<AppState>,
    Query(query): Query<WeatherQuery>,
) -> Result<Json<ServedForecast>, ApiError> {
    Ok(Json(weather::forecast(&state, &query).await?))
}

/// The prototype's forecast path: WeatherAPI.com's own `forecast.json` body when that provider is active,
/// otherwise the normalized forecast of `GET /weather`. An `Age` header tells how old the forecast is.
#[utoipa::path(
    get, path = "/weather/forecast/{location}", tag = "weather",
    params(
        ("location" = String, Path, min_length = 1, max_length = 100,
         pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$",
         description = "Place name, postcode or lat,lon: at most 100 characters, no control characters, not only blanks"),
        WeatherQuery
    ),
    responses(
        (status = 200, description = "Forecast document", body = ServedForecast),
        (status = 400, description = "Bad location or days", body = ErrorBody),
        (status = 404, description = "Unknown location", body = ErrorBody),
        (status = 422, description = "days is not a number", body = ErrorBody),
        (status = 502, description = "The provider rejected the API key or failed", body = ErrorBody),
        (status = 503, description = "Provider quota exceeded or throttling (Retry-After)", body = ErrorBody),
        (status = 504, description = "Provider timed out or unreachable", body = ErrorBody),
    )
)]
async fn get_forecast(
    State(state): State<AppState>,
    Path(location): Path<String>,
    Query(query): Query<WeatherQuery>,
) -> Result<Response, ApiError> {
    let doc = weather::forecast_document(&state, &location, query.days).await?;
    let age = doc.age_seconds();
    let mut response = axum::Json(doc).into_response();
    response.headers_mut().insert(axum::http::header::AGE, HeaderValue::from(age));
    Ok(response)
}
