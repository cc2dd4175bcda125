//! The demand cap's guard, run at the end of every poll cycle when `DEMAND_CAP_KW` is set: it adds the energy
//! each heater used since its last reading (register 4, the energy counter) to the current 15-minute window's
//! budget, paces what is left of it over what is left of the window ([`CapBudget::available_w`]), and lets the
//! heaters that want heat share that power ([`allocate`]: rooms at their comfort floor first, then the one that
//! waited longest; a heater running for less than [`MIN_RUN`] keeps its place unless a room at its floor waits). A denied heater gets the zone's `min_temp` as target, written through
//! [`crate::fleet::dispatch::send_target`] (source `control`, reason "demand cap: …", so every write has its command
//! row); when it is allowed again the controller's target is written back. While a zone is held off the control job
//! leaves its target to the guard.
//!
//! A decision holds until the next cycle, so a heater switched on between two readings by its own thermostat can
//! overrun the budget by at most one poll interval's energy; the pacing takes it out of the rest of the window.

use chrono::Duration;
use heating_core::units::Setpoint;
use heating_predict::cap::{HeaterRequest, MIN_RUN, allocate};

use crate::state::AppState;
use crate::strategy::HYSTERESIS_K;

/// Sheds and releases heaters to keep the building within the cap (see the module documentation). Returns the
/// writes it made and how many failed.
pub async fn guard_once(state: &AppState) -> (usize, usize) {
    let Some(cap) = state.demand.cap() else { return (0, 0) };
    let now = state.clock.now();
    let fresh_within = Duration::milliseconds(
        (state.config.poll_interval().as_secs_f64() * 3.0 * state.clock.scale() * 1000.0).round() as i64,
    );
    let zones = state.fleet.owned();
    // What each zone looks like now: (zone, reading time, snapshot, preferences, controller's target).
    let seen: Vec<_> = zones
        .iter()
        .filter_map(|rt| {
            let live = rt.live();
            let r = live.reading?;
            let target = live.decision.as_ref().and_then(|d| d.output.target);
            Some((rt.clone(), r.at, r.snapshot, target))
        })
        .collect();
    let mut writes: Vec<super::ControlWrite> = Vec::new();
    {
        let mut guard = state.demand.guard();
        for (rt, at, s, _) in &seen {
            let z = guard.zones.entry(rt.id).or_default();
            let last = z.last_energy;
            if last.is_some_and(|(t, _)| t >= *at) {
                continue;
            }
            z.last_energy = Some((*at, s.energy_wh));
            z.on_since = if s.heater_on { z.on_since.or(Some(*at)) } else { None };
            if let Some((t, wh)) = last {
                // A counter that went back (device reset) counts nothing.
                let used_wh = s.energy_wh.saturating_sub(wh);
                guard.record(t, *at, f64::from(used_wh) * 3600.0);
            }
        }
        let cap_w = cap.cap_w(now);
        let available_w = guard.budget.available_w(now, cap_w);
        let mut requests = Vec::new();
        let mut who = Vec::new();
        for (rt, at, s, controller_target) in &seen {
            if now - *at > fresh_within {
                continue;
            }
            let prefs = rt.preferences();
            let z = guard.zones.get(&rt.id).copied().unwrap_or_default();
            let air = s.air_temperature;
            // The target the zone heats to when not held off: the controller's, else the device's own.
            let own = if z.shed { controller_target.or(z.before).unwrap_or(s.target) } else { s.target };
            let wants_on = if z.shed {
                air < own.celsius() - HYSTERESIS_K + 0.05
            } else {
                s.heater_on || air < own.celsius() - HYSTERESIS_K + 0.05
            };
            let floor = if s.occupied { prefs.occupied_temp - 0.5 } else { prefs.unoccupied_temp };
            // A room at its floor (within 0.1 K) is losing comfort: it goes first, and takes the place of a heater
            // within its minimum on-time; the others rank equal (0) and take turns.
            let deficit_k = if floor - air > -0.1 { 10.0 + (floor - air).max(0.0) } else { 0.0 };
            requests.push(HeaterRequest {
                power_w: f64::from(s.heater_power_w),
                wants_on,
                deficit_k,
                waited: z.waited,
                in_min_run: s.heater_on && !z.shed && z.on_since.is_some_and(|t| now - t < MIN_RUN),
            });
            who.push((rt.clone(), *s, own, prefs.min_temp, wants_on));
        }
        let allowed = allocate(&requests, available_w);
        for ((rt, s, own, min_temp, wants_on), ok) in who.into_iter().zip(allowed) {
            let z = guard.zones.entry(rt.id).or_default();
            if wants_on && !ok {
                z.waited = z.waited.saturating_add(1);
                if !z.shed {
                    z.before = Some(s.target);
                }
                z.shed = true;
                if let Ok(off) = Setpoint::from_celsius(min_temp.min(s.target.celsius()))
                    && (s.target.celsius() - off.celsius()).abs() >= 0.05
                {
                    let reason = format!(
                        "demand cap: held off ({:.2} kW available of a {:.2} kW cap in this 15-min window; \
                         {} cycles waiting)",
                        available_w / 1000.0,
                        cap_w / 1000.0,
                        z.waited
                    );
                    writes.push((rt, off, reason));
                }
            } else {
                if ok {
                    z.waited = 0;
                }
                if z.shed {
                    z.shed = false;
                    if (s.target.celsius() - own.celsius()).abs() >= 0.05 {
                        let reason = "demand cap: allowed again, the controller's target restored".to_string();
                        writes.push((rt, own, reason));
                    }
                }
            }
        }
    }
    let count = writes.len();
    let failed = super::send_control_writes(state, writes).await;
    (count, failed)
}
