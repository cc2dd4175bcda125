//! Weekly occupancy schedules, and occupancy that follows them with seeded jitter.
//!
//! A schedule is a list of entries written the way a facility manager would say them:
//!
//! ```text
//! mon-fri 06:30-08:00      weekdays, half past six to eight
//! sat,sun 08:00-23:00      both weekend days
//! daily 18:00-20:00        every day (also: weekdays, weekends)
//! sun-thu 22:00-07:00      an end before the start runs into the next morning
//! fri 18:00-sun 16:00      an explicit end day: Friday evening to Sunday afternoon
//! ```
//!
//! Times are local to the site. [`Occupancy`] shifts each occurrence's start and end independently by a seeded
//! random amount within ± the jitter (20 minutes by default), so a week never looks machine-made, yet the same seed
//! always gives the same week.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use crate::rng;

const MINUTES_PER_DAY: u32 = 24 * 60;
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A set of weekdays (bit 0 = Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DaySet(u8);

impl DaySet {
    pub const ALL: Self = Self(0x7F);
    pub const WEEKDAYS: Self = Self(0x1F);
    pub const WEEKENDS: Self = Self(0x60);

    #[must_use]
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    fn len(self) -> u32 {
        self.0.count_ones()
    }
}

/// One line of a schedule: on each day of `days`, from `start` (minutes after midnight) for `duration` minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScheduleEntry {
    pub days: DaySet,
    pub start_minute: u32,
    pub duration_minutes: u32,
    /// Whether the text named the end day explicitly (kept for display).
    explicit_end_day: bool,
}

/// Why a schedule entry cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule entry {entry:?}: {reason} (expected e.g. \"mon-fri 06:30-08:00\" or \"fri 18:00-sun 16:00\")")]
pub struct ScheduleError {
    pub entry: String,
    pub reason: String,
}

fn parse_day(s: &str) -> Option<u32> {
    const FULL: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let s = s.trim().to_ascii_lowercase();
    (0..7).find(|&i| DAY_NAMES[i] == s || FULL[i] == s).map(|i| i as u32)
}

fn parse_days(s: &str) -> Result<DaySet, String> {
    match s.to_ascii_lowercase().as_str() {
        "daily" | "everyday" | "all" => return Ok(DaySet::ALL),
        "weekdays" => return Ok(DaySet::WEEKDAYS),
        "weekends" | "weekend" => return Ok(DaySet::WEEKENDS),
        _ => {}
    }
    let mut set = 0u8;
    for part in s.split(',') {
        let part = part.trim();
        if let Some((a, b)) = part.split_once('-') {
            let a = parse_day(a.trim()).ok_or_else(|| format!("unknown day {a:?}"))?;
            let b = parse_day(b.trim()).ok_or_else(|| format!("unknown day {b:?}"))?;
            // A range wraps around the week: "sun-thu" is Sunday, Monday, ... Thursday.
            let mut d = a;
            loop {
                set |= 1 << d;
                if d == b {
                    break;
                }
                d = (d + 1) % 7;
            }
        } else {
            let d = parse_day(part).ok_or_else(|| format!("unknown day {part:?}"))?;
            set |= 1 << d;
        }
    }
    Ok(DaySet(set))
}

fn parse_time(s: &str) -> Result<u32, String> {
    let (h, m) = s.split_once(':').ok_or_else(|| format!("time {s:?} is not HH:MM"))?;
    let h: u32 = h.parse().map_err(|_| format!("time {s:?} is not HH:MM"))?;
    let m: u32 = m.parse().map_err(|_| format!("time {s:?} is not HH:MM"))?;
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(format!("time {s:?} is not a time of day"));
    }
    Ok(h * 60 + m)
}

