//! The `prices` and `demand` parts of `GET /status` (additive fields).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::prices::PricesNow;
use crate::time::serialize_opt_rfc3339;

/// Electricity prices as the price provider has them cached (`/status` never waits on the source).
#[derive(Debug, Serialize, ToSchema)]
pub struct PricesStatus {
    /// `tou`, `csv:PATH` or `http:URL` (`PRICE_SOURCE`, without query string or credentials).
    pub source: String,
    /// The price in force now, €/kWh.
    pub eur_kwh: f64,
    /// `series` (from the source's prices) or `tou` (the time-of-use table: the default source, before the first
    /// good read, or beyond the series' end).
    pub current_from: String,
    /// End of the cached series; null without one.
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub series_end: Option<DateTime<Utc>>,
    /// When the cached series was read (server clock).
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub fetched_at: Option<DateTime<Utc>>,
    /// The last read failed or is older than `PRICE_REFRESH_MINUTES`: the cached series is in use.
    pub stale: bool,
    /// Why the last read of the source failed; null once it answers again.
    pub last_error: Option<String>,
}

impl From<PricesNow> for PricesStatus {
    fn from(p: PricesNow) -> Self {
        Self {
            source: p.source,
            eur_kwh: p.eur_kwh,
            current_from: if p.from_series { "series" } else { "tou" }.to_string(),
            series_end: p.series_end,
            fetched_at: p.fetched_at,
            stale: p.stale,
            last_error: p.error,
        }
    }
}
