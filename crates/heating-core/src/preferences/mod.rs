//! A zone's user preferences: the temperatures its occupants want, the bounds no control decision may leave, and
//! how its target is decided.
//!
//! Preferences travel as a JSON object. Every known key is optional and falls back to its default; keys this
//! version does not know are kept verbatim in [`Preferences::extra`] and written back, so a client that stores
//! its own settings next to ours loses nothing. Parsing ([`Preferences::from_json`]) checks types and reads the
//! typed keys (a `control_strategy` name, `occupancy_schedule` entries); [`validate`] checks values. Both name the
//! offending field in their message, e.g. `preferences.control_strategy: unknown strategy "predictiv" (expected
//! one of: constant, reactive, scheduled, predictive)`.
//!
//! Decisions:
//! - All temperatures are in °C and must lie within 5..=35 °C (the range a zone accepts as a target, see
//!   [`Setpoint`](crate::units::Setpoint)), and `min_temp <= max_temp`.
//! - `occupied_temp` and `unoccupied_temp` are *not* required to lie within `min_temp..=max_temp`: the bounds are
//!   a safety net that control clamps every target into, so a preference outside them is legal and simply clamped
//!   (see [`Preferences::clamp`]). Nor must `unoccupied_temp` be below `occupied_temp`.
//! - A known key set to JSON `null` means "not set" and takes the default, so a client can reset one value.
//!   [`Preferences::to_json`] writes every known key, `null` for those unset, so a stored document is complete.
//! - `control_strategy` is read case-insensitively with surrounding blanks ignored, and kept normalized
//!   (`" Predictive "` is stored as `"predictive"`); unset, the server's `CONTROL_STRATEGY` applies.
//! - `occupancy_schedule` is a weekly schedule in the [`schedule`](crate::schedule) grammar, e.g.
//!   `["mon-fri 08:30-17:30"]`, kept in its normalized form; unset (or empty), the occupancy learned from the
//!   zone's readings applies.
//! - Documents read back from storage go through [`Preferences::from_stored`], which never refuses a known key's
//!   value: one this version cannot read (earlier versions accepted any `control_strategy` or
//!   `occupancy_schedule`) takes its default, so an upgrade never makes a stored zone unreadable.
//!
//! - `storage_max_temp` (vacant) and `occupied_max_temp` (occupied) are the comfort ceilings the predictive
//!   planner keeps (see [`Preferences::ceiling`]); unset, the planner stores heat up to the occupants' preferred
//!   temperature, as before they existed. Set, each lies within 5..=35 °C and not below the comfort temperatures
//!   it bounds (`occupied_max_temp >= occupied_temp`; `storage_max_temp >= occupied_temp` and `>= unoccupied_temp`,
//!   since a vacant room is warmed up to `occupied_temp` before people arrive).
//!
//! Adding a field: add it to the struct and [`Default`], read it in `Preferences::parse` (with
//! [`take_celsius`] or the generic [`take`]), write it in `to_map`, and check it in [`Preferences::validate`].
//! Older stored documents then get the default for it.
//!
//! [`validate`]: Preferences::validate

mod strategy;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use self::strategy::{ControlStrategy, UnknownStrategy};
use crate::schedule::{ScheduleEntry, WeeklySchedule};

/// Lowest temperature any preference may hold, in °C.
pub const MIN_CELSIUS: f64 = 5.0;
/// Highest temperature any preference may hold, in °C.
pub const MAX_CELSIUS: f64 = 35.0;

