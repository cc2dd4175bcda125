//! Temperatures and their register encoding.
//!
//! Temperatures travel over Modbus as signed 16-bit integers in tenths of a degree Celsius. Encoding rounds to the
//! nearest tenth (half away from zero), it never truncates: 20.96 °C is sent as 210, not 209.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Encodes a temperature in °C as tenths of a degree, rounded to nearest and saturated to the `i16` range.
/// NaN encodes as 0 rather than panicking.
#[must_use]
pub fn encode_deci_celsius(celsius: f64) -> i16 {
    if celsius.is_nan() {
        return 0;
    }
    let tenths = (celsius * 10.0).round();
    // `as` saturates for floats, which is exactly the behaviour wanted at the extremes.
    tenths as i16
}

/// Decodes tenths of a degree into °C.
#[must_use]
pub fn decode_deci_celsius(tenths: i16) -> f64 {
    f64::from(tenths) / 10.0
}

/// A target temperature a zone accepts: 5.0 to 35.0 °C in steps of 0.1 K (register values 50..=350).
///
/// The value is stored in tenths so that equality and the register encoding are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Setpoint(i16);

/// Why a value is not a valid [`Setpoint`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetpointError {
    #[error("target temperature must be a number")]
    NotFinite,
    #[error("target temperature {0} °C is outside the allowed range 5.0..=35.0 °C")]
    OutOfRange(f64),
    #[error("target register value {0} is outside the allowed range 50..=350 (tenths of °C)")]
    RegisterOutOfRange(u16),
}

impl Setpoint {
    /// Lowest accepted target, in tenths of °C.
    pub const MIN_DECI: i16 = 50;
    /// Highest accepted target, in tenths of °C.
    pub const MAX_DECI: i16 = 350;
    pub const MIN_CELSIUS: f64 = 5.0;
    pub const MAX_CELSIUS: f64 = 35.0;

    /// Builds a setpoint from °C, rounded to the nearest tenth.
    pub fn from_celsius(celsius: f64) -> Result<Self, SetpointError> {
        if !celsius.is_finite() {
            return Err(SetpointError::NotFinite);
        }
        let tenths = (celsius * 10.0).round();
        if tenths < f64::from(Self::MIN_DECI) || tenths > f64::from(Self::MAX_DECI) {
            return Err(SetpointError::OutOfRange(celsius));
        }
        Ok(Self(tenths as i16))
    }

    /// Builds a setpoint from a raw holding-register value (tenths of °C, two's complement).
    pub fn from_register(raw: u16) -> Result<Self, SetpointError> {
        let tenths = raw as i16;
        if (Self::MIN_DECI..=Self::MAX_DECI).contains(&tenths) {
            Ok(Self(tenths))
        } else {
            Err(SetpointError::RegisterOutOfRange(raw))
        }
    }

    #[must_use]
    pub fn celsius(self) -> f64 {
        decode_deci_celsius(self.0)
    }

    #[must_use]
    pub fn deci(self) -> i16 {
        self.0
    }

    #[must_use]
    pub fn register(self) -> u16 {
        self.0 as u16
    }
}

impl TryFrom<f64> for Setpoint {
    type Error = SetpointError;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Self::from_celsius(value)
    }
}

impl From<Setpoint> for f64 {
    fn from(value: Setpoint) -> Self {
        value.celsius()
    }
}

impl fmt::Display for Setpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} °C", self.celsius())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_rounds_instead_of_truncating() {
        assert_eq!(encode_deci_celsius(20.96), 210);
        assert_eq!(encode_deci_celsius(20.94), 209);
        assert_eq!(encode_deci_celsius(-3.25), -33);
        assert_eq!(encode_deci_celsius(-0.04), 0);
        assert_eq!(encode_deci_celsius(f64::NAN), 0);
        assert_eq!(encode_deci_celsius(1e9), i16::MAX);
        assert_eq!(encode_deci_celsius(-1e9), i16::MIN);
        assert!((decode_deci_celsius(-33) + 3.3).abs() < 1e-12);
    }

    #[test]
    fn setpoint_bounds() {
        assert_eq!(Setpoint::from_celsius(5.0).unwrap().register(), 50);
        assert_eq!(Setpoint::from_celsius(35.0).unwrap().register(), 350);
        assert_eq!(Setpoint::from_celsius(21.04).unwrap().deci(), 210);
        assert!(matches!(Setpoint::from_celsius(4.9), Err(SetpointError::OutOfRange(_))));
        assert!(matches!(Setpoint::from_celsius(35.1), Err(SetpointError::OutOfRange(_))));
        assert_eq!(Setpoint::from_celsius(f64::NAN), Err(SetpointError::NotFinite));
        assert!(Setpoint::from_register(49).is_err());
        assert!(Setpoint::from_register(351).is_err());
        assert!(Setpoint::from_register(0xFFFF).is_err(), "-0.1 °C as two's complement");
        assert_eq!(Setpoint::from_register(215).unwrap().celsius(), 21.5);
    }

    #[test]
    fn setpoint_serde_is_a_plain_number() {
        let s: Setpoint = serde_json::from_str("21.5").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "21.5");
        assert!(serde_json::from_str::<Setpoint>("50").is_err());
    }
}
