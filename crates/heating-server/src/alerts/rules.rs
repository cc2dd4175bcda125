//! The alert rules, pure: what a zone looks like now ([`Observation`]) in, raises and clears out, with hysteresis
//! in time (a condition must hold for its rule's delay before it raises, and must have ended for
//! `ALERT_CLEAR_MINUTES` before it clears) and, where a value is compared with a bound, in value (a band between
//! the raise and the clear threshold in which nothing changes). At most one alert per zone and kind is open.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::config::AlertThresholds;
use crate::storage::{AlertKind, ZoneId};

/// Kelvin beyond a bound before a condition counts as ended (the value hysteresis).
pub const CLEAR_BAND_K: f64 = 0.3;

/// Air temperatures closer than this count as the same (a frozen sensor).
pub const SAME_K: f64 = 0.05;

/// A valid reading as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeenReading {
    /// When it was read (server clock).
    pub at: DateTime<Utc>,
    pub air_c: f64,
    pub heater_on: bool,
    pub occupied: bool,
}

/// The newest model fit of a zone, as the model rule sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenFit {
    pub at: DateTime<Utc>,
    pub good: bool,
    /// Why it is not good.
    pub problem: Option<String>,
    /// Whether the zone had a good fit before (only then does a bad one count as "turned bad").
    pub had_good: bool,
}

/// One zone now.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub zone_id: ZoneId,
    pub now: DateTime<Utc>,
    /// The newest valid reading, if it is fresh (at most three poll intervals old).
    pub reading: Option<SeenReading>,
    /// Whether the device answers: `false` while its health is offline or it has no fresh reading.
    pub reachable: bool,
    /// The zone's `occupied_temp`, °C.
    pub occupied_temp: f64,
    /// Control writes failed in a row (0 after a confirmed one).
    pub failed_writes: u32,
    pub fit: Option<SeenFit>,
}

/// What a rule says of one observation.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    /// The condition holds (the message says how).
    Bad(String),
    /// The condition has ended.
    Good,
    /// Between the raise and the clear threshold, or not known now: an open alert stays, a pending raise restarts
    /// only if nothing is open.
    Hold,
}

/// A raise or a clear the job must apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Raise { zone_id: ZoneId, kind: AlertKind, message: String },
    Clear { zone_id: ZoneId, kind: AlertKind },
}

/// One rule's timers for one zone.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Condition {
    bad_since: Option<DateTime<Utc>>,
    good_since: Option<DateTime<Utc>>,
    /// An alert of this kind is open for the zone.
    open: bool,
}

impl Condition {
    fn step(&mut self, verdict: Verdict, now: DateTime<Utc>, raise_after: Duration, clear_after: Duration) -> Step {
        match verdict {
            Verdict::Bad(message) => {
                self.good_since = None;
                let since = *self.bad_since.get_or_insert(now);
                if !self.open && now - since >= raise_after {
                    self.open = true;
                    return Step::Raise(message);
                }
            }
            Verdict::Good => {
                self.bad_since = None;
                if self.open {
                    let since = *self.good_since.get_or_insert(now);
                    if now - since >= clear_after {
                        self.open = false;
                        self.good_since = None;
                        return Step::Clear;
                    }
                }
            }
            Verdict::Hold => {
                self.good_since = None;
                if !self.open {
                    self.bad_since = None;
                }
            }
        }
        Step::None
    }
}

enum Step {
    None,
    Raise(String),
    Clear,
}

/// What the rules remember of a zone between observations.
#[derive(Debug, Clone, Default)]
struct ZoneTrack {
    conditions: HashMap<AlertKind, Condition>,
    /// The heater has been on since this reading, and the air has not risen by the rule's rise since (the
    /// baseline moves up each time it has).
    heating_from: Option<(DateTime<Utc>, f64)>,
    /// The air temperature has stayed within [`SAME_K`] of this value since then.
    unchanged_since: Option<(DateTime<Utc>, f64)>,
    /// The newest reading seen (each reading is taken into the baselines once).
    last_reading_at: Option<DateTime<Utc>>,
}

/// The rules' state for every zone.
#[derive(Debug, Clone)]
pub struct Rules {
    thresholds: AlertThresholds,
    zones: HashMap<ZoneId, ZoneTrack>,
}

