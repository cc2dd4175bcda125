//! The building demand cap's live state: the cap (`DEMAND_CAP_KW`, `DEMAND_CAP_WINDOWS`), the energy used in the
//! current 15-minute window, the zones the guard holds off, and the latest joint plan's summary.
//!
//! It only holds things: the guard that sheds heaters runs in the poll job (`crate::jobs::guard`), the joint plan
//! in the control job (`crate::strategy::decide_building`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, Utc};
use heating_predict::cap::{CapBudget, DemandCap, WINDOW};
use heating_predict::control::building::JointSummary;

use crate::storage::ZoneId;

/// What the guard keeps per zone between poll cycles.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GuardZone {
    /// The energy counter (register 4) at the last reading, Wh, and when it was read.
    pub last_energy: Option<(DateTime<Utc>, u32)>,
    /// Cycles the zone wanted heat and was denied in a row (the allocation's rotation).
    pub waited: u32,
    /// The guard holds the heater off (it wrote `min_temp` as the target).
    pub shed: bool,
    /// The device's target when the guard held it off (restored if the controller has not decided one).
    pub before: Option<heating_core::units::Setpoint>,
    /// When a reading first showed the heater on since it was last seen off (None while off): its minimum on-time
    /// ([`heating_predict::cap::MIN_RUN`]) counts from here.
    pub on_since: Option<DateTime<Utc>>,
}

/// The guard's state.
#[derive(Debug)]
pub struct Guard {
    pub budget: CapBudget,
    pub zones: HashMap<ZoneId, GuardZone>,
}

impl Guard {
    /// Adds `energy_j` used over `[from, to)`, split between windows where the span crosses a boundary.
    pub fn record(&mut self, from: DateTime<Utc>, to: DateTime<Utc>, energy_j: f64) {
        let span = (to - from).as_seconds_f64();
        if span <= 0.0 {
            return;
        }
        let power_w = energy_j / span;
        let mut at = from;
        while at < to {
            let window_end = window_start(at) + WINDOW;
            let until = window_end.min(to);
            self.budget.record(at, power_w, (until - at).as_seconds_f64());
            at = until;
        }
    }
}

/// The aligned 15-minute window containing `at` (UTC).
#[must_use]
pub fn window_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = WINDOW.num_seconds();
    DateTime::from_timestamp(at.timestamp().div_euclid(secs) * secs, 0).unwrap_or(at)
}

/// What `/status` shows of the cap.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandNow {
    /// This instance's part of the cap in force now, kW (the whole cap with one instance).
    pub cap_kw: f64,
    /// This instance's share of the cap: 1 with one instance; with several, the fraction of the zones it holds.
    pub instance_share: f64,
    /// The configured cap outside the windows, kW, and the windows as configured.
    pub base_kw: f64,
    pub windows: Vec<String>,
    /// Start of the current 15-minute window, and the building's mean power in it so far (energy used since the
    /// window began over the time elapsed), kW.
    pub window_start: DateTime<Utc>,
    pub window_mean_kw: f64,
    /// Zones the guard holds off now.
    pub shed_zones: Vec<ZoneId>,
    /// The latest joint plan's summary (predictive zones planned within the cap).
    pub joint: Option<JointSummary>,
}

/// The cap and its live state; without a cap nothing here is used.
#[derive(Debug)]
pub struct DemandState {
    cap: Option<DemandCap>,
    /// This instance's share of the cap (see [`DemandState::set_share`]).
    share: Mutex<f64>,
    guard: Mutex<Guard>,
    joint: Mutex<Option<JointSummary>>,
}

impl DemandState {
    /// The state for `cap`. The budget starts empty and moves to the current window at its first use (the server's
    /// clock is not read here: some test clocks step at each reading).
    #[must_use]
    pub fn new(cap: Option<DemandCap>) -> Self {
        Self {
            cap,
            share: Mutex::new(1.0),
            guard: Mutex::new(Guard { budget: CapBudget::new(DateTime::UNIX_EPOCH), zones: HashMap::new() }),
            joint: Mutex::new(None),
        }
    }

    /// The cap this instance holds its zones to: the building's cap times this instance's share (the whole cap
    /// with one instance).
    #[must_use]
    pub fn cap(&self) -> Option<DemandCap> {
        let mut cap = self.cap.clone()?;
        let share = self.share();
        if share < 1.0 {
            cap.kw *= share;
            for w in &mut cap.windows {
                w.kw *= share;
            }
        }
        Some(cap)
    }

