//! Server configuration: command-line flags over environment variables over `.env` over built-in defaults.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--database-url` | `DATABASE_URL` | `sqlite://heating.db?mode=rwc` |
//! | `--bind` | `BIND` | `127.0.0.1:8000` |
//! | `--poll-interval-secs` | `POLL_INTERVAL_SECS` | `5` |
//! | `--control-interval-secs` | `CONTROL_INTERVAL_SECS` | `60` |
//! | `--weatherapi-key` | `WEATHERAPI_KEY` | none |
//!
//! Logging is set with `RUST_LOG` (read by the binary, not part of [`Config`]). Secrets — the weather API key and
//! any password in the database URL — never appear in `Debug` output, logs or `--help`.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use clap::Parser;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://heating.db?mode=rwc";
pub const DEFAULT_BIND: &str = "127.0.0.1:8000";
pub const DEFAULT_POLL_INTERVAL_SECS: u64 = 5;
pub const DEFAULT_CONTROL_INTERVAL_SECS: u64 = 60;

/// Central server of the heating platform: REST API, storage, polling and control.
#[derive(Clone, Parser)]
#[command(name = "heating-server", version)]
pub struct Config {
    /// Database URL. SQLite: `sqlite://PATH?mode=rwc` (the file is created if missing).
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
    /// Address and port the HTTP server listens on.
    #[arg(long, env = "BIND", default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,
    /// Seconds between two polls of every zone.
    #[arg(long, env = "POLL_INTERVAL_SECS", default_value_t = DEFAULT_POLL_INTERVAL_SECS,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub poll_interval_secs: u64,
    /// Seconds between two runs of the control job.
    #[arg(long, env = "CONTROL_INTERVAL_SECS", default_value_t = DEFAULT_CONTROL_INTERVAL_SECS,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub control_interval_secs: u64,
    /// API key for weatherapi.com (used by the weather-aware control; optional).
    #[arg(long, env = "WEATHERAPI_KEY", hide_env_values = true)]
    pub weatherapi_key: Option<Secret>,
}

impl Config {
    /// Reads `.env` (if present) into the environment, then flags and environment variables. Exits with a usage
    /// message on invalid flags, like any clap program; a malformed `.env` is an error.
    pub fn load() -> anyhow::Result<Self> {
        if let Err(e) = dotenvy::dotenv()
            && !e.not_found()
        {
            return Err(anyhow::anyhow!("could not read .env: {e}"));
        }
        let mut config = Self::parse();
        config.normalize();
        Ok(config)
    }

    /// The defaults, with `database_url` replaced (for tests and embedding).
    #[must_use]
    pub fn with_database_url(database_url: impl Into<String>) -> Self {
        Self { database_url: database_url.into(), ..Self::default() }
    }

    /// An empty `WEATHERAPI_KEY=` (as in `.env.example`) means "no key".
    fn normalize(&mut self) {
        if self.weatherapi_key.as_ref().is_some_and(|k| k.expose().trim().is_empty()) {
            self.weatherapi_key = None;
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_string(),
            bind: DEFAULT_BIND.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8000))),
            poll_interval_secs: DEFAULT_POLL_INTERVAL_SECS,
            control_interval_secs: DEFAULT_CONTROL_INTERVAL_SECS,
            weatherapi_key: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind", &self.bind)
            .field("poll_interval_secs", &self.poll_interval_secs)
            .field("control_interval_secs", &self.control_interval_secs)
            .field("weatherapi_key", &self.weatherapi_key)
            .finish()
    }
}

/// A secret string (API key, password). `Debug` and `Display` print `[redacted]`; read it with
/// [`Secret::expose`] only where it is sent to its one legitimate recipient.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

/// A database URL fit for logs and error messages: the password in `user:password@host` and any `password=`
/// query parameter are replaced by `[redacted]`.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..].find(['/', '?', '#']).map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "[redacted]");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[redacted]"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let config = Config {
            database_url: "postgres://app:hunter2@db:5432/heating?sslmode=require&password=hunter3".into(),
            weatherapi_key: Some(Secret::new("abc123")),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("hunter3") && !shown.contains("abc123"), "{shown}");
        assert!(shown.contains("postgres://app:[redacted]@db:5432/heating"), "{shown}");
        assert_eq!(format!("{}", Secret::new("k")), "[redacted]");
        assert_eq!(Secret::new("k").expose(), "k");
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        assert_eq!(redact_url(DEFAULT_DATABASE_URL), DEFAULT_DATABASE_URL);
        assert_eq!(redact_url("sqlite:///var/lib/heating/x.db"), "sqlite:///var/lib/heating/x.db");
        assert_eq!(redact_url("postgres://app@db/heating"), "postgres://app@db/heating");
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let parsed = Config::try_parse_from(["heating-server", "--database-url", DEFAULT_DATABASE_URL]).unwrap();
        let d = Config::default();
        assert_eq!(parsed.bind, d.bind);
        assert_eq!(d.bind.to_string(), DEFAULT_BIND);
        assert_eq!(parsed.poll_interval_secs, 5);
        assert_eq!(parsed.control_interval_secs, 60);
        assert!(Config::try_parse_from(["heating-server", "--poll-interval-secs", "0"]).is_err());
    }

    #[test]
    fn empty_key_means_none() {
        let mut c = Config { weatherapi_key: Some(Secret::new("  ")), ..Config::default() };
        c.normalize();
        assert!(c.weatherapi_key.is_none());
    }
}
