//! The HTTP side shared by the two network providers: one client with no redirects, a per-request timeout over the
//! whole exchange (connect, headers and body), a cap on the body size, and transport errors stripped of their URL.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderValue, RETRY_AFTER};

use crate::error::{Redactor, SettingsError, WeatherError};
use crate::secret::ApiKey;

/// Larger answers are refused as malformed (14 days of WeatherAPI hours are about 0.5 MiB).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Checks a provider base URL: absolute `http` or `https`, with a host, without credentials, query or fragment.
pub(crate) fn parse_base_url(variable: &str, raw: &str) -> Result<Url, SettingsError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| SettingsError::new(format!("{variable} must be an absolute http(s) URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SettingsError::new(format!("{variable} must be an absolute http(s) URL with a host")));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(SettingsError::new(format!(
            "{variable} must not contain credentials, a query or a fragment (the key goes in WEATHERAPI_KEY)"
        )));
    }
    Ok(url)
}

/// An answer as received: status, the provider's Retry-After if any, and the raw body.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub(crate) struct HttpUpstream {
    client: reqwest::Client,
    base: Url,
    timeout: Duration,
    redactor: Redactor,
}

impl HttpUpstream {
    pub(crate) fn new(base: Url, timeout: Duration, key: Option<&ApiKey>) -> Result<Self, SettingsError> {
        if timeout.is_zero() {
            return Err(SettingsError::new("the weather request timeout must be positive"));
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .user_agent(concat!("heating-weather/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SettingsError::new(format!("could not build the HTTP client: {}", e.without_url())))?;
        let redactor = Redactor::new(&base, key);
        Ok(Self { client, base, timeout, redactor })
    }

    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// `{base}/{path...}?{query}`, keeping any path prefix of the base URL.
    pub(crate) fn endpoint(&self, path: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path);
        }
        url.query_pairs_mut().extend_pairs(query);
        url
    }

    /// GET `url` within the timeout. Any status is an `Ok`: the provider decides what its errors mean.
    pub(crate) async fn get(&self, url: Url) -> Result<RawResponse, WeatherError> {
        match tokio::time::timeout(self.timeout, self.exchange(url)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(WeatherError::Timeout { after: self.timeout }),
        }
    }

    async fn exchange(&self, url: Url) -> Result<RawResponse, WeatherError> {
        let mut response = self
            .client
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let retry_after = response.headers().get(RETRY_AFTER).and_then(parse_retry_after);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport_error(e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(WeatherError::Malformed {
                    detail: format!("response body larger than {MAX_BODY_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawResponse { status, retry_after, body })
    }

    fn transport_error(&self, error: reqwest::Error) -> WeatherError {
        let error = error.without_url();
        if error.is_timeout() {
            return WeatherError::Timeout { after: self.timeout };
        }
        let detail = self.redactor.clean(&error_chain(&error));
        if error.is_decode() { WeatherError::Malformed { detail } } else { WeatherError::Unreachable { detail } }
    }
}

/// Shows neither the base URL nor the client internals.
impl std::fmt::Debug for HttpUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpUpstream").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// `error: source: source...`, since reqwest's own `Display` hides the interesting cause.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After: <seconds>` or `Retry-After: <HTTP date>`.
fn parse_retry_after(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let secs = (at.to_utc() - chrono::Utc::now()).num_seconds().max(0);
    Some(Duration::from_secs(secs.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert!(parse_base_url("X", "https://api.weatherapi.com").is_ok());
        assert!(parse_base_url("X", "http://127.0.0.1:8080/prefix/").is_ok());
        assert!(parse_base_url("X", "ftp://example.com").is_err());
        assert!(parse_base_url("X", "api.weatherapi.com").is_err());
        assert!(parse_base_url("X", "https://u:p@example.com").is_err());
        let e = parse_base_url("WEATHERAPI_BASE_URL", "https://x.com/?key=abc").unwrap_err();
        assert!(e.to_string().contains("WEATHERAPI_BASE_URL") && !e.to_string().contains("abc"), "{e}");
    }

    #[test]
    fn endpoints_keep_the_base_path() {
        let up =
            HttpUpstream::new(Url::parse("http://127.0.0.1:9/prefix/").unwrap(), Duration::from_secs(1), None).unwrap();
        let url = up.endpoint(&["v1", "forecast.json"], &[("q", "New York"), ("days", "3")]);
        assert_eq!(url.as_str(), "http://127.0.0.1:9/prefix/v1/forecast.json?q=New+York&days=3");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(&HeaderValue::from_static("120")), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT")), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("soon")), None);
    }
}
