//! A zone's readings over a time range, aggregated in the database into at most `points` buckets (min/avg/max per
//! bucket), with the energy used over the range: what the dashboard's charts draw.

use chrono::{DateTime, Duration, Utc};

use super::{AppState, ServiceError, require_zone};
use crate::storage::{History, HistoryQuery, ZoneId};

/// Buckets when `points` is not given.
pub const DEFAULT_POINTS: u32 = 500;
/// The range when neither `from` nor `to` is given ends now and is this long.
pub const DEFAULT_RANGE_HOURS: i64 = 24;

/// The range asked for: each part optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct HistoryRequest {
    /// Start, inclusive. Default: [`DEFAULT_RANGE_HOURS`] before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End, exclusive. Default: now (server clock).
    pub to: Option<DateTime<Utc>>,
    /// 1 to [`HistoryQuery::MAX_POINTS`]; default [`DEFAULT_POINTS`].
    pub points: Option<i64>,
}

impl HistoryRequest {
    /// The query this request asks for at `now`, or why it is invalid.
    pub fn query(&self, now: DateTime<Utc>) -> Result<HistoryQuery, ServiceError> {
        let points = match self.points {
            None => DEFAULT_POINTS,
            Some(p) => {
                u32::try_from(p).ok().filter(|p| (1..=HistoryQuery::MAX_POINTS).contains(p)).ok_or_else(|| {
                    ServiceError::Invalid(format!("points: {p} is outside 1..={}", HistoryQuery::MAX_POINTS))
                })?
            }
        };
        let to = self.to.unwrap_or(now);
        let from = self.from.unwrap_or(to - Duration::hours(DEFAULT_RANGE_HOURS));
        HistoryQuery::new(from, to, points).map_err(ServiceError::Invalid)
    }
}

/// The zone's history over the requested range, with the query it was answered for.
pub async fn zone_history(
    state: &AppState,
    id: ZoneId,
    request: HistoryRequest,
) -> Result<(HistoryQuery, History), ServiceError> {
    let query = request.query(state.clock.now())?;
    require_zone(state, id).await?;
    Ok((query, state.storage.zone_history(id, query).await?))
}
