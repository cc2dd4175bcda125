//! Zone groups: a tree of named groups (a site → building → floor hierarchy, or any other), each zone in at most
//! one group. Create, list, rename, move (a new parent; never under itself), delete (only when empty); which zones a
//! group holds (its own and its subgroups'); a group's live summary and its aggregated history.
//!
//! Changes are for admins only (as changes to zones), recorded in the audit log.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::audit::{self, Change};
use super::history::HistoryRequest;
use super::status::{self, ZoneStatus};
use super::{AppState, Caller, Role, ServiceError, require};
use crate::domain::ZoneName;
use crate::storage::{
    GroupFields, GroupId, GroupKind, History, HistoryBucket, HistoryQuery, Resolution, Stats, Zone, ZoneGroup,
};

/// Most groups a site may have (a guard against runaway scripts; 1,000 zones in 10 floors need 11).
pub const MAX_GROUPS: usize = 1000;

/// A group to create, as a client sent it.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    pub name: String,
    /// `site`, `building`, `floor` or `group` (default).
    pub kind: Option<String>,
    pub parent_id: Option<GroupId>,
}

/// Changes to a group: each field given replaces the current value.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub kind: Option<String>,
    /// `Some(None)`: to the top level.
    pub parent_id: Option<Option<GroupId>>,
}

/// A group with where it sits in the tree and how many zones it holds.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    pub group: ZoneGroup,
    /// Names from the top-level group down to this one.
    pub path: Vec<String>,
    /// Zones directly in the group.
    pub zones: usize,
    /// Zones in the group and all its subgroups.
    pub zones_total: usize,
}

fn parse_kind(raw: Option<&str>) -> Result<GroupKind, ServiceError> {
    raw.map_or(Ok(GroupKind::Group), |k| k.parse().map_err(ServiceError::Invalid))
}

fn not_found(id: GroupId) -> ServiceError {
    ServiceError::NotFound(format!("Group {id} not found"))
}

/// The group, or `NotFound`.
pub async fn require_group(state: &AppState, id: GroupId) -> Result<ZoneGroup, ServiceError> {
    state.storage.get_group(id).await?.ok_or_else(|| not_found(id))
}

/// The parent exists (`Invalid` naming `parent_id` otherwise).
async fn check_parent(state: &AppState, parent: Option<GroupId>) -> Result<(), ServiceError> {
    if let Some(p) = parent
        && state.storage.get_group(p).await?.is_none()
    {
        return Err(ServiceError::Invalid(format!("parent_id: no group {p}")));
    }
    Ok(())
}

/// `id` and every group below it.
#[must_use]
pub fn subtree(groups: &[ZoneGroup], id: GroupId) -> HashSet<GroupId> {
    let mut children: HashMap<GroupId, Vec<GroupId>> = HashMap::new();
    for g in groups {
        if let Some(p) = g.parent_id {
            children.entry(p).or_default().push(g.id);
        }
    }
    let mut out = HashSet::from([id]);
    let mut todo = vec![id];
    while let Some(g) = todo.pop() {
        for &c in children.get(&g).map_or(&[][..], Vec::as_slice) {
            if out.insert(c) {
                todo.push(c);
            }
        }
    }
    out
}

fn audit_details(g: &ZoneGroup) -> Value {
    json!({"group_id": g.id, "name": g.name, "kind": g.kind.as_str(), "parent_id": g.parent_id})
}

/// Creates a group. Admins only.
pub async fn create(state: &AppState, caller: &Caller, new: NewGroup) -> Result<ZoneGroup, ServiceError> {
    require(caller, Role::Admin)?;
    let fields = GroupFields {
        name: ZoneName::parse(&new.name).map_err(ServiceError::Invalid)?,
        kind: parse_kind(new.kind.as_deref())?,
        parent_id: new.parent_id,
    };
    check_parent(state, fields.parent_id).await?;
    if state.storage.list_groups().await?.len() >= MAX_GROUPS {
        return Err(ServiceError::Conflict(format!("a site may have at most {MAX_GROUPS} groups")));
    }
    let group = state.storage.create_group(&fields, state.clock.now()).await?;
    let change = Change { action: "group.create", zone_id: None, details: audit_details(&group) };
    audit::record(state, caller, group.created_at, change).await;
    Ok(group)
}

