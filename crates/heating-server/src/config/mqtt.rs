//! The MQTT bridge's settings (off unless `MQTT_URL` is set).
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--mqtt-url` | `MQTT_URL` | none: no bridge. `mqtt://HOST[:PORT]` (1883), `mqtts://HOST[:PORT]` (8883, TLS) |
//! | `--mqtt-username` | `MQTT_USERNAME` | none |
//! | `--mqtt-password` | `MQTT_PASSWORD` | none (never logged, redacted in `Debug`) |
//! | `--mqtt-ca-file` | `MQTT_CA_FILE` | none: with `mqtts://`, the system's root certificates |
//! | `--mqtt-client-id` | `MQTT_CLIENT_ID` | `heating-server` |
//! | `--mqtt-topic-prefix` | `MQTT_TOPIC_PREFIX` | `heating` |
//! | `--mqtt-discovery-prefix` | `MQTT_DISCOVERY_PREFIX` | `homeassistant` |
//! | `--mqtt-hold-minutes` | `MQTT_HOLD_MINUTES` | none: a target set over MQTT holds until the zone's occupancy changes |

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub const DEFAULT_MQTT_CLIENT_ID: &str = "heating-server";
pub const DEFAULT_MQTT_TOPIC_PREFIX: &str = "heating";
pub const DEFAULT_MQTT_DISCOVERY_PREFIX: &str = "homeassistant";

/// MQTT settings (flattened into [`super::Config`]).
#[derive(Clone, clap::Args)]
pub struct MqttSettings {
    /// The MQTT broker to bridge to (Home Assistant discovery, zone states, commands): `mqtt://HOST[:PORT]`
    /// (default port 1883) or `mqtts://HOST[:PORT]` for TLS (default port 8883). Unset: no bridge.
    #[arg(id = "mqtt_url", long = "mqtt-url", env = "MQTT_URL", value_parser = MqttUrl::from_str)]
    pub url: Option<MqttUrl>,
    /// User name at the broker.
    #[arg(id = "mqtt_username", long = "mqtt-username", env = "MQTT_USERNAME")]
    pub username: Option<String>,
    /// Password at the broker (never logged).
    #[arg(id = "mqtt_password", long = "mqtt-password", env = "MQTT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// With `mqtts://`: a PEM file of the certificate authorities to trust instead of the system's roots.
    #[arg(id = "mqtt_ca_file", long = "mqtt-ca-file", env = "MQTT_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// The client id at the broker; two clients with one id push each other off, so give each server its own.
    #[arg(id = "mqtt_client_id", long = "mqtt-client-id", env = "MQTT_CLIENT_ID",
          default_value = DEFAULT_MQTT_CLIENT_ID, value_parser = parse_client_id)]
    pub client_id: String,
    /// The first level(s) of every topic the bridge publishes and listens on (`heating/status`,
    /// `heating/zone/1/state`, ...).
    #[arg(id = "mqtt_topic_prefix", long = "mqtt-topic-prefix", env = "MQTT_TOPIC_PREFIX",
          default_value = DEFAULT_MQTT_TOPIC_PREFIX, value_parser = parse_topic_prefix)]
    pub topic_prefix: String,
    /// Home Assistant's MQTT discovery prefix.
    #[arg(id = "mqtt_discovery_prefix", long = "mqtt-discovery-prefix", env = "MQTT_DISCOVERY_PREFIX",
          default_value = DEFAULT_MQTT_DISCOVERY_PREFIX, value_parser = parse_topic_prefix)]
    pub discovery_prefix: String,
    /// How long a target set from MQTT (Home Assistant) is held, in minutes (1 to 10080). Unset: until the zone's
    /// occupancy next changes, like the API's default.
    #[arg(id = "mqtt_hold_minutes", long = "mqtt-hold-minutes", env = "MQTT_HOLD_MINUTES",
          value_parser = clap::value_parser!(i64).range(1..=10_080))]
    pub hold_minutes: Option<i64>,
}

impl Default for MqttSettings {
    fn default() -> Self {
        Self {
            url: None,
            username: None,
            password: None,
            ca_file: None,
            client_id: DEFAULT_MQTT_CLIENT_ID.to_string(),
            topic_prefix: DEFAULT_MQTT_TOPIC_PREFIX.to_string(),
            discovery_prefix: DEFAULT_MQTT_DISCOVERY_PREFIX.to_string(),
            hold_minutes: None,
        }
    }
}

impl fmt::Debug for MqttSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttSettings")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("ca_file", &self.ca_file)
            .field("client_id", &self.client_id)
            .field("topic_prefix", &self.topic_prefix)
            .field("discovery_prefix", &self.discovery_prefix)
            .field("hold_minutes", &self.hold_minutes)
            .finish()
    }
}

impl MqttSettings {
    /// Whether the bridge runs.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.url.is_some()
    }

    /// Checks what clap cannot: a password without a user name, a CA file without TLS.
    pub fn validate(&self) -> Result<(), String> {
        let Some(url) = &self.url else { return Ok(()) };
        if self.password.is_some() && self.username.is_none() {
            return Err("MQTT_PASSWORD is set but MQTT_USERNAME is not".into());
        }
        if self.ca_file.is_some() && !url.tls {
            return Err("MQTT_CA_FILE is set but MQTT_URL is not mqtts://".into());
        }
        Ok(())
    }
}

