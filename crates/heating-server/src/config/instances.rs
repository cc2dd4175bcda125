//! Several server instances on one PostgreSQL database (zone leases; see ARCHITECTURE.md, "the lease protocol").
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--instance-id` | `INSTANCE_ID` | generated at each start (`<host>-<8 hex digits>`) |
//! | `--instance-name` | `INSTANCE_NAME` | the host name |
//! | `--advertised-url` | `ADVERTISED_URL` | none (shown in `/status` only) |
//! | `--lease-period-ms` | `LEASE_PERIOD_MS` | `10000` (500..=600000): a zone lease's lifetime, renewed every third |
//! | `--forward-timeout-ms` | `FORWARD_TIMEOUT_MS` | 1.5 × lease period + 2 × `MODBUS_TIMEOUT_MS`: how long a write sent to another instance waits for its confirmation |
//!
//! On SQLite none of this applies: one instance per database file.

use std::time::Duration;

pub const DEFAULT_LEASE_PERIOD_MS: u64 = 10_000;

/// Identity and lease timing of this instance (flattened into [`super::Config`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct InstanceSettings {
    /// This instance's id among those sharing the PostgreSQL database (letters, digits, `-`, `_`, `.`; at most 64)
    /// [default: generated at each start].
    #[arg(long, env = "INSTANCE_ID", value_parser = parse_instance_id)]
    pub instance_id: Option<String>,
    /// A name shown in `/status` [default: the host name].
    #[arg(long, env = "INSTANCE_NAME")]
    pub instance_name: Option<String>,
    /// The URL this instance is reachable at, shown in `/status`.
    #[arg(long, env = "ADVERTISED_URL")]
    pub advertised_url: Option<String>,
    /// Lifetime of a zone lease in milliseconds, renewed every third of it; a dead instance's zones are taken over
    /// within about one period [default: 10000].
    #[arg(long, env = "LEASE_PERIOD_MS", value_parser = clap::value_parser!(u64).range(500..=600_000))]
    pub lease_period_ms: Option<u64>,
    /// How long a manual write arriving at an instance that does not hold the zone waits for the owner's
    /// confirmation, in milliseconds [default: 1.5 × lease period + 2 × MODBUS_TIMEOUT_MS].
    #[arg(long, env = "FORWARD_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub forward_timeout_ms: Option<u64>,
}

fn parse_instance_id(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return Err("an instance id has 1 to 64 characters".into());
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(format!("{c:?} is not allowed in an instance id (letters, digits, '-', '_', '.')"));
    }
    Ok(s.to_string())
}

impl InstanceSettings {
    /// A zone lease's lifetime.
    #[must_use]
    pub fn lease_period(&self) -> Duration {
        Duration::from_millis(self.lease_period_ms.unwrap_or(DEFAULT_LEASE_PERIOD_MS))
    }

    /// How long a forwarded write waits for its confirmation. The default outlasts a takeover after a crash (the
    /// dead holder's lease runs out at most one period after its last renewal, and the next lease round, a third
    /// of a period later, takes it), so a write sent meanwhile waits for the new holder rather than failing.
    #[must_use]
    pub fn forward_timeout(&self, modbus_timeout: Duration) -> Duration {
        self.forward_timeout_ms.map_or(self.lease_period() * 3 / 2 + modbus_timeout * 2, Duration::from_millis)
    }

    /// The configured id, or a fresh one: the host name and 8 random hex digits.
    #[must_use]
    pub fn resolve_id(&self) -> String {
        if let Some(id) = &self.instance_id {
            return id.clone();
        }
        let mut bytes = [0u8; 4];
        let suffix = match getrandom::fill(&mut bytes) {
            Ok(()) => u32::from_le_bytes(bytes),
            Err(_) => std::process::id() ^ chrono::Utc::now().timestamp_subsec_nanos(),
        };
        let host: String =
            host_name().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect::<String>();
        let host = if host.is_empty() { "instance".to_string() } else { host };
        format!("{host}-{suffix:08x}")
    }

    /// The configured name, or the host name.
    #[must_use]
    pub fn resolve_name(&self) -> String {
        self.instance_name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(host_name)
    }
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "heating-server".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_and_generated_ids_differ() {
        assert_eq!(parse_instance_id(" a-1.b_2 ").unwrap(), "a-1.b_2");
        assert!(parse_instance_id("").is_err());
        assert!(parse_instance_id("a b").unwrap_err().contains("' '"));
        assert!(parse_instance_id(&"x".repeat(65)).is_err());
        let s = InstanceSettings::default();
        let (a, b) = (s.resolve_id(), s.resolve_id());
        assert_ne!(a, b);
        assert!(parse_instance_id(&a).is_ok(), "{a}");
        assert_eq!(s.lease_period(), Duration::from_secs(10));
        assert_eq!(s.forward_timeout(Duration::from_secs(1)), Duration::from_secs(17));
    }
}
