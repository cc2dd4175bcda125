//! Whole numbers in JSON bodies as JSON Schema counts them: `5020` and `5020.0` are the same integer, so a client
//! generated from the OpenAPI document may send either. Both are read; a fraction, or a value out of range, is
//! refused (422 naming the field, through the `Json` extractor).

use serde::de::{Error, Unexpected};
use serde::{Deserialize, Deserializer};

/// A whole number within `min..=max`, or null.
pub fn whole_number<'de, D: Deserializer<'de>>(
    d: D,
    min: i64,
    max: i64,
    expected: &'static str,
) -> Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    // i64::MAX as f64 rounds up to 2^63, which is out of range: hence the strict upper bound.
    let whole = |f: f64| f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64;
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| whole(*f)).map(|f| f as i64))
        .filter(|i| (min..=max).contains(i))
        .map(Some)
        .ok_or_else(|| D::Error::invalid_value(Unexpected::Other(&n.to_string()), &expected))
}

/// A zone id (required).
pub fn zone_id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    whole_number(d, i64::MIN, i64::MAX, "a zone id (a whole number)")?
        .ok_or_else(|| D::Error::invalid_type(Unexpected::Unit, &"a zone id (a whole number)"))
}

/// Any whole number, or null (the range is checked by the service, in its words).
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    whole_number(d, i64::MIN, i64::MAX, "a whole number")
}

/// A whole number 0..=4294967295, or null.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(whole_number(d, 0, i64::from(u32::MAX), "a whole number 0..=4294967295")?.and_then(|n| u32::try_from(n).ok()))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::zone_id")]
        zone_id: i64,
        #[serde(default, deserialize_with = "super::opt_u32")]
        energy_wh: Option<u32>,
        #[serde(default, deserialize_with = "super::opt_i64")]
        minutes: Option<i64>,
    }

    fn read(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn integral_floats_are_integers() {
        let b = read(r#"{"zone_id": -17018.0, "energy_wh": 5.0, "minutes": 120.0}"#).unwrap();
        assert_eq!((b.zone_id, b.energy_wh, b.minutes), (-17018, Some(5), Some(120)));
        let b = read(r#"{"zone_id": 3}"#).unwrap();
        assert_eq!((b.zone_id, b.energy_wh, b.minutes), (3, None, None));
        let b = read(r#"{"zone_id": 3, "energy_wh": null, "minutes": null}"#).unwrap();
        assert_eq!((b.energy_wh, b.minutes), (None, None));
    }

    #[test]
    fn fractions_and_out_of_range_values_are_refused() {
        for (json, needle) in [
            (r#"{"zone_id": 1.5}"#, "expected a zone id"),
            (r#"{"zone_id": null}"#, "expected a zone id"),
            (r#"{"zone_id": "1"}"#, "invalid type"),
            (r#"{"zone_id": 1e300}"#, "expected a zone id"),
            (r#"{"zone_id": 1, "energy_wh": -1}"#, "0..=4294967295"),
            (r#"{"zone_id": 1, "energy_wh": 4294967296}"#, "0..=4294967295"),
            (r#"{"zone_id": 1, "minutes": 0.5}"#, "a whole number"),
        ] {
            let err = read(json).unwrap_err();
            assert!(err.contains(needle), "{json}: {err}");
        }
        assert!(read("{}").is_err(), "zone_id is required");
    }
}