fn duration(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

fn minutes(d: Duration) -> String {
    let m = d.num_seconds() as f64 / 60.0;
    if m >= 120.0 { format!("{:.1} h", m / 60.0) } else { format!("{m:.0} min") }
}

impl Rules {
    #[must_use]
    pub fn new(thresholds: AlertThresholds) -> Self {
        Self { thresholds, zones: HashMap::new() }
    }

    #[must_use]
    pub fn thresholds(&self) -> &AlertThresholds {
        &self.thresholds
    }

    /// Marks an alert open (loaded from storage at start): it clears when its condition has ended, and is not
    /// raised again before.
    pub fn mark_open(&mut self, zone_id: ZoneId, kind: AlertKind) {
        self.zones.entry(zone_id).or_default().conditions.entry(kind).or_default().open = true;
    }

    /// Marks an alert not open (it could not be stored): the rule raises it again at the next observation.
    pub fn unmark(&mut self, zone_id: ZoneId, kind: AlertKind) {
        if let Some(c) = self.zones.get_mut(&zone_id).and_then(|z| z.conditions.get_mut(&kind)) {
            c.open = false;
        }
    }

    /// Forgets a zone (deleted); its open alerts are the caller's to clear.
    pub fn forget(&mut self, zone_id: ZoneId) {
        self.zones.remove(&zone_id);
    }

    /// Zones the rules hold state for.
    #[must_use]
    pub fn zone_ids(&self) -> Vec<ZoneId> {
        self.zones.keys().copied().collect()
    }

    /// Evaluates every rule on one zone's observation; what to raise and clear.
    pub fn observe(&mut self, o: &Observation) -> Vec<Transition> {
        let t = self.thresholds.clone();
        let clear_after = duration(t.clear_after);
        let track = self.zones.entry(o.zone_id).or_default();
        let fresh = o.reading.filter(|r| track.last_reading_at.is_none_or(|last| r.at > last));
        if let Some(r) = fresh {
            track.last_reading_at = Some(r.at);
            track.heating_from = match track.heating_from {
                _ if !r.heater_on => None,
                None => Some((r.at, r.air_c)),
                Some((_, base)) if r.air_c >= base + t.no_rise_k => Some((r.at, r.air_c)),
                Some(kept) => Some(kept),
            };
            track.unchanged_since = match track.unchanged_since {
                Some((since, v)) if (r.air_c - v).abs() < SAME_K => Some((since, v)),
                _ => Some((r.at, r.air_c)),
            };
        }
        let mut verdicts: Vec<(AlertKind, Verdict, Duration)> = Vec::new();

        if let Some(after) = t.offline {
            let v = if o.reachable && o.reading.is_some() {
                Verdict::Good
            } else {
                let seen =
                    o.reading.map_or_else(|| "no valid reading".to_string(), |r| format!("last reading {}", r.at));
                Verdict::Bad(format!("device not answering for over {} ({seen})", minutes(duration(after))))
            };
            verdicts.push((AlertKind::Offline, v, duration(after)));
        }
        if let Some(after) = t.cold {
            let bound = o.occupied_temp - t.cold_margin_k;
            let v = match o.reading {
                None => Verdict::Hold,
                Some(r) if !r.occupied => Verdict::Good,
                Some(r) if r.air_c < bound => Verdict::Bad(format!(
                    "occupied and {:.1} °C, below the comfort bound {bound:.1} °C for over {}",
                    r.air_c,
                    minutes(duration(after))
                )),
                Some(r) if r.air_c >= bound + CLEAR_BAND_K => Verdict::Good,
                Some(_) => Verdict::Hold,
            };
            verdicts.push((AlertKind::BelowComfort, v, duration(after)));
        }
        if let Some(after) = t.no_rise {
            let after = duration(after);
            let v = match (o.reading, track.heating_from) {
                (None, _) => Verdict::Hold,
                (Some(r), _) if !r.heater_on => Verdict::Good,
                (Some(r), Some((since, base))) if r.at - since >= after => Verdict::Bad(format!(
                    "heater on for {} and the air at {:.1} °C has not risen {:.1} K above {base:.1} °C: \
                     heater or valve fault, or a window open",
                    minutes(r.at - since),
                    r.air_c,
                    t.no_rise_k
                )),
                // The air rose within the delay (the baseline moved up since).
                (Some(_), Some(_)) => Verdict::Good,
                (Some(_), None) => Verdict::Hold,
            };
            // The delay is in the baseline's age already.
            verdicts.push((AlertKind::NoHeatRise, v, Duration::zero()));
        }
        {
            let (lo, hi) = t.sensor_range_c;
            let v = match o.reading {
                None => Verdict::Hold,
                Some(r) if r.air_c < lo || r.air_c > hi => Verdict::Bad(format!(
                    "air temperature {:.1} °C is outside the physical range {lo:.1}..{hi:.1} °C: sensor fault",
                    r.air_c
                )),
                Some(r) if r.air_c >= lo + CLEAR_BAND_K && r.air_c <= hi - CLEAR_BAND_K => Verdict::Good,
                Some(_) => Verdict::Hold,
            };
            verdicts.push((AlertKind::SensorRange, v, Duration::zero()));
        }
        if let Some(after) = t.frozen {
            let after = duration(after);
            let v = match (o.reading, track.unchanged_since) {
                (None, _) => Verdict::Hold,
                (Some(r), Some((since, v))) if r.at - since >= after => Verdict::Bad(format!(
                    "air temperature unchanged at {v:.2} °C for {}: sensor stuck?",
                    minutes(r.at - since)
                )),
                (Some(_), Some(_)) => Verdict::Good,
                (Some(_), None) => Verdict::Hold,
            };
            verdicts.push((AlertKind::SensorFrozen, v, Duration::zero()));
        }
        if let Some(n) = t.write_failures {
            let v = match o.failed_writes {
                0 => Verdict::Good,
                f if f >= n => Verdict::Bad(format!("{f} control writes failed in a row")),
                _ => Verdict::Hold,
            };
            verdicts.push((AlertKind::WriteFailures, v, Duration::zero()));
        }
        if t.model_fit {
            let v = match &o.fit {
                None => Verdict::Hold,
                Some(f) if f.good => Verdict::Good,
                Some(f) if f.had_good => Verdict::Bad(format!(
                    "the model fit of {} turned bad: {}",
                    f.at,
                    f.problem.as_deref().unwrap_or("poor fit")
                )),
                Some(_) => Verdict::Hold,
            };
            verdicts.push((AlertKind::ModelFit, v, Duration::zero()));
        }

        let mut out = Vec::new();
        for (kind, verdict, raise_after) in verdicts {
            let condition = track.conditions.entry(kind).or_default();
            match condition.step(verdict, o.now, raise_after, clear_after) {
                Step::None => {}
                Step::Raise(message) => out.push(Transition::Raise { zone_id: o.zone_id, kind, message }),
                Step::Clear => out.push(Transition::Clear { zone_id: o.zone_id, kind }),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AlertSettings;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T08:00:00Z").unwrap().to_utc()
    }

    fn rules() -> Rules {
        Rules::new(AlertSettings::default().thresholds().unwrap())
    }

    /// A reachable zone at minute `m` with air `air`, occupied, heater as given.
    fn obs(m: i64, air: f64, heater_on: bool) -> Observation {
        let now = t0() + Duration::minutes(m);
        Observation {
            zone_id: 1,
            now,
            reading: Some(SeenReading { at: now, air_c: air, heater_on, occupied: true }),
            reachable: true,
            occupied_temp: 21.0,
            failed_writes: 0,
            fit: None,
        }
    }

    fn kinds(ts: &[Transition]) -> Vec<(&'static str, AlertKind)> {
        ts.iter()
            .map(|t| match t {
                Transition::Raise { kind, .. } => ("raise", *kind),
                Transition::Clear { kind, .. } => ("clear", *kind),
            })
            .collect()
    }

    /// Feeds minute by minute; the minutes at which `kind` raised and cleared.
    fn run(r: &mut Rules, steps: impl Iterator<Item = Observation>, kind: AlertKind) -> Vec<(&'static str, i64)> {
        let mut out = Vec::new();
        for o in steps {
            let m = (o.now - t0()).num_minutes();
            for (what, k) in kinds(&r.observe(&o)) {
                if k == kind {
                    out.push((what, m));
                }
            }
        }
        out
    }

    #[test]
    fn offline_raises_after_its_delay_once_and_clears_after_the_clear_delay() {
        let mut r = rules();
        let offline = |m| Observation { reading: None, reachable: false, ..obs(m, 20.5, false) };
        // Online 0..5, offline 5..40 (35 min: one raise at 15), online again from 40, cleared at 45.
        let steps = (0..60).map(|m| if (5..40).contains(&m) { offline(m) } else { obs(m, 20.5, false) });
        assert_eq!(run(&mut r, steps, AlertKind::Offline), vec![("raise", 15), ("clear", 45)]);
    }

    #[test]
    fn a_flapping_device_gives_one_alert_not_a_storm() {
        let mut r = rules();
        let offline = |m| Observation { reading: None, reachable: false, ..obs(m, 20.5, false) };
        // Offline 0..12 (raised at 10), then 2 minutes up, 2 down, … for an hour: back for less than the clear
        // delay each time, so the alert stays open; then up for good.
        let steps =
            (0..100).map(|m| if m < 12 || (m < 72 && (m / 2) % 2 == 0) { offline(m) } else { obs(m, 20.5, false) });
        assert_eq!(run(&mut r, steps, AlertKind::Offline), vec![("raise", 10), ("clear", 75)]);
        // Short outages below the delay raise nothing.
        let mut r = rules();
        let steps = (0..100).map(|m| if m % 10 < 9 { obs(m, 20.5, false) } else { offline(m) });
        assert_eq!(run(&mut r, steps, AlertKind::Offline), vec![]);
    }

    #[test]
    fn below_comfort_needs_occupancy_and_the_band_before_it_clears() {
        let mut r = rules();
        // Bound 20.0 °C: 19.5 for 40 min raises at 30; 20.1 (inside the band) keeps it; 20.4 for 5 min clears.
        let air = |m| {
            if m < 40 {
                19.5
            } else if m < 60 {
                20.1
            } else {
                20.4
            }
        };
        let steps = (0..80).map(|m| obs(m, air(m), true));
        assert_eq!(run(&mut r, steps, AlertKind::BelowComfort), vec![("raise", 30), ("clear", 65)]);
        // Unoccupied: never.
        let mut r = rules();
        let steps = (0..80).map(|m| Observation {
            reading: Some(SeenReading { occupied: false, ..obs(m, 15.0, true).reading.unwrap() }),
            ..obs(m, 15.0, true)
        });
        assert_eq!(run(&mut r, steps, AlertKind::BelowComfort), vec![]);
        // Dipping below for 20 min at a time, then back above the bound: the delay restarts each time.
        let mut r = rules();
        let steps = (0..200).map(|m| obs(m, if m % 30 < 20 { 19.5 } else { 20.05 }, true));
        assert_eq!(run(&mut r, steps, AlertKind::BelowComfort), vec![]);
    }

    #[test]
    fn a_heater_on_without_a_rise_raises_and_a_rise_clears() {
        let mut r = rules();
        // Heater on from 0 and the air falling slowly for 3 h: raised at 120; then it rises (fault fixed): 0.3 K
        // above the baseline clears after the clear delay.
        let air = |m: i64| if m < 180 { 19.0 - m as f64 * 0.002 } else { 18.64 + (m - 180) as f64 * 0.05 };
        let steps = (0..240).map(|m| obs(m, air(m), true));
        assert_eq!(run(&mut r, steps, AlertKind::NoHeatRise), vec![("raise", 120), ("clear", 199)]);
        // A heater that warms the room never raises; one that switches off clears.
        let mut r = rules();
        let steps = (0..400).map(|m| obs(m, 18.0 + m as f64 * 0.01, true));
        assert_eq!(run(&mut r, steps, AlertKind::NoHeatRise), vec![]);
        let mut r = rules();
        let steps = (0..200).map(|m| obs(m, 19.0, m < 150));
        assert_eq!(run(&mut r, steps, AlertKind::NoHeatRise), vec![("raise", 120), ("clear", 155)]);
    }

    #[test]
    fn a_frozen_or_impossible_temperature_raises_once() {
        let mut r = rules();
        let steps = (0..500).map(|m| obs(m, if m < 400 { 20.0 } else { 20.0 + (m % 2) as f64 * 0.2 }, false));
        assert_eq!(run(&mut r, steps, AlertKind::SensorFrozen), vec![("raise", 360), ("clear", 406)]);
        let mut r = rules();
        let air = |m| {
            if m < 10 {
                20.0
            } else if m < 30 {
                50.0
            } else if m < 40 {
                44.9
            } else {
                22.0
            }
        };
        let steps = (0..60).map(|m| obs(m, air(m), false));
        assert_eq!(run(&mut r, steps, AlertKind::SensorRange), vec![("raise", 10), ("clear", 45)]);
    }

    #[test]
    fn failing_writes_and_a_fit_turning_bad() {
        let mut r = rules();
        let writes = [0, 1, 2, 3, 4, 5, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0];
        let steps =
            writes.iter().enumerate().map(|(m, &f)| Observation { failed_writes: f, ..obs(m as i64, 20.5, false) });
        assert_eq!(run(&mut r, steps, AlertKind::WriteFailures), vec![("raise", 3), ("clear", 13)]);

        let fit = |good, had_good| SeenFit { at: t0(), good, problem: Some("RMSE 1.2 K".into()), had_good };
        let mut r = rules();
        let steps = (0..30).map(|m| {
            let f = if m < 5 {
                fit(true, true)
            } else if m < 10 {
                fit(false, true)
            } else {
                fit(true, true)
            };
            Observation { fit: Some(f), ..obs(m, 20.5, false) }
        });
        assert_eq!(run(&mut r, steps, AlertKind::ModelFit), vec![("raise", 5), ("clear", 15)]);
        // Never good yet: not "turned bad".
        let mut r = rules();
        let steps = (0..30).map(|m| Observation { fit: Some(fit(false, false)), ..obs(m, 20.5, false) });
        assert_eq!(run(&mut r, steps, AlertKind::ModelFit), vec![]);
    }

    #[test]
    fn an_alert_open_at_start_is_not_raised_again_and_clears() {
        let mut r = rules();
        r.mark_open(1, AlertKind::Offline);
        let steps = (0..10).map(|m| obs(m, 20.5, false));
        assert_eq!(run(&mut r, steps, AlertKind::Offline), vec![("clear", 5)]);
    }
}
