//! What can go wrong when asking for weather, and how each failure maps to an HTTP answer.
//!
//! "The provider said no" (key rejected, unknown location, quota) is kept apart from "the provider could not be
//! reached" (timeout, connection refused) and from "the provider answered nonsense" (malformed response), because
//! they call for different actions: fix the configuration, wait, or report a bug.
//!
//! No variant ever holds the API key or the upstream URL: transport errors are stripped of their URL
//! (`reqwest::Error::without_url`) and every text that came from outside passes through a [`Redactor`] that removes
//! the key, the base URL and its host, whatever the upstream chose to echo.

use std::fmt;
use std::time::Duration;

use reqwest::Url;

use crate::secret::ApiKey;

/// The exact public message for a missing, invalid or disabled API key.
pub const API_KEY_REJECTED_MESSAGE: &str = "weather provider rejected the API key";

/// Retry-After suggested for an exceeded quota when the provider did not send one.
pub const DEFAULT_QUOTA_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Retry-After suggested for throttling when the provider did not send one.
pub const DEFAULT_THROTTLE_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A failed weather request. `Display` is for logs (details included, secrets never); clients get
/// [`WeatherError::http_status`] and [`WeatherError::public_message`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeatherError {
    /// The request itself is invalid (days out of range, empty location). HTTP 400.
    #[error("invalid weather request: {0}")]
    InvalidRequest(String),
    /// The API key is missing, invalid or disabled (WeatherAPI 401/1002, 401/2006, 403/2008). HTTP 502.
    #[error("weather provider rejected the API key: {detail}")]
    ApiKeyRejected { detail: String },
    /// The key is valid but its plan does not include this request (WeatherAPI 403/2009). Not transient, so not a
    /// 503: HTTP 502.
    #[error("weather provider plan does not allow this request: {detail}")]
    PlanLacksAccess { detail: String },
    /// The provider knows no such location (WeatherAPI 400/1006), or Open-Meteo has no coordinates for the name.
    /// HTTP 404.
    #[error("weather location not found: {location}: {detail}")]
    LocationNotFound { location: String, detail: String },
    /// The provider rejected the request as malformed (WeatherAPI 1003/1005, Open-Meteo 400): a bug or a bad
    /// configuration on our side, not the client's. HTTP 502.
    #[error("weather provider rejected the request: {detail}")]
    BadRequest { detail: String },
    /// The monthly quota is used up (WeatherAPI 403/2007). HTTP 503 with Retry-After.
    #[error("weather provider quota exceeded: {detail}")]
    QuotaExceeded { detail: String, retry_after: Option<Duration> },
    /// Too many requests (HTTP 429). HTTP 503 with Retry-After.
    #[error("weather provider is throttling requests: {detail}")]
    Throttled { detail: String, retry_after: Option<Duration> },
    /// The provider failed on its side (WeatherAPI 9999, any 5xx, an unexpected status). HTTP 502.
    #[error("weather provider failed: {detail}")]
    Upstream { detail: String },
    /// No complete answer within the configured timeout. HTTP 504.
    #[error("weather provider did not answer within {after:?}")]
    Timeout { after: Duration },
    /// The connection could not be made or broke (DNS, refused, reset). HTTP 504.
    #[error("weather provider unreachable: {detail}")]
    Unreachable { detail: String },
    /// The provider answered, but not in the documented shape. HTTP 502.
    #[error("malformed response from weather provider: {detail}")]
    Malformed { detail: String },
}

