//! Whether the database answers.

use std::time::Duration;

use super::AppState;

/// How long the database may take to answer a trivial query before the server reports itself unhealthy.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the database answers a trivial query within [`PING_TIMEOUT`] (failures are logged).
pub async fn database_answers(state: &AppState) -> bool {
    match tokio::time::timeout(PING_TIMEOUT, state.storage.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database query failed");
            false
        }
        Err(_) => {
            tracing::warn!("health check: database did not answer within {PING_TIMEOUT:?}");
            false
        }
    }
}
