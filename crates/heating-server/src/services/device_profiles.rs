//! Device profiles: the ones the server knows (built-in, `DEVICE_PROFILES_DIR`, posted), posting a new one
//! (admins; validated, stored, audited; zones naming it pick it up at the next poll), and probing a device with a
//! profile before a zone is registered for it (admins: it makes the server talk to a host the caller names, within
//! `DEVICE_NETWORKS`).

use std::sync::Arc;

use serde_json::json;
use zone_client::{Endpoint, ProbeReport, ZoneError};

use super::audit::{self, Change};
use super::{AppState, Caller, Role, ServiceError, require};
use crate::domain::ModbusHost;
use crate::profiles::{KnownProfile, ProfileRegistry};
use crate::storage::NewDeviceProfile;

/// Every known profile, by name.
#[must_use]
pub fn list(state: &AppState) -> Vec<Arc<KnownProfile>> {
    state.profiles.list()
}

/// One profile by name; `Invalid` for a name no profile can have (`[a-z0-9-]{1,64}`), `NotFound` otherwise.
pub fn get(state: &AppState, name: &str) -> Result<Arc<KnownProfile>, ServiceError> {
    let well_formed = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !well_formed {
        return Err(ServiceError::Invalid(format!("name: {name:?} is not a profile name ([a-z0-9-], 1 to 64)")));
    }
    state.profiles.get(name).ok_or_else(|| ServiceError::NotFound(format!("Device profile {name:?} not found")))
}

/// Validates, stores and registers a posted profile (TOML). `Invalid` with the validator's message (it names the
/// field: `toml: points.target.step: ...`); `Conflict` for a built-in's or a folder profile's name, or a name and
/// version already posted. Admins only.
pub async fn create(state: &AppState, caller: &Caller, toml: String) -> Result<Arc<KnownProfile>, ServiceError> {
    require(caller, Role::Admin)?;
    let profile = ProfileRegistry::parse(&toml).map_err(|e| ServiceError::Invalid(format!("toml: {e}")))?;
    state.profiles.check_name(&profile).map_err(ServiceError::Conflict)?;
    let now = state.clock.now();
    let new = NewDeviceProfile {
        name: profile.name.clone(),
        version: profile.version,
        toml,
        created_at: now,
        actor: caller.name.clone(),
    };
    let stored = state.storage.insert_device_profile(&new).await?;
    state.profiles.add_posted(&stored).map_err(|e| ServiceError::Internal(anyhow::anyhow!(e)))?;
    // Zones naming the profile get a link speaking the new version at the next poll.
    state.fleet.mark_dirty();
    let details = json!({"name": stored.name, "version": stored.version});
    audit::record(state, caller, now, Change { action: "device_profile.create", zone_id: None, details }).await;
    tracing::info!(profile = %stored.name, version = stored.version, by = %caller.name, "device profile added");
    get(state, &profile.name)
}

/// Where and with what to probe.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    pub host: String,
    pub port: u16,
    pub unit_id: u8,
    pub profile: String,
}

/// Reads every point of the profile once from the device (on a connection of its own) and reports each raw and
/// decoded. `Invalid` for a host outside `DEVICE_NETWORKS`, port 0 or an unknown profile; `Unavailable` when the
/// device does not answer at all. Admins only.
pub async fn probe(state: &AppState, caller: &Caller, request: ProbeRequest) -> Result<ProbeReport, ServiceError> {
    require(caller, Role::Admin)?;
    let host = ModbusHost::parse(&request.host).map_err(|e| ServiceError::Invalid(e.replace("modbus_host", "host")))?;
    state
        .config
        .auth
        .device_networks
        .check_host(host.as_str())
        .map_err(|e| ServiceError::Invalid(e.replace("modbus_host", "host")))?;
    if request.port == 0 {
        return Err(ServiceError::Invalid("port: must be 1..=65535".into()));
    }
    let known = state.profiles.get(&request.profile).ok_or_else(|| {
        ServiceError::Invalid(format!(
            "profile: unknown device profile {:?} (known: {})",
            request.profile,
            state.profiles.names()
        ))
    })?;
    let endpoint = Endpoint { host: host.as_str().to_string(), port: request.port, unit_id: request.unit_id };
    let shown = endpoint.to_string();
    zone_client::probe(endpoint, known.profile.clone(), state.config.link_config(), state.clock.now())
        .await
        .map_err(|e: ZoneError| ServiceError::Unavailable(format!("{shown}: {e}")))
}
