//! Raw registers ⇄ values: `value = raw × scale + offset`, for every data type and word order.
//!
//! Bits (coils, discrete inputs) travel here as words holding 0 or 1, so one representation serves all four
//! tables.

use std::fmt;

use crate::model::{DataType, Point, Rounding, Table, WordOrder, WriteFunction};

/// The raw registers (or bits) of one point or block, for error messages and the probe:
/// `holding 4..=5 [0x0001 0x0002]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub table: Table,
    pub address: u16,
    pub words: Vec<u16>,
}

impl fmt::Display for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = u32::from(self.address) + (self.words.len() as u32).saturating_sub(1);
        if self.words.len() <= 1 {
            write!(f, "{} {} [", self.table, self.address)?;
        } else {
            write!(f, "{} {}..={} [", self.table, self.address, last)?;
        }
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if self.table.is_bits() { write!(f, "{w}")? } else { write!(f, "{w:#06x}")? }
        }
        f.write_str("]")
    }
}

/// Why raw registers are not a value of their point's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("expected {expected} register(s), got {got}")]
    WrongLength { expected: u16, got: usize },
    #[error("a bool register holds {0}, expected 0 or 1")]
    NotABool(u16),
}

/// Why a value cannot be written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    #[error("{0} is not a number")]
    NotFinite(f64),
    #[error("{value} is outside the device's range {min}..={max}")]
    OutOfRange { value: f64, min: f64, max: f64 },
    #[error("{value} does not fit a {data_type} register (raw {raw})")]
    DoesNotFit { value: f64, data_type: DataType, raw: f64 },
    #[error("the point has no write function")]
    NotWritable,
}

fn join(words: &[u16], order: WordOrder) -> u32 {
    let (hi, lo) = match order {
        WordOrder::Big => (words[0], words[1]),
        WordOrder::Little => (words[1], words[0]),
    };
    (u32::from(hi) << 16) | u32::from(lo)
}

fn split(value: u32, order: WordOrder) -> Vec<u16> {
    let (hi, lo) = ((value >> 16) as u16, (value & 0xFFFF) as u16);
    match order {
        WordOrder::Big => vec![hi, lo],
        WordOrder::Little => vec![lo, hi],
    }
}

impl Point {
    /// The raw value the registers hold, before scale and offset (NaN and infinities of a float32 pass through).
    pub fn decode_raw(&self, words: &[u16]) -> Result<f64, DecodeError> {
        let expected = self.width();
        if words.len() != usize::from(expected) {
            return Err(DecodeError::WrongLength { expected, got: words.len() });
        }
        Ok(match self.data_type {
            DataType::Int16 => f64::from(words[0] as i16),
            DataType::Uint16 => f64::from(words[0]),
            DataType::Int32 => f64::from(join(words, self.word_order()) as i32),
            DataType::Uint32 => f64::from(join(words, self.word_order())),
            DataType::Float32 => f64::from(f32::from_bits(join(words, self.word_order()))),
            DataType::Bool => match words[0] {
                0 => 0.0,
                1 => 1.0,
                other => return Err(DecodeError::NotABool(other)),
            },
        })
    }

    /// The value the registers hold: `raw × scale + offset`. Not checked for plausibility (see
    /// [`crate::Profile::decode`]).
    pub fn decode(&self, words: &[u16]) -> Result<f64, DecodeError> {
        let raw = self.decode_raw(words)?;
        // A scale of 1/n is applied as a division by n: -33 / 10 is -3.3, -33 × 0.1 is -3.3000000000000003.
        let inverse = 1.0 / self.scale;
        let scaled = if inverse.abs() >= 2.0 && (inverse - inverse.round()).abs() < 1e-9 {
            raw / inverse.round()
        } else {
            raw * self.scale
        };
        Ok(scaled + self.offset)
    }

    /// The exact (unrounded) raw value of `value`. Multiplying by the reciprocal keeps 0.1 and 0.01 scales exact
    /// where the device multiplies by 10 or 100 (`-3.25 / 0.1` is -32.4999…, `-3.25 × 10` is -32.5).
    fn raw_of(&self, value: f64) -> f64 {
        (value - self.offset) * (1.0 / self.scale)
    }

    fn round_raw(&self, raw: f64) -> f64 {
        let nearest = raw.round();
        match self.rounding.unwrap_or_default() {
            Rounding::Nearest => nearest,
            // A value that is a whole raw step up to float noise is not truncated a step down (21.0 / 0.1).
            Rounding::TowardZero if (raw - nearest).abs() < 1e-6 => nearest,
            Rounding::TowardZero => raw.trunc(),
        }
    }

