//! Device profiles: the Modbus register map of one kind of room controller, as data.
//!
//! Real thermostats differ in everything (tables, data types, scales, word order, which quantities exist at all,
//! how the setpoint is written). A [`Profile`] says it all in a small TOML file, validated on load
//! ([`Profile::from_toml`], errors naming the field), and this crate turns it into requests and values without any
//! I/O: a [`ReadPlan`] (the points merged into as few reads as the protocol allows), decoding with plausibility
//! checks ([`Profile::decode_values`] → [`DeviceValues`] or an [`InvalidReading`] naming the point and the raw
//! registers), encoding of a target ([`Target::encode`]: rounded to the device's step, range-checked), and
//! [`Capabilities`] (what the device can tell, so the server knows what to infer or estimate).
//!
//! # Format (version 1)
//!
//! `example.toml` in this crate explains every field in place. In short:
//!
//! | field | meaning |
//! |---|---|
//! | `format` | the file format, `1` (anything else is refused) |
//! | `name` | `[a-z0-9-]{1,64}`, what a zone's `device_profile` names |
//! | `version` | the profile's own revision |
//! | `description` | one line, not empty |
//! | `manufacturer`, `model` | optional, for people |
//! | `unit_id` | optional: the device's usual unit id |
//! | `max_gap` | registers (bits) one read may bridge between points, default 8 |
//! | `rated_power_w` | optional heater power in W when no `rated_power` point exists |
//! | `[points.<kind>]` | `air_temperature` and `target` required; `occupancy`, `heater`, `energy`, `outdoor_temperature`, `rated_power`, `valve_position`, `window_contact`, `humidity`, `supply_temperature` optional |
//!
//! Each point: `table` (`holding`, `input`, `coil`, `discrete_input`), `address` (0-based protocol address),
//! `type` (`int16`, `uint16`, `int32`, `uint32`, `float32`, `bool`), `word_order` (`big` default, `little`; 32-bit
//! types only), `scale` (default 1, not 0), `offset` (default 0): **value = raw × scale + offset**; `rounding`
//! (`nearest` default, `toward_zero`: how the device makes its raw integer; used by the simulator). The target
//! adds `write` (`fc06`, `fc16`, `fc05`), `min`, `max`, `step`; the energy counter may add `wraps_at` (Wh).
//! `bool` on a coil or discrete input is the bit; on a holding or input register it is a register holding 0 or 1.
//! The rules are listed on [`Profile::validate`]; physical ranges on [`PointKind::plausible_range`].
//!
//! # Built-in profiles
//!
//! [`builtins`]: `heating-sim` (this project's simulator, README's register map, the default), `prototype-v1` (the
//! Python prototype's four registers, truncated temperature), `thermo-f32` (float32 little-endian on input
//! registers, FC16-only setpoint, no occupancy, three reads), `relay-coil` (coil heater, discrete-input occupancy,
//! no energy meter, constant rated power, ×0.01 and ×0.5 with offset).

mod codec;
mod model;
mod plan;
mod validate;
mod values;

pub use codec::{DecodeError, EncodeError, EncodedTarget, Raw, Target};
pub use model::{
    DEFAULT_MAX_GAP, DataType, FORMAT_VERSION, Point, PointKind, Points, Profile, Rounding, Table, WordOrder,
    WriteFunction,
};
pub use plan::{Block, ReadPlan, Slot};
pub use validate::ProfileError;
pub use values::{Capabilities, DeviceValues, InvalidReading};

/// The profile of zones that name none: this project's simulator, README's register map.
pub const DEFAULT_PROFILE: &str = "heating-sim";

/// The built-in profiles' sources, by name.
const BUILTIN_SOURCES: [(&str, &str); 4] = [
    ("heating-sim", include_str!("../profiles/heating-sim.toml")),
    ("prototype-v1", include_str!("../profiles/prototype-v1.toml")),
    ("thermo-f32", include_str!("../profiles/thermo-f32.toml")),
    ("relay-coil", include_str!("../profiles/relay-coil.toml")),
];

/// The names of the built-in profiles, in a stable order (the default first).
#[must_use]
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN_SOURCES.iter().map(|(name, _)| *name).collect()
}

/// A built-in profile by name.
#[must_use]
pub fn builtin(name: &str) -> Option<Profile> {
    let (_, source) = BUILTIN_SOURCES.iter().find(|(n, _)| *n == name)?;
    // Every built-in is parsed and validated by this crate's tests; a failure here is a bug in this crate.
    Some(Profile::from_toml(source).expect("built-in profiles are valid"))
}

/// Every built-in profile, in [`builtin_names`] order.
#[must_use]
pub fn builtins() -> Vec<Profile> {
    builtin_names().into_iter().filter_map(builtin).collect()
}

