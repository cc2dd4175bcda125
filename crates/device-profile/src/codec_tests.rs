use super::*;
use crate::model::{PointKind, Profile};

fn point(table: Table, data_type: DataType, word_order: Option<WordOrder>, scale: f64, offset: f64) -> Point {
    Point {
        table,
        address: 10,
        data_type,
        word_order,
        scale,
        offset,
        rounding: None,
        write: None,
        min: None,
        max: None,
        step: None,
        wraps_at: None,
    }
}

fn reg(data_type: DataType, order: WordOrder, scale: f64) -> Point {
    let order = (data_type.width() == 2).then_some(order);
    point(Table::Holding, data_type, order, scale, 0.0)
}

/// Every integer type × word order × scale: known words decode to known values, and encode back to the same words.
#[test]
fn integer_types_by_word_order_and_scale() {
    use DataType::*;
    use WordOrder::*;
    // (type, order, scale, words, value)
    let cases: &[(DataType, WordOrder, f64, &[u16], f64)] = &[
        (Int16, Big, 1.0, &[0x7FFF], 32767.0),
        (Int16, Big, 0.1, &[0xFFDF], -3.3),
        (Int16, Big, 0.01, &[0xFE00], -5.12),
        (Int16, Big, 0.5, &[0xFFF6], -5.0),
        (Int16, Big, 10.0, &[0x8000], -327_680.0),
        (Uint16, Big, 1.0, &[0xFFFF], 65535.0),
        (Uint16, Big, 0.1, &[0xFFFF], 6553.5),
        (Uint16, Big, 0.5, &[42], 21.0),
        (Int32, Big, 1.0, &[0xFFFF, 0xFFFE], -2.0),
        (Int32, Little, 1.0, &[0xFFFE, 0xFFFF], -2.0),
        (Int32, Big, 0.1, &[0x0001, 0x0000], 6553.6),
        (Int32, Little, 0.1, &[0x0000, 0x0001], 6553.6),
        (Int32, Big, 0.01, &[0xFFFF, 0xFC18], -10.0),
        (Int32, Little, 0.01, &[0xFC18, 0xFFFF], -10.0),
        (Uint32, Big, 1.0, &[0x0001, 0x0002], 65538.0),
        (Uint32, Little, 1.0, &[0x0002, 0x0001], 65538.0),
        (Uint32, Big, 10.0, &[0xFFFF, 0xFFFF], 42_949_672_950.0),
        (Uint32, Little, 0.5, &[0x0003, 0x0000], 1.5),
    ];
    for &(ty, order, scale, words, value) in cases {
        let p = reg(ty, order, scale);
        let got = p.decode(words).unwrap();
        assert!((got - value).abs() < 1e-9, "{ty} {order:?} ×{scale} {words:?}: {got} ≠ {value}");
        assert_eq!(p.encode(value).unwrap(), words, "{ty} {order:?} ×{scale} encodes {value} back");
    }
}

#[test]
fn offset_is_added_after_scaling() {
    let p = point(Table::Input, DataType::Uint16, None, 0.5, -40.0);
    assert_eq!(p.decode(&[0]).unwrap(), -40.0);
    assert_eq!(p.decode(&[70]).unwrap(), -5.0);
    assert_eq!(p.encode(-5.0).unwrap(), vec![70]);
    assert!(matches!(p.encode(-40.5), Err(EncodeError::DoesNotFit { .. })), "raw -1 is not a uint16");
}

