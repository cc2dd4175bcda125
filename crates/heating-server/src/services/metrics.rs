//! The Prometheus metrics: [`render`] (`GET /metrics`) takes each zone's state from the fleet and the database's
//! statistics (cached for [`crate::metrics::DATABASE_STATS_TTL`]), and encodes them with the counters and histograms the hooks
//! keep; [`http_request`] is the HTTP middleware's hook.

use std::time::Duration;

use zone_client::HealthState;

use super::{AppState, ServiceError};
use crate::metrics::{DatabaseStats, ReadingSample, ZoneSample};

/// How long the database may take to count its rows before a scrape goes on without them.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// Every metric, in the Prometheus text format 0.0.4 ([`crate::metrics::CONTENT_TYPE`]).
pub async fn render(state: &AppState) -> Result<String, ServiceError> {
    let zones: Vec<ZoneSample> = state
        .fleet
        .all()
        .iter()
        .map(|rt| {
            let live = rt.live();
            ZoneSample {
                id: rt.id,
                name: rt.name(),
                health: health_label(live.health.as_ref().map(|h| h.state)),
                reading: live.reading.map(|r| ReadingSample {
                    at_seconds: r.at.timestamp_millis() as f64 / 1000.0,
                    air_celsius: r.snapshot.air_temperature,
                    target_celsius: r.snapshot.target.celsius(),
                    outdoor_celsius: r.snapshot.outdoor_temperature,
                    heater_on: r.snapshot.heater_on,
                    occupied: r.snapshot.occupied,
                    heater_power_watts: f64::from(r.snapshot.heater_power_w),
                    energy_wh: f64::from(r.snapshot.energy_wh),
                }),
            }
        })
        .collect();
    let database = database_stats(state).await;
    state.metrics.render(&zones, database.as_ref()).map_err(|e| ServiceError::Internal(anyhow::anyhow!("metrics: {e}")))
}

fn health_label(state: Option<HealthState>) -> &'static str {
    match state {
        None | Some(HealthState::Unknown) => "unknown",
        Some(HealthState::Online) => "online",
        Some(HealthState::Degraded) => "degraded",
        Some(HealthState::Offline) => "offline",
    }
}

/// Rows per table and the database's size: from the cache if younger than [`crate::metrics::DATABASE_STATS_TTL`], else queried
/// (under [`DATABASE_TIMEOUT`]); `None` when the database does not answer (logged).
async fn database_stats(state: &AppState) -> Option<DatabaseStats> {
    if let Some(stats) = state.metrics.cached_database_stats() {
        return Some(stats);
    }
    let stats = query_database_stats(state).await;
    if let Some(stats) = &stats {
        state.metrics.cache_database_stats(stats.clone());
    }
    stats
}

/// The database statistics for `/status`, which never waits for them: the last ones read (however old, with their
/// age), and when they are older than [`crate::metrics::DATABASE_STATS_TTL`] a refresh started in the background
/// (one at a time). `None` until the first refresh finished.
pub fn database_stats_now(state: &AppState) -> Option<(Duration, DatabaseStats)> {
    let last = state.metrics.status_database_stats();
    let fresh = last.as_ref().is_some_and(|(age, _)| *age < crate::metrics::DATABASE_STATS_TTL);
    if !fresh && state.metrics.claim_database_refresh() {
        let state = state.clone();
        // Ends by itself: two queries under a timeout each.
        tokio::spawn(async move {
            if let Some(stats) = query_database_stats(&state).await {
                state.metrics.cache_status_database_stats(stats);
            }
            state.metrics.database_refreshed();
        });
    }
    last
}

/// Reads rows per table and the size (under [`DATABASE_TIMEOUT`]), then bytes per table (at most every
/// [`crate::metrics::TABLE_BYTES_TTL`], under the same timeout: left out if slower).
async fn query_database_stats(state: &AppState) -> Option<DatabaseStats> {
    let query = async {
        let rows = state.storage.table_rows().await?;
        let size_bytes = state.storage.database_size_bytes().await?;
        Ok::<_, crate::storage::StorageError>(DatabaseStats { rows, size_bytes: Some(size_bytes), table_bytes: vec![] })
    };
    let stats = tokio::time::timeout(DATABASE_TIMEOUT, query).await;
    let stats = match stats {
        Ok(Ok(mut stats)) => {
            if let Some(bytes) = state.metrics.cached_table_bytes() {
                stats.table_bytes = bytes;
                return Some(stats);
            }
            match tokio::time::timeout(DATABASE_TIMEOUT, state.storage.table_bytes()).await {
                Ok(Ok(bytes)) => {
                    state.metrics.cache_table_bytes(bytes.clone());
                    stats.table_bytes = bytes;
                }
                // Not tried again before the TTL either: a file too large to count in time stays so.
                Ok(Err(e)) => {
                    tracing::debug!("bytes per table not read: {e}");
                    state.metrics.cache_table_bytes(Vec::new());
                }
                Err(_) => {
                    tracing::debug!("bytes per table took longer than {DATABASE_TIMEOUT:?}; left out");
                    state.metrics.cache_table_bytes(Vec::new());
                }
            }
            Ok(Ok(stats))
        }
        other => other,
    };
    match stats {
        Ok(Ok(stats)) => Some(stats),
        Ok(Err(e)) => {
            tracing::warn!("metrics: database statistics not read: {e}");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: database statistics took longer than {DATABASE_TIMEOUT:?}; left out");
            None
        }
    }
}

/// Records an answered HTTP request: its method (an unusual one counts as `other`), its route template (not the
/// raw path: `unmatched` when no route matched) and status.
pub fn http_request(state: &AppState, method: &str, route: Option<&str>, status: u16, took: Duration) {
    const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let method = METHODS.into_iter().find(|m| *m == method).unwrap_or("other");
    state.metrics.http_request(method, route.unwrap_or("unmatched"), status, took);
}
