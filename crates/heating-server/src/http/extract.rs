//! Extractors whose rejections are [`ApiError`]s, so a malformed body, query or path gets the same
//! `{"detail": "..."}` shape as every other error, never axum's plain-text rejection:
//!
//! - body not JSON at all → 400; JSON of the wrong shape or type → 422 naming the field; no
//!   `Content-Type: application/json` → 415; too large → 413.
//! - query string or path parameter of the wrong type → 422 naming the parameter.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `axum::Json` with [`ApiError`] rejections. Also the response type for JSON bodies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            ApiError::Unprocessable(format!("invalid request body: {}", inner(&e.body_text())))
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::BadRequest(format!("request body is not valid JSON: {}", inner(&e.body_text())))
        }
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("expected a JSON body with `Content-Type: application/json`".into())
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("request body is too large".into())
        }
        other => ApiError::BadRequest(format!("could not read the request body: {}", other.body_text())),
    }
}

/// The message of an axum rejection without its generic prefix ("Failed to ...: ").
fn inner(body_text: &str) -> &str {
    body_text.split_once(": ").map_or(body_text, |(_, rest)| rest)
}

/// `axum::extract::Query` with [`ApiError`] rejections (422).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    ApiError::Unprocessable(format!("invalid query string: {}", inner(&rejection.body_text())))
}

/// `axum::extract::Path` with [`ApiError`] rejections (422 for a parameter of the wrong type).
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    match rejection {
        PathRejection::FailedToDeserializePathParams(e) => {
            ApiError::Unprocessable(format!("invalid path parameter: {}", inner(&e.body_text())))
        }
        other => ApiError::Internal(anyhow::anyhow!("path extraction failed: {}", other.body_text())),
    }
}
