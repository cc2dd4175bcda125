//! How long each kind of history is kept, and how the retention job deletes what is older.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--retention-raw` | `RETENTION_RAW` | `30d` (raw readings, `sensor_readings`) |
//! | `--retention-minute` | `RETENTION_MINUTE` | `1y` (1-minute rollups) |
//! | `--retention-quarter` | `RETENTION_QUARTER` | `forever` (15-minute rollups) |
//! | `--retention-hour` | `RETENTION_HOUR` | `forever` (hourly rollups) |
//! | `--retention-commands` | `RETENTION_COMMANDS` | `forever` (pending commands are never deleted) |
//! | `--retention-audit` | `RETENTION_AUDIT` | `forever` (the audit log) |
//! | `--retention-batch-rows` | `RETENTION_BATCH_ROWS` | `2000` rows deleted per short transaction |
//!
//! A duration is a whole number and a unit: `s`, `m`, `h`, `d`, `w` or `y` (365 days), e.g. `12h`, `30d`, `1y`;
//! or `forever`. The retention job runs on `MAINTENANCE_RETENTION_CRON` (see `MaintenanceSettings`).

use std::fmt;

use chrono::{DateTime, Duration, Utc};

pub const DEFAULT_RETENTION_RAW: &str = "30d";
pub const DEFAULT_RETENTION_MINUTE: &str = "1y";
pub const DEFAULT_RETENTION_FOREVER: &str = "forever";
pub const DEFAULT_RETENTION_BATCH_ROWS: u32 = 2000;

/// How long something is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Forever,
    /// At least this long (a positive duration).
    For(Duration),
}

impl Keep {
    /// What is older than this instant may be deleted; `None` when nothing may.
    #[must_use]
    pub fn cutoff(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Forever => None,
            Self::For(d) => now.checked_sub_signed(d),
        }
    }
}

impl fmt::Display for Keep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Forever => f.write_str("forever"),
            Self::For(d) => {
                let s = d.num_seconds();
                let (n, unit) = [(365 * 86_400, "y"), (7 * 86_400, "w"), (86_400, "d"), (3600, "h"), (60, "m")]
                    .into_iter()
                    .find(|(u, _)| s % u == 0)
                    .map_or((s, "s"), |(u, name)| (s / u, name));
                write!(f, "{n}{unit}")
            }
        }
    }
}

