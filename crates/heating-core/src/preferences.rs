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
//! Adding a field: add it to the struct and [`Default`], read it in `Preferences::parse` (with
//! [`take_celsius`] or the generic [`take`]), write it in `to_map`, and check it in [`Preferences::validate`].
//! Older stored documents then get the default for it.
//!
//! [`validate`]: Preferences::validate

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// How a zone's target is decided. Written in JSON (and on the command line) as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlStrategy {
    /// 21 °C always (a plain thermostat).
    Constant,
    /// The domain rule on the measured occupancy ([`crate::control::decide`]).
    Reactive,
    /// `occupied_temp` while the expected occupancy schedule is active, else `unoccupied_temp`.
    Scheduled,
    /// A 24 h price-aware plan (model-predictive control).
    Predictive,
}

impl ControlStrategy {
    pub const ALL: [Self; 4] = [Self::Constant, Self::Reactive, Self::Scheduled, Self::Predictive];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Constant => "constant",
            Self::Reactive => "reactive",
            Self::Scheduled => "scheduled",
            Self::Predictive => "predictive",
        }
    }
}

impl fmt::Display for ControlStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown strategy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown control strategy {0:?} (expected constant, reactive, scheduled or predictive)")]
pub struct UnknownStrategy(pub String);

impl FromStr for ControlStrategy {
    type Err = UnknownStrategy;
    /// The strategy named `s`, ignoring case and surrounding blanks.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownStrategy(s.into()))
    }
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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_object_gives_defaults() {
        let p = Preferences::from_json(json!({})).unwrap();
        assert_eq!(p, Preferences::default());
        assert_eq!((p.occupied_temp, p.unoccupied_temp, p.min_temp, p.max_temp), (21.0, 17.0, 10.0, 28.0));
        p.validate().unwrap();
    }

    #[test]
    fn known_keys_parse_and_unknown_keys_survive_a_round_trip() {
        let v = json!({"occupied_temp": 22, "unoccupied_temp": 17.5, "eco": true, "note": {"by": "ops"}});
        let p = Preferences::from_json(v).unwrap();
        assert_eq!(p.occupied_temp, 22.0);
        assert_eq!(p.unoccupied_temp, 17.5);
        assert_eq!(p.extra.get("eco"), Some(&json!(true)));
        let out = p.to_json();
        assert_eq!(out["note"], json!({"by": "ops"}));
        assert_eq!(out["min_temp"], json!(10.0));
        // serde agrees with the explicit functions.
        let via_serde: Preferences = serde_json::from_value(out.clone()).unwrap();
        assert_eq!(via_serde, p);
        assert_eq!(serde_json::to_value(&p).unwrap(), out);
    }

    #[test]
    fn null_means_default() {
        let p = Preferences::from_json(json!({"max_temp": null})).unwrap();
        assert_eq!(p.max_temp, 28.0);
        assert!(p.extra.is_empty());
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = Preferences::from_json(json!({"occupied_temp": "warm"})).unwrap_err();
        assert_eq!(e.0, "preferences.occupied_temp: must be a number (°C), got a string");
        let e = Preferences::from_json(json!([1, 2])).unwrap_err();
        assert!(e.0.contains("must be a JSON object"), "{e}");
        assert!(serde_json::from_value::<Preferences>(json!({"min_temp": []})).is_err());
    }

    #[test]
    fn range_errors_name_the_field() {
        for (key, value) in [("occupied_temp", 4.9), ("unoccupied_temp", 35.1), ("min_temp", -3.0), ("max_temp", 40.0)]
        {
            let e = Preferences::parse_valid(json!({ key: value })).unwrap_err();
            assert!(e.0.starts_with(&format!("preferences.{key}: ")), "{e}");
            assert!(e.0.contains("5..=35"), "{e}");
        }
        assert!(Preferences::parse_valid(json!({"min_temp": 5.0, "max_temp": 35.0})).is_ok());
    }

    #[test]
    fn min_must_not_exceed_max() {
        let e = Preferences::parse_valid(json!({"min_temp": 25.0, "max_temp": 20.0})).unwrap_err();
        assert!(e.0.starts_with("preferences.min_temp:") && e.0.contains("max_temp"), "{e}");
        assert!(Preferences::parse_valid(json!({"min_temp": 20.0, "max_temp": 20.0})).is_ok());
    }

    #[test]
    fn targets_outside_the_bounds_are_allowed_and_clamped() {
        let p = Preferences::parse_valid(json!({"occupied_temp": 30.0, "unoccupied_temp": 6.0})).unwrap();
        assert_eq!(p.target_for(true), 28.0);
        assert_eq!(p.target_for(false), 10.0);
        assert_eq!(p.clamp(19.0), 19.0);
    }

    #[test]
    fn schedule_and_weather_preferences() {
        let p = Preferences::parse_valid(json!({
            "schedule": [{"when": "mon-fri 07:00-09:00", "temp": 21.5}],
            "weather_warm_threshold": 18,
            "weather_cold_threshold": -5,
            "weather_location": "Berlin"
        }))
        .unwrap();
        assert_eq!(p.schedule[0].when.to_string(), "mon-fri 07:00-09:00");
        assert_eq!(p.weather_cold_threshold, Some(-5.0));
        assert_eq!(p.to_json()["schedule"], json!([{"when": "mon-fri 07:00-09:00", "temp": 21.5}]));
        let e = Preferences::from_json(json!({"schedule": [{"when": "someday", "temp": 20}]})).unwrap_err();
        assert!(e.0.starts_with("preferences.schedule:"), "{e}");
        let e = Preferences::parse_valid(json!({"schedule": [{"when": "daily 07:00-09:00", "temp": 40}]})).unwrap_err();
        assert!(e.0.starts_with("preferences.schedule[0].temp:"), "{e}");
        let e = Preferences::parse_valid(json!({"weather_warm_offset": 9})).unwrap_err();
        assert!(e.0.starts_with("preferences.weather_warm_offset:"), "{e}");
    }

    #[test]
    fn control_strategy_is_typed_and_normalized() {
        let p = Preferences::parse_valid(json!({"control_strategy": "predictive"})).unwrap();
        assert_eq!(p.control_strategy, Some(ControlStrategy::Predictive));
        assert!(p.extra.is_empty(), "a known key, not kept as unknown");
        // Accepted before (trimmed, any case): still accepted, and stored normalized.
        let p = Preferences::parse_valid(json!({"control_strategy": "  Scheduled "})).unwrap();
        assert_eq!(p.control_strategy, Some(ControlStrategy::Scheduled));
        assert_eq!(p.to_json()["control_strategy"], json!("scheduled"));
        for s in ControlStrategy::ALL {
            let p = Preferences::from_json(json!({ "control_strategy": s.as_str() })).unwrap();
            assert_eq!(p.control_strategy, Some(s));
            assert_eq!(p.to_json()["control_strategy"], json!(s.to_string()));
        }
        assert_eq!(Preferences::from_json(json!({"control_strategy": null})).unwrap().control_strategy, None);
    }

    #[test]
    fn control_strategy_errors_name_the_field_and_the_allowed_values() {
        let e = Preferences::from_json(json!({"control_strategy": "predictiv"})).unwrap_err();
        assert_eq!(
            e.0,
            "preferences.control_strategy: unknown strategy \"predictiv\" \
             (expected one of: constant, reactive, scheduled, predictive)"
        );
        let e = Preferences::from_json(json!({"control_strategy": 3})).unwrap_err();
        assert_eq!(
            e.0,
            "preferences.control_strategy: must be a string, one of: constant, reactive, scheduled, predictive; \
             got a number"
        );
        assert!(Preferences::from_json(json!({"control_strategy": ""})).is_err());
    }

    #[test]
    fn strategy_names_parse_display_and_serde_alike() {
        for s in ControlStrategy::ALL {
            assert_eq!(s.as_str().parse::<ControlStrategy>().unwrap(), s);
            assert_eq!(format!(" {} ", s.as_str().to_uppercase()).parse::<ControlStrategy>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
            assert_eq!(serde_json::from_value::<ControlStrategy>(json!(s.as_str())).unwrap(), s);
        }
        let e = "pid".parse::<ControlStrategy>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown control strategy \"pid\" (expected constant, reactive, scheduled or predictive)"
        );
    }

    #[test]
    fn occupancy_schedule_is_parsed_with_the_schedule_grammar() {
        let p = Preferences::parse_valid(json!({"occupancy_schedule": ["mon-fri 08:30-17:30", " Sat 10:00-12:00"]}))
            .unwrap();
        let s = p.occupancy_schedule.as_ref().unwrap();
        assert_eq!(s.entries().len(), 2);
        let monday_noon = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().and_hms_opt(12, 0, 0).unwrap();
        assert!(s.is_active(monday_noon));
        assert!(p.extra.is_empty());
        assert_eq!(p.to_json()["occupancy_schedule"], json!(["mon-fri 08:30-17:30", "sat 10:00-12:00"]), "normalized");
        let empty = Preferences::from_json(json!({"occupancy_schedule": []})).unwrap();
        assert_eq!(empty.occupancy_schedule.as_ref().map(WeeklySchedule::is_empty), Some(true));
        assert_eq!(empty.to_json()["occupancy_schedule"], json!([]));
        assert_eq!(Preferences::from_json(json!({"occupancy_schedule": null})).unwrap().occupancy_schedule, None);
    }

    #[test]
    fn occupancy_schedule_errors_name_the_field_and_the_entry() {
        let e = Preferences::from_json(json!({"occupancy_schedule": ["mon-fri 08:30-17:30", "someday"]})).unwrap_err();
        assert!(e.0.starts_with("preferences.occupancy_schedule[1]: schedule entry \"someday\": "), "{e}");
        assert!(e.0.contains("expected e.g."), "{e}");
        let e = Preferences::from_json(json!({"occupancy_schedule": "mon-fri 08:30-17:30"})).unwrap_err();
        assert_eq!(
            e.0,
            "preferences.occupancy_schedule: must be an array of entries such as \"mon-fri 08:30-17:30\", got a string"
        );
        let e = Preferences::from_json(json!({"occupancy_schedule": [8]})).unwrap_err();
        assert!(e.0.starts_with("preferences.occupancy_schedule[0]: must be a string"), "{e}");
        let e = Preferences::from_json(json!({"occupancy_schedule": ["mon-fri 25:00-26:00"]})).unwrap_err();
        assert!(e.0.starts_with("preferences.occupancy_schedule[0]: ") && e.0.contains("25:00"), "{e}");
    }

    #[test]
    fn every_key_round_trips_and_unset_ones_are_written_as_null() {
        let d = Preferences::default().to_json();
        assert_eq!(d["control_strategy"], Value::Null);
        assert_eq!(d["occupancy_schedule"], Value::Null);
        assert_eq!(Preferences::from_json(d).unwrap(), Preferences::default());
        let full = json!({
            "occupied_temp": 22.0, "unoccupied_temp": 16.0, "min_temp": 12.0, "max_temp": 26.0,
            "schedule": [{"when": "mon-fri 07:00-09:00", "temp": 21.5}],
            "weather_warm_threshold": 19.0, "weather_warm_offset": 0.5, "weather_cold_threshold": -3.0,
            "weather_cold_offset": 1.0, "weather_location": "Berlin",
            "control_strategy": "predictive", "occupancy_schedule": ["mon-fri 08:30-17:30"], "custom": [1]
        });
        let p = Preferences::parse_valid(full.clone()).unwrap();
        assert_eq!(p.to_json(), full);
        assert_eq!(Preferences::from_json(p.to_json()).unwrap(), p);
        assert_eq!(serde_json::from_value::<Preferences>(serde_json::to_value(&p).unwrap()).unwrap(), p);
        // Reset through a merge.
        let m = p.merged(json!({"control_strategy": null, "occupancy_schedule": null})).unwrap();
        assert_eq!((m.control_strategy, m.occupancy_schedule), (None, None));
        let m = p.merged(json!({"control_strategy": "Reactive"})).unwrap();
        assert_eq!(m.control_strategy, Some(ControlStrategy::Reactive));
        assert_eq!(m.occupancy_schedule, p.occupancy_schedule, "untouched");
        assert!(p.merged(json!({"control_strategy": "predictiv"})).unwrap_err().0.contains("expected one of"));
    }

    #[test]
    fn stored_documents_with_unreadable_values_load_with_the_defaults() {
        // What an earlier version accepted and stored: any value under the then-unknown keys.
        let legacy = json!({"occupied_temp": 22.0, "control_strategy": "predictiv",
                            "occupancy_schedule": "weekdays", "note": "kept"});
        assert!(Preferences::from_json(legacy.clone()).is_err());
        let mut dropped = Vec::new();
        let p = Preferences::from_stored(legacy, |e| dropped.push(e.0)).unwrap();
        assert_eq!(p.occupied_temp, 22.0);
        assert_eq!((p.control_strategy, p.occupancy_schedule.as_ref()), (None, None));
        assert_eq!(p.extra.get("note"), Some(&json!("kept")));
        assert!(!p.extra.contains_key("control_strategy") && !p.extra.contains_key("occupancy_schedule"));
        assert_eq!(dropped.len(), 2, "{dropped:?}");
        assert!(dropped[0].starts_with("preferences.control_strategy: unknown strategy"), "{dropped:?}");
        assert!(dropped[1].starts_with("preferences.occupancy_schedule: "), "{dropped:?}");
        // Any known key: the bad value is dropped, the rest kept.
        let p = Preferences::from_stored(json!({"max_temp": "hot", "min_temp": 11.0}), |_| {}).unwrap();
        assert_eq!((p.min_temp, p.max_temp), (11.0, 28.0));
        // Readable documents load exactly as from_json reads them, and nothing is reported.
        let good = json!({"control_strategy": " Predictive", "occupancy_schedule": ["daily 07:00-22:00"], "x": 1});
        let p = Preferences::from_stored(good.clone(), |e| panic!("{e}")).unwrap();
        assert_eq!(p, Preferences::from_json(good).unwrap());
        // Not an object: still an error.
        assert!(Preferences::from_stored(json!([1]), |_| {}).is_err());
    }

    #[test]
    fn merge_replaces_given_keys_only() {
        let base = Preferences::from_json(json!({"occupied_temp": 22.0, "keep": 1, "drop": 2})).unwrap();
        let m = base.merged(json!({"unoccupied_temp": 16.0, "drop": null, "occupied_temp": null})).unwrap();
        assert_eq!(m.occupied_temp, 21.0, "null resets to the default");
        assert_eq!(m.unoccupied_temp, 16.0);
        assert_eq!(m.extra.get("keep"), Some(&json!(1)));
        assert!(!m.extra.contains_key("drop"));
        assert!(base.merged(json!("x")).is_err());
        assert!(base.merged(json!({"max_temp": "hot"})).unwrap_err().0.contains("preferences.max_temp"));
    }
}
