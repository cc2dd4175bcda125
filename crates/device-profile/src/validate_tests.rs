use super::*;

/// A valid profile with `extra` appended (extra points) and `replace` pairs applied to the base text.
fn profile(replace: &[(&str, &str)], extra: &str) -> String {
    let mut text = String::from(
        "format = 1\nname = \"ok-1\"\nversion = 1\ndescription = \"valid\"\n\
         [points.air_temperature]\ntable = \"holding\"\naddress = 0\ntype = \"int16\"\nscale = 0.1\n\
         [points.target]\ntable = \"holding\"\naddress = 1\ntype = \"int16\"\nscale = 0.1\nwrite = \"fc06\"\n\
         min = 5.0\nmax = 35.0\nstep = 0.1\n",
    );
    for (from, to) in replace {
        assert!(text.contains(from), "{from:?} not in the base profile");
        text = text.replacen(from, to, 1);
    }
    text + extra
}

fn error(replace: &[(&str, &str)], extra: &str) -> String {
    Profile::from_toml(&profile(replace, extra)).expect_err("must be refused").to_string()
}

#[test]
fn the_base_profile_is_valid() {
    let p = Profile::from_toml(&profile(&[], "")).unwrap();
    assert_eq!((p.max_gap, p.unit_id, p.points.iter().count()), (8, None, 2));
}

#[test]
fn unsupported_or_missing_format() {
    assert_eq!(
        error(&[("format = 1", "format = 2")], ""),
        "format: unsupported format version 2; this build reads format = 1"
    );
    assert_eq!(error(&[("format = 1\n", "")], ""), "format: missing; this build reads format = 1");
    assert_eq!(
        error(&[("format = 1", "format = \"1\"")], ""),
        "format: unsupported format version \"1\"; this build reads format = 1"
    );
}

#[test]
fn not_toml() {
    let e = Profile::from_toml("format = = 1").unwrap_err();
    assert!(matches!(e, ProfileError::Syntax(_)));
    assert!(!e.to_string().contains('\n'), "one line: {e}");
}

#[test]
fn unknown_fields_are_refused_at_every_level() {
    let top = error(&[], "colour = \"red\"\n");
    // A top-level key after the last table belongs to that table; put one before the points instead.
    assert!(top.contains("unknown field `colour`"), "{top}");
    let e = error(&[("version = 1", "version = 1\ncolour = \"red\"")], "");
    assert!(e.contains("unknown field `colour`"), "{e}");
    let e = error(&[], "[points.co2]\ntable = \"input\"\naddress = 9\ntype = \"uint16\"\n");
    assert!(e.contains("unknown field `co2`"), "{e}");
    let e = error(&[("scale = 0.1\n[points.target]", "scale = 0.1\nscael = 2\n[points.target]")], "");
    assert!(e.contains("unknown field `scael`"), "{e}");
}

#[test]
fn missing_required_fields_are_named() {
    let e = error(&[("description = \"valid\"\n", "")], "");
    assert!(e.contains("missing field `description`"), "{e}");
    let e = error(&[("address = 0\n", "")], "");
    assert!(e.contains("missing field `address`"), "{e}");
}

#[test]
fn name_syntax() {
    for bad in ["Upper", "with space", "", "under_score", &"a".repeat(65)] {
        let e = error(&[("name = \"ok-1\"", &format!("name = \"{bad}\""))], "");
        assert_eq!(e, format!("name: {bad:?} must match [a-z0-9-]{{1,64}}"));
    }
    assert!(
        Profile::from_toml(&profile(&[("name = \"ok-1\"", &format!("name = \"{}\"", "a".repeat(64)))], "")).is_ok()
    );
}

#[test]
fn empty_description() {
    assert_eq!(error(&[("description = \"valid\"", "description = \" \"")], ""), "description: must not be empty");
}

#[test]
fn overlapping_points_in_one_table() {
    let e = error(&[], "[points.energy]\ntable = \"holding\"\naddress = 0\ntype = \"uint32\"\n");
    assert_eq!(e, "points.energy.address: holding 0 overlaps points.air_temperature (holding 0..1)");
    let e = error(
        &[],
        "[points.energy]\ntable = \"holding\"\naddress = 2\ntype = \"uint32\"\n[points.heater]\ntable = \"holding\"\naddress = 3\ntype = \"bool\"\n",
    );
    assert_eq!(e, "points.heater.address: holding 3 overlaps points.energy (holding 2..4)");
    // The same address in another table is no overlap.
    let ok = profile(&[], "[points.energy]\ntable = \"input\"\naddress = 0\ntype = \"uint32\"\n");
    assert!(Profile::from_toml(&ok).is_ok());
}