/// A zone's preferences. Construct from JSON with [`Preferences::from_json`] (or serde), then [`validate`].
///
/// [`validate`]: Preferences::validate
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct Preferences {
    /// Target while the zone is occupied, °C (default 21.0).
    pub occupied_temp: f64,
    /// Target while the zone is vacant, °C (default 17.0).
    pub unoccupied_temp: f64,
    /// No target below this, °C (default 10.0).
    pub min_temp: f64,
    /// No target above this, °C (default 28.0).
    pub max_temp: f64,
    /// Weekly timer program: while an entry is active (site-local time), its temperature is the comfort target,
    /// whatever the occupancy. First active entry wins. Default: none.
    pub schedule: Vec<ScheduledTarget>,
    /// Above this outdoor temperature (°C), comfort targets are lowered by `weather_warm_offset` (default 21.0).
    pub weather_warm_threshold: f64,
    /// Kelvin taken off comfort targets when it is warm outside (default 1.0; 0 disables the rule).
    pub weather_warm_offset: f64,
    /// Below this outdoor temperature (°C), comfort targets are raised by `weather_cold_offset` (default: unset).
    pub weather_cold_threshold: Option<f64>,
    /// Kelvin added to comfort targets when it is cold outside (default 0.5).
    pub weather_cold_offset: f64,
    /// Weather location for this zone (default: the site's `WEATHER_LOCATION`).
    pub weather_location: Option<String>,
    /// How the zone's target is decided (default: unset, the server's `CONTROL_STRATEGY`).
    pub control_strategy: Option<ControlStrategy>,
    /// When people are expected, for the planning strategies (default: unset, the occupancy learned from the
    /// zone's readings; an empty schedule counts as unset).
    pub occupancy_schedule: Option<WeeklySchedule>,
    /// Highest temperature a *vacant* room may be warmed to while the planner stores cheap heat, °C (default:
    /// unset, the comfort ceiling [`Preferences::ceiling`] falls back to the higher comfort temperature).
    pub storage_max_temp: Option<f64>,
    /// Highest temperature an *occupied* room may be planned at, °C (default: unset, as for `storage_max_temp`).
    pub occupied_max_temp: Option<f64>,
    /// Keys this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            occupied_temp: 21.0,
            unoccupied_temp: 17.0,
            min_temp: 10.0,
            max_temp: 28.0,
            schedule: Vec::new(),
            weather_warm_threshold: 21.0,
            weather_warm_offset: 1.0,
            weather_cold_threshold: None,
            weather_cold_offset: 0.5,
            weather_location: None,
            control_strategy: None,
            occupancy_schedule: None,
            storage_max_temp: None,
            occupied_max_temp: None,
            extra: Map::new(),
        }
    }
}

/// One entry of the weekly timer program: `{"when": "mon-fri 07:00-09:00", "temp": 21.5}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledTarget {
    pub when: ScheduleEntry,
    /// Target while the entry is active, °C.
    pub temp: f64,
}

/// Most timer-program entries a zone may have.
pub const MAX_SCHEDULE_ENTRIES: usize = 64;

/// Why preferences were refused. The message names the field, e.g. `preferences.max_temp: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PreferencesError(pub String);

impl PreferencesError {
    fn field(key: &str, msg: impl std::fmt::Display) -> Self {
        Self(format!("preferences.{key}: {msg}"))
    }
}

/// Removes `key` from `map` and deserializes it; `None` when absent or `null`.
pub fn take<T: serde::de::DeserializeOwned>(
    map: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<T>, PreferencesError> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v).map(Some).map_err(|e| PreferencesError::field(key, e)),
    }
}

/// Removes `key` from `map` as a control strategy name (any case, blanks ignored); `None` when absent or `null`.
pub fn take_strategy(map: &mut Map<String, Value>, key: &str) -> Result<Option<ControlStrategy>, PreferencesError> {
    let allowed = || ControlStrategy::ALL.map(ControlStrategy::as_str).join(", ");
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| {
            PreferencesError::field(key, format!("unknown strategy {s:?} (expected one of: {})", allowed()))
        }),
        Some(other) => Err(PreferencesError::field(
            key,
            format!("must be a string, one of: {}; got {}", allowed(), json_kind(&other)),
        )),
    }
}

