//! History as CSV, streamed: readings of one zone or of all zones over a range, page by page (keyset pages of
//! [`PAGE_ROWS`]), so an export of any length holds one page in memory and the first bytes leave before the last
//! page is read.
//!
//! Columns (header row first; times RFC 3339 UTC with milliseconds; decimals with `.`; an empty field where a
//! reading carried no value; flags as `1`/`0`):
//! `zone_id,ts,temperature_c,target_c,outdoor_c,occupied,heater_on,energy_wh,estimated` (`estimated`: the values the
//! server filled in because the device cannot measure them, e.g. `energy_wh;occupancy`, empty when none).

use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use futures::Stream;

use super::{AppState, ServiceError, require_zone};
use crate::storage::{Reading, Resolution, RollupBucket, ZoneId};
use crate::time::rfc3339;

/// Readings per page (one query, one chunk of the answer).
pub const PAGE_ROWS: u32 = 5000;
/// The longest range one export may cover.
pub const MAX_RANGE_DAYS: i64 = 366;
/// The range when `from` is not given ends at `to` and is this long.
pub const DEFAULT_RANGE_HOURS: i64 = 24;

/// What an export holds: raw readings, or the rows of one rollup level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportLevel {
    Raw,
    Minute,
    Quarter,
    Hour,
}

impl ExportLevel {
    fn resolution(self) -> Resolution {
        match self {
            Self::Raw => Resolution::Raw,
            Self::Minute => Resolution::Minute,
            Self::Quarter => Resolution::Quarter,
            Self::Hour => Resolution::Hour,
        }
    }
}

impl FromStr for ExportLevel {
    type Err = ServiceError;

    fn from_str(s: &str) -> Result<Self, ServiceError> {
        match s {
            "raw" => Ok(Self::Raw),
            "1m" => Ok(Self::Minute),
            "15m" => Ok(Self::Quarter),
            "1h" => Ok(Self::Hour),
            _ => Err(ServiceError::Invalid(format!("level: {s:?} is not one of raw, 1m, 15m, 1h"))),
        }
    }
}

/// The header row of a raw export.
pub const RAW_HEADER: &str = "zone_id,ts,temperature_c,target_c,outdoor_c,occupied,heater_on,energy_wh,estimated\n";

/// The header row of a rollup export: per bucket (`bucket_start` its first instant), the readings it holds, min,
/// mean and max of each temperature (empty where no reading carried it), the shares of readings with the heater on
/// (of those that carried the flag) and the zone occupied, and the energy counter's first and last value in the bucket
/// with the energy used inside it (Wh; counter resets handled). The energy between two buckets is the step from one's
/// last value to the next one's first.
pub const ROLLUP_HEADER: &str = "zone_id,bucket_start,readings,temperature_min_c,temperature_mean_c,\
    temperature_max_c,target_min_c,target_mean_c,target_max_c,outdoor_min_c,outdoor_mean_c,outdoor_max_c,\
    heater_on_share,occupied_share,energy_first_wh,energy_last_wh,energy_used_wh\n";

/// An export asked for: each part optional.
#[derive(Debug, Clone, Default)]
pub struct ExportRequest {
    /// One zone, or all.
    pub zone: Option<ZoneId>,
    /// Start, inclusive. Default: [`DEFAULT_RANGE_HOURS`] before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End, exclusive. Default: now (server clock).
    pub to: Option<DateTime<Utc>>,
    /// `raw` (default), `1m`, `15m`, `1h`.
    pub level: Option<String>,
}

/// A validated export: what the stream will hold.
#[derive(Debug, Clone)]
pub struct Export {
    pub zone: Option<ZoneId>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub level: ExportLevel,
    /// A file name for `Content-Disposition`: `history-zone-3-20261201T000000Z-20261202T000000Z.csv`.
    pub filename: String,
}

/// Checks the request (422 naming the field; 404 for an unknown zone).
pub async fn prepare(state: &AppState, request: ExportRequest) -> Result<Export, ServiceError> {
    let level = request.level.as_deref().map_or(Ok(ExportLevel::Raw), str::parse)?;
    let to = request.to.unwrap_or_else(|| state.clock.now());
    let from = request.from.unwrap_or(to - Duration::hours(DEFAULT_RANGE_HOURS));
    if from >= to {
        return Err(ServiceError::Invalid("from must be before to".into()));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(ServiceError::Invalid(format!(
            "to: the range is longer than {MAX_RANGE_DAYS} days; export it in parts"
        )));
    }
    if let Some(zone) = request.zone {
        require_zone(state, zone).await?;
    }
    let stamp = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let who = request.zone.map_or_else(|| "all".to_string(), |z| format!("zone-{z}"));
    let filename = format!("history-{who}-{}-{}.csv", stamp(from), stamp(to));
    Ok(Export { zone: request.zone, from, to, level, filename })
}

