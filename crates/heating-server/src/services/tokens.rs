//! API tokens: created (the token is returned once and stored only as its hash), listed, revoked. Admins only; the
//! `heating-server token` command acts as the admin `cli`.

use std::fmt;

use chrono::Duration;
use serde_json::json;

use super::audit::{self, Change};
use super::auth::{SHOWN_PREFIX_CHARS, generate_token, hash_token};
use super::{AppState, Caller, Role, ServiceError, require};
use crate::domain::{Page, TokenName};
use crate::storage::{ApiToken, NewToken, TokenId};

/// Longest lifetime a token may be given, in days (ten years).
pub const MAX_EXPIRES_IN_DAYS: u32 = 3650;

/// A token to create.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub name: String,
    pub role: Role,
    /// Expires this many days (server clock) after creation, 1 to [`MAX_EXPIRES_IN_DAYS`]; `None`: never.
    pub expires_in_days: Option<u32>,
}

/// The token itself, shown once. Its `Debug` hides it.
pub struct TokenSecret(String);

impl TokenSecret {
    /// The token, to hand to the person who asked for it (once).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret([redacted])")
    }
}

/// A created token: what is stored, and the secret.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: ApiToken,
    pub secret: TokenSecret,
}

/// Creates a token. `Invalid` naming `name`, `role` or `expires_in_days`; `Conflict` when the name is taken.
pub async fn create(state: &AppState, caller: &Caller, request: TokenRequest) -> Result<IssuedToken, ServiceError> {
    require(caller, Role::Admin)?;
    let name = TokenName::parse(&request.name).map_err(|e| ServiceError::Invalid(format!("name: {e}")))?;
    if let Some(days) = request.expires_in_days
        && !(1..=MAX_EXPIRES_IN_DAYS).contains(&days)
    {
        return Err(ServiceError::Invalid(format!("expires_in_days: {days} is outside 1..={MAX_EXPIRES_IN_DAYS}")));
    }
    let secret = generate_token()?;
    let now = state.clock.now();
    let new = NewToken {
        name,
        role: request.role,
        token_hash: hash_token(&secret),
        prefix: secret.chars().take(SHOWN_PREFIX_CHARS).collect(),
        created_at: now,
        expires_at: request.expires_in_days.map(|d| now + Duration::days(i64::from(d))),
    };
    let token = state.storage.create_token(&new).await?;
    let details = json!({"token_id": token.id, "name": token.name, "role": token.role.as_str(),
                         "expires_at": token.expires_at.map(crate::time::rfc3339)});
    audit::record(state, caller, now, Change { action: "token.create", zone_id: None, details }).await;
    tracing::info!(token_id = token.id, name = %token.name, role = %token.role, by = %caller.name, "API token created");
    Ok(IssuedToken { token, secret: TokenSecret(secret) })
}

/// A page of tokens, revoked ones included, by id. Never the token or its hash.
pub async fn list(state: &AppState, caller: &Caller, page: Page) -> Result<Vec<ApiToken>, ServiceError> {
    require(caller, Role::Admin)?;
    Ok(state.storage.list_tokens(page).await?)
}

/// The token with this id, or (when not only digits) this name.
pub async fn find(state: &AppState, caller: &Caller, name_or_id: &str) -> Result<ApiToken, ServiceError> {
    require(caller, Role::Admin)?;
    let found = match name_or_id.trim().parse::<TokenId>() {
        Ok(id) => state.storage.get_token(id).await?,
        Err(_) => state.storage.token_by_name(name_or_id.trim()).await?,
    };
    found.ok_or_else(|| ServiceError::NotFound(format!("No token named or numbered {:?}", name_or_id.trim())))
}

/// Revokes the token: it is refused from the next request on. Revoking a revoked token changes nothing.
pub async fn revoke(state: &AppState, caller: &Caller, id: TokenId) -> Result<ApiToken, ServiceError> {
    require(caller, Role::Admin)?;
    let now = state.clock.now();
    let token = state.storage.revoke_token(id, now).await?;
    let details = json!({"token_id": token.id, "name": token.name});
    audit::record(state, caller, now, Change { action: "token.revoke", zone_id: None, details }).await;
    tracing::info!(token_id = token.id, name = %token.name, by = %caller.name, "API token revoked");
    Ok(token)
}