impl FromStr for ScheduleEntry {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ScheduleError { entry: text.to_string(), reason };
        let (days_text, span) =
            text.trim().split_once(char::is_whitespace).ok_or_else(|| err("missing time span".into()))?;
        let days = parse_days(days_text).map_err(err)?;
        let (start_text, end_text) =
            span.split_once('-').ok_or_else(|| err("missing '-' between start and end".into()))?;
        let start_minute = parse_time(start_text.trim()).map_err(err)?;
        if start_minute >= MINUTES_PER_DAY {
            return Err(err("start must be before 24:00".into()));
        }
        let end_text = end_text.trim();
        let (duration_minutes, explicit_end_day) = match end_text.split_once(char::is_whitespace) {
            Some((end_day, end_time)) => {
                if days.len() != 1 {
                    return Err(err("an entry with an end day must start on exactly one day".into()));
                }
                let start_day = days.0.trailing_zeros();
                let end_day = parse_day(end_day).ok_or_else(|| err(format!("unknown day {end_day:?}")))?;
                let end = parse_time(end_time.trim()).map_err(err)?;
                let offset = (end_day + 7 - start_day) % 7;
                let total = offset * MINUTES_PER_DAY + end;
                if total <= start_minute {
                    return Err(err("the end must come after the start within the week".into()));
                }
                (total - start_minute, true)
            }
            None => {
                let end = parse_time(end_text).map_err(err)?;
                let end = if end <= start_minute { end + MINUTES_PER_DAY } else { end };
                (end - start_minute, false)
            }
        };
        Ok(Self { days, start_minute, duration_minutes, explicit_end_day })
    }
}

impl fmt::Display for ScheduleEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = match self.days {
            DaySet::ALL => "daily".to_string(),
            DaySet::WEEKDAYS => "mon-fri".to_string(),
            DaySet::WEEKENDS => "sat,sun".to_string(),
            set => {
                (0..7).filter(|d| set.0 & (1 << d) != 0).map(|d| DAY_NAMES[d as usize]).collect::<Vec<_>>().join(",")
            }
        };
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        let end = self.start_minute + self.duration_minutes;
        write!(f, "{days} {}-", hm(self.start_minute))?;
        if self.explicit_end_day {
            let start_day = self.days.0.trailing_zeros();
            if end == 7 * MINUTES_PER_DAY {
                // A whole week round to midnight: "mon 06:00-sun 24:00", as "mon 06:00-mon 00:00" would not read back.
                return write!(f, "{} 24:00", DAY_NAMES[((start_day + 6) % 7) as usize]);
            }
            let end_day = (start_day + end / MINUTES_PER_DAY) % 7;
            write!(f, "{} ", DAY_NAMES[end_day as usize])?;
        }
        write!(f, "{}", hm(end % MINUTES_PER_DAY))
    }
}

impl ScheduleEntry {
    #[must_use]
    pub fn applies_on(&self, day: Weekday) -> bool {
        self.days.contains(day)
    }

    /// Whether an occurrence of this entry (nominal, no jitter) covers site-local time `local`.
    #[must_use]
    pub fn is_active(&self, local: NaiveDateTime) -> bool {
        let lookback = i64::from(self.duration_minutes.div_ceil(MINUTES_PER_DAY));
        (0..=lookback).any(|back| {
            let date = local.date() - Duration::days(back);
            if !self.applies_on(date.weekday()) {
                return false;
            }
            let start = date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(self.start_minute));
            start <= local && local < start + Duration::minutes(i64::from(self.duration_minutes))
        })
    }
}

impl Serialize for ScheduleEntry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScheduleEntry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A weekly schedule: the union of its entries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct WeeklySchedule {
    entries: Vec<ScheduleEntry>,
}

impl TryFrom<Vec<String>> for WeeklySchedule {
    type Error = ScheduleError;
    fn try_from(lines: Vec<String>) -> Result<Self, Self::Error> {
        Ok(Self { entries: lines.iter().map(|l| l.parse()).collect::<Result<_, _>>()? })
    }
}

impl From<WeeklySchedule> for Vec<String> {
    fn from(s: WeeklySchedule) -> Self {
        s.entries.iter().map(ToString::to_string).collect()
    }
}