    /// This instance's share of the cap, 0..=1.
    #[must_use]
    pub fn share(&self) -> f64 {
        *self.share.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Several instances on one database: each holds the zones it holds to the cap times `held / zones` (set at
    /// every lease round), so the building together stays within the cap — the shares add up to at most 1, but
    /// for the seconds a rebalance takes. An instance cannot lend the part of its share its zones leave unused.
    pub fn set_share(&self, held: usize, zones: usize) {
        let share = if zones == 0 { 1.0 } else { (held as f64 / zones as f64).clamp(0.0, 1.0) };
        *self.share.lock().unwrap_or_else(PoisonError::into_inner) = share;
    }

    /// The guard's state, locked (never across an await).
    pub fn guard(&self) -> MutexGuard<'_, Guard> {
        self.guard.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the guard holds the zone's heater off (the control job then leaves its target to the guard).
    #[must_use]
    pub fn is_shed(&self, zone: ZoneId) -> bool {
        self.guard().zones.get(&zone).is_some_and(|z| z.shed)
    }

    /// The latest joint plan's summary.
    #[must_use]
    pub fn joint(&self) -> Option<JointSummary> {
        self.joint.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn set_joint(&self, joint: Option<JointSummary>) {
        *self.joint.lock().unwrap_or_else(PoisonError::into_inner) = joint;
    }

    /// The cap's state at `now`; `None` without a cap.
    #[must_use]
    pub fn now(&self, now: DateTime<Utc>) -> Option<DemandNow> {
        let configured = self.cap.as_ref()?;
        let cap = self.cap()?;
        let guard = self.guard();
        let start = window_start(now);
        let used_j = if guard.budget.window_start == start { guard.budget.used_j } else { 0.0 };
        let elapsed = (now - start).max(Duration::seconds(1)).as_seconds_f64();
        let mut shed_zones: Vec<ZoneId> = guard.zones.iter().filter(|(_, z)| z.shed).map(|(id, _)| *id).collect();
        shed_zones.sort_unstable();
        let hhmm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        Some(DemandNow {
            cap_kw: cap.cap_w(now) / 1000.0,
            instance_share: self.share(),
            base_kw: configured.kw,
            windows: configured
                .windows
                .iter()
                .map(|w| format!("{}-{}={}", hhmm(w.from_min), hhmm(w.to_min), w.kw))
                .collect(),
            window_start: start,
            window_mean_kw: used_j / elapsed / 1000.0,
            shed_zones,
            joint: self.joint.lock().unwrap_or_else(PoisonError::into_inner).clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn energy_across_a_window_boundary_is_split() {
        let state = DemandState::new(Some(DemandCap::constant(2.0)));
        // 2 kW over 10:14:00-10:16:00: one minute in each window.
        state.guard().record(t("2026-01-05T10:14:00Z"), t("2026-01-05T10:16:00Z"), 2000.0 * 120.0);
        let g = state.guard();
        assert_eq!(g.budget.window_start, t("2026-01-05T10:15:00Z"));
        assert!((g.budget.used_j - 120_000.0).abs() < 1e-6, "{}", g.budget.used_j);
        drop(g);
        let now = state.now(t("2026-01-05T10:16:00Z")).unwrap();
        assert!((now.window_mean_kw - 2.0).abs() < 1e-9, "{now:?}");
        assert_eq!(now.cap_kw, 2.0);
    }

    #[test]
    fn an_instance_holds_its_zones_to_its_share_of_the_cap() {
        let windows = vec!["17:00-20:00=3".parse().unwrap()];
        let state = DemandState::new(Some(DemandCap { kw: 6.0, windows, utc_offset_minutes: 0 }));
        assert_eq!(state.share(), 1.0, "alone: the whole cap");
        state.set_share(100, 300);
        let cap = state.cap().unwrap();
        assert!((cap.kw - 2.0).abs() < 1e-9 && (cap.windows[0].kw - 1.0).abs() < 1e-9, "{cap:?}");
        let now = state.now(t("2026-01-05T18:00:00Z")).unwrap();
        assert!((now.cap_kw - 1.0).abs() < 1e-9 && (now.instance_share - 1.0 / 3.0).abs() < 1e-9, "{now:?}");
        assert_eq!(now.base_kw, 6.0, "the configured cap is shown as configured");
        state.set_share(0, 0);
        assert_eq!(state.share(), 1.0, "no zones: nothing to share");
    }
}