/// Removes `key` from `map` as a weekly schedule: an array of entries such as `"mon-fri 08:30-17:30"` (see
/// [`crate::schedule`]); `None` when absent or `null`. An error names the entry, e.g. `key[1]`.
pub fn take_schedule(map: &mut Map<String, Value>, key: &str) -> Result<Option<WeeklySchedule>, PreferencesError> {
    let items = match map.remove(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(PreferencesError::field(
                key,
                format!("must be an array of entries such as \"mon-fri 08:30-17:30\", got {}", json_kind(&other)),
            ));
        }
    };
    let mut lines = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let entry = format!("{key}[{i}]");
        let Value::String(line) = item else {
            return Err(PreferencesError::field(
                &entry,
                format!("must be a string such as \"mon-fri 08:30-17:30\", got {}", json_kind(&item)),
            ));
        };
        line.parse::<ScheduleEntry>().map_err(|e| PreferencesError::field(&entry, e))?;
        lines.push(line);
    }
    WeeklySchedule::parse(&lines).map(Some).map_err(|e| PreferencesError::field(key, e))
}

/// Removes `key` from `map` as a temperature in °C; `None` when absent or `null`.
pub fn take_celsius(map: &mut Map<String, Value>, key: &str) -> Result<Option<f64>, PreferencesError> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(PreferencesError::field(key, format!("{n} is not a usable temperature"))),
        },
        Some(other) => Err(PreferencesError::field(key, format!("must be a number (°C), got {}", json_kind(&other)))),
    }
}

