//! Which `Host` names the server answers to (against DNS rebinding).
//!
//! A web page on another site can make a browser send requests to a server on the local machine or network by
//! pointing its own host name at that server's address (DNS rebinding); the browser then treats the server as
//! the page's own origin. Such requests carry the page's host name in `Host`. A server that answers only to the
//! names it is known by refuses them.
//!
//! `--allowed-hosts` / `ALLOWED_HOSTS`: comma-separated host names or addresses (`heating.example.org`,
//! `10.0.0.5`, `[fe80::1]`); a port is ignored; `*` allows any. Unset:
//! - bound to a loopback address (the default `127.0.0.1:8000`): `localhost`, `127.0.0.1`, `[::1]` and the bound
//!   address — the names a browser on the same machine uses;
//! - bound to any other address: any host. The server cannot know the names the building's network gives it, and
//!   in that mode it requires API tokens, which a page on another site does not have. Name them to be strict.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// Host settings (flattened into [`super::Config`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HostSettings {
    /// Host names the server answers to, comma-separated (`heating.example.org,10.0.0.5`; a port is ignored; `*`:
    /// any). Other `Host` headers get 421, against DNS rebinding. Default: bound to loopback, `localhost`,
    /// `127.0.0.1`, `[::1]` and the bound address; bound elsewhere, any.
    #[arg(long, env = "ALLOWED_HOSTS", value_parser = parse_allowed_hosts)]
    pub allowed_hosts: Option<AllowedHosts>,
}

impl HostSettings {
    /// Whether a request with this `Host` header value is answered when bound to `bind` (as [`Self::allowed`],
    /// without building the list).
    #[must_use]
    pub fn allows(&self, bind: SocketAddr, host_header: &str) -> bool {
        match &self.allowed_hosts {
            Some(list) => list.allows(host_header),
            None if !bind.ip().is_loopback() => true,
            None => {
                let Some(host) = host_without_port(host_header) else { return false };
                let host = host.trim_end_matches('.');
                ["localhost", "127.0.0.1", "[::1]"].iter().any(|n| host.eq_ignore_ascii_case(n))
                    || host
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| ip == bind.ip())
            }
        }
    }

    /// The hosts answered to when bound to `bind`: the configured list, else the default for that address.
    #[must_use]
    pub fn allowed(&self, bind: SocketAddr) -> AllowedHosts {
        if let Some(list) = &self.allowed_hosts {
            return list.clone();
        }
        if !bind.ip().is_loopback() {
            return AllowedHosts::Any;
        }
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"].map(String::from).into();
        let own = host_of_ip(bind.ip());
        if !names.contains(&own) {
            names.push(own);
        }
        AllowedHosts::Only(names)
    }
}

/// The `Host` names a server answers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHosts {
    Any,
    /// Lower-case names without port; IPv6 addresses in brackets.
    Only(Vec<String>),
}

impl AllowedHosts {
    /// Whether a request with this `Host` header value (`name`, `name:port`, `[v6]:port`) is answered.
    #[must_use]
    pub fn allows(&self, host_header: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(names) => {
                let Some(host) = host_without_port(host_header) else { return false };
                let host = host.trim_end_matches('.').to_ascii_lowercase();
                names.contains(&host)
            }
        }
    }
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Only(names) => f.write_str(&names.join(",")),
        }
    }
}

fn host_of_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// `name`, `name:port`, `[v6]`, `[v6]:port` → `name` / `[v6]`; `None` when malformed.
fn host_without_port(value: &str) -> Option<&str> {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix('[') {
        let end = rest.find(']')?;
        let after = &rest[end + 1..];
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return Some(&value[..end + 2]);
    }
    match value.split_once(':') {
        Some((host, port)) if is_port(port) => Some(host),
        Some(_) => None,
        None => Some(value),
    }
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// One entry of `ALLOWED_HOSTS`, normalized: lower case, no port, no trailing dot, IPv6 in brackets.
fn parse_entry(raw: &str) -> Result<String, String> {
    let entry = raw.trim();
    if let Ok(v6) = entry.parse::<Ipv6Addr>() {
        return Ok(format!("[{v6}]"));
    }
    let bad = |why: &str| format!("ALLOWED_HOSTS entry {entry:?}: {why}");
    let host = host_without_port(entry).ok_or_else(|| bad("expected a host name or address, with an optional port"))?;
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let v6: Ipv6Addr = inner.parse().map_err(|_| bad("not an IPv6 address in brackets"))?;
        return Ok(format!("[{v6}]"));
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err(bad("empty host name"));
    }
    if host.len() > 253 || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_') {
        return Err(bad("a host name has only letters, digits, '.', '-' and '_' (no scheme, path or spaces)"));
    }
    Ok(host)
}

