//! Who is asking: [`authenticate`] turns the bearer token of a request (or its absence) into a [`Caller`].
//!
//! - Local mode (`--auth` off): every request is the admin `local`; a token, if sent, is ignored.
//! - `--auth` on: a token must be sent, active (neither revoked nor expired); its name and role are the caller's.
//!   Without a token, a read is the viewer `anonymous` when `--anonymous-reads` is on, else refused; a write is
//!   always refused.
//!
//! Tokens are `hst_` followed by 43 URL-safe base64 characters (32 bytes from the operating system's random number
//! generator). Only their SHA-256 is stored: a fast hash is enough because the token is random with 256 bits of
//! entropy, so there is nothing to guess and no dictionary to precompute; slow, salted hashes (argon2, bcrypt)
//! protect low-entropy passwords and would cost milliseconds of CPU on every request. An unsalted hash is also
//! what makes the lookup one indexed equality, and comparing hashes leaks nothing usable about the token.
//!
//! A sent token that fails (unknown, revoked, expired) is a failed sign-in: logged at WARN with the client's
//! address and at most the token's first 8 characters, and counted per address; at `SIGN_IN_FAILURES_PER_MINUTE`
//! (default 10) failures within a minute the address gets `TooManyRequests` until the minute is over, whatever it
//! sends.

use std::net::IpAddr;
use std::time::Instant;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::{AppState, Caller, ServiceError};
use crate::state::SignInFailures;
use crate::storage::ApiToken;

/// The start of every token, so that a leaked one is easy to find (`grep -r hst_`).
pub const TOKEN_PREFIX: &str = "hst_";
/// Characters of a token kept for display and logs: `hst_` and four more (24 of its 256 bits).
pub const SHOWN_PREFIX_CHARS: usize = 8;
/// `last_used_at` is written at most this often per token.
pub const LAST_USED_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// What a request brings to be identified.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// The token of `Authorization: Bearer <token>`; `Some("")` for an `Authorization` header of another form.
    pub bearer: Option<&'a str>,
    /// A read (GET or HEAD): may be anonymous when anonymous reads are allowed.
    pub read_only: bool,
    /// The client's address, for the rate limit and the log.
    pub client: Option<IpAddr>,
}

/// Whether the server requires tokens (`--auth`).
#[must_use]
pub fn enabled(state: &AppState) -> bool {
    !state.config.auth.local_mode()
}

/// The SHA-256 of a token, lower-case hex: what storage keeps.
#[must_use]
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new token: `hst_` and 32 random bytes from the operating system, URL-safe base64 without padding.
pub fn generate_token() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("the operating system's random numbers failed: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// What a log line or a list may show of a token: its first characters if it looks like one of ours.
#[must_use]
pub fn shown_prefix(token: &str) -> String {
    if token.starts_with(TOKEN_PREFIX) && token.is_ascii() {
        token.chars().take(SHOWN_PREFIX_CHARS).collect()
    } else {
        "(not an hst_ token)".to_string()
    }
}

/// Identifies the caller of a request; see the module documentation.
pub async fn authenticate(state: &AppState, credentials: Credentials<'_>) -> Result<Caller, ServiceError> {
    if !enabled(state) {
        return Ok(Caller::local());
    }
    let Some(token) = credentials.bearer else {
        if credentials.read_only && state.config.auth.anonymous_reads {
            return Ok(Caller::anonymous());
        }
        return Err(ServiceError::Unauthorized(
            "Authentication required: send an API token as `Authorization: Bearer <token>`".into(),
        ));
    };
    let client = credentials.client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if let Some(wait) = state.sign_ins.blocked_for(client, Instant::now()) {
        let retry_after_secs = wait.as_secs().max(1);
        return Err(ServiceError::TooManyRequests {
            detail: format!("Too many failed sign-ins from this address; try again in {retry_after_secs} s"),
            retry_after_secs,
        });
    }
    let now = state.clock.now();
    let found =
        if token.starts_with(TOKEN_PREFIX) { state.storage.token_by_hash(&hash_token(token)).await? } else { None };
    let refusal = match &found {
        Some(t) if t.is_active(now) => {
            touch(state, t, now).await;
            return Ok(Caller { name: t.name.clone(), role: t.role });
        }
        Some(t) if t.revoked_at.is_some() => "Token revoked",
        Some(_) => "Token expired",
        None => "Invalid token",
    };
    let failures = state.sign_ins.record(client, Instant::now());
    tracing::warn!(
        client = %client,
        token_prefix = %shown_prefix(token),
        token_name = found.as_ref().map(|t| t.name.as_str()),
        failures_in_window = failures,
        "failed sign-in: {}",
        refusal.to_ascii_lowercase()
    );
    Err(ServiceError::Unauthorized(refusal.into()))
}

/// Records the token's use, at most once per [`LAST_USED_EVERY`]; a failure is logged, not the caller's problem.
async fn touch(state: &AppState, token: &ApiToken, now: chrono::DateTime<chrono::Utc>) {
    if token.last_used_at.is_some_and(|t| now - t < LAST_USED_EVERY) {
        return;
    }
    if let Err(e) = state.storage.touch_token(token.id, now).await {
        tracing::warn!(token_name = %token.name, "could not record the token's use: {e}");
    }
}

/// The failure limit, for documentation and tests.
pub const FAILED_SIGN_IN_LIMIT: u32 = SignInFailures::LIMIT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let (a, b) = (generate_token().unwrap(), generate_token().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with("hst_") && a.len() == 4 + 43, "{a}");
        assert!(a[4..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(shown_prefix(&a), a[..8]);
        assert_eq!(shown_prefix("password123"), "(not an hst_ token)");
        assert_eq!(shown_prefix("hst_é"), "(not an hst_ token)");
    }
}