/// The export's CSV as a stream of chunks: the header, then one chunk per page. A database error ends the stream
/// with that error (the answer is then cut short: the status line has left already).
pub fn stream(state: AppState, export: Export) -> impl Stream<Item = Result<String, ServiceError>> + Send + 'static {
    enum Cursor {
        Header,
        Raw(Option<(DateTime<Utc>, i64)>),
        Rollup(Option<(ZoneId, DateTime<Utc>)>),
        Done,
    }
    let full = |n: usize| n >= PAGE_ROWS as usize;
    futures::stream::unfold(Cursor::Header, move |cursor| {
        let (state, export) = (state.clone(), export.clone());
        async move {
            match cursor {
                Cursor::Done => None,
                Cursor::Header if export.level == ExportLevel::Raw => {
                    Some((Ok(RAW_HEADER.to_string()), Cursor::Raw(None)))
                }
                Cursor::Header => Some((Ok(ROLLUP_HEADER.to_string()), Cursor::Rollup(None))),
                Cursor::Raw(after) => {
                    match state.storage.readings_page(export.zone, export.from, export.to, after, PAGE_ROWS).await {
                        Err(e) => Some((Err(e.into()), Cursor::Done)),
                        Ok(rows) if rows.is_empty() => None,
                        Ok(rows) => {
                            let next = match rows.last() {
                                Some(r) if full(rows.len()) => Cursor::Raw(Some((r.ts, r.id))),
                                _ => Cursor::Done,
                            };
                            Some((Ok(raw_rows(&rows)), next))
                        }
                    }
                }
                Cursor::Rollup(after) => {
                    let level = export.level.resolution();
                    let page =
                        state.storage.rollups_page(level, export.zone, export.from, export.to, after, PAGE_ROWS).await;
                    match page {
                        Err(e) => Some((Err(e.into()), Cursor::Done)),
                        Ok(rows) if rows.is_empty() => None,
                        Ok(rows) => {
                            let next = match rows.last() {
                                Some((zone, b)) if full(rows.len()) => Cursor::Rollup(Some((*zone, b.start))),
                                _ => Cursor::Done,
                            };
                            Some((Ok(rollup_rows(&rows)), next))
                        }
                    }
                }
            }
        }
    })
}

/// Rollup rows as CSV lines.
pub fn rollup_rows(rows: &[(ZoneId, RollupBucket)]) -> String {
    let mut out = String::with_capacity(rows.len() * 160);
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let int = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let share = |of: i64, n: i64| if n > 0 { (of as f64 / n as f64).to_string() } else { String::new() };
    for (zone, b) in rows {
        let mean = |n: i64, sum: f64| (n > 0).then(|| sum / n as f64);
        let (t_min, t_sum, t_max) = b.temperature;
        let (g_n, g_min, g_sum, g_max) = b.target;
        let (o_n, o_min, o_sum, o_max) = b.outdoor;
        let (_, first, last, used) = b.energy;
        let _ = writeln!(
            out,
            "{zone},{},{},{t_min},{},{t_max},{},{},{},{},{},{},{},{},{},{},{}",
            rfc3339(b.start),
            b.count,
            opt(mean(b.count, t_sum)),
            opt(g_min),
            opt(mean(g_n, g_sum)),
            opt(g_max),
            opt(o_min),
            opt(mean(o_n, o_sum)),
            opt(o_max),
            share(b.heater.1, b.heater.0),
            share(b.occupied, b.count),
            int(first),
            int(last),
            int(used),
        );
    }
    out
}

/// Readings as CSV lines.
#[must_use]
pub fn raw_rows(rows: &[Reading]) -> String {
    let mut out = String::with_capacity(rows.len() * 72);
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            r.zone_id,
            rfc3339(r.ts),
            r.temperature,
            opt(r.target_temp),
            opt(r.outdoor_temp),
            u8::from(r.occupancy),
            r.heater_on.map(|h| u8::from(h).to_string()).unwrap_or_default(),
            r.energy_wh.map(|e| e.to_string()).unwrap_or_default(),
            r.estimated.names().join(";"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Estimated;

    #[test]
    fn levels_are_raw_and_the_rollups_and_a_wrong_one_names_the_field() {
        for (s, level) in [
            ("raw", ExportLevel::Raw),
            ("1m", ExportLevel::Minute),
            ("15m", ExportLevel::Quarter),
            ("1h", ExportLevel::Hour),
        ] {
            assert_eq!(s.parse::<ExportLevel>().unwrap(), level);
        }
        for s in ["5m", "1M", ""] {
            let Err(ServiceError::Invalid(e)) = s.parse::<ExportLevel>() else { panic!("{s} accepted") };
            assert!(e.starts_with("level:") && e.contains("not one of"), "{e}");
        }
    }

    #[test]
    fn rollup_rows_hold_means_shares_and_the_counter() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap().to_utc();
        let b = RollupBucket {
            start,
            count: 4,
            temperature: (19.0, 80.0, 21.0),
            target: (2, Some(20.0), 42.0, Some(22.0)),
            outdoor: (0, None, 0.0, None),
            heater: (4, 1),
            occupied: 2,
            energy: (4, Some(100), Some(130), Some(30)),
        };
        assert_eq!(rollup_rows(&[(7, b)]), "7,2026-12-01T10:00:00.000Z,4,19,20,21,20,21,22,,,,0.25,0.5,100,130,30\n");
    }

    #[test]
    fn rows_are_rfc3339_utc_with_dot_decimals_and_empty_fields_for_missing_values() {
        let ts = DateTime::parse_from_rfc3339("2026-12-01T10:00:00.250Z").unwrap().to_utc();
        let r = Reading {
            id: 1,
            zone_id: 3,
            ts,
            temperature: 20.5,
            target_temp: None,
            occupancy: true,
            heater_on: Some(false),
            energy_wh: Some(1234),
            outdoor_temp: Some(-3.25),
            estimated: Estimated::ENERGY.with(Estimated::OCCUPANCY, true),
        };
        assert_eq!(raw_rows(&[r]), "3,2026-12-01T10:00:00.250Z,20.5,,-3.25,1,0,1234,energy_wh;occupancy\n");
    }
}