/// The TOML source of a built-in profile (what `GET /device-profiles` can show as written).
#[must_use]
pub fn builtin_source(name: &str) -> Option<&'static str> {
    BUILTIN_SOURCES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_validates_and_is_named_as_listed() {
        for (name, source) in BUILTIN_SOURCES {
            let profile = Profile::from_toml(source).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(profile.name, name);
        }
        assert_eq!(builtins().len(), 4);
        assert_eq!(builtin_names()[0], DEFAULT_PROFILE);
        assert!(builtin("nope").is_none());
    }

    #[test]
    fn the_commented_example_is_a_valid_profile() {
        let p = Profile::from_toml(include_str!("../example.toml")).unwrap();
        assert_eq!(p.points.iter().count(), PointKind::ALL.len(), "the example shows every point");
    }

    #[test]
    fn heating_sim_is_readmes_register_map() {
        let p = builtin("heating-sim").unwrap();
        let plan = ReadPlan::new(&p);
        assert_eq!(plan.blocks, vec![Block { table: Table::Holding, start: 0, count: 8 }]);
        // The words of heating-core's own register test: 21.0 °C, target 21.0, occupied, heater off, 65538 Wh,
        // -3.3 °C, 2500 W.
        let answers = vec![vec![210, 210, 1, 0, 1, 2, (-33i16) as u16, 2500]];
        let v = p.decode_values(&plan, &answers).unwrap();
        assert_eq!(v.air_temperature, 21.0);
        assert_eq!(v.target, 21.0);
        assert_eq!((v.occupied, v.heater_on), (Some(true), Some(false)));
        assert_eq!(v.energy_wh, Some(65538.0));
        assert_eq!(v.outdoor_temperature, Some(-3.3));
        assert_eq!(v.rated_power_w, Some(2500.0));
        let t = p.target();
        assert_eq!((t.write, t.min, t.max, t.step), (WriteFunction::Fc06, 5.0, 35.0, 0.1));
        assert_eq!(t.encode(21.5).unwrap().words, vec![215]);
        // Target outside 50..=350 is not a value, as heating-core's decoder says.
        let mut bad = answers.clone();
        bad[0][1] = 351;
        let e = p.decode_values(&plan, &bad).unwrap_err();
        assert_eq!(e.point, PointKind::Target);
        assert_eq!(
            e.to_string(),
            "invalid reading of target at holding 1 [0x015f] = 35.1: outside the plausible range 5..=35 °C"
        );
    }

    #[test]
    fn capabilities_follow_the_points() {
        let all = builtin("heating-sim").unwrap().capabilities();
        assert!(all.occupancy && all.heater && all.energy && all.outdoor_temperature && all.rated_power);
        assert!(!all.humidity && !all.valve_position && !all.window_contact && !all.supply_temperature);
        let proto = builtin("prototype-v1").unwrap().capabilities();
        assert!(proto.occupancy && proto.heater && !proto.energy && !proto.outdoor_temperature && !proto.rated_power);
        let relay = builtin("relay-coil").unwrap().capabilities();
        assert!(relay.occupancy && relay.heater && !relay.energy && relay.rated_power && relay.window_contact);
        let f32 = builtin("thermo-f32").unwrap().capabilities();
        assert!(!f32.occupancy && f32.heater && f32.energy && f32.humidity && f32.supply_temperature);
    }

    #[test]
    fn builtins_plan_as_documented() {
        let counts: Vec<_> = builtins().iter().map(|p| (p.name.clone(), ReadPlan::new(p).blocks.len())).collect();
        let expect = [("heating-sim", 1), ("prototype-v1", 1), ("thermo-f32", 3), ("relay-coil", 4)];
        assert_eq!(counts, expect.map(|(n, c)| (n.to_string(), c)).to_vec());
    }

    #[test]
    fn relay_coil_takes_its_rated_power_from_the_profile() {
        let p = builtin("relay-coil").unwrap();
        let plan = ReadPlan::new(&p);
        // holding 0 (target), input 0-1, coil 0, discrete inputs 0-1.
        let answers = vec![vec![42], vec![(-512i16) as u16, 70], vec![1], vec![0, 1]];
        let v = p.decode_values(&plan, &answers).unwrap();
        assert_eq!(v.target, 21.0);
        assert_eq!(v.air_temperature, -5.12);
        assert_eq!(v.outdoor_temperature, Some(-5.0));
        assert_eq!((v.heater_on, v.occupied, v.window_open), (Some(true), Some(false), Some(true)));
        assert_eq!((v.energy_wh, v.rated_power_w), (None, Some(2000.0)));
    }
}
