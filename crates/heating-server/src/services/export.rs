//! History as CSV, streamed: readings of one zone or of all zones over a range, page by page (keyset pages of
//! [`PAGE_ROWS`]), so an export of any length holds one page in memory and the first bytes leave before the last
//! page is read.
//!
//! Columns (header row first; times RFC 3339 UTC with milliseconds; decimals with `.`; an empty field where a
//! reading carried no value; flags as `1`/`0`):
//! `zone_id,ts,temperature_c,target_c,outdoor_c,occupied,heater_on,energy_wh`.

use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use futures::Stream;

use super::{AppState, ServiceError, require_zone};
use crate::storage::{Reading, ZoneId};
use crate::time::rfc3339;

/// Readings per page (one query, one chunk of the answer).
pub const PAGE_ROWS: u32 = 5000;
/// The longest range one export may cover.
pub const MAX_RANGE_DAYS: i64 = 366;
/// The range when `from` is not given ends at `to` and is this long.
pub const DEFAULT_RANGE_HOURS: i64 = 24;

/// What an export holds: raw readings; the rollup levels are one arm each once they exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportLevel {
    Raw,
    // TODO(coordinator, after merging wt-rollups): Minute, Quarter, Hour, each an arm in `FromStr`, `HEADER`-like
    // columns and a page source over its table.
}

impl FromStr for ExportLevel {
    type Err = ServiceError;

    fn from_str(s: &str) -> Result<Self, ServiceError> {
        match s {
            "raw" => Ok(Self::Raw),
            // The one place that changes when the rollups are merged.
            "1m" | "15m" | "1h" => Err(ServiceError::Invalid(format!("level: {s} is not available yet (only raw)"))),
            _ => Err(ServiceError::Invalid(format!("level: {s:?} is not one of raw, 1m, 15m, 1h"))),
        }
    }
}

/// The header row of a raw export.
pub const RAW_HEADER: &str = "zone_id,ts,temperature_c,target_c,outdoor_c,occupied,heater_on,energy_wh\n";

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
        After(Option<(DateTime<Utc>, i64)>),
        Done,
    }
    futures::stream::unfold(Cursor::Header, move |cursor| {
        let (state, export) = (state.clone(), export.clone());
        async move {
            match cursor {
                Cursor::Done => None,
                Cursor::Header => Some((Ok(RAW_HEADER.to_string()), Cursor::After(None))),
                Cursor::After(after) => {
                    let ExportLevel::Raw = export.level;
                    let page = state.storage.readings_page(export.zone, export.from, export.to, after, PAGE_ROWS).await;
                    match page {
                        Err(e) => Some((Err(e.into()), Cursor::Done)),
                        Ok(rows) if rows.is_empty() => None,
                        Ok(rows) => {
                            let next = if rows.len() < PAGE_ROWS as usize {
                                Cursor::Done
                            } else {
                                rows.last().map_or(Cursor::Done, |r| Cursor::After(Some((r.ts, r.id))))
                            };
                            Some((Ok(raw_rows(&rows)), next))
                        }
                    }
                }
            }
        }
    })
}

/// Readings as CSV lines.
#[must_use]
pub fn raw_rows(rows: &[Reading]) -> String {
    let mut out = String::with_capacity(rows.len() * 72);
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            r.zone_id,
            rfc3339(r.ts),
            r.temperature,
            opt(r.target_temp),
            opt(r.outdoor_temp),
            u8::from(r.occupancy),
            r.heater_on.map(|h| u8::from(h).to_string()).unwrap_or_default(),
            r.energy_wh.map(|e| e.to_string()).unwrap_or_default(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_other_than_raw_name_the_field() {
        assert_eq!("raw".parse::<ExportLevel>().unwrap(), ExportLevel::Raw);
        for (s, says) in [("1m", "not available yet"), ("5m", "not one of")] {
            let Err(ServiceError::Invalid(e)) = s.parse::<ExportLevel>() else { panic!("{s} accepted") };
            assert!(e.starts_with("level:") && e.contains(says), "{e}");
        }
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
        };
        assert_eq!(raw_rows(&[r]), "3,2026-12-01T10:00:00.250Z,20.5,,-3.25,1,0,1234\n");
    }
}
