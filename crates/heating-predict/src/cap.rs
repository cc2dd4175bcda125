//! A building demand cap: the highest mean power over each 15-minute window, across all zones, and how heaters
//! share it when it binds.
//!
//! - [`DemandCap`]: the setting, kW, optionally different in windows of the day (site-local time).
//! - [`CapBudget`]: the energy left in the current window; [`CapBudget::available_w`] paces it over the rest of the
//!   window, so that any set of heaters whose total power stays within it keeps the window's mean under the cap.
//! - [`allocate`]: given the heaters that want to run, their powers and comfort deficits, which may run within a
//!   power budget: the largest deficit first, ties to the heater that has waited longest (rotation); a heater
//!   that started less than [`MIN_RUN`] ago keeps its place unless a room in clearly greater need waits
//!   ([`KEEP_K`]), so that the rotation does not switch relays every round.
//!
//! The predictive strategy plans within the cap (one LP over the zones, [`crate::control::building`]); the others
//! do not know it. Either way the heaters' own thermostats switch, so a guard calls [`allocate`] every few
//! seconds to minutes with the budget and sheds what does not fit.

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};

pub use crate::lp::CapSpan;

/// The length of a demand window (billing and connection limits use the mean power over 15 minutes).
pub const WINDOW: Duration = Duration::minutes(15);

/// A building demand cap: `kw`, except in the listed windows of the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemandCap {
    /// The cap, kW.
    pub kw: f64,
    /// Other caps in windows of the day (site-local time), first match wins.
    #[serde(default)]
    pub windows: Vec<CapWindow>,
    /// Site-local offset from UTC, minutes.
    #[serde(default)]
    pub utc_offset_minutes: i32,
}

/// A cap in force from `from_min` to `to_min` minutes after local midnight (wrapping past midnight when
/// `to_min <= from_min`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CapWindow {
    pub from_min: u32,
    pub to_min: u32,
    pub kw: f64,
}

/// Why a demand cap was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CapError(pub String);

impl std::str::FromStr for CapWindow {
    type Err = CapError;

    /// `HH:MM-HH:MM=KW`, e.g. `17:00-21:00=3`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CapError(format!("cap window {s:?}: expected HH:MM-HH:MM=KW, e.g. 17:00-21:00=3"));
        let (span, kw) = s.trim().split_once('=').ok_or_else(bad)?;
        let (from, to) = span.split_once('-').ok_or_else(bad)?;
        let minutes = |t: &str| -> Result<u32, CapError> {
            let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
            let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if h > 24 || m > 59 || (h == 24 && m > 0) {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        let kw: f64 = kw.trim().parse().map_err(|_| bad())?;
        Ok(Self { from_min: minutes(from)?, to_min: minutes(to)?, kw })
    }
}

impl DemandCap {
    /// A cap of `kw` at all times.
    #[must_use]
    pub fn constant(kw: f64) -> Self {
        Self { kw, windows: Vec::new(), utc_offset_minutes: 0 }
    }

    /// Every cap finite and above 0 kW (at most 10 MW), windows within the day and not empty.
    pub fn validate(&self) -> Result<(), CapError> {
        let ok = |kw: f64| kw.is_finite() && kw > 0.0 && kw <= 10_000.0;
        if !ok(self.kw) {
            return Err(CapError(format!("demand cap {} kW: must be above 0 and at most 10000 kW", self.kw)));
        }
        for w in &self.windows {
            if !ok(w.kw) {
                return Err(CapError(format!("cap window {} kW: must be above 0 and at most 10000 kW", w.kw)));
            }
            if w.from_min >= 24 * 60 || w.to_min > 24 * 60 || w.from_min == w.to_min {
                return Err(CapError(format!(
                    "cap window {}-{} min: must lie within the day and not be empty",
                    w.from_min, w.to_min
                )));
            }
        }
        Ok(())
    }