/// `30d`, `12h`, `1y`, `forever`: a whole positive number and a unit, or `forever`.
pub fn parse_keep(s: &str) -> Result<Keep, String> {
    let t = s.trim().to_ascii_lowercase();
    if t == "forever" {
        return Ok(Keep::Forever);
    }
    let expected = "expected a whole number and a unit (s, m, h, d, w, y), e.g. 30d, 12h, 1y; or forever";
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: i64 = number.parse().map_err(|_| format!("{s:?}: {expected}"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(format!("{s:?}: {expected}")),
    };
    // Up to 1000 years: far beyond any use, far within chrono's range.
    if n <= 0 || n.checked_mul(unit_secs).is_none_or(|secs| secs > 1000 * 365 * 86_400) {
        return Err(format!("{s:?}: the duration must be above zero and at most 1000y"));
    }
    Ok(Keep::For(Duration::seconds(n * unit_secs)))
}

/// How long each kind of history is kept (flattened into [`super::Config`]); applied by the retention job.
#[derive(Debug, Clone, clap::Args)]
pub struct RetentionSettings {
    /// How long raw readings are kept (`30d`, `12h`, `1y`, or `forever`). Older readings remain in the rollups.
    #[arg(long, env = "RETENTION_RAW", default_value = DEFAULT_RETENTION_RAW, value_parser = parse_keep)]
    pub retention_raw: Keep,
    /// How long 1-minute rollups are kept.
    #[arg(long, env = "RETENTION_MINUTE", default_value = DEFAULT_RETENTION_MINUTE, value_parser = parse_keep)]
    pub retention_minute: Keep,
    /// How long 15-minute rollups are kept.
    #[arg(long, env = "RETENTION_QUARTER", default_value = DEFAULT_RETENTION_FOREVER, value_parser = parse_keep)]
    pub retention_quarter: Keep,
    /// How long hourly rollups are kept.
    #[arg(long, env = "RETENTION_HOUR", default_value = DEFAULT_RETENTION_FOREVER, value_parser = parse_keep)]
    pub retention_hour: Keep,
    /// How long commands are kept (a pending command is never deleted).
    #[arg(long, env = "RETENTION_COMMANDS", default_value = DEFAULT_RETENTION_FOREVER, value_parser = parse_keep)]
    pub retention_commands: Keep,
    /// How long the audit log is kept.
    #[arg(long, env = "RETENTION_AUDIT", default_value = DEFAULT_RETENTION_FOREVER, value_parser = parse_keep)]
    pub retention_audit: Keep,
    /// Rows the retention job deletes per transaction; each is short, so the poller and the API wait at most a few
    /// milliseconds for the database.
    #[arg(long, env = "RETENTION_BATCH_ROWS", default_value_t = DEFAULT_RETENTION_BATCH_ROWS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub retention_batch_rows: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        let keep = |s| parse_keep(s).unwrap_or(Keep::Forever);
        Self {
            retention_raw: keep(DEFAULT_RETENTION_RAW),
            retention_minute: keep(DEFAULT_RETENTION_MINUTE),
            retention_quarter: Keep::Forever,
            retention_hour: Keep::Forever,
            retention_commands: Keep::Forever,
            retention_audit: Keep::Forever,
            retention_batch_rows: DEFAULT_RETENTION_BATCH_ROWS,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Config;

    #[test]
    fn durations_parse_with_their_unit_or_forever() {
        assert_eq!(parse_keep("30d"), Ok(Keep::For(Duration::days(30))));
        assert_eq!(parse_keep("12h"), Ok(Keep::For(Duration::hours(12))));
        assert_eq!(parse_keep(" 1Y "), Ok(Keep::For(Duration::days(365))));
        assert_eq!(parse_keep("90s"), Ok(Keep::For(Duration::seconds(90))));
        assert_eq!(parse_keep("2w"), Ok(Keep::For(Duration::days(14))));
        assert_eq!(parse_keep("forever"), Ok(Keep::Forever));
        for bad in ["", "30", "d", "0d", "-1d", "1.5d", "30 days", "10000y", "99999999999999999999d"] {
            assert!(parse_keep(bad).is_err(), "{bad:?} accepted");
        }
        for s in ["30d", "12h", "1y", "2w", "90s", "5m", "forever"] {
            assert_eq!(parse_keep(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn defaults_are_the_documented_ones_and_bad_values_name_the_setting() {
        let c = Config::try_parse_from(["heating-server"]).unwrap().retention;
        assert_eq!(c.retention_raw, Keep::For(Duration::days(30)));
        assert_eq!(c.retention_minute, Keep::For(Duration::days(365)));
        for k in [c.retention_quarter, c.retention_hour, c.retention_commands, c.retention_audit] {
            assert_eq!(k, Keep::Forever);
        }
        let d = RetentionSettings::default();
        assert_eq!((d.retention_raw, d.retention_minute), (c.retention_raw, c.retention_minute));
        assert_eq!(d.retention_batch_rows, c.retention_batch_rows);
        let err = Config::try_parse_from(["heating-server", "--retention-raw", "30 days"]).unwrap_err().to_string();
        assert!(err.contains("--retention-raw") && err.contains("e.g. 30d"), "{err}");
    }

    #[test]
    fn the_cutoff_is_now_minus_the_duration() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().to_utc();
        assert_eq!(Keep::For(Duration::days(7)).cutoff(now), Some(now - Duration::days(7)));
        assert_eq!(Keep::Forever.cutoff(now), None);
    }
}
