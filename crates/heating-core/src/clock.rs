//! Time sources. Everything that asks "what time is it" goes through a [`Clock`], so the simulator, the server and
//! the demo can run on a shared, scaled simulated clock (a simulated day in 24 minutes at 60×) as easily as on the
//! wall clock.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

/// A source of the current time (UTC).
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    /// Simulated seconds per real second (1 for the wall clock).
    fn scale(&self) -> f64 {
        1.0
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at `origin` and runs `scale` times faster than real time (monotonic: it follows
/// [`Instant`], so a wall-clock jump does not move it).
#[derive(Debug, Clone)]
pub struct ScaledClock {
    origin: DateTime<Utc>,
    started: Instant,
    scale: f64,
}

impl ScaledClock {
    /// `scale` must be finite and positive; callers validate it at the boundary (see [`validate_scale`]).
    #[must_use]
    pub fn new(origin: DateTime<Utc>, scale: f64) -> Self {
        Self { origin, started: Instant::now(), scale }
    }

    /// Simulated time after `real` elapsed real time.
    #[must_use]
    pub fn at_elapsed(&self, real: std::time::Duration) -> DateTime<Utc> {
        let sim_ms = (real.as_secs_f64() * self.scale * 1000.0).round();
        self.origin + Duration::milliseconds(sim_ms as i64)
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        self.at_elapsed(self.started.elapsed())
    }

    fn scale(&self) -> f64 {
        self.scale
    }
}

/// A clock that moves only when told to: for tests and for simulations that run faster than real time.
#[derive(Debug)]
pub struct ManualClock {
    now: std::sync::Mutex<DateTime<Utc>>,
}

impl ManualClock {
    #[must_use]
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { now: std::sync::Mutex::new(start) }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Checks a time-scale factor given by a user: finite, from 0.001 to 100000.
pub fn validate_scale(scale: f64) -> Result<f64, String> {
    if scale.is_finite() && (0.001..=100_000.0).contains(&scale) {
        Ok(scale)
    } else {
        Err(format!("time scale must be a number from 0.001 to 100000, got {scale}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_clock_runs_faster() {
        let origin = DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc();
        let c = ScaledClock::new(origin, 60.0);
        assert_eq!(c.at_elapsed(std::time::Duration::from_secs(24 * 60)), origin + Duration::days(1));
        assert!(c.now() >= origin);
        assert_eq!(c.scale(), 60.0);
    }

    #[test]
    fn manual_clock_moves_when_told() {
        let origin = DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc();
        let c = ManualClock::new(origin);
        assert_eq!(c.now(), origin);
        c.advance(Duration::hours(2));
        assert_eq!(c.now(), origin + Duration::hours(2));
        c.set(origin);
        assert_eq!(c.now(), origin);
    }

    #[test]
    fn scale_validation() {
        assert!(validate_scale(60.0).is_ok());
        assert!(validate_scale(0.0).is_err());
        assert!(validate_scale(f64::INFINITY).is_err());
        assert!(validate_scale(-1.0).is_err());
    }
}
