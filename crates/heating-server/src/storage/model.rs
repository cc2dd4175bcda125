//! What storage takes and gives back. These are neither SQL rows nor API bodies: each backend maps its rows to
//! them, and the HTTP layer maps them to its response types.

use std::fmt;
use std::num::NonZeroU16;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use heating_core::preferences::Preferences;
use heating_core::units::Setpoint;

use crate::domain::{ModbusHost, Page, Role, TokenName, ZoneName};

pub type ZoneId = i64;
pub type ReadingId = i64;
pub type CommandId = i64;
pub type TokenId = i64;
pub type AuditId = i64;
pub type GroupId = i64;
pub type AlertId = i64;

/// A zone as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub id: ZoneId,
    pub name: String,
    pub preferences: Preferences,
    pub modbus_host: String,
    /// `None` for a zone without a device (readings are posted by hand).
    pub modbus_port: Option<u16>,
    pub modbus_unit_id: u8,
    /// The name of the device profile its device speaks (`heating-sim` for zones stored before profiles).
    pub device_profile: String,
    /// The heater's rated power, W, for a device whose profile has none.
    pub rated_power_w: Option<f64>,
    /// The group the zone belongs to (`None`: none).
    pub group_id: Option<GroupId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The writable fields of a zone, validated. Used both to create a zone and to replace its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneFields {
    pub name: ZoneName,
    pub preferences: Preferences,
    pub modbus_host: ModbusHost,
    pub modbus_port: Option<NonZeroU16>,
    pub modbus_unit_id: u8,
    /// A known profile's name (the zone service checks it against the registry).
    pub device_profile: String,
    /// Positive and finite when set (checked by the zone service).
    pub rated_power_w: Option<f64>,
}

impl ZoneFields {
    /// The current fields of a stored zone, as a starting point for a partial update.
    pub fn of(zone: &Zone) -> Result<Self, String> {
        Ok(Self {
            name: ZoneName::parse(&zone.name)?,
            preferences: zone.preferences.clone(),
            modbus_host: ModbusHost::parse(&zone.modbus_host)?,
            modbus_port: zone.modbus_port.and_then(NonZeroU16::new),
            modbus_unit_id: zone.modbus_unit_id,
            device_profile: zone.device_profile.clone(),
            rated_power_w: zone.rated_power_w,
        })
    }
}

/// What a group stands for; only a label for the views (the tree is free-form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKind {
    Site,
    Building,
    Floor,
    Group,
}

impl GroupKind {
    pub const ALL: [Self; 4] = [Self::Site, Self::Building, Self::Floor, Self::Group];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Site => "site",
            Self::Building => "building",
            Self::Floor => "floor",
            Self::Group => "group",
        }
    }
}

impl FromStr for GroupKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("kind: unknown group kind {s:?} (expected one of: site, building, floor, group)"))
    }
}

/// A group of zones as stored: a node of a tree (`parent_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneGroup {
    pub id: GroupId,
    pub name: String,
    pub kind: GroupKind,
    /// `None`: a top-level group.
    pub parent_id: Option<GroupId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The writable fields of a group, validated (the name as a zone's; the parent exists and is not the group or
/// one of its descendants: checked by the group service).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFields {
    pub name: ZoneName,
    pub kind: GroupKind,
    pub parent_id: Option<GroupId>,
}

/// One sensor reading to store. The last four fields are `None` for readings posted by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReading {
    pub zone_id: ZoneId,
    /// When the reading was taken, from the server's clock.
    pub ts: DateTime<Utc>,
    /// Air temperature, °C.
    pub temperature: f64,
    /// Target temperature the zone reported, °C.
    pub target_temp: Option<f64>,
    pub occupancy: bool,
    pub heater_on: Option<bool>,
    /// Heating energy counter, Wh (wraps at 2³²).
    pub energy_wh: Option<u32>,
    /// Outdoor temperature, °C.
    pub outdoor_temp: Option<f64>,
    /// Which values were not measured by the device.
    pub estimated: Estimated,
}

