//! Several instances on one PostgreSQL database share the zones by leases (ARCHITECTURE.md, "the lease protocol").
//!
//! Every third of a lease period (and at once when another instance releases leases or joins: `NOTIFY`), an
//! instance [`lease_tick`]s: it writes its heartbeat, renews the leases it holds (a lost one is dropped), counts
//! the live instances and takes free or expired leases up to its fair share (⌈zones / instances⌉), or gives up
//! its surplus: highest zone ids first, after the poll cycle reading them has stored its readings, with a `NOTIFY`
//! so the others take them at once. A dead instance's leases expire one period after its last renewal, and are taken at
//! the next tick of the others. On shutdown ([`leave`]) it releases everything at once.
//!
//! The writes other instances forward (`services::control`: a `forwarded_commands` row and a `NOTIFY`) are
//! claimed here by the zone's owner, sent through [`dispatch`] (fenced by the lease epoch) and their outcome
//! recorded for the asking instance.

use std::collections::HashMap;
use std::time::Duration;

use heating_core::control::Hold;
use heating_core::units::Setpoint;
use tokio_util::sync::CancellationToken;

use crate::fleet::dispatch::{self, SendError};
use crate::fleet::{HoldRecord, Lease};
use crate::state::AppState;
use crate::storage::{FORWARD_CHANNEL, Forwarded, LEASES_CHANNEL, Notifications, StorageError};

/// What one tick changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeaseTick {
    pub held: usize,
    pub taken: usize,
    pub shed: usize,
    pub lost: usize,
    pub live_instances: usize,
}

/// The write margin: a write needs this much of its lease left. Connect, write and read-back each run under the
/// Modbus deadline.
#[must_use]
pub fn write_margin(state: &AppState) -> Duration {
    state.config.link_config().request_timeout * 3
}

/// Checks the lease settings against the Modbus deadline, and that no live instance has this id.
pub async fn join(state: &AppState) -> anyhow::Result<()> {
    let period = state.config.instances.lease_period();
    let margin = write_margin(state);
    if margin * 3 >= period * 2 {
        anyhow::bail!(
            "LEASE_PERIOD_MS ({} ms) must be more than 4.5 × MODBUS_TIMEOUT_MS ({} ms): a write must fit in what is \
             left of a lease between two renewals",
            period.as_millis(),
            state.config.modbus_timeout_ms
        );
    }
    let me = state.fleet.identity();
    let instances = state.storage.list_instances(period).await?;
    if let Some(other) = instances.iter().find(|i| i.id == me.id && i.alive) {
        anyhow::bail!(
            "instance id {:?} is in use by a running instance (last heartbeat {}); give this one another INSTANCE_ID \
             or wait one lease period",
            other.id,
            crate::time::rfc3339(other.heartbeat_at)
        );
    }
    // Leases of an earlier run under this id (killed) are not ours any more: released, epochs start anew.
    state.storage.release_leases(&me.id, None).await?;
    if state.demand.cap().is_some() {
        tracing::info!(
            "DEMAND_CAP_KW with several instances: each holds the zones it holds to its share of the cap (the \
             fraction of the zones it holds)"
        );
    }
    state.fleet.share_by_leases(margin);
    state.storage.heartbeat(me, 0, period * 10).await?;
    tracing::info!(instance = %me.id, lease_period = ?period, "sharing the zones with other instances by leases");
    Ok(())
}

