//! Decoded readings: plausibility, the values of one poll, and what a device can tell at all.

use std::fmt;

use serde::Serialize;

use crate::codec::{Raw, Target};
use crate::model::{PointKind, Profile};
use crate::plan::ReadPlan;

/// A reading that is not a value: the device answered, but what it holds cannot be true (a float32 NaN, 6553.5 °C
/// from a wrong word order, a bool register holding 7). Never stored; the zone is degraded with this message.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidReading {
    pub point: PointKind,
    pub raw: Raw,
    /// The decoded value, when there is one.
    pub value: Option<f64>,
    pub reason: String,
}

impl fmt::Display for InvalidReading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid reading of {} at {}", self.point, self.raw)?;
        if let Some(v) = self.value {
            write!(f, " = {v}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for InvalidReading {}

/// The values of one read of a device; `None` where the profile has no such point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceValues {
    pub air_temperature: f64,
    pub target: f64,
    pub occupied: Option<bool>,
    pub heater_on: Option<bool>,
    /// The counter as the device shows it (it wraps; see [`crate::Point::wraps_at_value`]).
    pub energy_wh: Option<f64>,
    pub outdoor_temperature: Option<f64>,
    /// From the device's register, else the profile's constant `rated_power_w`.
    pub rated_power_w: Option<f64>,
    pub valve_position_pct: Option<f64>,
    pub window_open: Option<bool>,
    pub humidity_pct: Option<f64>,
    pub supply_temperature: Option<f64>,
}

/// What a device can tell, so the server knows what to infer or estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub occupancy: bool,
    pub heater: bool,
    pub energy: bool,
    pub outdoor_temperature: bool,
    /// A register or the profile's constant.
    pub rated_power: bool,
    pub valve_position: bool,
    pub window_contact: bool,
    pub humidity: bool,
    pub supply_temperature: bool,
}

impl Profile {
    /// The target with its write spec (a validated profile always has one).
    #[must_use]
    pub fn target(&self) -> Target {
        let p = self.points.target;
        Target {
            point: p,
            write: p.write.unwrap_or(crate::model::WriteFunction::Fc16),
            min: p.min.unwrap_or(f64::MIN),
            max: p.max.unwrap_or(f64::MAX),
            step: p.step.unwrap_or(1.0),
        }
    }

    #[must_use]
    pub fn capabilities(&self) -> Capabilities {
        let has = |k| self.points.get(k).is_some();
        Capabilities {
            occupancy: has(PointKind::Occupancy),
            heater: has(PointKind::Heater),
            energy: has(PointKind::Energy),
            outdoor_temperature: has(PointKind::OutdoorTemperature),
            rated_power: has(PointKind::RatedPower) || self.rated_power_w.is_some(),
            valve_position: has(PointKind::ValvePosition),
            window_contact: has(PointKind::WindowContact),
            humidity: has(PointKind::Humidity),
            supply_temperature: has(PointKind::SupplyTemperature),
        }
    }

    /// Decodes one point from its registers and checks it is physically plausible ([`PointKind::plausible_range`];
    /// the target within the profile's `min..=max` give or take half a step). `None` if the profile lacks the point.
    #[must_use]
    pub fn decode(&self, kind: PointKind, words: &[u16]) -> Option<Result<f64, InvalidReading>> {
        let point = self.points.get(kind)?;
        // The raw registers are copied only for an error: a good reading allocates nothing.
        let fail = |value, reason: String| InvalidReading {
            point: kind,
            raw: Raw { table: point.table, address: point.address, words: words.to_vec() },
            value,
            reason,
        };
        let value = match point.decode(words) {
            Ok(v) => v,
            Err(e) => return Some(Err(fail(None, e.to_string()))),
        };
        if !value.is_finite() {
            return Some(Err(fail(Some(value), "not a number".into())));
        }
        let (lo, hi, unit) = if kind == PointKind::Target {
            let t = self.target();
            (t.min - t.step / 2.0, t.max + t.step / 2.0, "°C")
        } else {
            kind.plausible_range()
        };
        if value < lo || value > hi {
            let range = if kind == PointKind::Target {
                let t = self.target();
                format!("{}..={}", t.min, t.max)
            } else if hi == f64::MAX {
                format!("{lo} or more")
            } else {
                format!("{lo}..={hi}")
            };
            return Some(Err(fail(
                Some(value),
                format!("outside the plausible range {range} {unit}").trim_end().into(),
            )));
        }
        Some(Ok(value))
    }

    /// Decodes one point out of the answers to `plan`'s blocks (see [`ReadPlan::words`]).
    #[must_use]
    pub fn decode_from(
        &self,
        plan: &ReadPlan,
        kind: PointKind,
        answers: &[Vec<u16>],
    ) -> Option<Result<f64, InvalidReading>> {
        let slot = plan.slot(kind)?;
        let Some(words) = plan.words(slot, answers) else {
            let point = self.points.get(kind)?;
            return Some(Err(InvalidReading {
                point: kind,
                raw: Raw { table: point.table, address: point.address, words: Vec::new() },
                value: None,
                reason: "the answer is shorter than the request".into(),
            }));
        };
        self.decode(kind, words)
    }

    /// Every value of one read; the first implausible point is the error.
    pub fn decode_values(&self, plan: &ReadPlan, answers: &[Vec<u16>]) -> Result<DeviceValues, InvalidReading> {
        let number = |kind| self.decode_from(plan, kind, answers).transpose();
        let flag = |kind| Ok::<_, InvalidReading>(number(kind)?.map(|v: f64| v != 0.0));
        let required = |kind| number(kind).map(|v| v.unwrap_or(f64::NAN));
        Ok(DeviceValues {
            air_temperature: required(PointKind::AirTemperature)?,
            target: required(PointKind::Target)?,
            occupied: flag(PointKind::Occupancy)?,
            heater_on: flag(PointKind::Heater)?,
            energy_wh: number(PointKind::Energy)?,
            outdoor_temperature: number(PointKind::OutdoorTemperature)?,
            rated_power_w: number(PointKind::RatedPower)?.or(self.rated_power_w),
            valve_position_pct: number(PointKind::ValvePosition)?,
            window_open: flag(PointKind::WindowContact)?,
            humidity_pct: number(PointKind::Humidity)?,
            supply_temperature: number(PointKind::SupplyTemperature)?,
        })
    }
}