/// Every group with its path and zone counts, by id.
pub async fn list(state: &AppState) -> Result<Vec<GroupInfo>, ServiceError> {
    let groups = state.storage.list_groups().await?;
    let zones = state.storage.list_zones().await?;
    Ok(infos(&groups, &zones))
}

/// Every group, by id (no counts: for the compact status).
pub async fn list_briefs(state: &AppState) -> Result<Vec<ZoneGroup>, ServiceError> {
    Ok(state.storage.list_groups().await?)
}

/// One group with its path and zone counts.
pub async fn get(state: &AppState, id: GroupId) -> Result<GroupInfo, ServiceError> {
    list(state).await?.into_iter().find(|g| g.group.id == id).ok_or_else(|| not_found(id))
}

fn infos(groups: &[ZoneGroup], zones: &[Zone]) -> Vec<GroupInfo> {
    let by_id: HashMap<GroupId, &ZoneGroup> = groups.iter().map(|g| (g.id, g)).collect();
    let mut direct: HashMap<GroupId, usize> = HashMap::new();
    for z in zones {
        if let Some(g) = z.group_id {
            *direct.entry(g).or_default() += 1;
        }
    }
    groups
        .iter()
        .map(|g| {
            let mut path = vec![g.name.clone()];
            let mut seen = HashSet::from([g.id]);
            let mut at = g.parent_id;
            while let Some(p) = at.and_then(|p| by_id.get(&p)) {
                if !seen.insert(p.id) {
                    break;
                }
                path.push(p.name.clone());
                at = p.parent_id;
            }
            path.reverse();
            let total = subtree(groups, g.id).iter().map(|id| direct.get(id).copied().unwrap_or(0)).sum();
            GroupInfo { group: g.clone(), path, zones: direct.get(&g.id).copied().unwrap_or(0), zones_total: total }
        })
        .collect()
}

/// Renames, relabels or moves a group. A group cannot move under itself or one of its subgroups. Admins only.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: GroupId,
    patch: GroupPatch,
) -> Result<ZoneGroup, ServiceError> {
    require(caller, Role::Admin)?;
    let current = require_group(state, id).await?;
    let mut fields = GroupFields {
        name: ZoneName::parse(&current.name).map_err(|e| ServiceError::Internal(anyhow::anyhow!("group {id}: {e}")))?,
        kind: current.kind,
        parent_id: current.parent_id,
    };
    if let Some(name) = patch.name {
        fields.name = ZoneName::parse(&name).map_err(ServiceError::Invalid)?;
    }
    if let Some(kind) = patch.kind {
        fields.kind = parse_kind(Some(&kind))?;
    }
    if let Some(parent) = patch.parent_id {
        check_parent(state, parent).await?;
        if let Some(p) = parent
            && subtree(&state.storage.list_groups().await?, id).contains(&p)
        {
            return Err(ServiceError::Invalid(format!(
                "parent_id: group {p} is group {id} itself or one of its subgroups"
            )));
        }
        fields.parent_id = parent;
    }
    let group = state.storage.update_group(id, &fields, state.clock.now()).await?;
    let details = json!({"before": audit_details(&current), "after": audit_details(&group)});
    audit::record(state, caller, group.updated_at, Change { action: "group.update", zone_id: None, details }).await;
    Ok(group)
}

/// Deletes an empty group (no subgroups, no zones; else `Conflict`). Returns it as it was. Admins only.
pub async fn delete(state: &AppState, caller: &Caller, id: GroupId) -> Result<GroupInfo, ServiceError> {
    require(caller, Role::Admin)?;
    let info = get(state, id).await?;
    let group = info.group.clone();
    state.storage.delete_group(id).await.map_err(|e| match e {
        crate::storage::StorageError::NotFound { .. } => not_found(id),
        other => other.into(),
    })?;
    let change = Change { action: "group.delete", zone_id: None, details: audit_details(&group) };
    audit::record(state, caller, state.clock.now(), change).await;
    Ok(info)
}

