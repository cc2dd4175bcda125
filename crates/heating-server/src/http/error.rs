//! The one HTTP error type. Every failure a handler or extractor returns becomes `{"detail": "..."}` with the
//! variant's status code. Internal causes (SQL, file paths, keys) are logged here and replaced by a generic
//! message; only text written for users reaches a response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::services::ServiceError;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"detail": "Zone not found"}))]
pub struct ErrorBody {
    /// What went wrong, for a person to read.
    pub detail: String,
}

/// The `WWW-Authenticate` header of every 401 (RFC 6750).
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"heating-server\"";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (e.g. the body is not JSON).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid token (`WWW-Authenticate: Bearer`); the detail never holds the token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the caller's role is too low; the detail names the role needed.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405: no handler for this method on this path.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the request conflicts with stored data (duplicate, history present).
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed but invalid; the message names the field.
    #[error("{0}")]
    Unprocessable(String),
    /// 429: too many failed sign-ins from this address (with `Retry-After`).
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after_secs: u64 },
    /// 503: a dependency (the database) does not answer.
    #[error("{0}")]
    Unavailable(String),
    /// The weather provider failed: 404, 400, 502, 503 (with Retry-After) or 504, with a message that never names
    /// the key or the provider's URL.
    #[error("{}", .0.public_message())]
    Weather(heating_weather::WeatherError),
    /// 500: anything unexpected. Logged with its cause; the client sees a generic message.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    #[must_use]
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Weather(e) => StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_GATEWAY),
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        if let Self::Weather(e) = &self {
            tracing::warn!(code = e.code(), "weather request failed: {e}");
            let mut response = (status, Json(ErrorBody { detail: e.public_message() })).into_response();
            if let Some(secs) = e.retry_after_secs() {
                response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
            }
            return response;
        }
        let header = match &self {
            Self::Unauthorized(_) => {
                Some((axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static(WWW_AUTHENTICATE)))
            }
            Self::TooManyRequests { retry_after_secs, .. } => {
                Some((axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(*retry_after_secs)))
            }
            _ => None,
        };
        let detail = match self {
            Self::Weather(e) => e.public_message(),
            Self::TooManyRequests { detail, .. } => detail,
            Self::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error while handling a request");
                "Internal server error".to_string()
            }
            Self::BadRequest(m)
            | Self::Unauthorized(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::MethodNotAllowed(m)
            | Self::Conflict(m)
            | Self::PayloadTooLarge(m)
            | Self::UnsupportedMediaType(m)
            | Self::Unprocessable(m)
            | Self::Unavailable(m) => m,
        };
        let mut response = (status, Json(ErrorBody { detail })).into_response();
        if let Some((name, value)) = header {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(m) => Self::NotFound(m),
            ServiceError::Conflict(m) => Self::Conflict(m),
            ServiceError::Invalid(m) => Self::Unprocessable(m),
            ServiceError::Unavailable(m) => Self::Unavailable(m),
            ServiceError::Weather(e) => Self::Weather(e),
            ServiceError::Unauthorized(m) => Self::Unauthorized(m),
            ServiceError::Forbidden(m) => Self::Forbidden(m),
            ServiceError::TooManyRequests { detail, retry_after_secs } => {
                Self::TooManyRequests { detail, retry_after_secs }
            }
            ServiceError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}
