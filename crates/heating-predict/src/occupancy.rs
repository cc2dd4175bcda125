//! What a controller expects of a zone's occupancy: the configured weekly schedule, or one learned from logged
//! occupancy.
//!
//! [`LearnedSchedule`] counts, for each weekday and 15-minute slot of site-local time, the fraction of logged
//! readings that were occupied over the past weeks. A slot is expected occupied when that fraction reaches the
//! threshold (default 0.25: a slot in which people were present for about four minutes on a typical week counts,
//! so arrivals that vary by a few minutes are covered). Weekdays without any data borrow from the other days of
//! the same kind (Monday to Friday, or the weekend).

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike, Utc};
use heating_core::schedule::WeeklySchedule;
use serde::{Deserialize, Serialize};

/// Slots per day (15 minutes each).
pub const SLOTS_PER_DAY: usize = 96;

/// Per weekday × 15-minute slot occupancy frequency learned from logged readings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedSchedule {
    /// `[weekday from Monday][slot]`: (occupied readings, readings).
    counts: Vec<Vec<(u32, u32)>>,
    pub threshold: f64,
}

impl Default for LearnedSchedule {
    fn default() -> Self {
        Self { counts: vec![vec![(0, 0); SLOTS_PER_DAY]; 7], threshold: 0.25 }
    }
}

fn slot_of(local: NaiveDateTime) -> (usize, usize) {
    let day = local.weekday().num_days_from_monday() as usize;
    let slot = (local.hour() * 4 + local.minute() / 15) as usize;
    (day, slot)
}

impl LearnedSchedule {
    /// Learns from `(time, occupied)` readings; `utc_offset_minutes` gives site-local time.
    #[must_use]
    pub fn learn(readings: impl IntoIterator<Item = (DateTime<Utc>, bool)>, utc_offset_minutes: i32) -> Self {
        let mut s = Self::default();
        for (at, occupied) in readings {
            s.record(at, occupied, utc_offset_minutes);
        }
        s
    }

    /// Adds one reading.
    pub fn record(&mut self, at: DateTime<Utc>, occupied: bool, utc_offset_minutes: i32) {
        self.record_many(at, u32::from(occupied), 1, utc_offset_minutes);
    }

    /// Adds `readings` readings taken in the slot containing `at`, `occupied` of them occupied (e.g. one
    /// aggregated bucket of logged readings). `occupied` is capped at `readings`.
    pub fn record_many(&mut self, at: DateTime<Utc>, occupied: u32, readings: u32, utc_offset_minutes: i32) {
        let local = (at + Duration::minutes(i64::from(utc_offset_minutes))).naive_utc();
        let (d, s) = slot_of(local);
        let c = &mut self.counts[d][s];
        c.0 = c.0.saturating_add(occupied.min(readings));
        c.1 = c.1.saturating_add(readings);
    }

    /// Occupancy frequency of the slot containing `local` (`None` without any data for it or its kind of day).
    #[must_use]
    pub fn frequency(&self, local: NaiveDateTime) -> Option<f64> {
        let (d, s) = slot_of(local);
        let (occ, n) = self.counts[d][s];
        if n > 0 {
            return Some(f64::from(occ) / f64::from(n));
        }
        let kind: Vec<usize> = if d < 5 { (0..5).collect() } else { vec![5, 6] };
        let (occ, n) = kind.iter().map(|&k| self.counts[k][s]).fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1));
        (n > 0).then(|| f64::from(occ) / f64::from(n))
    }

    /// Whether the zone is expected occupied at `local`.
    #[must_use]
    pub fn is_expected(&self, local: NaiveDateTime) -> bool {
        self.frequency(local).is_some_and(|f| f >= self.threshold)
    }

    /// Number of readings learned from.
    #[must_use]
    pub fn readings(&self) -> u64 {
        self.counts.iter().flat_map(|d| d.iter()).map(|c| u64::from(c.1)).sum()
    }
}

