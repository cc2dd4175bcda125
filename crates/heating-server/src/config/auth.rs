//! Access settings: whether API tokens are required, and what a caller without one may do.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--auth` | `AUTH` | `false`: local mode, every request acts as the admin `local` |
//! | `--insecure-no-auth` | `INSECURE_NO_AUTH` | `false`: bound to a non-loopback address, the server refuses to start without `--auth` |
//! | `--anonymous-reads` | `ANONYMOUS_READS` | `false`: with `--auth`, reads without a token are 401 |
//! | `--device-networks` | `DEVICE_NETWORKS` | empty: any device address |
//! | `--sign-in-failures-per-minute` | `SIGN_IN_FAILURES_PER_MINUTE` | `10` refused tokens per client address, then 429 until the minute ends; `0`: no limit |

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// Access settings (flattened into [`super::Config`]).
#[derive(Debug, Clone, clap::Args)]
pub struct AuthSettings {
    /// Require an API token (`Authorization: Bearer hst_...`) on every API request. Off, the server runs in local
    /// mode: every request acts as the admin `local`, which is allowed only when bound to a loopback address (or
    /// with --insecure-no-auth). Tokens: `heating-server token create --name NAME --role ROLE`.
    #[arg(long, env = "AUTH", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub auth: bool,
    /// Serve without authentication on a non-loopback address: anyone who can reach the port may change every
    /// setpoint, zone and device address. For isolated test networks only.
    #[arg(long, env = "INSECURE_NO_AUTH", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub insecure_no_auth: bool,
    /// With --auth: reads (GET) without a token act as the viewer `anonymous` (wall displays); writes never do.
    #[arg(long, env = "ANONYMOUS_READS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub anonymous_reads: bool,
    /// Networks zones' Modbus devices may be in, comma-separated CIDRs (e.g. `10.20.0.0/16,127.0.0.1/32`). When
    /// set, a zone's `modbus_host` must be an IP address inside one of them (`localhost` counts as 127.0.0.1 and
    /// ::1); host names are refused, since what they resolve to can change. Empty: any host.
    #[arg(long, env = "DEVICE_NETWORKS", default_value = "", value_parser = DeviceNetworks::from_str)]
    pub device_networks: DeviceNetworks,
    /// Refused tokens one client address may send per minute; one more and the address gets 429 until the minute
    /// is over, whatever it sends. `0`: no limit (e.g. for an API fuzzer that tries bad credentials on purpose).
    #[arg(long, env = "SIGN_IN_FAILURES_PER_MINUTE", default_value_t = DEFAULT_SIGN_IN_FAILURES_PER_MINUTE)]
    pub sign_in_failures_per_minute: u32,
}

/// Refused tokens per client address and minute before 429.
pub const DEFAULT_SIGN_IN_FAILURES_PER_MINUTE: u32 = 10;

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            auth: false,
            insecure_no_auth: false,
            anonymous_reads: false,
            device_networks: DeviceNetworks::default(),
            sign_in_failures_per_minute: DEFAULT_SIGN_IN_FAILURES_PER_MINUTE,
        }
    }
}

impl AuthSettings {
    /// Whether the server runs in local mode (no tokens; every request is the admin `local`).
    #[must_use]
    pub fn local_mode(&self) -> bool {
        !self.auth
    }

    /// Refuses to serve on `addr` without authentication unless it is a loopback address or
    /// `--insecure-no-auth` was given; the error is one line saying what to do.
    pub fn check_exposure(&self, addr: SocketAddr) -> Result<(), String> {
        if self.auth || self.insecure_no_auth || addr.ip().is_loopback() {
            return Ok(());
        }
        Err(format!(
            "refusing to serve on {addr} without authentication: start with --auth (AUTH=true) and create a token \
             with `heating-server token create --name NAME --role admin`, or bind to 127.0.0.1, or pass \
             --insecure-no-auth to let anyone who reaches the port control the heating"
        ))
    }
}

/// One network in CIDR notation: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies inside this network (an IPv4-mapped IPv6 address counts as its IPv4 address).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| format!("{s:?} is not a network such as 10.20.0.0/16"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `DEVICE_NETWORKS`: the networks devices may be in; empty means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceNetworks(Vec<Cidr>);

