//! The HTTP client: JSON in and out, the token as `Authorization: Bearer`, and every refusal turned into a
//! [`Failure`] of the right kind with the server's `detail`.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::error::{Failure, Kind, Result};
use crate::settings::{Settings, Token, TokenSource};

#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<Token>,
    token_source: TokenSource,
    config_path: Option<String>,
}

impl Client {
    pub fn new(settings: Settings, timeout: Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("heatctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::other(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: settings.server,
            token: settings.token,
            token_source: settings.token_source,
            config_path: settings.config_path.map(|p| p.display().to_string()),
        })
    }

    /// The server's URL as the user gave it (without a trailing slash), for messages.
    #[must_use]
    pub fn server(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_string()
    }

    /// `path` under the server URL (which may itself have a path, behind a reverse proxy).
    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{prefix}{path}"));
        url
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.send(Method::GET, path, query, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    pub async fn delete(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.send(Method::DELETE, path, query, None).await
    }

    /// One request. Success: the JSON body (`null` when empty). Otherwise a [`Failure`] by status.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let mut url = self.url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = self.http.request(method, url).header("accept", "application/json");
        if let Some(token) = &self.token {
            req = req.bearer_auth(token.expose());
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| self.transport(&e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.transport(&e))?;
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| {
                Failure::other(format!("the server at {} answered {status} with no JSON: {e}", self.server()))
            });
        }
        Err(self.refusal(status, &text))
    }

    /// A request that got no answer.
    fn transport(&self, e: &reqwest::Error) -> Failure {
        let server = self.server();
        let why = if e.is_timeout() {
            "no answer in time".to_string()
        } else if e.is_connect() {
            "connection refused or unreachable".to_string()
        } else {
            // reqwest's messages name the URL (never the token: it travels in a header).
            error_chain(e)
        };
        Failure::new(Kind::Unavailable, format!("cannot reach the server at {server}: {why}"))
    }

    /// An answer that is not a success.
    fn refusal(&self, status: StatusCode, body: &str) -> Failure {
        let detail = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| {
                let text: String = body.trim().chars().take(300).collect();
                if text.is_empty() { status.to_string() } else { text }
            });
        match status.as_u16() {
            401 if self.token.is_none() => Failure::new(
                Kind::Auth,
                format!(
                    "the server at {} needs a token (--token, HEATCTL_TOKEN, or `token` in {}): {detail}",
                    self.server(),
                    self.config_path.as_deref().unwrap_or("the config file")
                ),
            ),
            401 | 403 | 429 => {
                let from = match &self.token_source {
                    TokenSource::File(p) => format!(" (the token from {})", p.display()),
                    _ => String::new(),
                };
                Failure::new(Kind::Auth, format!("the server refused the token{from}: {detail}"))
            }
            404 => Failure::not_found(detail),
            400 | 409 | 413 | 415 | 422 => Failure::new(Kind::Refused, detail),
            500..=599 => Failure::new(Kind::Unavailable, format!("{detail} ({status} from {})", self.server())),
            _ => Failure::other(format!("the server at {} answered {status}: {detail}", self.server())),
        }
    }
}

/// An error with its sources, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let message = s.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = s.source();
    }
    text
}