/// One key's value as read, or, when it cannot be read, what `on_bad` makes of that: an error, or the default.
fn read<T>(
    on_bad: &mut dyn FnMut(PreferencesError) -> Result<(), PreferencesError>,
    value: Result<Option<T>, PreferencesError>,
) -> Result<Option<T>, PreferencesError> {
    value.or_else(|e| on_bad(e).map(|()| None))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Preferences {
    /// Parses a JSON value: it must be an object; known keys must have the right type; missing or `null` known keys
    /// take their default; other keys are kept in `extra`. Values are not range-checked here (see [`validate`]).
    ///
    /// [`validate`]: Preferences::validate
    pub fn from_json(value: Value) -> Result<Self, PreferencesError> {
        Self::parse(value, &mut Err)
    }

    /// Reads a document as stored by this or an earlier version: like [`from_json`], except that a known key
    /// whose value cannot be read takes its default instead of failing the whole document, and is handed to
    /// `dropped` (to be logged by the caller; this logs nothing). Earlier versions kept `control_strategy` and
    /// `occupancy_schedule` as untyped keys, so a stored document may hold any value there. Fails only when the
    /// document is not a JSON object.
    ///
    /// [`from_json`]: Preferences::from_json
    pub fn from_stored(value: Value, mut dropped: impl FnMut(PreferencesError)) -> Result<Self, PreferencesError> {
        Self::parse(value, &mut |e| {
            dropped(e);
            Ok(())
        })
    }

    /// Parses an object; `on_bad` decides about a known key whose value cannot be read: `Err` fails the parse,
    /// `Ok` gives the key its default.
    fn parse(
        value: Value,
        on_bad: &mut dyn FnMut(PreferencesError) -> Result<(), PreferencesError>,
    ) -> Result<Self, PreferencesError> {
        let Value::Object(mut map) = value else {
            return Err(PreferencesError(format!("preferences must be a JSON object, got {}", json_kind(&value))));
        };
        let d = Self::default();
        let m = &mut map;
        Ok(Self {
            occupied_temp: read(on_bad, take_celsius(m, "occupied_temp"))?.unwrap_or(d.occupied_temp),
            unoccupied_temp: read(on_bad, take_celsius(m, "unoccupied_temp"))?.unwrap_or(d.unoccupied_temp),
            min_temp: read(on_bad, take_celsius(m, "min_temp"))?.unwrap_or(d.min_temp),
            max_temp: read(on_bad, take_celsius(m, "max_temp"))?.unwrap_or(d.max_temp),
            schedule: read(on_bad, take(m, "schedule"))?.unwrap_or(d.schedule),
            weather_warm_threshold: read(on_bad, take_celsius(m, "weather_warm_threshold"))?
                .unwrap_or(d.weather_warm_threshold),
            weather_warm_offset: read(on_bad, take_celsius(m, "weather_warm_offset"))?.unwrap_or(d.weather_warm_offset),
            weather_cold_threshold: read(on_bad, take_celsius(m, "weather_cold_threshold"))?,
            weather_cold_offset: read(on_bad, take_celsius(m, "weather_cold_offset"))?.unwrap_or(d.weather_cold_offset),
            weather_location: read(on_bad, take(m, "weather_location"))?,
            control_strategy: read(on_bad, take_strategy(m, "control_strategy"))?,
            occupancy_schedule: read(on_bad, take_schedule(m, "occupancy_schedule"))?,
            storage_max_temp: read(on_bad, take_celsius(m, "storage_max_temp"))?,
            occupied_max_temp: read(on_bad, take_celsius(m, "occupied_max_temp"))?,
            extra: map,
        })
    }

    /// The preferences as a JSON object (known keys with their values, then the kept unknown keys).
    #[must_use]
    pub fn to_json(&self) -> Value {
        Value::Object(self.to_map())
    }

    fn to_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("occupied_temp".into(), self.occupied_temp.into());
        map.insert("unoccupied_temp".into(), self.unoccupied_temp.into());
        map.insert("min_temp".into(), self.min_temp.into());
        map.insert("max_temp".into(), self.max_temp.into());
        map.insert("schedule".into(), serde_json::to_value(&self.schedule).unwrap_or(Value::Null));
        map.insert("weather_warm_threshold".into(), self.weather_warm_threshold.into());
        map.insert("weather_warm_offset".into(), self.weather_warm_offset.into());
        map.insert("weather_cold_threshold".into(), self.weather_cold_threshold.into());
        map.insert("weather_cold_offset".into(), self.weather_cold_offset.into());
        map.insert("weather_location".into(), self.weather_location.clone().into());
        map.insert("control_strategy".into(), self.control_strategy.map(ControlStrategy::as_str).into());
        map.insert(
            "occupancy_schedule".into(),
            self.occupancy_schedule.as_ref().map_or(Value::Null, |s| serde_json::to_value(s).unwrap_or(Value::Null)),
        );
        map.insert("storage_max_temp".into(), self.storage_max_temp.into());
        map.insert("occupied_max_temp".into(), self.occupied_max_temp.into());
        for (k, v) in &self.extra {
            map.insert(k.clone(), v.clone());
        }
        map
    }

    /// Applies a partial update: each key of `patch` replaces the current value (a `null` resets a known key to its
    /// default and removes an unknown one); keys not in `patch` stay. `patch` must be an object.
    pub fn merged(&self, patch: Value) -> Result<Self, PreferencesError> {
        let Value::Object(patch) = patch else {
            return Err(PreferencesError(format!("preferences must be a JSON object, got {}", json_kind(&patch))));
        };
        let mut current = self.to_map();
        for (k, v) in patch {
            if v.is_null() {
                current.remove(&k);
            } else {
                current.insert(k, v);
            }
        }
        Self::from_json(Value::Object(current))
    }

    /// Checks every value: each temperature within 5..=35 °C, and `min_temp <= max_temp`.
    pub fn validate(&self) -> Result<(), PreferencesError> {
        for (key, v) in [
            ("occupied_temp", self.occupied_temp),
            ("unoccupied_temp", self.unoccupied_temp),
            ("min_temp", self.min_temp),
            ("max_temp", self.max_temp),
        ] {
            if !(v.is_finite() && (MIN_CELSIUS..=MAX_CELSIUS).contains(&v)) {
                return Err(PreferencesError::field(
                    key,
                    format!("{v} °C is outside the allowed range {MIN_CELSIUS}..={MAX_CELSIUS} °C"),
                ));
            }
        }
        for (key, v) in [
            ("weather_warm_threshold", Some(self.weather_warm_threshold)),
            ("weather_cold_threshold", self.weather_cold_threshold),
        ] {
            if let Some(v) = v
                && !(-50.0..=50.0).contains(&v)
            {
                return Err(PreferencesError::field(key, format!("{v} °C is outside -50..=50 °C")));
            }
        }
        for (key, v) in
            [("weather_warm_offset", self.weather_warm_offset), ("weather_cold_offset", self.weather_cold_offset)]
        {
            if !(0.0..=5.0).contains(&v) {
                return Err(PreferencesError::field(key, format!("{v} K is outside 0..=5 K")));
            }
        }
        if self.schedule.len() > MAX_SCHEDULE_ENTRIES {
            return Err(PreferencesError::field("schedule", format!("at most {MAX_SCHEDULE_ENTRIES} entries")));
        }
        for (i, entry) in self.schedule.iter().enumerate() {
            if !(entry.temp.is_finite() && (MIN_CELSIUS..=MAX_CELSIUS).contains(&entry.temp)) {
                return Err(PreferencesError::field(
                    &format!("schedule[{i}].temp"),
                    format!("{} °C is outside the allowed range {MIN_CELSIUS}..={MAX_CELSIUS} °C", entry.temp),
                ));
            }
        }
        if let Some(loc) = &self.weather_location
            && (loc.trim().is_empty() || loc.chars().count() > 200)
        {
            return Err(PreferencesError::field("weather_location", "must be 1 to 200 characters"));
        }
        if self.min_temp > self.max_temp {
            return Err(PreferencesError::field(
                "min_temp",
                format!("{} °C must not be above max_temp ({} °C)", self.min_temp, self.max_temp),
            ));
        }
        self.validate_ceilings()
    }

    /// The comfort ceilings: within 5..=35 °C and not below the comfort temperatures they bound. A vacant room is
    /// warmed up to `occupied_temp` before people arrive, so `storage_max_temp` bounds both comfort temperatures.
    fn validate_ceilings(&self) -> Result<(), PreferencesError> {
        let occupied = [("occupied_temp", self.occupied_temp)];
        let both = [("occupied_temp", self.occupied_temp), ("unoccupied_temp", self.unoccupied_temp)];
        for (key, value, bounded) in [
            ("storage_max_temp", self.storage_max_temp, &both[..]),
            ("occupied_max_temp", self.occupied_max_temp, &occupied[..]),
        ] {
            let Some(v) = value else { continue };
            if !(v.is_finite() && (MIN_CELSIUS..=MAX_CELSIUS).contains(&v)) {
                return Err(PreferencesError::field(
                    key,
                    format!("{v} °C is outside the allowed range {MIN_CELSIUS}..={MAX_CELSIUS} °C"),
                ));
            }
            if let Some((name, t)) = bounded.iter().find(|(_, t)| v < *t) {
                return Err(PreferencesError::field(
                    key,
                    format!("{v} °C must not be below {name} ({t} °C), the comfort temperature it bounds"),
                ));
            }
        }
        Ok(())
    }

    /// Parses and validates in one step.
    pub fn parse_valid(value: Value) -> Result<Self, PreferencesError> {
        let p = Self::from_json(value)?;
        p.validate()?;
        Ok(p)
    }

    /// The target wanted for the given occupancy, clamped into `min_temp..=max_temp`.
    #[must_use]
    pub fn target_for(&self, occupied: bool) -> f64 {
        self.clamp(if occupied { self.occupied_temp } else { self.unoccupied_temp })
    }

    /// The highest temperature the planner may aim for, °C: `occupied_max_temp` while comfort is required
    /// (`occupied`), else `storage_max_temp`; each, unset, the higher of `occupied_temp` and `unoccupied_temp` plus
    /// `storage_band_k` (the planner's rule before the ceilings existed). Never above `max_temp`.
    #[must_use]
    pub fn ceiling(&self, occupied: bool, storage_band_k: f64) -> f64 {
        let base = self.occupied_temp.max(self.unoccupied_temp) + storage_band_k;
        let set = if occupied { self.occupied_max_temp } else { self.storage_max_temp };
        set.unwrap_or(base).min(self.max_temp)
    }

    /// Clamps a temperature into `min_temp..=max_temp` (the bounds are assumed valid: `min_temp <= max_temp`).
    #[must_use]
    pub fn clamp(&self, celsius: f64) -> f64 {
        celsius.max(self.min_temp).min(self.max_temp)
    }
}

impl TryFrom<Value> for Preferences {
    type Error = PreferencesError;
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_json(value)
    }
}

#[cfg(test)]
mod tests;