impl WeatherError {
    /// The HTTP status the API answers with.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidRequest(_) => 400,
            Self::LocationNotFound { .. } => 404,
            Self::QuotaExceeded { .. } | Self::Throttled { .. } => 503,
            Self::Timeout { .. } | Self::Unreachable { .. } => 504,
            Self::ApiKeyRejected { .. }
            | Self::PlanLacksAccess { .. }
            | Self::BadRequest { .. }
            | Self::Upstream { .. }
            | Self::Malformed { .. } => 502,
        }
    }

    /// A message safe to show a client: fixed text per kind (plus our own validation message for
    /// [`WeatherError::InvalidRequest`]), never upstream text.
    #[must_use]
    pub fn public_message(&self) -> String {
        match self {
            Self::InvalidRequest(message) => message.clone(),
            Self::ApiKeyRejected { .. } => API_KEY_REJECTED_MESSAGE.to_string(),
            Self::PlanLacksAccess { .. } => "weather provider plan does not allow this request".to_string(),
            Self::LocationNotFound { .. } => "unknown weather location".to_string(),
            Self::BadRequest { .. } => "weather provider rejected the request".to_string(),
            Self::QuotaExceeded { .. } => "weather provider quota exceeded; try again later".to_string(),
            Self::Throttled { .. } => "weather provider is throttling requests; try again later".to_string(),
            Self::Upstream { .. } => "weather provider failed".to_string(),
            Self::Timeout { .. } => "weather provider did not answer in time".to_string(),
            Self::Unreachable { .. } => "weather provider is unreachable".to_string(),
            Self::Malformed { .. } => "weather provider sent an unreadable response".to_string(),
        }
    }

    /// Seconds for a `Retry-After` header: the provider's own value when it sent one, otherwise
    /// [`DEFAULT_QUOTA_RETRY_AFTER`] or [`DEFAULT_THROTTLE_RETRY_AFTER`]. `None` for every other kind.
    #[must_use]
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::QuotaExceeded { retry_after, .. } => Some(retry_after.unwrap_or(DEFAULT_QUOTA_RETRY_AFTER)),
            Self::Throttled { retry_after, .. } => Some(retry_after.unwrap_or(DEFAULT_THROTTLE_RETRY_AFTER)),
            _ => None,
        }
        .map(|d| d.as_secs().max(1))
    }

    /// A stable machine-readable code, e.g. for a JSON error body's `code` field.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::ApiKeyRejected { .. } => "weather_api_key_rejected",
            Self::PlanLacksAccess { .. } => "weather_plan_lacks_access",
            Self::LocationNotFound { .. } => "weather_location_not_found",
            Self::BadRequest { .. } => "weather_bad_request",
            Self::QuotaExceeded { .. } => "weather_quota_exceeded",
            Self::Throttled { .. } => "weather_throttled",
            Self::Upstream { .. } => "weather_upstream_error",
            Self::Timeout { .. } => "weather_timeout",
            Self::Unreachable { .. } => "weather_unreachable",
            Self::Malformed { .. } => "weather_malformed_response",
        }
    }

    /// The provider's own Retry-After, if it sent one.
    pub(crate) fn upstream_retry_after(&self) -> Option<Duration> {
        match self {
            Self::QuotaExceeded { retry_after, .. } | Self::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// An invalid [`crate::WeatherSettings`] (or provider construction argument), with a message naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid weather configuration: {0}")]
pub struct SettingsError(pub(crate) String);

impl SettingsError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Removes secrets (the API key, the base URL and its host) from any text that came from outside before it goes into
/// an error or a log line, and caps its length.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

const MAX_DETAIL_CHARS: usize = 300;

impl Redactor {
    pub(crate) fn new(base: &Url, key: Option<&ApiKey>) -> Self {
        let mut secrets = vec![base.as_str().trim_end_matches('/').to_string()];
        if let Some(host) = base.host_str() {
            secrets.push(match base.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            });
        }
        if let Some(key) = key.filter(|k| !k.is_empty()) {
            secrets.push(key.expose().to_string());
        }
        // Longest first, so the URL goes before the host inside it.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.retain(|s| !s.is_empty());
        Self { secrets }
    }

    pub(crate) fn clean(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        if out.chars().count() > MAX_DETAIL_CHARS {
            out = out.chars().take(MAX_DETAIL_CHARS).collect::<String>() + "…";
        }
        out.replace(|c: char| c.is_control(), " ")
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_messages() {
        let key = WeatherError::ApiKeyRejected { detail: "x".into() };
        assert_eq!((key.http_status(), key.public_message().as_str()), (502, API_KEY_REJECTED_MESSAGE));
        let quota = WeatherError::QuotaExceeded { detail: String::new(), retry_after: None };
        assert_eq!((quota.http_status(), quota.retry_after_secs()), (503, Some(3600)));
        let throttled = WeatherError::Throttled { detail: String::new(), retry_after: Some(Duration::from_secs(7)) };
        assert_eq!(throttled.retry_after_secs(), Some(7));
        assert_eq!(WeatherError::Timeout { after: Duration::from_secs(1) }.http_status(), 504);
        assert_eq!(WeatherError::Upstream { detail: String::new() }.retry_after_secs(), None);
    }

    #[test]
    fn redactor_removes_key_url_and_host() {
        let base = Url::parse("http://127.0.0.1:4321/").unwrap();
        let r = Redactor::new(&base, Some(&ApiKey::new("k3y")));
        let cleaned = r.clean("GET http://127.0.0.1:4321/v1/x?key=k3y failed; peer 127.0.0.1:4321\nnext");
        assert_eq!(cleaned, "GET [redacted]/v1/x?key=[redacted] failed; peer [redacted] next");
        assert!(r.clean(&"x".repeat(1000)).chars().count() <= MAX_DETAIL_CHARS + 1);
        assert_eq!(format!("{r:?}"), "Redactor { .. }");
    }
}