#[test]
fn float32_in_both_word_orders() {
    // 21.5 = 0x41AC0000; -3.25 = 0xC0500000.
    for (order, w215, wneg) in
        [(WordOrder::Big, [0x41AC, 0x0000], [0xC050, 0x0000]), (WordOrder::Little, [0x0000, 0x41AC], [0x0000, 0xC050])]
    {
        let p = reg(DataType::Float32, order, 1.0);
        assert_eq!(p.decode(&w215).unwrap(), 21.5);
        assert_eq!(p.decode(&wneg).unwrap(), -3.25);
        assert_eq!(p.encode(21.5).unwrap(), w215);
        assert_eq!(p.encode(-3.25).unwrap(), wneg);
    }
    let scaled = reg(DataType::Float32, WordOrder::Big, 0.001);
    assert!((scaled.decode(&[0x41AC, 0]).unwrap() - 0.0215).abs() < 1e-12);
}

#[test]
fn float32_specials_decode_as_they_are_and_do_not_encode() {
    let p = reg(DataType::Float32, WordOrder::Big, 1.0);
    assert!(p.decode(&[0x7FC0, 0]).unwrap().is_nan());
    assert_eq!(p.decode(&[0x7F80, 0]).unwrap(), f64::INFINITY);
    assert_eq!(p.decode(&[0xFF80, 0]).unwrap(), f64::NEG_INFINITY);
    let subnormal = p.decode(&[0x0000, 0x0001]).unwrap();
    assert!(subnormal > 0.0 && subnormal < 1e-44, "smallest subnormal: {subnormal}");
    assert_eq!(p.decode(&[0x8000, 0]).unwrap(), 0.0, "negative zero is zero");
    assert!(matches!(p.encode(f64::NAN), Err(EncodeError::NotFinite(_))));
    assert!(matches!(p.encode(f64::INFINITY), Err(EncodeError::NotFinite(_))));
    assert!(matches!(p.encode(1e39), Err(EncodeError::DoesNotFit { .. })), "beyond f32");
}

#[test]
fn bools_are_bits_or_registers_holding_0_or_1() {
    let coil = point(Table::Coil, DataType::Bool, None, 1.0, 0.0);
    assert_eq!(coil.decode(&[1]).unwrap(), 1.0);
    assert_eq!(coil.decode(&[0]).unwrap(), 0.0);
    let register = point(Table::Holding, DataType::Bool, None, 1.0, 0.0);
    assert_eq!(register.decode(&[7]), Err(DecodeError::NotABool(7)));
    assert_eq!(register.encode(1.0).unwrap(), vec![1]);
    assert!(register.encode(2.0).is_err());
}

#[test]
fn wrong_lengths_are_errors() {
    let p = reg(DataType::Uint32, WordOrder::Big, 1.0);
    assert_eq!(p.decode(&[1]), Err(DecodeError::WrongLength { expected: 2, got: 1 }));
    assert_eq!(
        reg(DataType::Int16, WordOrder::Big, 1.0).decode(&[]),
        Err(DecodeError::WrongLength { expected: 1, got: 0 })
    );
}

#[test]
fn rounding_nearest_or_toward_zero_like_the_device() {
    let mut p = reg(DataType::Int16, WordOrder::Big, 0.1);
    // heating-core's encode_deci_celsius: half away from zero.
    assert_eq!(p.encode(20.96).unwrap(), vec![210]);
    assert_eq!(p.encode(-3.25).unwrap(), vec![(-33i16) as u16]);
    assert_eq!(p.encode(-0.04).unwrap(), vec![0]);
    p.rounding = Some(Rounding::TowardZero);
    assert_eq!(p.encode(20.96).unwrap(), vec![209], "the prototype's int(t * 10)");
    assert_eq!(p.encode(21.0).unwrap(), vec![210], "a whole tenth is not truncated by float noise");
    assert_eq!(p.encode(-3.25).unwrap(), vec![(-32i16) as u16]);
    assert_eq!(p.encode_saturating(1e9), vec![i16::MAX as u16]);
    assert_eq!(p.encode_saturating(-1e9), vec![i16::MIN as u16]);
    assert_eq!(p.encode_saturating(f64::NAN), vec![0]);
    assert!(matches!(p.encode(3276.8), Err(EncodeError::DoesNotFit { .. })));
}

