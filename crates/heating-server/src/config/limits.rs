//! Connection and request limits of the HTTP server: what a slow or greedy client may hold.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--header-read-timeout-secs` | `HEADER_READ_TIMEOUT_SECS` | `10` |
//! | `--body-read-timeout-secs` | `BODY_READ_TIMEOUT_SECS` | `30` |
//! | `--idle-timeout-secs` | `IDLE_TIMEOUT_SECS` | `60` |
//! | `--request-timeout-secs` | `REQUEST_TIMEOUT_SECS` | `30` |
//! | `--max-connections` | `MAX_CONNECTIONS` | `4096` (lowered at start to fit the open-file limit) |
//! | `--max-connections-per-client` | `MAX_CONNECTIONS_PER_CLIENT` | `256`, or a quarter of `--max-connections` if less |
//!
//! Timeouts take seconds with a fraction (0.1 to 3600).

use std::time::Duration;

pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: f64 = 10.0;
pub const DEFAULT_BODY_READ_TIMEOUT_SECS: f64 = 30.0;
pub const DEFAULT_IDLE_TIMEOUT_SECS: f64 = 60.0;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: f64 = 30.0;
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 256;

/// The most connections either cap accepts.
const MAX_CONNECTIONS_LIMIT: u64 = 1_000_000;

fn parse_timeout(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v.is_finite() && (0.1..=3600.0).contains(&v) { Ok(v) } else { Err(format!("{v} is outside 0.1..=3600 seconds")) }
}

/// Connection and request limits (flattened into [`super::Config`]). A client that keeps to them never notices
/// them: they close connections that hold the server without using it.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitSettings {
    /// Seconds a client has to send a request's line and headers, counted from the connection's opening (first
    /// request) or from the request's first byte (later requests on a kept-alive connection); a slower client is
    /// disconnected.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value_t = DEFAULT_HEADER_READ_TIMEOUT_SECS,
          value_parser = parse_timeout)]
    pub header_read_timeout_secs: f64,
    /// Seconds a client has to send a request's whole body once its headers are in; a body still incomplete then
    /// gets 408 and the connection is closed.
    #[arg(long, env = "BODY_READ_TIMEOUT_SECS", default_value_t = DEFAULT_BODY_READ_TIMEOUT_SECS,
          value_parser = parse_timeout)]
    pub body_read_timeout_secs: f64,
    /// Seconds a kept-alive connection may wait for its next request, and a client may take to read a response,
    /// before the connection is closed.
    #[arg(long, env = "IDLE_TIMEOUT_SECS", default_value_t = DEFAULT_IDLE_TIMEOUT_SECS, value_parser = parse_timeout)]
    pub idle_timeout_secs: f64,
    /// Seconds the server may take to answer one request (from its headers to the response's headers); a slower
    /// answer is replaced by 503 (by 408 if the server was still waiting for the client's body).
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECS,
          value_parser = parse_timeout)]
    pub request_timeout_secs: f64,
    /// Most HTTP connections open at once; beyond it new connections wait (unaccepted) until one closes. Lowered at
    /// start, with a warning, if the process's open-file limit cannot hold it besides the database and devices.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_CONNECTIONS_LIMIT))]
    pub max_connections: usize,
    /// Most HTTP connections open at once from one client address; a client's further connections are closed at
    /// once. At most `--max-connections` [default: 256, or a quarter of `--max-connections` if that is less].
    #[arg(long, env = "MAX_CONNECTIONS_PER_CLIENT",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_CONNECTIONS_LIMIT))]
    pub max_connections_per_client: Option<usize>,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: DEFAULT_HEADER_READ_TIMEOUT_SECS,
            body_read_timeout_secs: DEFAULT_BODY_READ_TIMEOUT_SECS,
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_client: None,
        }
    }
}

