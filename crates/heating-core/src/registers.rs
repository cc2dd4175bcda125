//! The zone register map: a public contract shared with existing Modbus masters.
//!
//! One zone per TCP endpoint, unit id 1 by default. Every address is readable with FC03 (holding registers) and,
//! with the same value, FC04 (input registers). Only address 1 is writable (FC06 or FC16).
//!
//! | addr | meaning | encoding | access |
//! |---|---|---|---|
//! | 0 | air temperature | int16, 0.1 °C, rounded | read |
//! | 1 | target temperature | int16, 0.1 °C, valid 50..=350 | read/write |
//! | 2 | occupancy | 0 vacant, 1 occupied | read |
//! | 3 | heater state | 0 off, 1 on | read |
//! | 4-5 | heating energy counter | uint32 Wh, addr 4 = high word | read |
//! | 6 | outdoor temperature | int16, 0.1 °C | read |
//! | 7 | heater rated power | uint16 W | read |
//!
//! This module decides, without any I/O, what a request may do; the simulator turns [`RegisterError`] into Modbus
//! exception codes and the server uses [`ZoneRegisters::decode`] to read a poll's answer.

use serde::{Deserialize, Serialize};

use crate::units::{Setpoint, SetpointError, decode_deci_celsius, encode_deci_celsius};

pub const ADDR_AIR_TEMPERATURE: u16 = 0;
pub const ADDR_TARGET_TEMPERATURE: u16 = 1;
pub const ADDR_OCCUPANCY: u16 = 2;
pub const ADDR_HEATER_STATE: u16 = 3;
pub const ADDR_ENERGY_HIGH: u16 = 4;
pub const ADDR_ENERGY_LOW: u16 = 5;
pub const ADDR_OUTDOOR_TEMPERATURE: u16 = 6;
pub const ADDR_HEATER_POWER: u16 = 7;

/// Number of registers in the map (addresses `0..REGISTER_COUNT`).
pub const REGISTER_COUNT: u16 = 8;

/// Default Modbus unit id of a zone.
pub const DEFAULT_UNIT_ID: u8 = 1;

/// What a zone reports, in engineering units. The register encoding is [`ZoneRegisters`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZoneSnapshot {
    pub air_temperature: f64,
    pub target: Setpoint,
    pub occupied: bool,
    pub heater_on: bool,
    pub energy_wh: u32,
    pub outdoor_temperature: f64,
    pub heater_power_w: u16,
}

/// The eight registers of a zone, in address order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneRegisters(pub [u16; REGISTER_COUNT as usize]);

/// Why a register request is refused. Each variant maps to one Modbus exception code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegisterError {
    /// Exception 02: the range touches an address outside the map, or a write touches a read-only address.
    #[error("illegal data address: {0}")]
    IllegalAddress(&'static str),
    /// Exception 03: the quantity is invalid or the value is out of range.
    #[error("illegal data value: {0}")]
    IllegalValue(String),
}

impl RegisterError {
    /// The Modbus exception code for this refusal.
    #[must_use]
    pub fn exception_code(&self) -> u8 {
        match self {
            Self::IllegalAddress(_) => 0x02,
            Self::IllegalValue(_) => 0x03,
        }
    }
}

impl From<SetpointError> for RegisterError {
    fn from(e: SetpointError) -> Self {
        Self::IllegalValue(e.to_string())
    }
}

/// Maximum registers in one read request (Modbus application protocol, FC03/FC04).
pub const MAX_READ_QUANTITY: u16 = 125;
/// Maximum registers in one FC16 request.
pub const MAX_WRITE_QUANTITY: u16 = 123;

impl ZoneRegisters {
    #[must_use]
    pub fn encode(s: &ZoneSnapshot) -> Self {
        Self([
            encode_deci_celsius(s.air_temperature) as u16,
            s.target.register(),
            u16::from(s.occupied),
            u16::from(s.heater_on),
            (s.energy_wh >> 16) as u16,
            (s.energy_wh & 0xFFFF) as u16,
            encode_deci_celsius(s.outdoor_temperature) as u16,
            s.heater_power_w,
        ])
    }

    /// Decodes a full block as read from a device (addresses 0..8). A target outside the valid range means the
    /// device does not follow the map; that is an error, not a value to store.
    pub fn decode(words: &[u16]) -> Result<ZoneSnapshot, DecodeError> {
        let w: &[u16; REGISTER_COUNT as usize] = words.try_into().map_err(|_| DecodeError::WrongLength(words.len()))?;
        let flag = |addr: u16, v: u16| match v {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DecodeError::BadFlag { addr, value: other }),
        };
        Ok(ZoneSnapshot {
            air_temperature: decode_deci_celsius(w[0] as i16),
            target: Setpoint::from_register(w[1]).map_err(|_| DecodeError::BadTarget(w[1]))?,
            occupied: flag(ADDR_OCCUPANCY, w[2])?,
            heater_on: flag(ADDR_HEATER_STATE, w[3])?,
            energy_wh: (u32::from(w[4]) << 16) | u32::from(w[5]),
            outdoor_temperature: decode_deci_celsius(w[6] as i16),
            heater_power_w: w[7],
        })
    }

    /// The registers `start..start + quantity`, refused as a whole if any address is outside the map.
    pub fn read(&self, start: u16, quantity: u16) -> Result<Vec<u16>, RegisterError> {
        let range = checked_range(start, quantity, MAX_READ_QUANTITY)?;
        Ok(self.0[range].to_vec())
    }
}

