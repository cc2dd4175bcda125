//! The profile as written in TOML: what each field means is documented on the field (and in the crate docs).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The one profile format this build reads (`format = 1` at the top of a profile).
pub const FORMAT_VERSION: u32 = 1;

/// Registers bridged by default when two points' blocks are merged into one request.
pub const DEFAULT_MAX_GAP: u16 = 8;

/// A device profile: the register map of one kind of device. Build it with [`Profile::from_toml`], which validates;
/// a value deserialized otherwise (JSON from an API, say) must pass [`Profile::validate`] before use, since the codec
/// and the read plan rely on its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Version of the profile format; only [`FORMAT_VERSION`] is read.
    pub format: u32,
    /// The profile's name, `[a-z0-9-]{1,64}`: what a zone's `device_profile` names.
    pub name: String,
    /// The profile's own revision, raised by its author when the map changes.
    pub version: u32,
    /// One line for people choosing a profile.
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The device's usual Modbus unit id (a zone's own unit id wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<u8>,
    /// Unrequested registers (or bits) a read may bridge to merge two points into one request.
    #[serde(default = "default_max_gap")]
    pub max_gap: u16,
    /// The heater's rated power in W when the device has no register for it (`points.rated_power` wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rated_power_w: Option<f64>,
    pub points: Points,
}

fn default_max_gap() -> u16 {
    DEFAULT_MAX_GAP
}

/// Where each quantity lives. `air_temperature` and `target` are required; a missing optional point is a capability
/// the device lacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Points {
    /// Room air temperature, °C.
    pub air_temperature: Point,
    /// The setpoint, °C: read here and written here with `write`, within `min..=max` in `step`s.
    pub target: Point,
    /// Occupied (true) or vacant, type `bool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupancy: Option<Point>,
    /// Heater on (true) or off, type `bool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heater: Option<Point>,
    /// Heating energy counter, Wh (after scale and offset), an unsigned integer type that wraps (see `wraps_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy: Option<Point>,
    /// Outdoor temperature, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outdoor_temperature: Option<Point>,
    /// The heater's rated power, W.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rated_power: Option<Point>,
    /// Valve opening, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valve_position: Option<Point>,
    /// Window open (true) or closed, type `bool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_contact: Option<Point>,
    /// Relative humidity, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub humidity: Option<Point>,
    /// Heating water supply temperature, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supply_temperature: Option<Point>,
}

/// One quantity's place and encoding: `value = raw × scale + offset`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// Which of the four Modbus tables holds it.
    pub table: Table,
    /// 0-based protocol address (register or bit number as sent on the wire; "40001" in a manual is address 0).
    pub address: u16,
    /// The raw encoding.
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// Order of the two registers of a 32-bit type: `big` = the first register holds the high word. 32-bit types
    /// only; default `big`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_order: Option<WordOrder>,
    /// Multiplier from raw to engineering units (not 0); default 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub scale: f64,
    /// Added after scaling; default 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offset: f64,
    /// How the device turns a value into its integer raw value: `nearest` (default) or `toward_zero` (truncation,
    /// as the Python prototype did). Decoding never depends on it; the simulator serves a profile with it, and
    /// writes always round to `step`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounding: Option<Rounding>,
    /// Target only: the function code that writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<WriteFunction>,
    /// Target only: the lowest value the device accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Target only: the highest value the device accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Target only: the setpoint resolution; written values are rounded to `min + k × step`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Energy only: the counter's value (Wh) at which it starts again from 0; default (largest raw + 1) × scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wraps_at: Option<f64>,
}

fn one() -> f64 {
    1.0
}

fn is_one(v: &f64) -> bool {
    *v == 1.0
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// A Modbus data table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// Read/write registers: FC03 read, FC06/FC16 write.
    Holding,
    /// Read-only registers: FC04.
    Input,
    /// Read/write bits: FC01 read, FC05 write.
    Coil,
    /// Read-only bits: FC02.
    DiscreteInput,
}

impl Table {
    pub const ALL: [Table; 4] = [Table::Holding, Table::Input, Table::Coil, Table::DiscreteInput];

    /// Whether the table holds bits (coils, discrete inputs) rather than 16-bit registers.
    #[must_use]
    pub fn is_bits(self) -> bool {
        matches!(self, Self::Coil | Self::DiscreteInput)
    }

    /// The most units (registers or bits) one read request may ask for (Modbus application protocol).
    #[must_use]
    pub fn max_read(self) -> u16 {
        if self.is_bits() { 2000 } else { 125 }
    }