#[test]
fn a_type_that_does_not_fit_its_table() {
    let e = error(&[], "[points.heater]\ntable = \"coil\"\naddress = 0\ntype = \"uint16\"\n");
    assert_eq!(e, "points.heater.type: a coil holds one bit: the type must be bool, not uint16");
    let e = error(&[], "[points.humidity]\ntable = \"discrete_input\"\naddress = 0\ntype = \"int32\"\n");
    assert_eq!(e, "points.humidity.type: a discrete_input holds one bit: the type must be bool, not int32");
}

#[test]
fn flags_are_bool_and_numbers_are_not() {
    let e = error(&[], "[points.occupancy]\ntable = \"holding\"\naddress = 5\ntype = \"uint16\"\n");
    assert_eq!(e, "points.occupancy.type: occupancy is on/off: the type must be bool, not uint16");
    let e = error(&[], "[points.humidity]\ntable = \"holding\"\naddress = 5\ntype = \"bool\"\n");
    assert_eq!(e, "points.humidity.type: humidity cannot be bool: it is a number");
    let e = error(&[], "[points.heater]\ntable = \"holding\"\naddress = 5\ntype = \"bool\"\nscale = 2.0\n");
    assert_eq!(e, "points.heater.scale: heater is on/off: no scale or offset");
}

#[test]
fn word_order_only_on_32_bit_types() {
    let e = error(&[("scale = 0.1\n[points.target]", "scale = 0.1\nword_order = \"little\"\n[points.target]")], "");
    assert_eq!(e, "points.air_temperature.word_order: applies to 32-bit types only, not int16");
}

#[test]
fn a_scale_of_zero() {
    let e = error(&[("scale = 0.1\n[points.target]", "scale = 0.0\n[points.target]")], "");
    assert_eq!(e, "points.air_temperature.scale: 0 must be a finite number other than 0");
    let e = error(&[("scale = 0.1\n[points.target]", "scale = nan\n[points.target]")], "");
    assert_eq!(e, "points.air_temperature.scale: NaN must be a finite number other than 0");
    let e = error(&[("scale = 0.1\n[points.target]", "scale = 0.1\noffset = inf\n[points.target]")], "");
    assert_eq!(e, "points.air_temperature.offset: inf must be a finite number");
}

#[test]
fn a_point_past_the_end_of_the_table() {
    let e = error(&[], "[points.energy]\ntable = \"input\"\naddress = 65535\ntype = \"uint32\"\n");
    assert_eq!(e, "points.energy.address: 65535 + 2 register(s) passes the end of the table (last address 65535)");
    let ok = profile(&[], "[points.energy]\ntable = \"input\"\naddress = 65534\ntype = \"uint32\"\n");
    assert!(Profile::from_toml(&ok).is_ok(), "65534..=65535 is the last pair");
    let e = error(&[], "[points.energy]\ntable = \"input\"\naddress = 65536\ntype = \"uint32\"\n");
    assert!(e.contains("address"), "{e}");
}

#[test]
fn a_target_without_a_write_function() {
    let e = error(&[("write = \"fc06\"\n", "")], "");
    assert_eq!(e, "points.target.write: the target needs a write function: \"fc06\", \"fc16\" or \"fc05\"");
    let e = error(&[("write = \"fc06\"", "write = \"fc03\"")], "");
    assert!(e.contains("unknown variant `fc03`"), "{e}");
}

#[test]
fn a_target_without_its_range() {
    assert_eq!(error(&[("step = 0.1\n", "")], ""), "points.target.step: the target needs min, max and step");
    assert_eq!(error(&[("min = 5.0\n", "")], ""), "points.target.min: the target needs min, max and step");
}

#[test]
fn fc05_only_on_a_coil() {
    let e = error(&[("write = \"fc06\"", "write = \"fc05\"")], "");
    assert_eq!(e, "points.target.write: fc05 writes a coil, but the target is a holding point");
    let coil = "table = \"coil\"\naddress = 1\ntype = \"bool\"\nscale = 4.0\noffset = 17.0\nwrite = \"fc06\"\n\
                min = 17.0\nmax = 21.0\nstep = 4.0\n";
    let base = "table = \"holding\"\naddress = 1\ntype = \"int16\"\nscale = 0.1\nwrite = \"fc06\"\nmin = 5.0\n\
                max = 35.0\nstep = 0.1\n";
    let e = error(&[(base, coil)], "");
    assert_eq!(e, "points.target.write: fc06 writes registers, but the target is a coil (use fc05)");
    let e = error(&[(base, &coil.replace("coil", "holding"))], "");
    assert_eq!(e, "points.target.type: a bool target is a coil written with fc05");
    let fc05 = coil.replace("fc06", "fc05");
    assert!(Profile::from_toml(&profile(&[(base, &fc05)], "")).is_ok());
    let e = error(&[(base, &fc05.replace("step = 4.0", "step = 1.0"))], "");
    assert!(e.starts_with("points.target.step: a coil target has two values"), "{e}");
}

