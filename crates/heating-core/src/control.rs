//! The supervisory control policy: which target a zone should have now, and why.
//!
//! [`decide`] is a pure function of the zone's preferences, its latest reading, the time, the outdoor temperature
//! and any manual hold. The server's control job calls it for every zone; tests and benchmarks call it without
//! any I/O. Rules, first match wins:
//!
//! 1. **Stale data**: no reading, or the newest is older than `stale_after` → no decision, nothing is written.
//! 2. **Manual hold** until it expires (at its end time, or, for a hold without an end, when the zone's occupancy
//!    changes from what it was when the hold was set).
//! 3. **Schedule**: the first entry of `preferences.schedule` active at the site-local time sets the target.
//! 4. **Occupancy**: occupied → `occupied_temp`, vacant → `unoccupied_temp`.
//!
//! Then, for comfort targets (schedule and occupied, not setback or manual): the **weather adjustment** lowers the
//! target by `weather_warm_offset` K when the outdoor temperature is above `weather_warm_threshold` (the
//! prototype's rule: 1 K above 21 °C), and raises it by `weather_cold_offset` K below `weather_cold_threshold`
//! when that is set. Finally every target is **clamped** to `min_temp..=max_temp` and rounded to 0.1 K.
//! A write is due when the device's target differs from the decision by 0.1 K or more.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::preferences::Preferences;
use crate::units::Setpoint;

/// What the control job knows of a zone's newest reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadingView {
    pub at: DateTime<Utc>,
    pub occupied: bool,
    /// The target the device holds (register 1).
    pub device_target: Setpoint,
    /// Outdoor temperature the device reports (register 6), if any.
    pub outdoor_c: Option<f64>,
}

/// A manual override.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hold {
    pub target: Setpoint,
    /// End of the hold; `None`: until the zone's occupancy changes.
    pub until: Option<DateTime<Utc>>,
    /// Occupancy when the hold was set (for holds without an end).
    pub occupied_at_start: bool,
}

impl Hold {
    /// Whether the hold still applies at `now` given the current occupancy.
    #[must_use]
    pub fn is_active(&self, now: DateTime<Utc>, occupied: bool) -> bool {
        match self.until {
            Some(until) => now < until,
            None => occupied == self.occupied_at_start,
        }
    }
}

/// Everything the policy looks at.
#[derive(Debug, Clone, Copy)]
pub struct ControlInput<'a> {
    pub preferences: &'a Preferences,
    pub now: DateTime<Utc>,
    /// Site-local time offset, for the schedule.
    pub utc_offset_minutes: i32,
    pub reading: Option<ReadingView>,
    /// A reading older than this is stale (the server uses three poll intervals).
    pub stale_after: Duration,
    /// Current outdoor temperature from the weather service; falls back to the reading's.
    pub weather_outdoor_c: Option<f64>,
    pub hold: Option<Hold>,
}

/// The rule that chose the base target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    ManualHold { until: Option<DateTime<Utc>> },
    Schedule { entry: String },
    Occupied,
    Unoccupied,
}

/// A weather adjustment that was applied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WeatherAdjustment {
    pub outdoor_c: f64,
    pub threshold_c: f64,
    /// Kelvin added to the target (negative: lowered).
    pub delta_k: f64,
}

/// Which bound clamped the target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Clamp {
    pub bound: &'static str,
    pub value_c: f64,
}