/// Why a block read from a device cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("expected {REGISTER_COUNT} registers, got {0}")]
    WrongLength(usize),
    #[error("register {addr} holds {value}, expected 0 or 1")]
    BadFlag { addr: u16, value: u16 },
    #[error("target register holds {0}, outside 50..=350")]
    BadTarget(u16),
}

fn checked_range(start: u16, quantity: u16, max_quantity: u16) -> Result<std::ops::Range<usize>, RegisterError> {
    if quantity == 0 || quantity > max_quantity {
        return Err(RegisterError::IllegalValue(format!("quantity {quantity} is outside 1..={max_quantity}")));
    }
    // Computed in u32 so that `start + quantity` cannot overflow.
    let end = u32::from(start) + u32::from(quantity);
    if end > u32::from(REGISTER_COUNT) {
        return Err(RegisterError::IllegalAddress("the zone map has addresses 0..=7 only"));
    }
    Ok(usize::from(start)..end as usize)
}

/// Validates a write of `values` starting at `start` (FC06 is a write of one value). The only writable address is
/// [`ADDR_TARGET_TEMPERATURE`]; a write that touches any other address is refused whole, so nothing changes.
/// On success, returns the new target.
pub fn validate_write(start: u16, values: &[u16]) -> Result<Setpoint, RegisterError> {
    let quantity = u16::try_from(values.len()).unwrap_or(u16::MAX);
    checked_range(start, quantity, MAX_WRITE_QUANTITY)?;
    if start != ADDR_TARGET_TEMPERATURE || values.len() != 1 {
        return Err(RegisterError::IllegalAddress("only address 1 (target temperature) is writable"));
    }
    Ok(Setpoint::from_register(values[0])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> ZoneSnapshot {
        ZoneSnapshot {
            air_temperature: 20.96,
            target: Setpoint::from_celsius(21.0).unwrap(),
            occupied: true,
            heater_on: false,
            energy_wh: 0x0001_0002,
            outdoor_temperature: -3.25,
            heater_power_w: 2500,
        }
    }

    #[test]
    fn encode_then_decode_round_trips_to_a_tenth() {
        let regs = ZoneRegisters::encode(&snapshot());
        assert_eq!(regs.0, [210, 210, 1, 0, 1, 2, (-33i16) as u16, 2500]);
        let back = ZoneRegisters::decode(&regs.0).unwrap();
        assert_eq!(back.air_temperature, 21.0);
        assert_eq!(back.outdoor_temperature, -3.3);
        assert_eq!(back.energy_wh, 65538);
        assert!(back.occupied && !back.heater_on);
    }

    #[test]
    fn decode_rejects_what_the_map_cannot_hold() {
        assert_eq!(ZoneRegisters::decode(&[0; 4]), Err(DecodeError::WrongLength(4)));
        let mut w = ZoneRegisters::encode(&snapshot()).0;
        w[2] = 7;
        assert!(matches!(ZoneRegisters::decode(&w), Err(DecodeError::BadFlag { addr: 2, value: 7 })));
        w[2] = 0;
        w[1] = 400;
        assert_eq!(ZoneRegisters::decode(&w), Err(DecodeError::BadTarget(400)));
    }

    #[test]
    fn reads_are_all_or_nothing() {
        let regs = ZoneRegisters::encode(&snapshot());
        assert_eq!(regs.read(0, 8).unwrap().len(), 8);
        assert_eq!(regs.read(7, 1).unwrap(), vec![2500]);
        assert_eq!(regs.read(6, 3).unwrap_err().exception_code(), 2);
        assert_eq!(regs.read(8, 1).unwrap_err().exception_code(), 2);
        assert_eq!(regs.read(u16::MAX, 125).unwrap_err().exception_code(), 2);
        assert_eq!(regs.read(0, 0).unwrap_err().exception_code(), 3);
    }

    #[test]
    fn only_the_target_is_writable() {
        assert_eq!(validate_write(1, &[215]).unwrap().celsius(), 21.5);
        assert_eq!(validate_write(0, &[215]).unwrap_err().exception_code(), 2);
        assert_eq!(validate_write(1, &[215, 0]).unwrap_err().exception_code(), 2);
        assert_eq!(validate_write(0, &[0, 215]).unwrap_err().exception_code(), 2);
        assert_eq!(validate_write(8, &[1]).unwrap_err().exception_code(), 2);
        assert_eq!(validate_write(1, &[351]).unwrap_err().exception_code(), 3);
        assert_eq!(validate_write(1, &[49]).unwrap_err().exception_code(), 3);
    }
}