#[test]
fn fc06_on_a_32_bit_target() {
    let e = error(&[("type = \"int16\"\nscale = 0.1\nwrite", "type = \"float32\"\nscale = 1.0\nwrite")], "");
    assert_eq!(e, "points.target.write: fc06 writes one register, but a float32 takes two (use fc16)");
}

#[test]
fn a_target_on_a_read_only_table() {
    let e = error(&[("table = \"holding\"\naddress = 1", "table = \"input\"\naddress = 1")], "");
    assert_eq!(e, "points.target.table: input is read-only: the target must be writable");
}

#[test]
fn min_not_below_max() {
    let e = error(&[("min = 5.0", "min = 35.0")], "");
    assert_eq!(e, "points.target.min: min 35 must be below max 35");
    let e = error(&[("min = 5.0", "min = 36.0")], "");
    assert_eq!(e, "points.target.min: min 36 must be below max 35");
}

#[test]
fn step_not_above_zero() {
    assert_eq!(error(&[("step = 0.1", "step = 0.0")], ""), "points.target.step: 0 must be above 0");
    assert_eq!(error(&[("step = 0.1", "step = -0.5")], ""), "points.target.step: -0.5 must be above 0");
}

#[test]
fn step_finer_than_the_register() {
    let e = error(&[("step = 0.1", "step = 0.25")], "");
    assert_eq!(e, "points.target.step: 0.25 is not a whole number of the register's units (scale 0.1)");
    let e = error(&[("step = 0.1", "step = 0.05")], "");
    assert!(e.starts_with("points.target.step: 0.05 is not a whole number"), "{e}");
    assert!(Profile::from_toml(&profile(&[("step = 0.1", "step = 0.5")], "")).is_ok());
}

#[test]
fn a_range_the_register_cannot_hold() {
    let e = error(&[("type = \"int16\"\nscale = 0.1\nwrite", "type = \"int16\"\nscale = 0.001\nwrite")], "");
    assert_eq!(e, "points.target.max: 35 does not fit a int16 with scale 0.001");
    let e = error(&[("max = 35.0", "max = 150.0")], "");
    assert_eq!(e, "points.target.min: min..=max 5..=150 must lie within -60..=120 °C");
}

#[test]
fn write_spec_on_another_point() {
    let e = error(&[("scale = 0.1\n[points.target]", "scale = 0.1\nmax = 3.0\n[points.target]")], "");
    assert_eq!(e, "points.air_temperature.max: only the target has a write spec");
}

#[test]
fn energy_is_an_unsigned_counter() {
    let e = error(&[], "[points.energy]\ntable = \"input\"\naddress = 0\ntype = \"float32\"\n");
    assert_eq!(e, "points.energy.type: the energy counter must be uint16 or uint32, not float32");
    let e = error(&[], "[points.energy]\ntable = \"input\"\naddress = 0\ntype = \"uint16\"\nscale = -1.0\n");
    assert_eq!(e, "points.energy.scale: a counter's scale must be positive");
    let e = error(&[], "[points.energy]\ntable = \"input\"\naddress = 0\ntype = \"uint16\"\nwraps_at = 0.0\n");
    assert_eq!(e, "points.energy.wraps_at: 0 must be a positive number of Wh");
    let e = error(&[], "[points.humidity]\ntable = \"input\"\naddress = 0\ntype = \"uint16\"\nwraps_at = 10.0\n");
    assert_eq!(e, "points.humidity.wraps_at: only the energy counter wraps");
}

#[test]
fn rated_power_constant_in_range() {
    let e = error(&[("version = 1", "version = 1\nrated_power_w = -5.0")], "");
    assert_eq!(e, "rated_power_w: -5 is outside 0..=1000000 W");
}

#[test]
fn errors_are_one_line() {
    for text in ["[points", "format = 1\nname = 3", "format = 1\nname = \"x\"\n[points.air_temperature]\nbad = 1"] {
        let e = Profile::from_toml(text).unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
    }
}