/// One occupied period, in site-local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub entry: usize,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl WeeklySchedule {
    /// Parses a schedule from its lines.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Result<Self, ScheduleError> {
        Ok(Self { entries: lines.iter().map(|l| l.as_ref().parse()).collect::<Result<_, _>>()? })
    }

    #[must_use]
    pub fn entries(&self) -> &[ScheduleEntry] {
        &self.entries
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The longest an occurrence can last, in whole days rounded up (how far back to look for one still running).
    fn lookback_days(&self) -> i64 {
        self.entries.iter().map(|e| i64::from(e.duration_minutes.div_ceil(MINUTES_PER_DAY))).max().unwrap_or(0) + 1
    }

    /// Nominal occurrences (no jitter) that start on dates `from..=to`.
    pub fn occurrences_starting(&self, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = Occurrence> + '_ {
        from.iter_days().take_while(move |d| *d <= to).flat_map(move |date| {
            self.entries.iter().enumerate().filter(move |(_, e)| e.applies_on(date.weekday())).map(move |(i, e)| {
                let start = date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(e.start_minute));
                Occurrence { entry: i, start, end: start + Duration::minutes(i64::from(e.duration_minutes)) }
            })
        })
    }

    /// Whether the nominal schedule (no jitter) is active at `local`.
    #[must_use]
    pub fn is_active(&self, local: NaiveDateTime) -> bool {
        self.entries.iter().any(|e| e.is_active(local))
    }
}

/// Occupancy that follows a weekly schedule, each occurrence's start and end moved by seeded jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct Occupancy {
    schedule: WeeklySchedule,
    seed: u64,
    /// Distinguishes zones that share a schedule and a seed.
    key: u64,
    jitter_s: i64,
}

/// The default jitter: ± 20 minutes.
pub const DEFAULT_JITTER_MINUTES: u32 = 20;

impl Occupancy {
    #[must_use]
    pub fn new(schedule: WeeklySchedule, seed: u64, key: u64, jitter_minutes: u32) -> Self {
        Self { schedule, seed, key, jitter_s: i64::from(jitter_minutes) * 60 }
    }

    #[must_use]
    pub fn schedule(&self) -> &WeeklySchedule {
        &self.schedule
    }

    fn jitter(&self, o: &Occurrence, edge: u64) -> Duration {
        // Short occurrences get proportionally less jitter so that they never vanish or invert.
        let span = (o.end - o.start).num_seconds();
        let max = self.jitter_s.min(span / 4);
        let day = o.start.date().num_days_from_ce() as u64;
        let r = rng::signed_unit(self.seed, &[self.key, day, o.entry as u64, edge]);
        Duration::seconds((r * max as f64).round() as i64)
    }

    /// Occupied periods, jitter applied, whose nominal start falls on dates `from..=to`.
    pub fn occurrences_starting(&self, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = Occurrence> + '_ {
        self.schedule.occurrences_starting(from, to).map(|o| Occurrence {
            start: o.start + self.jitter(&o, 0),
            end: o.end + self.jitter(&o, 1),
            ..o
        })
    }

