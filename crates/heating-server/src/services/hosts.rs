//! Whether the server answers to a request's `Host` (against DNS rebinding; see `crate::config::HostSettings`).

use super::AppState;

/// A request whose `Host` the server does not answer to. The message names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this server does not answer to the host {host:?}; the host names it answers to are set with \
         --allowed-hosts / ALLOWED_HOSTS"
)]
pub struct HostRefused {
    /// The `Host` header as sent (cut to 100 characters).
    pub host: String,
}

/// Checks a request's `Host` header value. A request without one is answered: browsers always send it, and DNS
/// rebinding needs a browser.
pub fn check_host(state: &AppState, host: Option<&str>) -> Result<(), HostRefused> {
    match host {
        Some(host) if !state.config.hosts.allows(state.config.bind, host) => {
            Err(HostRefused { host: host.chars().take(100).collect() })
        }
        _ => Ok(()),
    }
}
