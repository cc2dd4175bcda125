//! `/tokens` (admins): create an API token (shown once, in the answer to `POST`), list tokens (never the token or
//! its hash), revoke one.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Pagination;
use super::auth::{Authed, RoleOut};
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query};
use crate::services::tokens::{self, TokenRequest};
use crate::state::AppState;
use crate::storage::{ApiToken, TokenId};
use crate::time::{serialize_opt_rfc3339, serialize_rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_token, list_tokens)).routes(routes!(revoke_token))
}

/// Body of `POST /tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "hall-tablet", "role": "operator", "expires_in_days": 365}))]
pub struct TokenCreate {
    /// Unique, 1 to 64 characters among letters, digits, `-`, `_`, `.`, `@`; not only digits.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9._@-]*[A-Za-z._@-][A-Za-z0-9._@-]*$")]
    pub name: String,
    pub role: RoleOut,
    /// Days until the token expires, 1 to 3650; absent: never.
    #[serde(default, deserialize_with = "super::numbers::opt_u32")]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

/// A token, without the token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: TokenId,
    pub name: String,
    pub role: RoleOut,
    /// The token's first characters (`hst_` and four more), to recognise it.
    pub prefix: String,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last use, to the minute; null: never used.
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiToken> for TokenOut {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id,
            name: t.name,
            role: t.role.into(),
            prefix: t.prefix,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A created token: the only time the token is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    /// Send it as `Authorization: Bearer <token>`. It is not stored and cannot be shown again.
    #[schema(example = "hst_8VfQ2xY0nqkR5eMh4t7uZCw1aLsJd9bGp3oXiT6yE0")]
    pub token: String,
    #[serde(flatten)]
    pub info: TokenOut,
}

/// Create an API token (admins). The token is in this answer only.
#[utoipa::path(
    post, path = "/tokens", tag = "auth",
    request_body = TokenCreate,
    responses(
        (status = 201, description = "Created; the token is shown this once", body = TokenCreated),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 409, description = "A token with this name exists (revoked ones keep their names)", body = ErrorBody),
        (status = 415, description = "Body not sent as application/json", body = ErrorBody),
        (status = 422, description = "Invalid name, role or expires_in_days", body = ErrorBody),
    )
)]
async fn create_token(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Json(body): Json<TokenCreate>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    let request = TokenRequest { name: body.name, role: body.role.into(), expires_in_days: body.expires_in_days };
    let issued = tokens::create(&state, &caller, request).await?;
    let token = issued.secret.expose().to_string();
    Ok((StatusCode::CREATED, Json(TokenCreated { token, info: issued.token.into() })))
}

/// API tokens (admins), revoked ones included, by id; never the token or its hash.
#[utoipa::path(
    get, path = "/tokens", tag = "auth",
    params(Pagination),
    responses(
        (status = 200, description = "A page of tokens", body = Vec<TokenOut>),
        (status = 422, description = "skip or limit out of range", body = ErrorBody),
    )
)]
async fn list_tokens(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Query(pagination): Query<Pagination>,
) -> Result<Json<Vec<TokenOut>>, ApiError> {
    let list = tokens::list(&state, &caller, pagination.page()?).await?;
    Ok(Json(list.into_iter().map(TokenOut::from).collect()))
}

/// Revoke an API token (admins): refused from the next request on.
#[utoipa::path(
    delete, path = "/tokens/{id}", tag = "auth",
    params(("id" = i64, Path, description = "Token id")),
    responses(
        (status = 200, description = "The token, revoked", body = TokenOut),
        (status = 404, description = "No such token", body = ErrorBody),
        (status = 422, description = "id is not an integer", body = ErrorBody),
    )
)]
async fn revoke_token(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<TokenId>,
) -> Result<Json<TokenOut>, ApiError> {
    Ok(Json(tokens::revoke(&state, &caller, id).await?.into()))
}