/// The zones of group `id` and its subgroups, by id (`NotFound` for an unknown group): two queries that read only
/// the group and those zones, however many zones the site has.
pub async fn zones_of(state: &AppState, id: GroupId) -> Result<Vec<Zone>, ServiceError> {
    if state.storage.get_group(id).await?.is_none() {
        return Err(not_found(id));
    }
    Ok(state.storage.list_zones_in_group(id).await?)
}

/// Air more than this below the target in force counts as below comfort.
pub const COMFORT_MARGIN_K: f64 = 0.5;

/// What a zone's live state says about it, for filters, sorting and counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// The device does not answer (health `offline`).
    pub offline: bool,
    /// The device answers but some reads fail (health `degraded`).
    pub degraded: bool,
    /// The air is more than [`COMFORT_MARGIN_K`] below the target in force (the control decision's, else the one
    /// the device holds).
    pub below_comfort: bool,
    pub heating: bool,
    pub occupied: bool,
    /// On a manual hold.
    pub hold: bool,
}

/// The flags of one zone now.
#[must_use]
pub fn flags(z: &ZoneStatus) -> Flags {
    use zone_client::HealthState;
    let health = z.endpoint.as_ref().and(z.live.health.as_ref()).map(|h| h.state);
    let reading = z.live.reading.as_ref();
    let target = z
        .live
        .decision
        .as_ref()
        .and_then(|d| d.output.target)
        .map(|t| t.celsius())
        .or(reading.map(|r| r.snapshot.target.celsius()));
    Flags {
        offline: health == Some(HealthState::Offline),
        degraded: health == Some(HealthState::Degraded),
        below_comfort: reading.zip(target).is_some_and(|(r, t)| r.snapshot.air_temperature < t - COMFORT_MARGIN_K),
        heating: reading.is_some_and(|r| r.snapshot.heater_on),
        occupied: reading.is_some_and(|r| r.snapshot.occupied),
        hold: z.live.hold.is_some(),
    }
}

/// A group's state now and its energy over a range.
#[derive(Debug, Clone)]
pub struct GroupSummary {
    pub group: GroupInfo,
    pub zones: usize,
    pub online: usize,
    pub offline: usize,
    pub degraded: usize,
    pub no_device: usize,
    pub below_comfort: usize,
    pub heating: usize,
    pub occupied: usize,
    pub on_hold: usize,
    /// Mean air temperature of the zones with a reading, °C.
    pub mean_temperature: Option<f64>,
    /// Sum of the zones' heater power now, W (zones heating × their rated power).
    pub heater_power_w: u64,
    /// The range the energy covers.
    pub query: HistoryQuery,
    /// Energy used over the range by the group's zones, Wh (`None` when no zone's counter gave a value).
    pub energy_wh: Option<i64>,
}

/// The live state of group `id`'s zones (and its subgroups'), with their energy over the requested range.
pub async fn summary(state: &AppState, id: GroupId, range: HistoryRequest) -> Result<GroupSummary, ServiceError> {
    let query = HistoryRequest { points: Some(1), ..range }.query(state.clock.now())?;
    let info = get(state, id).await?;
    let zones = status::zones_status(state, Some(id)).await?;
    let mut s = GroupSummary {
        group: info,
        zones: zones.len(),
        online: 0,
        offline: 0,
        degraded: 0,
        no_device: 0,
        below_comfort: 0,
        heating: 0,
        occupied: 0,
        on_hold: 0,
        mean_temperature: None,
        heater_power_w: 0,
        query,
        energy_wh: None,
    };
    let mut temps = Vec::new();
    for z in &zones {
        let f = flags(z);
        let online = z.live.health.as_ref().is_some_and(|h| h.state == zone_client::HealthState::Online);
        s.no_device += usize::from(z.endpoint.is_none());
        s.online += usize::from(z.endpoint.is_some() && online);
        s.offline += usize::from(f.offline);
        s.degraded += usize::from(f.degraded);
        s.below_comfort += usize::from(f.below_comfort);
        s.heating += usize::from(f.heating);
        s.occupied += usize::from(f.occupied);
        s.on_hold += usize::from(f.hold);
        if let Some(r) = &z.live.reading {
            temps.push(r.snapshot.air_temperature);
            if r.snapshot.heater_on {
                s.heater_power_w += u64::from(r.snapshot.heater_power_w);
            }
        }
    }
    if !temps.is_empty() {
        #[allow(clippy::cast_precision_loss)]
        let n = temps.len() as f64;
        s.mean_temperature = Some(temps.iter().sum::<f64>() / n);
    }
    let history = merged_history(state, zones.iter().map(|z| &z.zone), query).await?;
    s.energy_wh = history.energy_wh;
    Ok(s)
}

