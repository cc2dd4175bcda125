//! `GET /zones/{id}/history`: a zone's readings over a time range, aggregated in the database into at most
//! `points` buckets (min/avg/max per bucket), with the energy used over the range. What the dashboard's charts
//! draw: a week of one-second readings comes back as a few hundred buckets.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query};
use crate::services::history::{self, HistoryRequest};
use crate::state::AppState;
use crate::storage::{History, HistoryBucket, Stats, ZoneId};
use crate::time::serialize_rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(zone_history))
}

/// `?from&to&points`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Start of the range, inclusive (RFC 3339). Default: 24 hours before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (RFC 3339), after `from` (422 otherwise). Default: now (server clock).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<DateTime<Utc>>,
    /// Most buckets to return, 1 to 2000 (default 500). The range is cut into this many buckets of equal width;
    /// empty ones are left out.
    #[param(minimum = 1, maximum = 2000)]
    pub points: Option<i64>,
}

/// Minimum, mean and maximum over a bucket, °C.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsOut {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
}

impl From<Stats> for StatsOut {
    fn from(s: Stats) -> Self {
        Self { min: s.min, avg: s.avg, max: s.max }
    }
}

/// The readings of one time bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct BucketOut {
    /// Start of the bucket (inclusive, RFC 3339); it lasts `bucket_seconds`.
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub start: DateTime<Utc>,
    /// Readings in the bucket (at least 1).
    pub count: i64,
    /// Air temperature.
    pub temperature: StatsOut,
    /// Target temperature the device held; null if no reading in the bucket carried it.
    pub target_temp: Option<StatsOut>,
    /// Outdoor temperature; null if no reading in the bucket carried it.
    pub outdoor_temp: Option<StatsOut>,
    /// Share of the readings with the heater on (0..1); null if none carried it.
    pub heater_on_fraction: Option<f64>,
    /// Share of the readings with the zone occupied (0..1).
    pub occupied_fraction: f64,
}

impl From<HistoryBucket> for BucketOut {
    fn from(b: HistoryBucket) -> Self {
        Self {
            start: b.start,
            count: b.count,
            temperature: b.temperature.into(),
            target_temp: b.target_temp.map(Into::into),
            outdoor_temp: b.outdoor_temp.map(Into::into),
            heater_on_fraction: b.heater_on_fraction,
            occupied_fraction: b.occupied_fraction,
        }
    }
}

/// A zone's history over a range.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryOut {
    pub zone_id: ZoneId,
    /// The range, `from <= timestamp < to` (RFC 3339).
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub from: DateTime<Utc>,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub to: DateTime<Utc>,
    /// Buckets asked for.
    pub points: u32,
    /// Width of one bucket, seconds.
    pub bucket_seconds: f64,
    /// Readings in the range.
    pub readings: i64,
    /// Heating energy used over the range, kWh, from the devices' energy counter (resets and wraps handled);
    /// null with fewer than two counter values.
    pub energy_kwh: Option<f64>,
    /// Where the buckets came from: `raw` readings, or the rollups of `1m`, `15m` or `1h`: the coarsest level at
    /// most `bucket_seconds` wide. Where `from` and `bucket_seconds` are multiples of its width, the answer is the
    /// one the raw readings give; where not, a bucket boundary inside a level bucket moves up to the level's next
    /// boundary, and ranges of up to 6 hours are answered from raw readings instead. Totals (`readings`,
    /// `energy_kwh`) are those of the raw readings either way.
    #[schema(example = "15m")]
    pub resolution: &'static str,
    /// Buckets with at least one reading, oldest first.
    pub buckets: Vec<BucketOut>,
}

impl From<HistoryParams> for HistoryRequest {
    fn from(p: HistoryParams) -> Self {
        Self { from: p.from, to: p.to, points: p.points }
    }
}

/// A zone's readings over a time range, aggregated into at most `points` buckets, with the energy used.
#[utoipa::path(
    get, path = "/zones/{id}/history", tag = "zones",
    params(("id" = i64, Path, description = "Zone id"), HistoryParams),
    responses(
        (status = 200, description = "Non-empty buckets, oldest first, and the energy used", body = HistoryOut),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 422, description = "Bad id, from, to or points; from not before to", body = ErrorBody),
    )
)]
async fn zone_history(
    State(state): State<AppState>,
    Path(id): Path<ZoneId>,
    Query(params): Query<HistoryParams>,
) -> Result<Json<HistoryOut>, ApiError> {
    let (query, History { buckets, readings, energy_wh, resolution }) =
        history::zone_history(&state, id, params.into()).await?;
    #[allow(clippy::cast_precision_loss)] // energy far below 2^52 Wh
    let energy_kwh = energy_wh.map(|wh| wh as f64 / 1000.0);
    #[allow(clippy::cast_precision_loss)] // bucket widths far below 2^52 ms
    let bucket_seconds = query.bucket_ms() as f64 / 1000.0;
    Ok(Json(HistoryOut {
        zone_id: id,
        from: query.from(),
        to: query.to(),
        points: query.points(),
        bucket_seconds,
        readings,
        energy_kwh,
        resolution: resolution.as_str(),
        buckets: buckets.into_iter().map(BucketOut::from).collect(),
    }))
}