/// Why the target is what it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    #[serde(flatten)]
    pub rule: Rule,
    pub base_c: f64,
    pub weather: Option<WeatherAdjustment>,
    pub clamp: Option<Clamp>,
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Nothing to decide on: no reading, or too old.
    Skip { why: String },
    Target {
        target: Setpoint,
        reason: Reason,
        /// The device's target differs by 0.1 K or more.
        write_due: bool,
        /// A hold was given but has expired; the caller should forget it.
        hold_expired: bool,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Rule::ManualHold { until: Some(t) } => write!(f, "manual hold until {}", t.format("%Y-%m-%d %H:%M UTC"))?,
            Rule::ManualHold { until: None } => write!(f, "manual hold until the next occupancy change")?,
            Rule::Schedule { entry } => write!(f, "schedule {entry}: {:.1} °C", self.base_c)?,
            Rule::Occupied => write!(f, "occupied: occupied_temp {:.1} °C", self.base_c)?,
            Rule::Unoccupied => write!(f, "vacant: unoccupied_temp {:.1} °C", self.base_c)?,
        }
        if let Some(w) = self.weather {
            let side = if w.delta_k < 0.0 { "above" } else { "below" };
            write!(f, "; weather: outdoor {:.1} °C {side} {:.1} °C, {:+.1} K", w.outdoor_c, w.threshold_c, w.delta_k)?;
        }
        if let Some(c) = self.clamp {
            write!(f, "; clamped to {} {:.1} °C", c.bound, c.value_c)?;
        }
        Ok(())
    }
}

