//! Timestamps: stored as INTEGER unix milliseconds (UTC), shown as RFC 3339 UTC with milliseconds
//! (`2026-11-27T10:00:00.123Z`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// Milliseconds since the unix epoch.
#[must_use]
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The instant `ms` milliseconds after the unix epoch; `None` outside chrono's range (about ±262 000 years).
#[must_use]
pub fn from_ms(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// RFC 3339 in UTC with millisecond precision and a `Z` suffix.
#[must_use]
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `serialize_with` helper writing a timestamp with [`rfc3339`].
pub fn serialize_rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// `serialize_with` helper for an optional timestamp (`null` when absent).
#[allow(clippy::ref_option)] // serde's serialize_with hands over `&Option<T>`
pub fn serialize_opt_rfc3339<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_format() {
        let t = DateTime::parse_from_rfc3339("2026-11-27T11:00:00.123+01:00").unwrap().to_utc();
        assert_eq!(rfc3339(t), "2026-11-27T10:00:00.123Z");
        assert_eq!(from_ms(to_ms(t)), Some(t));
        assert_eq!(rfc3339(from_ms(0).unwrap()), "1970-01-01T00:00:00.000Z");
        assert_eq!(from_ms(i64::MAX), None);
    }
}