    /// The function code that reads this table.
    #[must_use]
    pub fn read_function(self) -> u8 {
        match self {
            Self::Coil => 0x01,
            Self::DiscreteInput => 0x02,
            Self::Holding => 0x03,
            Self::Input => 0x04,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Holding => "holding",
            Self::Input => "input",
            Self::Coil => "coil",
            Self::DiscreteInput => "discrete_input",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The raw encoding of a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    Int16,
    Uint16,
    Int32,
    Uint32,
    /// IEEE 754 single precision over two registers.
    Float32,
    /// A coil or discrete input, or a register holding 0 or 1 (any other value is an invalid reading).
    Bool,
}

impl DataType {
    /// Registers (or bits) the type occupies.
    #[must_use]
    pub fn width(self) -> u16 {
        match self {
            Self::Int32 | Self::Uint32 | Self::Float32 => 2,
            Self::Int16 | Self::Uint16 | Self::Bool => 1,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Int16 => "int16",
            Self::Uint16 => "uint16",
            Self::Int32 => "int32",
            Self::Uint32 => "uint32",
            Self::Float32 => "float32",
            Self::Bool => "bool",
        }
    }

    /// The raw integer range of an integer type (bool: 0..=1); `None` for float32.
    #[must_use]
    pub fn raw_range(self) -> Option<(f64, f64)> {
        match self {
            Self::Int16 => Some((f64::from(i16::MIN), f64::from(i16::MAX))),
            Self::Uint16 => Some((0.0, f64::from(u16::MAX))),
            Self::Int32 => Some((f64::from(i32::MIN), f64::from(i32::MAX))),
            Self::Uint32 => Some((0.0, f64::from(u32::MAX))),
            Self::Bool => Some((0.0, 1.0)),
            Self::Float32 => None,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which register of a 32-bit value holds the high word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordOrder {
    /// The first (lower-address) register holds the high word (Modbus convention, "ABCD").
    #[default]
    Big,
    /// The first register holds the low word ("CDAB", word-swapped).
    Little,
}

/// How a value becomes an integer raw value on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// To the nearest, half away from zero.
    #[default]
    Nearest,
    /// Truncated toward zero.
    TowardZero,
}

/// The function code that writes the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteFunction {
    /// Write single coil: a two-level target (coil off = `min`, on = `max`).
    Fc05,
    /// Write single register (16-bit types).
    Fc06,
    /// Write multiple registers (any register type; the only way to write a 32-bit one).
    Fc16,
}

impl WriteFunction {
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Fc05 => 0x05,
            Self::Fc06 => 0x06,
            Self::Fc16 => 0x10,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fc05 => "fc05",
            Self::Fc06 => "fc06",
            Self::Fc16 => "fc16",
        }
    }
}

impl fmt::Display for WriteFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which quantity a point carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointKind {
    AirTemperature,
    Target,
    Occupancy,
    Heater,
    Energy,
    OutdoorTemperature,
    RatedPower,
    ValvePosition,
    WindowContact,
    Humidity,
    SupplyTemperature,
}

impl PointKind {
    /// Every kind, in the order of [`Points`].
    pub const ALL: [PointKind; 11] = [
        Self::AirTemperature,
        Self::Target,
        Self::Occupancy,
        Self::Heater,
        Self::Energy,
        Self::OutdoorTemperature,
        Self::RatedPower,
        Self::ValvePosition,
        Self::WindowContact,
        Self::Humidity,
        Self::SupplyTemperature,
    ];

    /// The key under `[points]`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AirTemperature => "air_temperature",
            Self::Target => "target",
            Self::Occupancy => "occupancy",
            Self::Heater => "heater",
            Self::Energy => "energy",
            Self::OutdoorTemperature => "outdoor_temperature",
            Self::RatedPower => "rated_power",
            Self::ValvePosition => "valve_position",
            Self::WindowContact => "window_contact",
            Self::Humidity => "humidity",
            Self::SupplyTemperature => "supply_temperature",
        }
    }

    /// Whether the quantity is on/off (type `bool`) rather than a number.
    #[must_use]
    pub fn is_flag(self) -> bool {
        matches!(self, Self::Occupancy | Self::Heater | Self::WindowContact)
    }

    /// The physically plausible range of a decoded value and its unit; a value outside it (or NaN, ±inf) is an
    /// invalid reading, never a value. Temperatures span -60..=120 °C (outdoor winters to heating water), shares
    /// 0..=100 %, powers 0..=1 MW, energy any non-negative count; the target's range is the profile's `min..=max`.
    #[must_use]
    pub fn plausible_range(self) -> (f64, f64, &'static str) {
        match self {
            Self::AirTemperature | Self::OutdoorTemperature | Self::SupplyTemperature | Self::Target => {
                (-60.0, 120.0, "°C")
            }
            Self::ValvePosition | Self::Humidity => (0.0, 100.0, "%"),
            Self::RatedPower => (0.0, 1_000_000.0, "W"),
            Self::Energy => (0.0, f64::MAX, "Wh"),
            Self::Occupancy | Self::Heater | Self::WindowContact => (0.0, 1.0, ""),
        }
    }
}

impl fmt::Display for PointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Points {
    /// The point of a kind, if the device has it.
    #[must_use]
    pub fn get(&self, kind: PointKind) -> Option<&Point> {
        match kind {
            PointKind::AirTemperature => Some(&self.air_temperature),
            PointKind::Target => Some(&self.target),
            PointKind::Occupancy => self.occupancy.as_ref(),
            PointKind::Heater => self.heater.as_ref(),
            PointKind::Energy => self.energy.as_ref(),
            PointKind::OutdoorTemperature => self.outdoor_temperature.as_ref(),
            PointKind::RatedPower => self.rated_power.as_ref(),
            PointKind::ValvePosition => self.valve_position.as_ref(),
            PointKind::WindowContact => self.window_contact.as_ref(),
            PointKind::Humidity => self.humidity.as_ref(),
            PointKind::SupplyTemperature => self.supply_temperature.as_ref(),
        }
    }

    /// Every point the device has, in the order of [`PointKind::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = (PointKind, &Point)> {
        PointKind::ALL.into_iter().filter_map(|k| self.get(k).map(|p| (k, p)))
    }
}

impl Point {
    /// Registers (or bits) the point occupies.
    #[must_use]
    pub fn width(&self) -> u16 {
        self.data_type.width()
    }

    /// The word order in force (big when not given).
    #[must_use]
    pub fn word_order(&self) -> WordOrder {
        self.word_order.unwrap_or_default()
    }

    /// The first address past the point (u32: a point may end at 65536).
    #[must_use]
    pub fn end(&self) -> u32 {
        u32::from(self.address) + u32::from(self.width())
    }
}