impl LimitSettings {
    /// Checks what the flags' own parsers cannot (settings built in code skip those, so the ranges are checked
    /// again here): every timeout within 0.1..=3600 s, both caps at least 1, the per-client cap not above the
    /// global one.
    pub fn validate(&self) -> Result<(), String> {
        let timeouts = [
            ("--header-read-timeout-secs", self.header_read_timeout_secs),
            ("--body-read-timeout-secs", self.body_read_timeout_secs),
            ("--idle-timeout-secs", self.idle_timeout_secs),
            ("--request-timeout-secs", self.request_timeout_secs),
        ];
        for (flag, secs) in timeouts {
            if !(secs.is_finite() && (0.1..=3600.0).contains(&secs)) {
                return Err(format!("{flag} is {secs}, outside 0.1..=3600 seconds"));
            }
        }
        if self.max_connections == 0 || self.max_connections_per_client == Some(0) {
            return Err("--max-connections and --max-connections-per-client must be at least 1".into());
        }
        if let Some(per_client) = self.max_connections_per_client
            && per_client > self.max_connections
        {
            return Err(format!(
                "--max-connections-per-client ({per_client}) is more than --max-connections ({}): one client could \
                 take every connection",
                self.max_connections
            ));
        }
        Ok(())
    }

    /// The cap per client address under a global cap of `max_connections` (the configured one, or what the
    /// open-file limit left of it): the setting if given (never above `max_connections`), else 256 or a quarter of
    /// `max_connections`, whichever is less.
    #[must_use]
    pub fn max_connections_per_client(&self, max_connections: usize) -> usize {
        let cap =
            self.max_connections_per_client.unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_CLIENT.min(max_connections / 4));
        cap.clamp(1, max_connections.max(1))
    }

    #[must_use]
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.header_read_timeout_secs)
    }

    #[must_use]
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.body_read_timeout_secs)
    }

    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.idle_timeout_secs)
    }

    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Config;

    #[test]
    fn defaults_match_the_documented_ones() {
        let parsed = Config::try_parse_from(["heating-server"]).unwrap().limits;
        let d = LimitSettings::default();
        assert_eq!(parsed.header_read_timeout(), Duration::from_secs(10));
        assert_eq!(parsed.body_read_timeout(), Duration::from_secs(30));
        assert_eq!(parsed.idle_timeout(), Duration::from_secs(60));
        assert_eq!(parsed.request_timeout(), Duration::from_secs(30));
        assert_eq!((parsed.max_connections, parsed.max_connections_per_client(4096)), (4096, 256));
        assert_eq!(format!("{parsed:?}"), format!("{d:?}"));
        assert_eq!(d.validate(), Ok(()));
    }

    #[test]
    fn flags_are_parsed_and_checked() {
        let c = Config::try_parse_from([
            "heating-server",
            "--header-read-timeout-secs",
            "1.5",
            "--max-connections",
            "100",
            "--max-connections-per-client",
            "10",
        ])
        .unwrap();
        assert_eq!(c.limits.header_read_timeout(), Duration::from_millis(1500));
        assert_eq!((c.limits.max_connections, c.limits.max_connections_per_client(100)), (100, 10));
        for (flag, value, expected) in [
            ("--idle-timeout-secs", "0", "0 is outside 0.1..=3600 seconds"),
            ("--request-timeout-secs", "soon", "\"soon\" is not a number of seconds"),
            ("--body-read-timeout-secs", "NaN", "outside 0.1..=3600 seconds"),
            ("--max-connections", "0", "0 is not in 1..=1000000"),
        ] {
            let err = Config::try_parse_from(["heating-server", flag, value]).unwrap_err().to_string();
            assert!(err.contains(expected), "{flag} {value}: {err}");
        }
    }

    #[test]
    fn the_per_client_cap_follows_a_lower_global_one_unless_set() {
        let c = Config::try_parse_from(["heating-server", "--max-connections", "100"]).unwrap();
        assert_eq!(c.limits.validate(), Ok(()));
        assert_eq!(c.limits.max_connections_per_client(100), 25);
        assert_eq!(c.limits.max_connections_per_client(2), 1);
        let set = Config::try_parse_from(["heating-server", "--max-connections-per-client", "300"]).unwrap();
        assert_eq!(set.limits.max_connections_per_client(4096), 300);
        assert_eq!(set.limits.max_connections_per_client(200), 200, "never above the global cap");
    }

    #[test]
    fn a_per_client_cap_above_the_global_one_is_refused() {
        let c = Config::try_parse_from([
            "heating-server",
            "--max-connections",
            "100",
            "--max-connections-per-client",
            "256",
        ])
        .unwrap();
        let err = c.limits.validate().unwrap_err();
        assert!(err.contains("--max-connections-per-client (256) is more than --max-connections (100)"), "{err}");
        let built = LimitSettings { request_timeout_secs: 0.0, ..LimitSettings::default() };
        assert!(built.validate().unwrap_err().contains("--request-timeout-secs is 0"));
    }
}