/// A stored sensor reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub id: ReadingId,
    pub zone_id: ZoneId,
    pub ts: DateTime<Utc>,
    pub temperature: f64,
    pub target_temp: Option<f64>,
    pub occupancy: bool,
    pub heater_on: Option<bool>,
    pub energy_wh: Option<u32>,
    pub outdoor_temp: Option<f64>,
    pub estimated: Estimated,
}

/// Which values of a reading the server filled in because the device has no point for them (stored as a bit set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Estimated(u8);

impl Estimated {
    /// Nothing estimated: every value came from the device.
    pub const NONE: Self = Self(0);
    /// Energy: the heater's on-time × its rated power.
    pub const ENERGY: Self = Self(1);
    /// Occupancy: from the zone's schedule.
    pub const OCCUPANCY: Self = Self(2);
    /// Heater state: inferred from the temperature's rise.
    pub const HEATER: Self = Self(4);
    const NAMES: [(Self, &'static str); 3] =
        [(Self::ENERGY, "energy_wh"), (Self::OCCUPANCY, "occupancy"), (Self::HEATER, "heater_on")];

    #[must_use]
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The set of stored bits; unknown bits are kept (a later version may add some).
    #[must_use]
    pub fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    #[must_use]
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    #[must_use]
    pub fn with(self, other: Self, set: bool) -> Self {
        if set { Self(self.0 | other.0) } else { Self(self.0 & !other.0) }
    }

    /// The fields estimated, by their API names (`energy_wh`, `occupancy`, `heater_on`).
    #[must_use]
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES.iter().filter(|(bit, _)| self.contains(*bit)).map(|(_, name)| *name).collect()
    }
}

/// A device profile posted through the API, to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeviceProfile {
    pub name: String,
    pub version: u32,
    /// The TOML text as posted (validated by the caller).
    pub toml: String,
    pub created_at: DateTime<Utc>,
    pub actor: String,
}

/// A stored device profile.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDeviceProfile {
    pub id: i64,
    pub name: String,
    pub version: u32,
    pub toml: String,
    pub created_at: DateTime<Utc>,
    pub actor: String,
}

/// Which readings of a zone to list (newest first): a page, optionally within `from <= ts < to`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadingFilter {
    pub page: Page,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Who asked for a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandSource {
    /// The control job.
    Control,
    /// An operator (dashboard).
    Manual,
    /// A script through `POST /commands/`.
    Api,
}

/// Where a command is in its life: logged, written to the device, read back from it, or given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandStatus {
    Pending,
    Sent,
    Confirmed,
    Failed,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($ty))),
                }
            }
        }
    };
}

text_enum!(CommandSource { Control => "control", Manual => "manual", Api => "api" });
text_enum!(CommandStatus { Pending => "pending", Sent => "sent", Confirmed => "confirmed", Failed => "failed" });

/// What an alert is about: one rule of `crate::alerts` each (at most one open alert per zone and kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertKind {
    /// The device has not answered for longer than the rule's delay.
    Offline,
    /// Occupied, and the room below its comfort bound for longer than the rule's delay.
    BelowComfort,
    /// The heater on for hours with no temperature rise (heater or valve fault, open window).
    NoHeatRise,
    /// The air temperature outside the physical range of a room.
    SensorRange,
    /// The air temperature unchanged for hours (a stuck sensor).
    SensorFrozen,
    /// Control writes failing repeatedly.
    WriteFailures,
    /// The model fit turned bad.
    ModelFit,
}

text_enum!(AlertKind {
    Offline => "offline",
    BelowComfort => "below_comfort",
    NoHeatRise => "no_heat_rise",
    SensorRange => "sensor_range",
    SensorFrozen => "sensor_frozen",
    WriteFailures => "write_failures",
    ModelFit => "model_fit",
});