    fn words_of_raw(&self, raw: f64) -> Vec<u16> {
        match self.data_type {
            DataType::Int16 => vec![raw as i16 as u16],
            DataType::Uint16 | DataType::Bool => vec![raw as u16],
            DataType::Int32 => split(raw as i32 as u32, self.word_order()),
            DataType::Uint32 => split(raw as u32, self.word_order()),
            DataType::Float32 => split((raw as f32).to_bits(), self.word_order()),
        }
    }

    /// The registers holding `value`, rounded as the device rounds ([`Point::rounding`]); a value whose raw form
    /// does not fit the type is refused.
    pub fn encode(&self, value: f64) -> Result<Vec<u16>, EncodeError> {
        if !value.is_finite() {
            return Err(EncodeError::NotFinite(value));
        }
        let raw = self.raw_of(value);
        let Some((lo, hi)) = self.data_type.raw_range() else {
            if (raw as f32).is_finite() {
                return Ok(self.words_of_raw(raw));
            }
            return Err(EncodeError::DoesNotFit { value, data_type: self.data_type, raw });
        };
        let rounded = self.round_raw(raw);
        if rounded < lo || rounded > hi {
            return Err(EncodeError::DoesNotFit { value, data_type: self.data_type, raw });
        }
        Ok(self.words_of_raw(rounded))
    }

    /// As [`Point::encode`], but a value out of the type's range saturates at its end and NaN encodes as raw 0: what
    /// a device shows for a reading it cannot represent (the simulator serves readings with it).
    #[must_use]
    pub fn encode_saturating(&self, value: f64) -> Vec<u16> {
        if value.is_nan() {
            return self.words_of_raw(0.0);
        }
        let raw = self.raw_of(value);
        match self.data_type.raw_range() {
            Some((lo, hi)) => self.words_of_raw(self.round_raw(raw).clamp(lo, hi)),
            None => self.words_of_raw(raw),
        }
    }

    /// A counter's registers: the value modulo the point's wrap (see [`Point::wraps_at_value`]), as a meter shows it.
    #[must_use]
    pub fn encode_counter(&self, value: f64) -> Vec<u16> {
        match self.wraps_at_value() {
            Some(wrap) if value.is_finite() => self.encode_saturating(value.rem_euclid(wrap)),
            _ => self.encode_saturating(value),
        }
    }

    /// The value at which a counter starts again from zero: `wraps_at`, or (largest raw + 1) × scale + offset for
    /// an unsigned integer type; `None` for types that do not wrap.
    #[must_use]
    pub fn wraps_at_value(&self) -> Option<f64> {
        if let Some(w) = self.wraps_at {
            return Some(w);
        }
        match self.data_type {
            DataType::Uint16 => Some(65_536.0 * self.scale + self.offset),
            DataType::Uint32 => Some(4_294_967_296.0 * self.scale + self.offset),
            _ => None,
        }
    }

    /// The smallest change the point can show: |scale| for integer types, about 1e-6 relative for float32.
    #[must_use]
    pub fn resolution(&self) -> f64 {
        match self.data_type {
            DataType::Float32 => self.scale.abs() * 1e-6,
            _ => self.scale.abs(),
        }
    }
}

/// A target point with its write spec, as a validated profile guarantees it (see [`crate::Profile::target`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub point: Point,
    pub write: WriteFunction,
    pub min: f64,
    pub max: f64,
    pub step: f64,
}

/// A target value ready to be written: the value after rounding to the step, and its raw registers (one 0/1 word
/// for a coil).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedTarget {
    pub value: f64,
    pub words: Vec<u16>,
}

impl Target {
    /// Rounds `value` to the setpoint grid (`min + k × step`), checks it against `min..=max` and encodes it. For a
    /// coil target (`fc05`) the grid is {min, max}: off or on.
    pub fn encode(&self, value: f64) -> Result<EncodedTarget, EncodeError> {
        if !value.is_finite() {
            return Err(EncodeError::NotFinite(value));
        }
        let rounded = self.round(value);
        let tolerance = self.step * 1e-6;
        if rounded < self.min - tolerance || rounded > self.max + tolerance {
            return Err(EncodeError::OutOfRange { value, min: self.min, max: self.max });
        }
        let rounded = rounded.clamp(self.min, self.max);
        let words = self.point.encode(rounded)?;
        Ok(EncodedTarget { value: self.point.decode(&words).unwrap_or(rounded), words })
    }

    /// `value` on the setpoint grid, unclamped.
    #[must_use]
    pub fn round(&self, value: f64) -> f64 {
        let steps = ((value - self.min) / self.step).round();
        // Computed as min + k × step, then cleaned to 1e-9 so that 21.499999999 prints as 21.5.
        ((self.min + steps * self.step) * 1e9).round() / 1e9
    }

    /// Whether the device holding `holds` confirms a write of `wrote`: within half a step.
    #[must_use]
    pub fn confirms(&self, wrote: f64, holds: f64) -> bool {
        (wrote - holds).abs() < self.step / 2.0
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
