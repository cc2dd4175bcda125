//! The alert job, run at the end of every poll cycle (after the demand-cap guard) and after every control run:
//! each zone's live state becomes an [`Observation`], the rules ([`crate::alerts::rules`]) say what to raise and
//! clear, and each raise or clear is stored, kept in memory for `/status`, logged once, queued for the webhook and broadcast (MQTT).
//!
//! One pass over the zones this instance polls, no database access unless an alert changes. An alert whose zone
//! is gone (deleted, or no longer polled) clears.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use zone_client::HealthState;

use crate::alerts::{Event, Observation, SeenFit, SeenReading, Transition};
use crate::fleet::ZoneRuntime;
use crate::state::AppState;
use crate::storage::{NewAlert, StorageError, StoredAlert};

/// How old a reading may be and still count as the zone's state now: three poll intervals (server time).
fn fresh_within(state: &AppState) -> Duration {
    Duration::milliseconds(
        (state.config.poll_interval().as_secs_f64() * 3.0 * state.clock.scale() * 1000.0).round() as i64
    )
}

/// What the rules see of one zone now.
fn observe(rt: &ZoneRuntime, now: DateTime<Utc>, fresh: Duration) -> Observation {
    let (reading, health, failed_writes) = {
        let live = rt.live();
        (live.reading, live.health.as_ref().map(|h| h.state), live.failed_writes)
    };
    let reading = reading.filter(|r| now - r.at <= fresh).map(|r| SeenReading {
        at: r.at,
        air_c: r.snapshot.air_temperature,
        heater_on: r.snapshot.heater_on,
        occupied: r.snapshot.occupied,
    });
    let fit = {
        let learned = rt.learned();
        learned.fits.values().max_by_key(|(at, _)| *at).map(|(at, fit)| SeenFit {
            at: *at,
            good: fit.good,
            problem: fit.problem.clone(),
            had_good: learned.model.as_ref().is_some_and(|m| m.fitted_at <= *at),
        })
    };
    Observation {
        zone_id: rt.id,
        now,
        reading,
        reachable: health != Some(HealthState::Offline),
        occupied_temp: rt.preferences().occupied_temp,
        failed_writes,
        fit,
    }
}

/// Evaluates the rules on every zone and applies what they say; how many alerts were raised and cleared.
pub async fn alerts_once(state: &AppState) -> (usize, usize) {
    let now = state.clock.now();
    let fresh = fresh_within(state);
    // With several instances only the zones this one holds are watched (the others are polled elsewhere); a zone
    // it gave up is forgotten here, and its holder adopts an alert still open in the database when it raises it.
    let zones = state.fleet.owned();
    let present: HashSet<_> = state.fleet.all().iter().map(|rt| rt.id).collect();
    let watched: HashSet<_> = zones.iter().map(|rt| rt.id).collect();
    let mut transitions = Vec::new();
    {
        let mut rules = state.alerts.rules();
        for rt in &zones {
            transitions.extend(rules.observe(&observe(rt, now, fresh)));
        }
        for gone in rules.zone_ids().into_iter().filter(|id| !watched.contains(id)) {
            rules.forget(gone);
        }
    }
    for a in state.alerts.open().into_iter().filter(|a| !present.contains(&a.zone_id)) {
        transitions.push(Transition::Clear { zone_id: a.zone_id, kind: a.kind });
    }
    let (mut raised, mut cleared) = (0, 0);
    for t in transitions {
        match t {
            Transition::Raise { zone_id, kind, message } => {
                let new = NewAlert { zone_id, kind, message, raised_at: now };
                match state.storage.insert_alert(&new).await {
                    Ok(alert) => {
                        raised += 1;
                        let zone = state.fleet.get(zone_id).map(|rt| rt.name());
                        tracing::warn!(zone_id, zone = zone.as_deref().unwrap_or("-"), alert_id = alert.id,
                            kind = %kind, "alert raised: {}", alert.message);
                        announce(state, Event::Raised, &alert, zone.as_deref(), now);
                    }
                    Err(StorageError::Conflict(_)) => {
                        // Open in the database already (raised by an earlier run whose memory was lost): adopt it.
                        if let Ok(open) = state.storage.open_alerts().await {
                            open.iter().filter(|a| a.zone_id == zone_id && a.kind == kind).for_each(|a| {
                                state.alerts.record(a);
                            });
                        }
                    }
                    Err(e) => {
                        tracing::error!(zone_id, kind = %kind, "cannot store an alert, retrying next cycle: {e}");
                        state.alerts.rules().unmark(zone_id, kind);
                    }
                }
            }
            Transition::Clear { zone_id, kind } => {
                let Some(open) = state.alerts.open_of(zone_id, kind) else { continue };
                match state.storage.clear_alert(open.id, now).await {
                    Ok(alert) => {
                        cleared += 1;
                        let zone = state.fleet.get(zone_id).map(|rt| rt.name());
                        tracing::info!(zone_id, zone = zone.as_deref().unwrap_or("-"), alert_id = alert.id,
                            kind = %kind, "alert cleared");
                        announce(state, Event::Cleared, &alert, zone.as_deref(), now);
                    }
                    Err(e) => {
                        tracing::error!(zone_id, kind = %kind, "cannot clear an alert, retrying next cycle: {e}");
                        state.alerts.rules().mark_open(zone_id, kind);
                    }
                }
            }
        }
    }
    (raised, cleared)
}

fn announce(state: &AppState, event: Event, alert: &StoredAlert, zone: Option<&str>, at: DateTime<Utc>) {
    state.alerts.announce(event, alert, zone, at);
}
