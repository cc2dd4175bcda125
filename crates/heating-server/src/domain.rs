//! Validated values the server works with. Request bodies convert into these; storage takes only these, so a
//! value in the database has passed the same checks whichever way it came in.

use std::fmt;

/// A zone's display name: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZoneName(String);

impl ZoneName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("name must not be empty".into());
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(format!("name must be at most {} characters", Self::MAX_CHARS));
        }
        if name.chars().any(char::is_control) {
            return Err("name must not contain control characters".into());
        }
        Ok(Self(name.to_string()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Modbus TCP host name or IP address: trimmed, lower-cased (host names are case-insensitive, so
/// `LOCALHOST` and `localhost` are the same endpoint), 1 to 253 characters, no whitespace, `/`, `@` or `?`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModbusHost(String);

impl ModbusHost {
    pub const DEFAULT: &str = "localhost";

    pub fn parse(raw: &str) -> Result<Self, String> {
        let host = raw.trim();
        if host.is_empty() {
            return Err("modbus_host must not be empty".into());
        }
        if host.len() > 253 {
            return Err("modbus_host must be at most 253 characters".into());
        }
        if host.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '@' | '?' | '#')) {
            return Err(format!("modbus_host {host:?} is not a host name or IP address"));
        }
        Ok(Self(host.to_ascii_lowercase()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ModbusHost {
    fn default() -> Self {
        Self(Self::DEFAULT.to_string())
    }
}

impl fmt::Display for ModbusHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a caller may do. Ordered: each role may do everything the one below it may.
///
/// - `viewer`: every read (status, zones, readings, commands, history, models, plans, weather).
/// - `operator`: also targets and holds, `POST /commands/`, `POST /sensordata/`.
/// - `admin`: also zones (create, update with preferences and device endpoints, delete), tokens and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::Viewer, Self::Operator, Self::Admin];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Self::Viewer),
            "operator" => Ok(Self::Operator),
            "admin" => Ok(Self::Admin),
            _ => Err(format!("unknown role {s:?}: expected one of viewer, operator, admin")),
        }
    }
}

/// Who is asking: a token's name and role, `anonymous` (a read without a token, when allowed), `local` (any request
/// in local mode), or a named part of the server itself (`control`, `demo`, `cli`). Every service that changes
/// something takes one, checks its role and records its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// The caller of every request in local mode (authentication off).
    pub const LOCAL: &str = "local";
    /// A read without a token, when anonymous reads are allowed.
    pub const ANONYMOUS: &str = "anonymous";
    /// The control job, as the actor of the commands it sends.
    pub const CONTROL: &str = "control";
    /// The MQTT bridge, as the actor of the commands Home Assistant sends (an operator).
    pub const MQTT: &str = "mqtt";

    /// A part of the server acting on its own (`control`, `demo`, `cli`): an admin.
    #[must_use]
    pub fn system(name: &str) -> Self {
        Self { name: name.to_string(), role: Role::Admin }
    }

    #[must_use]
    pub fn local() -> Self {
        Self::system(Self::LOCAL)
    }

    #[must_use]
    pub fn anonymous() -> Self {
        Self { name: Self::ANONYMOUS.to_string(), role: Role::Viewer }
    }

    /// Whether the caller's role is `needed` or above.
    #[must_use]
    pub fn may(&self, needed: Role) -> bool {
        self.role >= needed
    }
}

/// An API token's name: 1 to 64 characters among letters, digits, `-`, `_`, `.` and `@`, not only digits (so
/// `token revoke <name-or-id>` is never ambiguous).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenName(String);

impl TokenName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() || name.len() > Self::MAX_CHARS {
            return Err(format!("name must be 1 to {} characters", Self::MAX_CHARS));
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')) {
            return Err("name may hold only letters, digits, '-', '_', '.' and '@'".into());
        }
        if name.chars().all(|c| c.is_ascii_digit()) {
            return Err("name must not be only digits (ids are)".into());
        }
        if [Caller::LOCAL, Caller::ANONYMOUS, Caller::CONTROL, Caller::MQTT].contains(&name) {
            return Err(format!("name {name:?} is reserved"));
        }
        Ok(Self(name.to_string()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A window into a newest-first list: skip `skip` items, then return at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    skip: i64,
    limit: i64,
}

impl Page {
    pub const DEFAULT_LIMIT: i64 = 100;
    pub const MAX_LIMIT: i64 = 1000;

    /// `skip >= 0` and `1 <= limit <= 1000`; `None` takes the defaults (0 and 100).
    pub fn new(skip: Option<i64>, limit: Option<i64>) -> Result<Self, String> {
        let skip = skip.unwrap_or(0);
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if skip < 0 {
            return Err(format!("skip must be 0 or more, got {skip}"));
        }
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(format!("limit must be between 1 and {}, got {limit}", Self::MAX_LIMIT));
        }
        Ok(Self { skip, limit })
    }

    /// The first `limit` items.
    #[must_use]
    pub fn first(limit: i64) -> Self {
        Self { skip: 0, limit: limit.clamp(1, Self::MAX_LIMIT) }
    }

    #[must_use]
    pub fn skip(self) -> i64 {
        self.skip
    }

    #[must_use]
    pub fn limit(self) -> i64 {
        self.limit
    }
}

impl Default for Page {
    fn default() -> Self {
        Self { skip: 0, limit: Self::DEFAULT_LIMIT }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names() {
        assert_eq!(ZoneName::parse("  Living Room ").unwrap().as_str(), "Living Room");
        assert!(ZoneName::parse("   ").is_err());
        assert!(ZoneName::parse("a\nb").is_err());
        assert!(ZoneName::parse(&"x".repeat(101)).is_err());
        assert!(ZoneName::parse(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn hosts() {
        assert_eq!(ModbusHost::parse(" LocalHost ").unwrap().as_str(), "localhost");
        assert_eq!(ModbusHost::parse("192.168.1.20").unwrap().as_str(), "192.168.1.20");
        assert_eq!(ModbusHost::parse("::1").unwrap().as_str(), "::1");
        assert!(ModbusHost::parse("").is_err());
        assert!(ModbusHost::parse("a b").is_err());
        assert!(ModbusHost::parse("http://x").is_err());
        assert_eq!(ModbusHost::default().as_str(), "localhost");
    }

    #[test]
    fn roles_are_ordered_and_parsed() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        assert_eq!(" Operator ".parse::<Role>().unwrap(), Role::Operator);
        assert!("root".parse::<Role>().unwrap_err().contains("viewer, operator, admin"));
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!(Caller::local().may(Role::Admin));
        assert!(!Caller::anonymous().may(Role::Operator));
    }

    #[test]
    fn token_names() {
        assert_eq!(TokenName::parse(" tablet-1 ").unwrap().as_str(), "tablet-1");
        assert!(TokenName::parse("").is_err());
        assert!(TokenName::parse("12").unwrap_err().contains("digits"));
        assert!(TokenName::parse("a b").is_err());
        assert!(TokenName::parse("local").unwrap_err().contains("reserved"));
        assert!(TokenName::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn pages() {
        assert_eq!(Page::new(None, None).unwrap(), Page::default());
        assert_eq!(Page::new(Some(5), Some(1000)).unwrap().limit(), 1000);
        assert!(Page::new(Some(-1), None).unwrap_err().contains("skip"));
        assert!(Page::new(None, Some(0)).unwrap_err().contains("limit must be between 1 and 1000"));
        assert!(Page::new(None, Some(1001)).is_err());
        assert_eq!(Page::first(5000).limit(), 1000);
    }
}
