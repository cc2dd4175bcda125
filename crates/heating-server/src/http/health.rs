//! `/health`: is the server up, and does the database answer?

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Json;
use crate::services::health::database_answers;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Health report.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok", "database": "ok"}))]
pub struct HealthOut {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// `ok` or `unreachable`.
    pub database: &'static str,
    /// Present when unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

/// Server and database health.
#[utoipa::path(
    get, path = "/health", tag = "health",
    responses(
        (status = 200, description = "Up, and the database answers", body = HealthOut),
        (status = 503, description = "The database does not answer", body = HealthOut,
         example = json!({"status": "unavailable", "database": "unreachable", "detail": "database unreachable"})),
    )
)]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthOut>) {
    if database_answers(&state).await {
        (StatusCode::OK, Json(HealthOut { status: "ok", database: "ok", detail: None }))
    } else {
        let body = HealthOut { status: "unavailable", database: "unreachable", detail: Some("database unreachable") };
        (StatusCode::SERVICE_UNAVAILABLE, Json(body))
    }
}