/// A broker address: `mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]`. Credentials go in `MQTT_USERNAME` and
/// `MQTT_PASSWORD`, never in the URL (which is logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttUrl {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl fmt::Display for MqttUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for MqttUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let expected = "expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]";
        let (tls, rest) = if let Some(rest) = s.strip_prefix("mqtt://") {
            (false, rest)
        } else if let Some(rest) = s.strip_prefix("mqtts://") {
            (true, rest)
        } else {
            return Err(format!("MQTT URL: unknown scheme ({expected})"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('@') {
            return Err("MQTT URL: put credentials in MQTT_USERNAME and MQTT_PASSWORD, not in the URL".into());
        }
        if rest.contains(['/', '?', '#']) {
            return Err(format!("MQTT URL: a path or query is not used ({expected})"));
        }
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| format!("MQTT URL: unclosed '[' ({expected})"))?;
            match after {
                "" => (host, None),
                p => (host, Some(p.strip_prefix(':').ok_or_else(|| format!("MQTT URL: bad port ({expected})"))?)),
            }
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() || host.chars().any(char::is_whitespace) {
            return Err(format!("MQTT URL: no host ({expected})"));
        }
        let port = match port {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(format!("MQTT URL: port {p:?} is not 1..=65535")),
            },
        };
        Ok(Self { host: host.to_string(), port, tls })
    }
}

/// A topic prefix: one or more levels separated by `/`, none empty, without the wildcards `+` and `#`.
fn parse_topic_prefix(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || s.len() > 200 {
        return Err("a topic prefix must be 1 to 200 characters".into());
    }
    if s.split('/').any(str::is_empty) {
        return Err(format!("topic prefix {s:?} has an empty level (a leading, trailing or double '/')"));
    }
    if s.contains(['+', '#', '\0']) {
        return Err(format!("topic prefix {s:?} holds a wildcard ('+' or '#')"));
    }
    Ok(s.to_string())
}

fn parse_client_id(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || s.len() > 128 || s.chars().any(|c| c.is_control()) {
        return Err("an MQTT client id must be 1 to 128 printable characters".into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Config;

    #[test]
    fn urls_are_parsed_with_default_ports() {
        let u: MqttUrl = "mqtt://127.0.0.1".parse().unwrap();
        assert_eq!(u, MqttUrl { host: "127.0.0.1".into(), port: 1883, tls: false });
        let u: MqttUrl = "mqtts://broker.example:8884/".parse().unwrap();
        assert_eq!(u, MqttUrl { host: "broker.example".into(), port: 8884, tls: true });
        assert_eq!(u.to_string(), "mqtts://broker.example:8884");
        let u: MqttUrl = "mqtt://[::1]:1884".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1884));
        assert_eq!(u.to_string(), "mqtt://[::1]:1884");
        for bad in ["http://x", "mqtt://", "mqtt://u:p@host", "mqtt://h:0", "mqtt://h:99999", "mqtt://h/x"] {
            assert!(bad.parse::<MqttUrl>().is_err(), "{bad}");
        }
        let err = "mqtt://user:secret@host".parse::<MqttUrl>().unwrap_err();
        assert!(!err.contains("secret") && err.contains("MQTT_USERNAME"), "{err}");
    }

    #[test]
    fn off_by_default_with_documented_defaults() {
        let c = Config::try_parse_from(["heating-server"]).unwrap();
        assert!(!c.mqtt.enabled());
        assert_eq!(c.mqtt.client_id, DEFAULT_MQTT_CLIENT_ID);
        assert_eq!(c.mqtt.topic_prefix, "heating");
        assert_eq!(c.mqtt.discovery_prefix, "homeassistant");
        assert_eq!(c.mqtt.hold_minutes, None);
        let d = MqttSettings::default();
        assert_eq!(
            (d.client_id, d.topic_prefix, d.discovery_prefix),
            (c.mqtt.client_id, c.mqtt.topic_prefix, c.mqtt.discovery_prefix)
        );
    }

    #[test]
    fn bad_values_are_refused_with_clear_messages() {
        let parse = |args: &[&str]| {
            let mut all = vec!["heating-server"];
            all.extend_from_slice(args);
            Config::try_parse_from(all)
        };
        let err = parse(&["--mqtt-topic-prefix", "a/+/b"]).unwrap_err().to_string();
        assert!(err.contains("wildcard"), "{err}");
        let err = parse(&["--mqtt-topic-prefix", "a//b"]).unwrap_err().to_string();
        assert!(err.contains("empty level"), "{err}");
        assert!(parse(&["--mqtt-hold-minutes", "0"]).is_err());
        let ok =
            parse(&["--mqtt-url", "mqtt://localhost", "--mqtt-topic-prefix", "site/a", "--mqtt-hold-minutes", "90"])
                .unwrap();
        assert_eq!(ok.mqtt.topic_prefix, "site/a");
        assert_eq!(ok.mqtt.hold_minutes, Some(90));
        let c = parse(&["--mqtt-url", "mqtt://localhost", "--mqtt-password", "pw"]).unwrap();
        assert!(c.mqtt.validate().unwrap_err().contains("MQTT_USERNAME"));
        let c = parse(&["--mqtt-url", "mqtt://localhost", "--mqtt-ca-file", "/x.pem"]).unwrap();
        assert!(c.mqtt.validate().unwrap_err().contains("mqtts://"));
    }

    #[test]
    fn the_password_is_redacted() {
        let c = Config::try_parse_from([
            "heating-server",
            "--mqtt-url",
            "mqtt://localhost",
            "--mqtt-username",
            "ha",
            "--mqtt-password",
            "hunter2",
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && shown.contains("[redacted]") && shown.contains("\"ha\""), "{shown}");
    }
}