#[test]
fn counters_wrap_where_the_type_ends_or_where_told() {
    let mut p = reg(DataType::Uint16, WordOrder::Big, 10.0);
    assert_eq!(p.wraps_at_value(), Some(655_360.0));
    assert_eq!(p.encode_counter(655_370.0), vec![1]);
    p.wraps_at = Some(100_000.0);
    assert_eq!(p.encode_counter(100_020.0), vec![2]);
    let p = reg(DataType::Uint32, WordOrder::Little, 1.0);
    assert_eq!(p.encode_counter(4_294_967_296.0 + 65538.0), vec![2, 1]);
    assert_eq!(reg(DataType::Int16, WordOrder::Big, 1.0).wraps_at_value(), None);
}

fn target(write: WriteFunction, data_type: DataType, scale: f64, min: f64, max: f64, step: f64) -> Target {
    let table = if write == WriteFunction::Fc05 { Table::Coil } else { Table::Holding };
    let mut p = point(table, data_type, (data_type.width() == 2).then_some(WordOrder::Little), scale, 0.0);
    if write == WriteFunction::Fc05 {
        p.offset = min;
        p.scale = max - min;
    }
    Target { point: p, write, min, max, step }
}

#[test]
fn targets_round_to_the_step_and_stay_in_range() {
    let t = target(WriteFunction::Fc06, DataType::Int16, 0.1, 5.0, 35.0, 0.1);
    assert_eq!(t.encode(21.04).unwrap(), EncodedTarget { value: 21.0, words: vec![210] });
    assert_eq!(t.encode(35.04).unwrap().words, vec![350], "rounded into range first, as Setpoint does");
    assert!(matches!(t.encode(35.06), Err(EncodeError::OutOfRange { .. })));
    assert!(matches!(t.encode(4.9), Err(EncodeError::OutOfRange { .. })));
    assert!(matches!(t.encode(f64::NAN), Err(EncodeError::NotFinite(_))));

    let half = target(WriteFunction::Fc16, DataType::Float32, 1.0, 10.0, 30.0, 0.5);
    let e = half.encode(21.3).unwrap();
    assert_eq!(e.value, 21.5);
    assert_eq!(e.words, vec![0x0000, 0x41AC], "float32, low word first");
    assert_eq!(half.point.decode(&e.words).unwrap(), 21.5, "decode inverts encode");
    assert!(half.confirms(21.5, 21.5) && half.confirms(21.5, 21.3) && !half.confirms(21.5, 21.0));

    let coil = target(WriteFunction::Fc05, DataType::Bool, 1.0, 17.0, 21.0, 4.0);
    assert_eq!(coil.encode(20.0).unwrap(), EncodedTarget { value: 21.0, words: vec![1] });
    assert_eq!(coil.encode(18.0).unwrap(), EncodedTarget { value: 17.0, words: vec![0] });
    assert!(coil.encode(23.5).is_err());
}

#[test]
fn every_target_value_on_the_grid_round_trips() {
    for p in crate::builtins() {
        let t = p.target();
        let mut v = t.min;
        while v <= t.max + 1e-9 {
            let e = t.encode(v).unwrap();
            let back = p.decode(PointKind::Target, &e.words).unwrap().unwrap();
            assert!(t.confirms(v, back), "{}: {v} → {:?} → {back}", p.name, e.words);
            v += t.step;
        }
    }
}

fn decode(profile: &Profile, kind: PointKind, words: &[u16]) -> Result<f64, String> {
    profile.decode(kind, words).expect("the profile has the point").map_err(|e| e.to_string())
}

