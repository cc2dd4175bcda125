//! The `prices` and `demand` parts of `GET /status` (additive fields).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::demand::DemandNow;
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

/// The building demand cap (`DEMAND_CAP_KW`): null without one.
#[derive(Debug, Serialize, ToSchema)]
pub struct DemandStatus {
    /// The cap in force now, kW (a window's cap inside `DEMAND_CAP_WINDOWS`, else `base_kw`); with several
    /// instances, this instance's part of it (`instance_share` × the cap).
    pub cap_kw: f64,
    /// This instance's share of the cap: 1 with one instance; with several on one database, the fraction of the
    /// zones it holds (each holds its zones to its part, so together they stay within the cap).
    pub instance_share: f64,
    /// `DEMAND_CAP_KW`, and the windows as `HH:MM-HH:MM=KW` (site-local).
    pub base_kw: f64,
    pub windows: Vec<String>,
    /// Start of the current aligned 15-minute window (server clock).
    #[serde(serialize_with = "crate::time::serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub window_start: DateTime<Utc>,
    /// The building's mean heater power in the current window so far, kW (energy counters since the window
    /// began over the time elapsed).
    pub window_mean_kw: f64,
    /// Zones the guard holds off now (their target is `min_temp` until allowed again).
    pub shed_zones: Vec<i64>,
    /// The latest joint plan of the predictive zones within the cap; null before the first control run or with no
    /// predictive zone.
    pub joint: Option<JointPlanStatus>,
}

/// The joint plan in short.
#[derive(Debug, Serialize, ToSchema)]
pub struct JointPlanStatus {
    #[serde(serialize_with = "crate::time::serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub made_at: DateTime<Utc>,
    /// 15-minute windows of the horizon where the planned building power reaches the cap, and how many there are.
    pub capped_windows: usize,
    pub windows: usize,
    /// Highest planned building power over a window, kW.
    pub peak_planned_kw: f64,
    /// Planned comfort shortfall over the horizon, all zones, K·h.
    pub shortfall_kh: f64,
    /// "comfort cannot be kept: …" when the cap does not leave enough heat for every zone's comfort; else null.
    pub comfort_limited: Option<String>,
    /// The joint plan failed and the zones planned alone (the guard still holds the cap): why.
    pub error: Option<String>,
}

impl From<DemandNow> for DemandStatus {
    fn from(d: DemandNow) -> Self {
        Self {
            cap_kw: d.cap_kw,
            instance_share: d.instance_share,
            base_kw: d.base_kw,
            windows: d.windows,
            window_start: d.window_start,
            window_mean_kw: d.window_mean_kw,
            shed_zones: d.shed_zones,
            joint: d.joint.map(|j| JointPlanStatus {
                made_at: j.made_at,
                capped_windows: j.capped_windows,
                windows: j.cap_w.len(),
                peak_planned_kw: j.building_w.iter().copied().fold(0.0, f64::max) / 1000.0,
                shortfall_kh: j.shortfall_kh.iter().sum(),
                comfort_limited: j.comfort_limited,
                error: j.error,
            }),
        }
    }
}
