//! A zone's user preferences: the temperatures its occupants want, and the bounds no control decision may leave.
//!
//! Preferences travel as a JSON object. Every known key is optional and falls back to its default; keys this
//! version does not know are kept verbatim in [`Preferences::extra`] and written back, so a client that stores
//! its own settings next to ours loses nothing. Parsing ([`Preferences::from_json`]) checks types; [`validate`]
//! checks values. Both name the offending field in their message.
//!
//! Decisions:
//! - All temperatures are in °C and must lie within 5..=35 °C (the range a zone accepts as a target, see
//!   [`Setpoint`](crate::units::Setpoint)), and `min_temp <= max_temp`.
//! - `occupied_temp` and `unoccupied_temp` are *not* required to lie within `min_temp..=max_temp`: the bounds are
//!   a safety net that control clamps every target into, so a preference outside them is legal and simply clamped
//!   (see [`Preferences::clamp`]). Nor must `unoccupied_temp` be below `occupied_temp`.
//! - A known key set to JSON `null` means "not set" and takes the default, so a client can reset one value.
//!
//! Adding a field: add it to the struct and [`Default`], read it in [`Preferences::from_json`] (with
//! [`take_celsius`] or the generic [`take`]), and check it in [`Preferences::validate`]. Older stored documents
//! then get the default for it.
//!
//! [`validate`]: Preferences::validate

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::schedule::ScheduleEntry;

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
        let Value::Object(mut map) = value else {
            return Err(PreferencesError(format!("preferences must be a JSON object, got {}", json_kind(&value))));
        };
        let d = Self::default();
        Ok(Self {
            occupied_temp: take_celsius(&mut map, "occupied_temp")?.unwrap_or(d.occupied_temp),
            unoccupied_temp: take_celsius(&mut map, "unoccupied_temp")?.unwrap_or(d.unoccupied_temp),
            min_temp: take_celsius(&mut map, "min_temp")?.unwrap_or(d.min_temp),
            max_temp: take_celsius(&mut map, "max_temp")?.unwrap_or(d.max_temp),
            schedule: take(&mut map, "schedule")?.unwrap_or(d.schedule),
            weather_warm_threshold: take_celsius(&mut map, "weather_warm_threshold")?
                .unwrap_or(d.weather_warm_threshold),
            weather_warm_offset: take_celsius(&mut map, "weather_warm_offset")?.unwrap_or(d.weather_warm_offset),
            weather_cold_threshold: take_celsius(&mut map, "weather_cold_threshold")?,
            weather_cold_offset: take_celsius(&mut map, "weather_cold_offset")?.unwrap_or(d.weather_cold_offset),
            weather_location: take(&mut map, "weather_location")?,
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
            && (loc.trim().is_empty() || loc.len() > 200)
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