/// The readings of group `id`'s zones over the requested range, aggregated across the zones: per bucket the min and
/// max over the zones, the mean weighted by readings, shares over all readings; the energy is the zones' sum.
pub async fn history(
    state: &AppState,
    id: GroupId,
    range: HistoryRequest,
) -> Result<(HistoryQuery, History, usize), ServiceError> {
    let query = range.query(state.clock.now())?;
    let zones = zones_of(state, id).await?;
    let history = merged_history(state, zones.iter(), query).await?;
    Ok((query, history, zones.len()))
}

/// The zones' histories merged bucket by bucket (one query per zone, each from the rollups as `zone_history`).
async fn merged_history<'a>(
    state: &AppState,
    zones: impl Iterator<Item = &'a Zone>,
    query: HistoryQuery,
) -> Result<History, ServiceError> {
    #[derive(Default)]
    struct Acc {
        count: i64,
        t: Option<(f64, f64, f64)>,
        target: Option<(f64, f64, f64, i64)>,
        outdoor: Option<(f64, f64, f64, i64)>,
        heater: Option<(f64, i64)>,
        occupied: f64,
    }
    fn add3(acc: &mut Option<(f64, f64, f64, i64)>, s: Option<Stats>, n: i64) {
        if let Some(s) = s {
            #[allow(clippy::cast_precision_loss)]
            let w = s.avg * n as f64;
            *acc = Some(match *acc {
                None => (s.min, w, s.max, n),
                Some((lo, sum, hi, m)) => (lo.min(s.min), sum + w, hi.max(s.max), m + n),
            });
        }
    }
    let mut buckets: BTreeMap<DateTime<Utc>, Acc> = BTreeMap::new();
    let (mut readings, mut energy, mut resolution) = (0, None::<i64>, Resolution::Raw);
    for z in zones {
        let h = state.storage.zone_history(z.id, query).await?;
        readings += h.readings;
        if let Some(e) = h.energy_wh {
            energy = Some(energy.unwrap_or(0) + e);
        }
        resolution = h.resolution;
        for b in h.buckets {
            let a = buckets.entry(b.start).or_default();
            #[allow(clippy::cast_precision_loss)]
            let n = b.count as f64;
            a.t = Some(match a.t {
                None => (b.temperature.min, b.temperature.avg * n, b.temperature.max),
                Some((lo, sum, hi)) => {
                    (lo.min(b.temperature.min), sum + b.temperature.avg * n, hi.max(b.temperature.max))
                }
            });
            add3(&mut a.target, b.target_temp, b.count);
            add3(&mut a.outdoor, b.outdoor_temp, b.count);
            if let Some(f) = b.heater_on_fraction {
                let (s, m) = a.heater.unwrap_or((0.0, 0));
                a.heater = Some((s + f * n, m + b.count));
            }
            a.occupied += b.occupied_fraction * n;
            a.count += b.count;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let stats = |x: Option<(f64, f64, f64, i64)>| x.map(|(min, sum, max, n)| Stats { min, avg: sum / n as f64, max });
    #[allow(clippy::cast_precision_loss)]
    let buckets = buckets
        .into_iter()
        .filter_map(|(start, a)| {
            let (min, sum, max) = a.t?;
            let n = a.count as f64;
            Some(HistoryBucket {
                start,
                count: a.count,
                temperature: Stats { min, avg: sum / n, max },
                target_temp: stats(a.target),
                outdoor_temp: stats(a.outdoor),
                heater_on_fraction: a.heater.map(|(s, m)| s / m as f64),
                occupied_fraction: a.occupied / n,
            })
        })
        .collect();
    Ok(History { buckets, readings, energy_wh: energy, resolution })
}