#[test]
fn implausible_readings_are_errors_naming_the_point_and_the_registers() {
    let sim = crate::builtin("heating-sim").unwrap();
    assert_eq!(decode(&sim, PointKind::AirTemperature, &[(-205i16) as u16]), Ok(-20.5));
    assert_eq!(
        decode(&sim, PointKind::AirTemperature, &[0x7FFF]),
        Err("invalid reading of air_temperature at holding 0 [0x7fff] = 3276.7: outside the plausible range -60..=120 °C"
            .into())
    );
    assert_eq!(
        decode(&sim, PointKind::Occupancy, &[7]),
        Err("invalid reading of occupancy at holding 2 [0x0007]: a bool register holds 7, expected 0 or 1".into())
    );

    let f32 = crate::builtin("thermo-f32").unwrap();
    // 21.5 = 0x41AC0000, low word first.
    assert_eq!(decode(&f32, PointKind::AirTemperature, &[0x0000, 0x41AC]), Ok(21.5));
    let nan = decode(&f32, PointKind::AirTemperature, &[0x0000, 0x7FC0]).unwrap_err();
    assert_eq!(nan, "invalid reading of air_temperature at input 0..=1 [0x0000 0x7fc0] = NaN: not a number");
    let inf = decode(&f32, PointKind::OutdoorTemperature, &[0x0000, 0xFF80]).unwrap_err();
    assert!(inf.contains("= -inf: not a number"), "{inf}");
    let humid = decode(&f32, PointKind::Humidity, &[0x0000, 0x42CA]).unwrap_err();
    assert!(humid.contains("= 101: outside the plausible range 0..=100 %"), "{humid}");

    // A temperature in tenths read with the wrong word order.
    let text = "format = 1\nname = \"w\"\nversion = 1\ndescription = \"d\"\n\
        [points.air_temperature]\ntable = \"input\"\naddress = 0\ntype = \"uint32\"\nword_order = \"little\"\nscale = 0.1\n\
        [points.target]\ntable = \"holding\"\naddress = 0\ntype = \"int16\"\nscale = 0.1\nwrite = \"fc06\"\n\
        min = 5.0\nmax = 30.0\nstep = 0.1\n";
    let wrong = Profile::from_toml(text).unwrap();
    // The device sends 21.5 °C big-endian ([0x0000, 0x00D7]); read low word first that is 0x00D70000 × 0.1.
    let e = decode(&wrong, PointKind::AirTemperature, &[0x0000, 0x00D7]).unwrap_err();
    assert!(e.contains("= 1409024") && e.contains("outside the plausible range"), "{e}");
    // And [0xFFFF, 0x0000] low word first is 65535 × 0.1.
    let e = decode(&wrong, PointKind::AirTemperature, &[0xFFFF, 0x0000]).unwrap_err();
    assert_eq!(
        e,
        "invalid reading of air_temperature at input 0..=1 [0xffff 0x0000] = 6553.5: outside the plausible range \
         -60..=120 °C"
    );
    let e = decode(&sim, PointKind::OutdoorTemperature, &[0xFFFF]);
    assert_eq!(e, Ok(-0.1), "int16: 0xFFFF is -0.1 °C, a real value");
    let u16_sim = {
        let mut p = sim.clone();
        p.points.outdoor_temperature.as_mut().unwrap().data_type = DataType::Uint16;
        p
    };
    let e = decode(&u16_sim, PointKind::OutdoorTemperature, &[0xFFFF]).unwrap_err();
    assert!(e.contains("= 6553.5: outside the plausible range -60..=120 °C"), "{e}");

    let energy = decode(&sim, PointKind::Energy, &[0xFFFF, 0xFFFF]).unwrap();
    assert_eq!(energy, 4_294_967_295.0, "any count is plausible");
}

#[test]
fn raw_registers_display_for_messages() {
    let r = Raw { table: Table::Holding, address: 4, words: vec![1, 0xABCD] };
    assert_eq!(r.to_string(), "holding 4..=5 [0x0001 0xabcd]");
    let b = Raw { table: Table::DiscreteInput, address: 0, words: vec![1] };
    assert_eq!(b.to_string(), "discrete_input 0 [1]");
}