/// One round of the protocol: heartbeat, renew, rebalance. See the module documentation.
pub async fn lease_tick(state: &AppState) -> Result<LeaseTick, StorageError> {
    let period = state.config.instances.lease_period();
    let me = state.fleet.identity().clone();
    // Zones changed through another instance (created, edited, deleted): reload as for a change made here.
    let version = state.storage.zones_version().await?;
    if state.fleet.zones_version.lock().map(|mut v| v.replace(version) != Some(version)).unwrap_or(true) {
        state.fleet.mark_dirty();
    }
    let before = state.fleet.held().unwrap_or_default();
    let renewed = state.storage.renew_leases(&me.id, period).await?;
    let mut held: HashMap<_, Lease> = renewed
        .iter()
        .map(|g| {
            let kept = before.get(&g.zone_id).filter(|l| l.epoch == g.epoch);
            (g.zone_id, Lease { epoch: g.epoch, poll_after: kept.and_then(|l| l.poll_after) })
        })
        .collect();
    let lost = before.keys().filter(|id| !held.contains_key(id)).count();
    if lost > 0 {
        tracing::warn!(lost, "zone leases lost (not renewed in time); another instance may hold them");
    }
    state.storage.heartbeat(&me, held.len(), period * 10).await?;
    let live = state.storage.list_instances(period).await?.iter().filter(|i| i.alive).count().max(1);
    let zones = state.storage.leasable_zones().await?;
    let share = usize::try_from((zones + live as i64 - 1) / live as i64).unwrap_or(0);
    let mut tick = LeaseTick { lost, live_instances: live, ..LeaseTick::default() };
    if held.len() > share {
        let mut ids: Vec<_> = held.keys().copied().collect();
        ids.sort_unstable();
        let shed: Vec<_> = ids.split_off(share);
        for id in &shed {
            held.remove(id);
        }
        // Stop acting on them first, then wait for the poll cycle that may be reading them and the store of its
        // readings, then release.
        state.fleet.set_held(held.clone());
        state.fleet.quiesce().await;
        state.storage.release_leases(&me.id, Some(&shed)).await?;
        tick.shed = shed.len();
    } else if held.len() < share {
        let want = i64::try_from(share - held.len()).unwrap_or(0);
        let taken = state.storage.acquire_leases(&me.id, want, period).await?;
        if !taken.is_empty() {
            let ids: Vec<_> = taken.iter().map(|g| g.zone_id).collect();
            // Polled once the previous owner's last reading is half an interval old: never twice in an interval.
            let half = chrono::Duration::from_std(state.config.poll_interval().mul_f64(0.6)).unwrap_or_default();
            let last: HashMap<_, _> =
                state.storage.latest_readings(&ids).await?.into_iter().map(|r| (r.zone_id, r.ts)).collect();
            for g in &taken {
                let poll_after = last.get(&g.zone_id).map(|ts| *ts + half);
                held.insert(g.zone_id, Lease { epoch: g.epoch, poll_after });
            }
            if ids.iter().any(|id| state.fleet.get(*id).is_none()) {
                // A zone created through another instance: this one's fleet has not loaded it yet.
                state.fleet.reload(&state.storage).await?;
            }
            tick.taken = taken.len();
        }
        state.fleet.set_held(held.clone());
    } else {
        state.fleet.set_held(held.clone());
    }
    tick.held = held.len();
    state.demand.set_share(held.len(), usize::try_from(zones).unwrap_or(0));
    if tick.shed > 0 || tick.lost > 0 {
        // Sockets for this instance's share only (an instance that held every zone alone for a moment would
        // otherwise keep a connection per zone open).
        state.fleet.close_unused_connections().await;
    }
    sync_holds(state, &held).await?;
    if tick.taken > 0 || tick.shed > 0 || tick.lost > 0 {
        tracing::info!(
            held = tick.held,
            taken = tick.taken,
            shed = tick.shed,
            lost = tick.lost,
            instances = live,
            "zone leases rebalanced"
        );
    }
    Ok(tick)
}

/// The stored holds are the ones in force (another instance may have set or cancelled one): a held zone's live
/// hold follows them; one set here less than a lease period ago is kept (its row may be on its way).
async fn sync_holds(state: &AppState, held: &HashMap<i64, Lease>) -> Result<(), StorageError> {
    if held.is_empty() {
        return Ok(());
    }
    let stored: HashMap<_, _> = state.storage.list_holds().await?.into_iter().map(|h| (h.zone_id, h)).collect();
    let recent =
        state.clock.now() - chrono::Duration::from_std(state.config.instances.lease_period()).unwrap_or_default();
    for id in held.keys() {
        let Some(rt) = state.fleet.get(*id) else { continue };
        let mut live = rt.live();
        match stored.get(id) {
            Some(h) => {
                let record = HoldRecord::from(h);
                if live.hold.is_none_or(|l| l.set_at != record.set_at) {
                    live.hold = Some(record);
                }
            }
            None => {
                if live.hold.is_some_and(|l| l.set_at < recent) {
                    live.hold = None;
                }
            }
        }
    }
    Ok(())
}

/// Sends the writes other instances forwarded for zones this one holds; how many.
pub async fn run_forwarded(state: &AppState) -> Result<usize, StorageError> {
    let claimed = state.storage.claim_forwarded(&state.fleet.identity().id).await?;
    let n = claimed.len();
    for f in claimed {
        send_forwarded(state, f).await?;
    }
    Ok(n)
}

