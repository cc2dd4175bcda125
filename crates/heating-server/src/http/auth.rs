//! Authentication at the door, roles at the services: [`authenticate`] (a middleware over every route) turns
//! `Authorization: Bearer <token>` into a [`Caller`] through [`crate::services::auth::authenticate`] and puts it in
//! the request; handlers take it with the [`Authed`] extractor and pass it to the service, which checks the role.
//! `GET /auth/whoami` says who the server takes the caller for.
//!
//! Public, whatever the settings: `/health` (for load balancers), the dashboard's files (`/`, `/assets/...`: no
//! data, and the sign-in page must load before there is a token), Swagger UI and the OpenAPI document (`/docs`,
//! `/api-docs/openapi.json`: what the open-source API looks like). Everything else needs a caller.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDoc, Ref, RefOr, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::Json;
use crate::domain::{Caller, Role};
use crate::services::auth::{self, Credentials};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(whoami))
}

/// Paths served to anyone (see the module documentation).
fn is_public(path: &str) -> bool {
    matches!(path, "/" | "/health" | "/docs" | super::OPENAPI_PATH)
        || path.starts_with("/assets/")
        || path.starts_with("/docs/")
}

/// The token of `Authorization: Bearer <token>`; `Some("")` for an `Authorization` header of any other form.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let text = value.to_str().unwrap_or_default().trim();
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
        _ => Some(""),
    }
}

/// The middleware: identifies the caller of every non-public request (401 or 429 if it cannot be), and puts the
/// [`Caller`] into the request's extensions.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let credentials =
        Credentials { bearer: bearer(&req), read_only: matches!(*req.method(), Method::GET | Method::HEAD), client };
    match auth::authenticate(&state, credentials).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The caller of the request, as [`authenticate`] identified it.
#[derive(Debug, Clone)]
pub struct Authed(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Self)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no caller on a route that needs one")))
    }
}

/// A role, as the API names it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Role)]
pub enum RoleOut {
    /// Every read.
    Viewer,
    /// Also targets, holds, `POST /commands`, `POST /sensordata`.
    Operator,
    /// Also zones (with device endpoints and preferences), tokens and the audit log.
    Admin,
}

impl From<Role> for RoleOut {
    fn from(r: Role) -> Self {
        match r {
            Role::Viewer => Self::Viewer,
            Role::Operator => Self::Operator,
            Role::Admin => Self::Admin,
        }
    }
}

impl From<RoleOut> for Role {
    fn from(r: RoleOut) -> Self {
        match r {
            RoleOut::Viewer => Self::Viewer,
            RoleOut::Operator => Self::Operator,
            RoleOut::Admin => Self::Admin,
        }
    }
}

/// Who the server takes the caller for.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "tablet", "role": "operator", "auth": true}))]
pub struct WhoAmI {
    /// The token's name; `anonymous` for a read without a token (when allowed); `local` in local mode.
    pub name: String,
    pub role: RoleOut,
    /// Whether the server requires tokens (false: local mode, everyone is the admin `local`).
    pub auth: bool,
}

/// Who am I: the caller's name and role, and whether the server requires tokens.
#[utoipa::path(
    get, path = "/auth/whoami", tag = "auth",
    responses(
        (status = 200, description = "The caller", body = WhoAmI),
        (status = 401, description = "No valid token (and anonymous reads are off)", body = ErrorBody),
    )
)]
async fn whoami(State(state): State<AppState>, Authed(caller): Authed) -> Json<WhoAmI> {
    Json(WhoAmI { name: caller.name, role: caller.role.into(), auth: auth::enabled(&state) })
}

/// Adds the bearer scheme to the document, requires it on every operation but `/health`, and documents the
/// refusals every protected operation may answer: 401, 403 (writes, and the admin reads), 429.
pub fn document_security(doc: &mut OpenApiDoc) {
    let scheme = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("hst_… (heating-server token create)")
        .description(Some("An API token, sent as `Authorization: Bearer <token>`. Not needed in local mode."))
        .build();
    doc.components.get_or_insert_with(Default::default).add_security_scheme("bearer", SecurityScheme::Http(scheme));
    doc.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build(),
        )
    };
    for (path, item) in &mut doc.paths.paths {
        let ops = [
            (true, item.get.as_mut()),
            (false, item.post.as_mut()),
            (false, item.put.as_mut()),
            (false, item.delete.as_mut()),
            (false, item.patch.as_mut()),
        ];
        for (read, op) in ops {
            let Some(op) = op else { continue };
            if path == "/health" {
                op.security = Some(Vec::new());
                continue;
            }
            let responses = &mut op.responses.responses;
            responses.entry("401".into()).or_insert_with(|| {
                error("No token, or one that is unknown, revoked or expired (`WWW-Authenticate: Bearer`)")
            });
            if !read || path.starts_with("/tokens") || path.starts_with("/audit") {
                responses
                    .entry("403".into())
                    .or_insert_with(|| error("The caller's role is too low; the detail names the role needed"));
            }
            responses.entry("429".into()).or_insert_with(|| {
                error("Too many failed sign-ins from this address; try again after `Retry-After` seconds")
            });
        }
    }
}