/// `ALLOWED_HOSTS`: comma-separated entries, or `*`.
fn parse_allowed_hosts(s: &str) -> Result<AllowedHosts, String> {
    let entries: Vec<&str> = s.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
    if entries.is_empty() {
        return Err("ALLOWED_HOSTS is empty: name at least one host, or `*` for any".into());
    }
    if entries.contains(&"*") {
        return Ok(AllowedHosts::Any);
    }
    let mut names = Vec::with_capacity(entries.len());
    for entry in entries {
        let name = parse_entry(entry)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(AllowedHosts::Only(names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_names_by_default_on_loopback() {
        let allowed = HostSettings::default().allowed(bind("127.0.0.1:8000"));
        for ok in ["localhost", "localhost:8000", "LOCALHOST:1", "127.0.0.1:8000", "[::1]:8000", "[::1]", "localhost."]
        {
            assert!(allowed.allows(ok), "{ok}");
        }
        for refused in ["evil.example", "evil.example:8000", "127.0.0.2:8000", "localhost:80:80", "", "[::1", "a b"] {
            assert!(!allowed.allows(refused), "{refused}");
        }
        let own = HostSettings::default().allowed(bind("127.0.0.5:9000"));
        assert!(own.allows("127.0.0.5:9000") && own.allows("localhost"));
        let v6 = HostSettings::default().allowed(bind("[::1]:8000"));
        assert_eq!(v6, AllowedHosts::Only(vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()]));
    }

    #[test]
    fn allows_agrees_with_the_list() {
        let hosts = ["localhost:1", "127.0.0.1", "127.0.0.5:9000", "[::1]", "[::2]", "evil.example", "", "[::1"];
        for b in ["127.0.0.1:8000", "127.0.0.5:9000", "[::1]:8000", "0.0.0.0:80"] {
            for settings in
                [HostSettings::default(), HostSettings { allowed_hosts: parse_allowed_hosts("a,[::2]").ok() }]
            {
                for h in hosts {
                    assert_eq!(settings.allows(bind(b), h), settings.allowed(bind(b)).allows(h), "{b} {h}");
                }
            }
        }
    }

    #[test]
    fn any_host_when_bound_elsewhere() {
        assert_eq!(HostSettings::default().allowed(bind("0.0.0.0:8000")), AllowedHosts::Any);
        assert_eq!(HostSettings::default().allowed(bind("10.0.0.5:8000")), AllowedHosts::Any);
        assert!(AllowedHosts::Any.allows("anything.example"));
    }

    #[test]
    fn the_list_is_parsed_and_normalized() {
        let list = parse_allowed_hosts(" Heating.Example.org:8000, 10.0.0.5 ,::1,[FE80::1]:80, heating.example.org.,")
            .unwrap();
        assert_eq!(
            list,
            AllowedHosts::Only(vec![
                "heating.example.org".into(),
                "10.0.0.5".into(),
                "[::1]".into(),
                "[fe80::1]".into()
            ])
        );
        assert!(list.allows("heating.example.org:443") && list.allows("[fe80::1]:8000") && list.allows("10.0.0.5"));
        assert!(!list.allows("localhost:8000"));
        assert_eq!(parse_allowed_hosts("a.example, *").unwrap(), AllowedHosts::Any);
        // Configured, it replaces the default even on loopback.
        let settings = HostSettings { allowed_hosts: Some(list.clone()) };
        assert_eq!(settings.allowed(bind("127.0.0.1:8000")), list);
    }

    #[test]
    fn bad_entries_are_refused_with_the_setting_named() {
        for (bad, needle) in [
            ("", "ALLOWED_HOSTS is empty"),
            (" , ", "ALLOWED_HOSTS is empty"),
            ("http://a.example", "ALLOWED_HOSTS entry \"http://a.example\""),
            ("a.example/x", "no scheme, path or spaces"),
            ("a example", "no scheme, path or spaces"),
            ("[nope]:80", "not an IPv6 address"),
            ("a.example:port", "with an optional port"),
        ] {
            let err = parse_allowed_hosts(bad).unwrap_err();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_flag_and_the_variable_are_read() {
        use clap::Parser;
        let c = crate::config::Config::try_parse_from(["heating-server", "--allowed-hosts", "a.example,b.example:80"])
            .unwrap();
        assert_eq!(c.hosts.allowed_hosts, Some(AllowedHosts::Only(vec!["a.example".into(), "b.example".into()])));
        let err = crate::config::Config::try_parse_from(["heating-server", "--allowed-hosts", "x/y"]).unwrap_err();
        assert!(err.to_string().contains("ALLOWED_HOSTS entry \"x/y\""), "{err}");
    }
}
