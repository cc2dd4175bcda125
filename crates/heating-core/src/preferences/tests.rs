//! Unit tests of the preferences: parsing, validation, merging, stored documents.

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
    for (key, value) in [("occupied_temp", 4.9), ("unoccupied_temp", 35.1), ("min_temp", -3.0), ("max_temp", 40.0)] {
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
    let p =
        Preferences::parse_valid(json!({"occupancy_schedule": ["mon-fri 08:30-17:30", " Sat 10:00-12:00"]})).unwrap();
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
        "control_strategy": "predictive", "occupancy_schedule": ["mon-fri 08:30-17:30"],
        "storage_max_temp": 24.0, "occupied_max_temp": 22.5, "custom": [1]
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

#[test]
fn comfort_ceilings_default_to_the_comfort_temperature() {
    let p = Preferences::default();
    assert_eq!((p.storage_max_temp, p.occupied_max_temp), (None, None));
    // Unset: the planner's rule before the ceilings existed.
    assert_eq!((p.ceiling(false, 0.0), p.ceiling(true, 0.0)), (21.0, 21.0));
    assert_eq!(p.ceiling(true, 1.0), 22.0);
    let p = Preferences::parse_valid(json!({"storage_max_temp": 24, "occupied_max_temp": 22})).unwrap();
    assert_eq!((p.ceiling(false, 0.0), p.ceiling(true, 0.0)), (24.0, 22.0));
    assert_eq!(p.to_json()["storage_max_temp"], json!(24.0));
    // Never above max_temp.
    let p = Preferences::parse_valid(json!({"storage_max_temp": 30, "max_temp": 26})).unwrap();
    assert_eq!(p.ceiling(false, 0.0), 26.0);
    assert_eq!(Preferences::from_json(json!({"storage_max_temp": null})).unwrap().storage_max_temp, None);
}

#[test]
fn comfort_ceilings_are_validated_naming_the_key() {
    for (body, key, words) in [
        (json!({"storage_max_temp": 36}), "storage_max_temp", "5..=35"),
        (json!({"occupied_max_temp": 4}), "occupied_max_temp", "5..=35"),
        (json!({"occupied_max_temp": 20.5}), "occupied_max_temp", "occupied_temp (21 °C)"),
        (json!({"storage_max_temp": 20}), "storage_max_temp", "occupied_temp (21 °C)"),
        (
            json!({"storage_max_temp": 19, "occupied_temp": 18, "unoccupied_temp": 19.5}),
            "storage_max_temp",
            "unoccupied_temp",
        ),
    ] {
        let e = Preferences::parse_valid(body.clone()).unwrap_err();
        assert!(e.0.starts_with(&format!("preferences.{key}: ")) && e.0.contains(words), "{body}: {e}");
    }
    let e = Preferences::from_json(json!({"storage_max_temp": "warm"})).unwrap_err();
    assert_eq!(e.0, "preferences.storage_max_temp: must be a number (°C), got a string");
    assert!(Preferences::parse_valid(json!({"storage_max_temp": 21, "occupied_max_temp": 21})).is_ok());
}