impl DeviceNetworks {
    #[must_use]
    pub fn is_any(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a device at `host` may be used: any host when no networks are set; else an IP literal (or
    /// `localhost`, as 127.0.0.1 and ::1) inside one of them. Host names are refused: what they resolve to can
    /// change after the check. The error names `modbus_host`.
    pub fn check_host(&self, host: &str) -> Result<(), String> {
        if self.is_any() {
            return Ok(());
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let candidates: Vec<IpAddr> = if host.eq_ignore_ascii_case("localhost") {
            vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)]
        } else {
            match host.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => {
                    return Err(format!(
                        "modbus_host: {host:?} is not an IP address; with DEVICE_NETWORKS set ({self}), devices are \
                         given by IP address inside those networks"
                    ));
                }
            }
        };
        if candidates.iter().any(|ip| self.0.iter().any(|net| net.contains(*ip))) {
            Ok(())
        } else {
            Err(format!("modbus_host: {host} is outside the allowed device networks ({self})"))
        }
    }
}

impl FromStr for DeviceNetworks {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(Cidr::from_str).collect::<Result<_, _>>().map(Self)
    }
}

impl fmt::Display for DeviceNetworks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Config;

    #[test]
    fn networks_parse_and_contain() {
        let nets: DeviceNetworks = "10.20.0.0/16, 127.0.0.1/32,fd00::/8".parse().unwrap();
        assert_eq!(nets.to_string(), "10.20.0.0/16,127.0.0.1/32,fd00::/8");
        assert!(nets.check_host("10.20.3.4").is_ok());
        assert!(nets.check_host("127.0.0.1").is_ok());
        assert!(nets.check_host("localhost").is_ok());
        assert!(nets.check_host("fd12::1").is_ok());
        assert!(nets.check_host("::ffff:10.20.0.9").is_ok(), "IPv4-mapped");
        assert!(nets.check_host("10.21.0.1").unwrap_err().starts_with("modbus_host: 10.21.0.1 is outside"));
        assert!(nets.check_host("127.0.0.2").is_err());
        assert!(nets.check_host("plc.example").unwrap_err().contains("not an IP address"));
        assert!("".parse::<DeviceNetworks>().unwrap().check_host("plc.example").is_ok());
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().unwrap_err().contains("prefix"));
        assert!("ten".parse::<Cidr>().is_err());
        assert_eq!("192.168.1.7".parse::<Cidr>().unwrap().to_string(), "192.168.1.7/32");
    }

    #[test]
    fn flags_and_the_exposure_rule() {
        let c = Config::try_parse_from(["heating-server"]).unwrap();
        assert!(c.auth.local_mode() && !c.auth.anonymous_reads && c.auth.device_networks.is_any());
        assert!(c.auth.check_exposure("127.0.0.1:8000".parse().unwrap()).is_ok());
        assert!(c.auth.check_exposure("[::1]:8000".parse().unwrap()).is_ok());
        let err = c.auth.check_exposure("0.0.0.0:8000".parse().unwrap()).unwrap_err();
        assert!(err.contains("--auth") && err.contains("--insecure-no-auth") && !err.contains('\n'), "{err}");
        let c = Config::try_parse_from(["heating-server", "--auth", "--anonymous-reads"]).unwrap();
        assert!(!c.auth.local_mode() && c.auth.anonymous_reads);
        assert!(c.auth.check_exposure("0.0.0.0:8000".parse().unwrap()).is_ok());
        let c = Config::try_parse_from(["heating-server", "--insecure-no-auth"]).unwrap();
        assert!(c.auth.check_exposure("10.0.0.5:8000".parse().unwrap()).is_ok());
        let c = Config::try_parse_from(["heating-server", "--auth=false"]).unwrap();
        assert!(c.auth.local_mode());
        let err = Config::try_parse_from(["heating-server", "--device-networks", "10.0.0.0/40"]).unwrap_err();
        assert!(err.to_string().contains("prefix length"), "{err}");
    }
}