/// Decides the target for one zone. Pure: same input, same answer.
#[must_use]
pub fn decide(input: &ControlInput<'_>) -> Decision {
    let Some(reading) = input.reading else {
        return Decision::Skip { why: "no reading yet".into() };
    };
    let age = input.now - reading.at;
    if age > input.stale_after {
        return Decision::Skip {
            why: format!(
                "newest reading is {} s old (stale after {} s)",
                age.num_seconds(),
                input.stale_after.num_seconds()
            ),
        };
    }
    let p = input.preferences;
    let mut hold_expired = false;
    let (rule, base, comfort) = match input.hold {
        Some(h) if h.is_active(input.now, reading.occupied) => {
            (Rule::ManualHold { until: h.until }, h.target.celsius(), false)
        }
        hold => {
            hold_expired = hold.is_some();
            let local = (input.now + Duration::minutes(i64::from(input.utc_offset_minutes))).naive_utc();
            if let Some(s) = p.schedule.iter().find(|s| s.when.is_active(local)) {
                (Rule::Schedule { entry: s.when.to_string() }, s.temp, true)
            } else if reading.occupied {
                (Rule::Occupied, p.occupied_temp, true)
            } else {
                (Rule::Unoccupied, p.unoccupied_temp, false)
            }
        }
    };

    let outdoor = input.weather_outdoor_c.or(reading.outdoor_c);
    let weather = match outdoor {
        Some(t) if comfort && t > p.weather_warm_threshold && p.weather_warm_offset != 0.0 => Some(WeatherAdjustment {
            outdoor_c: t,
            threshold_c: p.weather_warm_threshold,
            delta_k: -p.weather_warm_offset,
        }),
        Some(t) if comfort && p.weather_cold_threshold.is_some_and(|c| t < c) && p.weather_cold_offset != 0.0 => {
            Some(WeatherAdjustment {
                outdoor_c: t,
                threshold_c: p.weather_cold_threshold.unwrap_or_default(),
                delta_k: p.weather_cold_offset,
            })
        }
        _ => None,
    };
    let wanted = base + weather.map_or(0.0, |w| w.delta_k);
    let (lo, hi) = (p.min_temp.max(Setpoint::MIN_CELSIUS), p.max_temp.min(Setpoint::MAX_CELSIUS));
    let clamp = if wanted < lo {
        Some(Clamp { bound: "min_temp", value_c: lo })
    } else if wanted > hi {
        Some(Clamp { bound: "max_temp", value_c: hi })
    } else {
        None
    };
    let value = clamp.map_or(wanted, |c| c.value_c);
    // In range by construction (lo and hi lie within the setpoint range); fall back to the bound if rounding
    // ever says otherwise.
    let target = Setpoint::from_celsius(value).unwrap_or_else(|_| {
        Setpoint::from_celsius(lo).unwrap_or_else(|_| Setpoint::from_register(50).expect("50 is in range"))
    });
    let write_due = (target.deci() - reading.device_target.deci()).abs() >= 1;
    Decision::Target { target, reason: Reason { rule, base_c: base, weather, clamp }, write_due, hold_expired }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preferences::ScheduledTarget;
    use crate::schedule::ScheduleEntry;

    /// Tuesday 2026-01-06 10:00 UTC.
    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-06T10:00:00Z").unwrap().to_utc()
    }

    fn sp(c: f64) -> Setpoint {
        Setpoint::from_celsius(c).unwrap()
    }

    fn reading(occupied: bool, outdoor: f64) -> ReadingView {
        ReadingView { at: now() - Duration::seconds(4), occupied, device_target: sp(20.0), outdoor_c: Some(outdoor) }
    }

    fn input<'a>(p: &'a Preferences, r: Option<ReadingView>) -> ControlInput<'a> {
        ControlInput {
            preferences: p,
            now: now(),
            utc_offset_minutes: 0,
            reading: r,
            stale_after: Duration::seconds(15),
            weather_outdoor_c: None,
            hold: None,
        }
    }

    fn target(d: &Decision) -> (f64, &Reason, bool) {
        match d {
            Decision::Target { target, reason, write_due, .. } => (target.celsius(), reason, *write_due),
            Decision::Skip { why } => panic!("skipped: {why}"),
        }
    }

    #[test]
    fn occupancy_picks_the_preference() {
        let p = Preferences { occupied_temp: 22.0, unoccupied_temp: 16.5, ..Preferences::default() };
        let d = decide(&input(&p, Some(reading(true, 5.0))));
        assert_eq!(target(&d).0, 22.0);
        assert_eq!(target(&d).1.rule, Rule::Occupied);
        assert!(target(&d).2);
        let d = decide(&input(&p, Some(reading(false, 5.0))));
        assert_eq!(target(&d).0, 16.5);
        assert_eq!(target(&d).1.to_string(), "vacant: unoccupied_temp 16.5 °C");
    }

    #[test]
    fn no_write_when_the_device_already_has_it() {
        let p = Preferences { unoccupied_temp: 20.04, ..Preferences::default() };
        let d = decide(&input(&p, Some(reading(false, 5.0))));
        assert_eq!(target(&d).0, 20.0);
        assert!(!target(&d).2, "20.04 rounds to the device's 20.0");
        let p = Preferences { unoccupied_temp: 20.1, ..Preferences::default() };
        assert!(target(&decide(&input(&p, Some(reading(false, 5.0))))).2, "0.1 K is enough");
    }

    #[test]
    fn stale_or_missing_data_means_no_decision() {
        let p = Preferences::default();
        assert!(matches!(decide(&input(&p, None)), Decision::Skip { .. }));
        let mut r = reading(true, 5.0);
        r.at = now() - Duration::seconds(16);
        let Decision::Skip { why } = decide(&input(&p, Some(r))) else { panic!("stale data acted on") };
        assert!(why.contains("16 s old"), "{why}");
        r.at = now() - Duration::seconds(15);
        assert!(matches!(decide(&input(&p, Some(r))), Decision::Target { .. }), "exactly at the limit is fresh");
    }

    #[test]
    fn weather_lowers_occupied_targets_above_the_threshold() {
        let p = Preferences::default();
        let d = decide(&input(&p, Some(reading(true, 21.5))));
        let (t, reason, _) = target(&d);
        assert_eq!(t, 20.0);
        assert_eq!(reason.weather.unwrap().delta_k, -1.0);
        assert!(reason.to_string().contains("outdoor 21.5 °C above 21.0 °C, -1.0 K"), "{reason}");
        // At the threshold, or vacant: no adjustment.
        assert_eq!(target(&decide(&input(&p, Some(reading(true, 21.0))))).0, 21.0);
        assert_eq!(target(&decide(&input(&p, Some(reading(false, 25.0))))).0, 17.0);
        // The weather service wins over the device's outdoor sensor.
        let mut i = input(&p, Some(reading(true, 5.0)));
        i.weather_outdoor_c = Some(23.0);
        assert_eq!(target(&decide(&i)).0, 20.0);
    }

    #[test]
    fn weather_thresholds_are_preferences() {
        let p = Preferences {
            weather_warm_threshold: 15.0,
            weather_warm_offset: 1.5,
            weather_cold_threshold: Some(-5.0),
            weather_cold_offset: 0.5,
            ..Preferences::default()
        };
        assert_eq!(target(&decide(&input(&p, Some(reading(true, 16.0))))).0, 19.5);
        assert_eq!(target(&decide(&input(&p, Some(reading(true, 10.0))))).0, 21.0);
        assert_eq!(target(&decide(&input(&p, Some(reading(true, -6.0))))).0, 21.5);
        assert_eq!(
            target(&decide(&input(&Preferences::default(), Some(reading(true, -20.0))))).0,
            21.0,
            "cold rule off by default"
        );
    }

    #[test]
    fn targets_are_clamped_to_the_bounds() {
        let p = Preferences {
            occupied_temp: 30.0,
            unoccupied_temp: 8.0,
            min_temp: 12.0,
            max_temp: 24.0,
            ..Preferences::default()
        };
        let d = decide(&input(&p, Some(reading(true, 5.0))));
        let (t, reason, _) = target(&d);
        assert_eq!(t, 24.0);
        assert_eq!(reason.clamp.unwrap().bound, "max_temp");
        assert_eq!(target(&decide(&input(&p, Some(reading(false, 5.0))))).0, 12.0);
        let hold = Hold { target: sp(27.0), until: Some(now() + Duration::hours(1)), occupied_at_start: true };
        let mut i = input(&p, Some(reading(true, 5.0)));
        i.hold = Some(hold);
        assert_eq!(target(&decide(&i)).0, 24.0, "a hold cannot leave the bounds either");
    }

    #[test]
    fn a_timed_hold_wins_until_it_expires() {
        let p = Preferences::default();
        let hold = Hold { target: sp(23.0), until: Some(now() + Duration::minutes(30)), occupied_at_start: true };
        let mut i = input(&p, Some(reading(false, 25.0)));
        i.hold = Some(hold);
        let d = decide(&i);
        assert_eq!(target(&d).0, 23.0, "no weather tweak on a manual target");
        assert!(matches!(target(&d).1.rule, Rule::ManualHold { .. }));
        i.now = now() + Duration::minutes(30);
        i.reading = Some(ReadingView { at: i.now, ..reading(false, 5.0) });
        let d = decide(&i);
        assert_eq!(target(&d).0, 17.0);
        assert!(matches!(d, Decision::Target { hold_expired: true, .. }));
    }

    #[test]
    fn an_open_hold_ends_with_the_next_occupancy_change() {
        let p = Preferences::default();
        let hold = Hold { target: sp(19.0), until: None, occupied_at_start: true };
        let mut i = input(&p, Some(reading(true, 5.0)));
        i.hold = Some(hold);
        assert_eq!(target(&decide(&i)).0, 19.0);
        i.reading = Some(reading(false, 5.0));
        let d = decide(&i);
        assert_eq!(target(&d).0, 17.0);
        assert!(matches!(d, Decision::Target { hold_expired: true, .. }));
    }

    #[test]
    fn schedule_entries_win_over_occupancy() {
        let entry: ScheduleEntry = "tue 09:00-11:00".parse().unwrap();
        let p = Preferences { schedule: vec![ScheduledTarget { when: entry, temp: 19.5 }], ..Preferences::default() };
        let d = decide(&input(&p, Some(reading(true, 5.0))));
        assert_eq!(target(&d).0, 19.5);
        assert_eq!(target(&d).1.rule, Rule::Schedule { entry: "tue 09:00-11:00".into() });
        // Site-local time: at UTC+2 it is 12:00, outside the entry.
        let mut i = input(&p, Some(reading(true, 5.0)));
        i.utc_offset_minutes = 120;
        assert_eq!(target(&decide(&i)).1.rule, Rule::Occupied);
    }
}