    /// The cap in force at `at`, W.
    #[must_use]
    pub fn cap_w(&self, at: DateTime<Utc>) -> f64 {
        let local = at + Duration::minutes(i64::from(self.utc_offset_minutes));
        let m = local.hour() * 60 + local.minute();
        let inside = |w: &&CapWindow| {
            if w.from_min < w.to_min { (w.from_min..w.to_min).contains(&m) } else { m >= w.from_min || m < w.to_min }
        };
        self.windows.iter().find(inside).map_or(self.kw, |w| w.kw) * 1000.0
    }

    /// The lowest cap in force at any time in `[from, to)`, W. Exact: the windows' bounds and the UTC offset are
    /// whole minutes, so the cap is constant over each clock minute, and every minute the span touches is looked at.
    #[must_use]
    pub fn lowest_w(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        let minute = from.timestamp().div_euclid(60) * 60;
        let mut at = DateTime::from_timestamp(minute, 0).unwrap_or(from);
        let mut low = self.cap_w(from);
        while at < to {
            low = low.min(self.cap_w(at));
            if self.windows.is_empty() {
                break;
            }
            at += Duration::minutes(1);
        }
        low
    }

    /// The cap windows a plan of `n` steps of `step` from `from` overlaps, as the joint LP holds them: the clock's
    /// 15-minute windows ([`WINDOW`], aligned in UTC as the guard's [`CapBudget`] and meters align them), so a plan
    /// started inside a window counts that window's energy already used (`budget`, when it is for that window;
    /// without one the window is taken as used at the cap so far), each window at the lowest cap in force during
    /// the part of it the plan covers ([`DemandCap::lowest_w`]), the last one over the part the plan covers. The
    /// windows' times are in seconds from `from`; the first window's start is returned too.
    #[must_use]
    pub fn plan_windows(
        &self,
        from: DateTime<Utc>,
        step: Duration,
        n: usize,
        budget: Option<&CapBudget>,
    ) -> (DateTime<Utc>, Vec<CapSpan>) {
        let first = window_start(from);
        let end = from + step * i32::try_from(n).unwrap_or(i32::MAX);
        let secs = |t: DateTime<Utc>| (t - from).as_seconds_f64();
        let mut spans = Vec::new();
        let mut start = first;
        while start < end {
            let stop = (start + WINDOW).min(end);
            let cap_w = self.lowest_w(start.max(from), stop);
            let before_s = secs(start).min(0.0).abs();
            let used_j = match budget {
                _ if before_s <= 0.0 => 0.0,
                Some(b) if b.window_start == start => b.used_j.max(0.0),
                Some(_) => 0.0,
                None => cap_w * before_s,
            };
            spans.push(CapSpan { from_s: secs(start), to_s: secs(stop), cap_w, used_j });
            start += WINDOW;
        }
        (first, spans)
    }
}

/// The energy left in the current cap window, and its pacing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapBudget {
    /// Start of the current window (aligned to [`WINDOW`] in UTC, as meters align them).
    pub window_start: DateTime<Utc>,
    /// Energy used in the current window so far, J.
    pub used_j: f64,
}

impl CapBudget {
    /// The window containing `now`, nothing used yet.
    #[must_use]
    pub fn new(now: DateTime<Utc>) -> Self {
        Self { window_start: window_start(now), used_j: 0.0 }
    }

    /// The power the heaters may draw from `now` on, W: the energy left in the window over the time left in it, so
    /// that drawing at most this until the window ends keeps its mean at or under `cap_w` (the budget moves to a
    /// new window on its own).
    pub fn available_w(&mut self, now: DateTime<Utc>, cap_w: f64) -> f64 {
        self.roll(now);
        let window_s = WINDOW.as_seconds_f64();
        let left_s = (self.window_start + WINDOW - now).as_seconds_f64().clamp(1e-9, window_s);
        ((cap_w * window_s - self.used_j) / left_s).max(0.0)
    }

    /// Adds the energy drawn over `[now, now + dt)` (`dt` within the window).
    pub fn record(&mut self, now: DateTime<Utc>, power_w: f64, dt_s: f64) {
        self.roll(now);
        self.used_j += power_w * dt_s;
    }