    /// Whether the zone is occupied at site-local time `local`.
    #[must_use]
    pub fn is_occupied(&self, local: NaiveDateTime) -> bool {
        let from = local.date() - Duration::days(self.schedule.lookback_days());
        self.occurrences_starting(from, local.date() + Duration::days(1)).any(|o| o.start <= local && local < o.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn parses_and_displays_entries() {
        for (text, shown) in [
            ("mon-fri 06:30-08:00", "mon-fri 06:30-08:00"),
            ("Sat,Sun 08:00-23:00", "sat,sun 08:00-23:00"),
            ("daily 18:00-20:00", "daily 18:00-20:00"),
            ("weekends 12:00-13:00", "sat,sun 12:00-13:00"),
            ("sun-thu 22:00-07:00", "mon,tue,wed,thu,sun 22:00-07:00"),
            ("friday 18:00-sunday 16:00", "fri 18:00-sun 16:00"),
            ("mon 00:00-24:00", "mon 00:00-00:00"),
        ] {
            let e: ScheduleEntry = text.parse().unwrap();
            assert_eq!(e.to_string(), shown, "{text}");
            let again: ScheduleEntry = shown.parse().unwrap();
            assert_eq!(again.days, e.days);
            assert_eq!(again.duration_minutes, e.duration_minutes, "{text}");
        }
        let e: ScheduleEntry = "fri 18:00-sun 16:00".parse().unwrap();
        assert_eq!(e.duration_minutes, 46 * 60);
        // What is written reads back as the same entry, also when an explicit end falls on a midnight.
        for text in ["mon 06:02-sun 24:00", "sat 23:49-fri 24:00", "mon 20:11-tue 00:00", "sun 10:00-sun 24:00"] {
            let e: ScheduleEntry = text.parse().unwrap();
            let again: ScheduleEntry = e.to_string().parse().unwrap_or_else(|err| panic!("{text} -> {e}: {err}"));
            assert_eq!(again, e, "{text} -> {e}");
        }
        assert_eq!("mon 06:02-sun 24:00".parse::<ScheduleEntry>().unwrap().to_string(), "mon 06:02-sun 24:00");
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        for (a, b) in (0..7).flat_map(|a| (0..7).map(move |b| (a, b))) {
            for (start, end) in [0, 1, 719, 1439].into_iter().flat_map(|s| [0, 1, 720, 1439, 1440].map(|e| (s, e))) {
                let text = format!("{} {}-{} {}", DAY_NAMES[a], hm(start), DAY_NAMES[b], hm(end));
                if let Ok(e) = text.parse::<ScheduleEntry>() {
                    assert_eq!(e.to_string().parse::<ScheduleEntry>().as_ref(), Ok(&e), "{text} -> {e}");
                }
            }
        }
    }

    #[test]
    fn rejects_bad_entries_with_a_reason() {
        for bad in [
            "",
            "mon-fri",
            "mon-fri 0630-0800",
            "xyz 06:30-08:00",
            "mon-fri 25:00-26:00",
            "mon,tue 18:00-sun 16:00",
            "mon 10:00-mon 09:00",
            "mo 10:00-11:00",
        ] {
            let e = bad.parse::<ScheduleEntry>();
            assert!(e.is_err(), "{bad:?} should be refused");
        }
        let e = "mon-fri 06:60-08:00".parse::<ScheduleEntry>().unwrap_err();
        assert!(e.to_string().contains("06:60"), "{e}");
    }

    #[test]
    fn nominal_activity_crosses_midnight_and_weekends() {
        let s = WeeklySchedule::parse(&["sun-thu 22:00-07:00", "fri 18:00-sun 16:00"]).unwrap();
        // 2026-11-23 is a Monday.
        assert!(s.is_active(at("2026-11-23 06:59")), "Sunday night into Monday");
        assert!(!s.is_active(at("2026-11-23 07:00")));
        assert!(s.is_active(at("2026-11-26 23:00")), "Thursday night");
        assert!(s.is_active(at("2026-11-27 06:00")), "into Friday morning");
        assert!(!s.is_active(at("2026-11-27 12:00")));
        assert!(s.is_active(at("2026-11-28 12:00")), "Saturday, weekend stay");
        assert!(s.is_active(at("2026-11-29 15:59")));
        assert!(!s.is_active(at("2026-11-29 16:00")));
        assert!(s.is_active(at("2026-11-29 22:30")), "Sunday night again");
    }

    #[test]
    fn jitter_is_bounded_seeded_and_per_zone() {
        let s = WeeklySchedule::parse(&["mon-fri 08:30-17:30"]).unwrap();
        let a = Occupancy::new(s.clone(), 1, 0, DEFAULT_JITTER_MINUTES);
        let b = Occupancy::new(s.clone(), 1, 0, DEFAULT_JITTER_MINUTES);
        let c = Occupancy::new(s.clone(), 2, 0, DEFAULT_JITTER_MINUTES);
        let d = Occupancy::new(s.clone(), 1, 1, DEFAULT_JITTER_MINUTES);
        let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let va: Vec<_> = a.occurrences_starting(from, to).collect();
        assert_eq!(va, b.occurrences_starting(from, to).collect::<Vec<_>>());
        assert_ne!(va, c.occurrences_starting(from, to).collect::<Vec<_>>());
        assert_ne!(va, d.occurrences_starting(from, to).collect::<Vec<_>>());
        let nominal: Vec<_> = s.occurrences_starting(from, to).collect();
        let mut max_shift = 0;
        for (j, n) in va.iter().zip(&nominal) {
            let ds = (j.start - n.start).num_seconds().abs();
            let de = (j.end - n.end).num_seconds().abs();
            assert!(ds <= 20 * 60 && de <= 20 * 60);
            max_shift = max_shift.max(ds).max(de);
        }
        assert!(max_shift > 15 * 60, "jitter uses its range: {max_shift}");
    }

    #[test]
    fn serde_as_lines() {
        let s: WeeklySchedule = serde_json::from_str(r#"["mon-fri 08:30-17:30"]"#).unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"["mon-fri 08:30-17:30"]"#);
        assert!(serde_json::from_str::<WeeklySchedule>(r#"["nonsense"]"#).is_err());
    }
}