/// The occupancy a controller expects.
#[derive(Debug, Clone, PartialEq)]
pub enum OccupancyForecast {
    /// The zone's configured weekly schedule (nominal, no jitter).
    Schedule(WeeklySchedule),
    /// Learned from logged occupancy.
    Learned(LearnedSchedule),
    /// Nothing known: never expected (controllers then react to measured occupancy only).
    Unknown,
}

impl OccupancyForecast {
    /// Whether the zone is expected occupied at site-local time `local`.
    #[must_use]
    pub fn is_expected(&self, local: NaiveDateTime) -> bool {
        match self {
            Self::Schedule(s) => s.is_active(local),
            Self::Learned(l) => l.is_expected(local),
            Self::Unknown => false,
        }
    }

    /// The configured schedule when there is one, else the learned one when it has data, else `Unknown`.
    #[must_use]
    pub fn choose(configured: Option<&WeeklySchedule>, learned: Option<&LearnedSchedule>) -> Self {
        match (configured, learned) {
            (Some(s), _) if !s.is_empty() => Self::Schedule(s.clone()),
            (_, Some(l)) if l.readings() > 0 => Self::Learned(l.clone()),
            _ => Self::Unknown,
        }
    }

    /// Expected occupancy minute by minute over `[from, from + minutes)` (UTC instants, site offset applied).
    #[must_use]
    pub fn minutes(&self, from: DateTime<Utc>, minutes: usize, utc_offset_minutes: i32) -> Vec<bool> {
        let local0 = (from + Duration::minutes(i64::from(utc_offset_minutes))).naive_utc();
        (0..minutes).map(|m| self.is_expected(local0 + Duration::minutes(m as i64))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heating_core::schedule::{DEFAULT_JITTER_MINUTES, Occupancy};

    fn monday() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn learns_a_jittered_office_schedule_from_two_weeks() {
        let schedule = WeeklySchedule::parse(&["mon-fri 08:30-17:30"]).unwrap();
        let occ = Occupancy::new(schedule.clone(), 4, 3, DEFAULT_JITTER_MINUTES);
        let readings = (0..(14 * 24 * 60)).map(|m| {
            let at = monday() + Duration::minutes(m);
            (at, occ.is_occupied(at.naive_utc()))
        });
        let learned = LearnedSchedule::learn(readings, 0);
        let week3 = monday() + Duration::days(14);
        let mut disagree = 0;
        for m in 0..(7 * 24 * 60) {
            let local = (week3 + Duration::minutes(m)).naive_utc();
            if learned.is_expected(local) != schedule.is_active(local) {
                disagree += 1;
            }
        }
        // Only near the edges, within the jitter plus a slot: at most 10 edges × 35 minutes.
        assert!(disagree <= 10 * 35, "{disagree} minutes disagree");
        assert!(learned.is_expected((week3 + Duration::hours(12)).naive_utc()));
        assert!(!learned.is_expected((week3 + Duration::days(5) + Duration::hours(12)).naive_utc()), "Saturday");
    }

    #[test]
    fn days_without_data_borrow_from_their_kind() {
        let mut l = LearnedSchedule::default();
        l.record(monday() + Duration::hours(9), true, 0);
        let tuesday_9 = (monday() + Duration::days(1) + Duration::hours(9)).naive_utc();
        assert!(l.is_expected(tuesday_9));
        let saturday_9 = (monday() + Duration::days(5) + Duration::hours(9)).naive_utc();
        assert!(!l.is_expected(saturday_9));
        assert_eq!(OccupancyForecast::choose(None, None), OccupancyForecast::Unknown);
    }

    #[test]
    fn aggregated_buckets_count_like_their_readings() {
        let at = monday() + Duration::hours(9) + Duration::minutes(3);
        let mut one_by_one = LearnedSchedule::default();
        for k in 0..10 {
            one_by_one.record(at + Duration::minutes(k), k < 3, 60);
        }
        let mut bucket = LearnedSchedule::default();
        bucket.record_many(at, 3, 10, 60);
        assert_eq!(bucket, one_by_one);
        bucket.record_many(at, 50, 10, 60);
        let local = (at + Duration::minutes(60)).naive_utc();
        assert_eq!(bucket.frequency(local), Some(13.0 / 20.0), "occupied is capped at the readings");
    }
}