    fn roll(&mut self, now: DateTime<Utc>) {
        let start = window_start(now);
        if start != self.window_start {
            *self = Self { window_start: start, used_j: 0.0 };
        }
    }
}

fn window_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let w = WINDOW.num_seconds();
    let secs = at.timestamp().div_euclid(w) * w;
    DateTime::from_timestamp(secs, 0).unwrap_or(at)
}

/// The minimum on-time of a heater the guard lets run: within it, the heater keeps its place in the allocation
/// (while its thermostat wants heat and the budget allows) against rooms in equal or slightly greater need. Ten
/// minutes: at most six shed-and-release cycles an hour, the cycle rate of ordinary room thermostats (3 to 6 per
/// hour), and shorter than the 15-minute window, so that a room kept waiting gets its turn within a window or two.
pub const MIN_RUN: Duration = Duration::minutes(10);

/// How much further below its comfort (K) a waiting room must be to take the place of a heater within its minimum
/// on-time: more than the thermostat's whole switching band (2 × 0.3 K), so that rooms cycling normally do not
/// preempt each other, while a room at its comfort floor (which callers rank by a larger deficit) still does.
pub const KEEP_K: f64 = 0.7;

/// One heater's request to the cap guard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeaterRequest {
    /// Its rated power, W.
    pub power_w: f64,
    /// Whether its thermostat (or its plan) wants it on now.
    pub wants_on: bool,
    /// How far the room is below the comfort it should keep, K (negative: above it).
    pub deficit_k: f64,
    /// How long it has been kept off while wanting to run (any unit, e.g. guard rounds); the longest waiting goes
    /// first among equal deficits.
    pub waited: u32,
    /// It runs now with the guard's leave and started less than [`MIN_RUN`] ago: it ranks as if its deficit were
    /// [`KEEP_K`] larger.
    pub in_min_run: bool,
}