async fn send_forwarded(state: &AppState, f: Forwarded) -> Result<(), StorageError> {
    let r = &f.request;
    let runtime = match state.fleet.get(r.zone_id) {
        Some(rt) => Some(rt),
        None => {
            state.fleet.reload(&state.storage).await?;
            state.fleet.get(r.zone_id)
        }
    };
    let (Some(runtime), Ok(target)) = (runtime, Setpoint::from_celsius(r.target_temp)) else {
        return state.storage.finish_forwarded(f.id, None, Some("the zone has no device in use")).await;
    };
    let sent =
        dispatch::send_target(&state.storage, &*state.clock, &runtime, target, r.source, r.reason.clone(), &r.actor)
            .await;
    match sent {
        Ok(command) => {
            let record = HoldRecord {
                hold: Hold { target, until: r.hold_until, occupied_at_start: r.occupied_at_start },
                set_at: r.set_at,
                source: r.source,
            };
            runtime.live().hold = Some(record);
            if let Err(e) = state.storage.put_hold(&record.stored(r.zone_id)).await {
                tracing::error!(zone_id = r.zone_id, "manual hold not stored (a restart would end it): {e}");
            }
            tracing::info!(zone_id = r.zone_id, from = %r.from_instance, command_id = command.id,
                "forwarded target sent");
            state.storage.finish_forwarded(f.id, Some(&command), None).await
        }
        Err(SendError::Device { command, error }) => {
            state.storage.finish_forwarded(f.id, Some(&command), Some(&error.to_string())).await
        }
        Err(SendError::NotOwner) => {
            state.storage.finish_forwarded(f.id, None, Some("the zone changed owner; nothing was sent")).await
        }
        Err(SendError::Storage(e)) => {
            let _ = state.storage.finish_forwarded(f.id, None, Some("the owner could not record the command")).await;
            Err(e)
        }
    }
}

/// Gives up every lease at once (shutdown): stop acting, wait for the poll cycle and its store, release, tell the
/// others.
pub async fn leave(state: &AppState) {
    let me = state.fleet.identity().id.clone();
    state.fleet.set_held(HashMap::new());
    state.fleet.quiesce().await;
    // The heartbeat row goes first, so that the others, woken by the release, count one instance less and take
    // this one's share at once.
    if let Err(e) = state.storage.remove_instance(&me).await {
        tracing::warn!("cannot remove this instance's heartbeat: {e}");
    }
    match state.storage.release_leases(&me, None).await {
        Ok(n) => tracing::info!(released = n, "zone leases released for the other instances"),
        Err(e) => tracing::error!("cannot release the zone leases (they expire within one lease period): {e}"),
    }
}

async fn listen(state: &AppState) -> Option<Notifications> {
    match state.storage.listen(&[LEASES_CHANNEL, FORWARD_CHANNEL]).await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!("cannot LISTEN for lease changes (polling only): {e}");
            None
        }
    }
}

/// Ticks every third of a lease period, at once on a notification, until `leaving` (then [`leave`]) or `stop`.
pub async fn run_leases(state: AppState, stop: CancellationToken, leaving: CancellationToken) {
    let period = state.config.instances.lease_period();
    let mut notifications = listen(&state).await;
    if let Err(e) = state.storage.notify(LEASES_CHANNEL, &state.fleet.identity().id).await {
        tracing::warn!("cannot announce this instance: {e}");
    }
    let me = state.fleet.identity().id.clone();
    let mut next_tick = tokio::time::Instant::now();
    loop {
        enum Woken {
            Stop,
            Tick,
            Note(Result<(String, String), StorageError>),
        }
        let woken = {
            let wake = async {
                match notifications.as_mut() {
                    Some(n) => n.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = stop.cancelled() => Woken::Stop,
                () = leaving.cancelled() => Woken::Stop,
                () = tokio::time::sleep_until(next_tick) => Woken::Tick,
                got = wake => Woken::Note(got),
            }
        };
        match woken {
            Woken::Stop => break,
            Woken::Tick => {
                next_tick = tokio::time::Instant::now() + period / 3;
                if let Err(e) = lease_tick(&state).await {
                    tracing::error!("lease round failed: {e}");
                }
                if let Err(e) = run_forwarded(&state).await {
                    tracing::error!("cannot run the forwarded writes: {e}");
                }
            }
            // Another instance joined, left or shed zones: rebalance now.
            Woken::Note(Ok((channel, from))) if channel == LEASES_CHANNEL => {
                if from != me {
                    next_tick = tokio::time::Instant::now();
                }
            }
            Woken::Note(Ok(_)) => {
                if let Err(e) = run_forwarded(&state).await {
                    tracing::error!("cannot run the forwarded writes: {e}");
                }
            }
            Woken::Note(Err(e)) => {
                tracing::warn!("lost the LISTEN connection, listening again: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                notifications = listen(&state).await;
            }
        }
    }
    leave(&state).await;
}