/// An alert to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub zone_id: ZoneId,
    pub kind: AlertKind,
    /// What is wrong, in words (for people; no secrets).
    pub message: String,
    pub raised_at: DateTime<Utc>,
}

/// An alert as stored: active until acknowledged or cleared; acknowledged (by whom, when) until cleared.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    pub id: AlertId,
    pub zone_id: ZoneId,
    pub kind: AlertKind,
    pub message: String,
    pub raised_at: DateTime<Utc>,
    /// When and by whom (a token's name, `local`).
    pub acknowledged: Option<(DateTime<Utc>, String)>,
    pub cleared_at: Option<DateTime<Utc>>,
}

impl StoredAlert {
    /// `active`, `acknowledged` or `cleared`.
    #[must_use]
    pub fn state(&self) -> &'static str {
        match (&self.cleared_at, &self.acknowledged) {
            (Some(_), _) => "cleared",
            (None, Some(_)) => "acknowledged",
            (None, None) => "active",
        }
    }
}

/// Alerts by state, for lists: `open` = active or acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStates {
    Open,
    Active,
    Acknowledged,
    Cleared,
    All,
}

text_enum!(AlertStates {
    Open => "open",
    Active => "active",
    Acknowledged => "acknowledged",
    Cleared => "cleared",
    All => "all",
});

/// Which alerts to list: by state, of one zone or all; newest first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertFilter {
    pub states: AlertStates,
    pub zone_id: Option<ZoneId>,
    pub page: Page,
}

/// A manual hold as stored, so that it outlives a restart (at most one per zone).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredHold {
    pub zone_id: ZoneId,
    pub target: Setpoint,
    /// End of the hold; `None`: until the zone's occupancy changes.
    pub until: Option<DateTime<Utc>>,
    pub occupied_at_start: bool,
    pub set_at: DateTime<Utc>,
    pub source: CommandSource,
}

/// A command to log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCommand {
    pub zone_id: ZoneId,
    pub ts: DateTime<Utc>,
    pub target_temp: Setpoint,
    pub source: CommandSource,
    pub reason: Option<String>,
    pub status: CommandStatus,
    /// Who asked for it: `control`, a token's name, `local`, `demo`.
    pub actor: String,
}

/// A stored command.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub id: CommandId,
    pub zone_id: ZoneId,
    pub ts: DateTime<Utc>,
    pub target_temp: Setpoint,
    pub source: CommandSource,
    pub reason: Option<String>,
    pub status: CommandStatus,
    /// Why the command failed (status `failed`), or a note from the last status change.
    pub error: Option<String>,
    /// Who asked for it (`unknown` for commands logged before actors were recorded).
    pub actor: String,
}

/// An API token to store: only the hash of the token and its first characters, never the token.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToken {
    pub name: TokenName,
    pub role: Role,
    /// SHA-256 of the token, lower-case hex.
    pub token_hash: String,
    /// The token's first characters (`hst_` and four more), to tell tokens apart in a list.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored API token (without its hash).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: TokenId,
    pub name: String,
    pub role: Role,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    /// Updated at most once a minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Neither revoked nor expired at `now`.
    #[must_use]
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| now < t)
    }
}

/// An entry of the audit log to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub ts: DateTime<Utc>,
    /// Who: a token's name, `local`, `demo`, `cli`.
    pub actor: String,
    /// What, e.g. `zone.create`, `hold.set`, `token.revoke`.
    pub action: String,
    pub zone_id: Option<ZoneId>,
    /// The details of the change, a JSON object.
    pub details: serde_json::Value,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: AuditId,
    pub ts: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub zone_id: Option<ZoneId>,
    pub details: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_text() {
        for s in CommandSource::ALL {
            assert_eq!(s.as_str().parse::<CommandSource>().unwrap(), *s);
        }
        for s in CommandStatus::ALL {
            assert_eq!(s.to_string().parse::<CommandStatus>().unwrap(), *s);
        }
        assert!("sending".parse::<CommandStatus>().is_err());
    }
}