/// Which heaters may run within `available_w`: those that want to, largest comfort deficit first (deficits
/// compared to 0.1 K, so near-equal rooms take turns; a heater within its minimum on-time counts [`KEEP_K`] more),
/// then the longest waiting, then the order given; each one that fits is allowed (a smaller heater may still fit
/// after a larger one did not).
#[must_use]
pub fn allocate(requests: &[HeaterRequest], available_w: f64) -> Vec<bool> {
    let mut order: Vec<usize> = (0..requests.len()).filter(|&i| requests[i].wants_on).collect();
    let rank = |r: &HeaterRequest| {
        let d = r.deficit_k + if r.in_min_run { KEEP_K } else { 0.0 };
        if d.is_finite() { (d * 10.0).round() as i64 } else { i64::MIN }
    };
    order.sort_by(|&a, &b| {
        let (ra, rb) = (&requests[a], &requests[b]);
        rank(rb).cmp(&rank(ra)).then(rb.waited.cmp(&ra.waited)).then(a.cmp(&b))
    });
    let mut allowed = vec![false; requests.len()];
    let mut left = available_w;
    for i in order {
        let p = requests[i].power_w.max(0.0);
        if p <= left + 1e-9 {
            allowed[i] = true;
            left -= p;
        }
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc() + Duration::minutes(min)
    }

    fn req(power_w: f64, deficit_k: f64, waited: u32) -> HeaterRequest {
        HeaterRequest { power_w, wants_on: true, deficit_k, waited, in_min_run: false }
    }

    #[test]
    fn the_largest_deficit_goes_first_and_smaller_heaters_fill_up() {
        let r = [req(2500.0, 0.2, 0), req(1500.0, 1.0, 0), req(1000.0, 0.5, 0), req(1200.0, -0.3, 9)];
        // 4 kW: Kitchen (1.0 K) and Office (0.5 K) first, the 2.5 kW heater no longer fits, the 1.2 kW one does.
        assert_eq!(allocate(&r, 4000.0), vec![false, true, true, true]);
        assert_eq!(allocate(&r, 0.0), vec![false; 4]);
        let off = HeaterRequest { wants_on: false, ..req(1000.0, 5.0, 0) };
        assert_eq!(allocate(&[off], 1e9), vec![false]);
    }

    #[test]
    fn equal_deficits_take_turns() {
        // Three equal rooms, room for one: whoever waited longest runs, then waits 0, and so on.
        let mut waited = [0u32; 3];
        let mut ran = [0; 3];
        for _ in 0..30 {
            let r: Vec<_> = waited.iter().map(|&w| req(1000.0, 0.51, w)).collect();
            let a = allocate(&r, 1000.0);
            assert_eq!(a.iter().filter(|x| **x).count(), 1);
            for i in 0..3 {
                if a[i] {
                    waited[i] = 0;
                    ran[i] += 1;
                } else {
                    waited[i] += 1;
                }
            }
        }
        assert_eq!(ran, [10, 10, 10]);
    }

    /// Three rooms that want heat all the time, room for one, one-minute rounds over two hours: how often a heater
    /// is switched on or off, and how many rounds each ran, with or without the minimum on-time.
    fn rotate(min_run: bool) -> (u32, [u32; 3]) {
        let mut waited = [0u32; 3];
        let mut started: [Option<u32>; 3] = [None; 3];
        let (mut switches, mut ran) = (0, [0u32; 3]);
        // Deficits move with the heating: a running room warms 0.05 K a minute, a waiting one cools 0.01 K.
        let mut deficit = [0.3, 0.35, 0.4];
        for round in 0..120u32 {
            let r: Vec<_> = (0..3)
                .map(|i| HeaterRequest {
                    in_min_run: min_run && started[i].is_some_and(|s| round - s < MIN_RUN.num_minutes() as u32),
                    ..req(1000.0, deficit[i], waited[i])
                })
                .collect();
            let a = allocate(&r, 1000.0);
            assert_eq!(a.iter().filter(|x| **x).count(), 1);
            for i in 0..3 {
                if a[i] != started[i].is_some() {
                    switches += 1;
                }
                if a[i] {
                    started[i] = started[i].or(Some(round));
                    waited[i] = 0;
                    ran[i] += 1;
                    deficit[i] -= 0.05;
                } else {
                    started[i] = None;
                    waited[i] += 1;
                    deficit[i] += 0.01;
                }
            }
        }
        (switches, ran)
    }

    #[test]
    fn a_heater_keeps_its_place_for_its_minimum_on_time() {
        let (churn, _) = rotate(false);
        let (calm, ran) = rotate(true);
        // Every turn lasts at least MIN_RUN: at most one switch-on (and one switch-off) per 10 rounds.
        assert!(calm <= 2 * 120 / 10 + 1, "{calm} switches with the minimum on-time");
        assert!(churn >= 2 * calm, "{churn} switches without against {calm} with");
        // Still fair: each room runs about a third of the time.
        assert!(ran.iter().all(|&n| (30..=50).contains(&n)), "{ran:?}");
        // A room at its comfort floor (ranked 10 K + its deficit by the callers) still takes the place at once.
        let locked = HeaterRequest { in_min_run: true, ..req(1000.0, 0.2, 0) };
        assert_eq!(allocate(&[locked, req(1000.0, 10.1, 0)], 1000.0), vec![false, true]);
        // A room in slightly greater need waits.
        assert_eq!(allocate(&[locked, req(1000.0, 0.8, 5)], 1000.0), vec![true, false]);
    }

    #[test]
    fn the_budget_keeps_every_window_mean_under_the_cap() {
        // Heaters of 2.5 + 1.5 + 1.2 kW that always want to run, a 3 kW cap, 1-minute steps over two hours.
        let powers = [2500.0, 1500.0, 1200.0];
        let mut budget = CapBudget::new(t(0));
        let mut waited = [0u32; 3];
        let mut per_window = std::collections::BTreeMap::<i64, f64>::new();
        for m in 0..120 {
            let now = t(m);
            let avail = budget.available_w(now, 3000.0);
            let r: Vec<_> = powers.iter().zip(waited).map(|(&p, w)| req(p, 0.5, w)).collect();
            let a = allocate(&r, avail);
            let on: f64 = powers.iter().zip(&a).filter(|(_, on)| **on).map(|(p, _)| p).sum();
            budget.record(now, on, 60.0);
            *per_window.entry(m / 15).or_default() += on * 60.0;
            for i in 0..3 {
                waited[i] = if a[i] { 0 } else { waited[i] + 1 };
            }
        }
        for (w, j) in per_window {
            let mean = j / 900.0;
            assert!(mean <= 3000.0 + 1e-6, "window {w}: {mean} W");
            assert!(mean > 2500.0, "window {w}: the budget is used, {mean} W");
        }
    }

    #[test]
    fn caps_by_time_of_day() {
        let cap = DemandCap {
            kw: 4.0,
            windows: vec!["17:00-21:00=3".parse().unwrap(), "23:00-01:00=5".parse().unwrap()],
            utc_offset_minutes: 60,
        };
        cap.validate().unwrap();
        assert_eq!(cap.cap_w(t(10 * 60)), 4000.0);
        assert_eq!(cap.cap_w(t(16 * 60)), 3000.0, "17:00 local");
        assert_eq!(cap.cap_w(t(20 * 60)), 4000.0, "21:00 local");
        assert_eq!(cap.cap_w(t(23 * 60 + 30)), 5000.0, "00:30 local");
        // 16:07-16:37 UTC (17:07-17:37 local, the 3 kW window) in 10-minute steps: three clock windows, the first
        // begun before the plan.
        let (from, w) = cap.plan_windows(t(16 * 60 + 7), Duration::minutes(10), 3, None);
        assert_eq!(from, t(16 * 60));
        let spans: Vec<_> = w.iter().map(|s| (s.from_s, s.to_s, s.cap_w)).collect();
        assert_eq!(spans, vec![(-420.0, 480.0, 3000.0), (480.0, 1380.0, 3000.0), (1380.0, 1800.0, 3000.0)]);
        assert_eq!(w[0].used_j, 3000.0 * 420.0, "without the guard's count: used at the cap so far");
        // A boundary inside a window: the lowest cap of the part the plan covers, exact to the minute.
        let late = DemandCap { windows: vec!["17:05-18:00=2.5".parse().unwrap()], ..cap.clone() };
        assert_eq!(late.lowest_w(t(16 * 60), t(16 * 60 + 4)), 4000.0);
        assert_eq!(late.lowest_w(t(16 * 60), t(16 * 60 + 5) + Duration::seconds(1)), 2500.0);
        let (_, w) = late.plan_windows(t(15 * 60 + 52), Duration::minutes(10), 3, None);
        assert_eq!(w.iter().map(|s| s.cap_w).collect::<Vec<_>>(), vec![4000.0, 2500.0, 2500.0]);
        // The guard's count for the window the plan starts in; a count for another window is not this one's.
        let budget = CapBudget { window_start: t(16 * 60), used_j: 1.0e6 };
        assert_eq!(cap.plan_windows(t(16 * 60 + 7), Duration::minutes(10), 3, Some(&budget)).1[0].used_j, 1.0e6);
        let old = CapBudget { window_start: t(15 * 60 + 45), ..budget };
        assert_eq!(cap.plan_windows(t(16 * 60 + 7), Duration::minutes(10), 3, Some(&old)).1[0].used_j, 0.0);
        // A plan on a quarter hour: full windows from its start, nothing used before it.
        let (from, w) = cap.plan_windows(t(60), Duration::minutes(15), 4, Some(&budget));
        assert_eq!(from, t(60));
        assert!(w.iter().enumerate().all(|(i, s)| s.from_s == 900.0 * i as f64 && s.to_s == s.from_s + 900.0));
        assert!(w.iter().all(|s| s.used_j == 0.0 && s.cap_w == 4000.0));
        assert!("17:00-21:00".parse::<CapWindow>().is_err());
        assert!("25:00-21:00=3".parse::<CapWindow>().is_err());
        assert!(DemandCap::constant(0.0).validate().unwrap_err().0.contains("above 0"));
        assert!(DemandCap::constant(f64::NAN).validate().is_err());
    }
}
