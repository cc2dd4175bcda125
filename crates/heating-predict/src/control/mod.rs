//! Setpoint controllers behind one interface, for the scenario runner and the server alike.
//!
//! A [`Controller`] is asked, once per control interval and zone, for the target to write; the zone's own on/off
//! thermostat (± hysteresis around the target) still does the switching. Controllers keep per-zone state (the
//! predictive one remembers when it last saw people and its last plan), so the caller holds one per zone.
//!
//! | strategy | target |
//! |---|---|
//! | `constant` | 21 °C always (a plain thermostat) |
//! | `reactive` | [`heating_core::control::decide`]: the server's rule on the *measured* occupancy |
//! | `scheduled` | `occupied_temp` while the expected schedule is active, else `unoccupied_temp` |
//! | `predictive` | a 24 h price-aware plan by linear programming (see [`Predictive`]) |
//!
//! Every strategy skips a decision without a fresh reading, and obeys a manual hold ([`ControlContext::hold`])
//! until it expires; [`ControlOutput::hold_expired`] then tells the caller to forget it. A write is due when the
//! target differs from the device's by 0.1 K or more (as in [`heating_core::control`]).
//!
//! The strategies live in `simple` (constant, reactive, scheduled) and `predictive` (the planner; its settings in
//! `predictive::config`, the plan's translation into a thermostat target and a preheat start in
//! `predictive::plan`); their public types are re-exported here.

pub mod building;
mod predictive;
mod simple;

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use heating_core::control::Hold;
use heating_core::preferences::Preferences;
use heating_core::units::Setpoint;
use serde::Serialize;

use crate::inputs::{Forecast, PriceProfile};
use crate::model::ZoneModel;
use crate::occupancy::OccupancyForecast;

pub use predictive::{PlanSummary, Predictive, PredictiveConfig, PreparedPlan};
pub use simple::{Constant, Reactive, Scheduled};

/// The control strategies: the domain's [`ControlStrategy`](heating_core::preferences::ControlStrategy), also a
/// zone preference.
pub use heating_core::preferences::{ControlStrategy as Strategy, UnknownStrategy};

/// What a controller knows of the zone's newest reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneReading {
    pub at: DateTime<Utc>,
    /// Air temperature as read (0.1 K resolution), °C.
    pub t_air: f64,
    /// Outdoor temperature the device reports, if any.
    pub t_out: Option<f64>,
    pub occupied: bool,
    pub heater_on: bool,
    /// The target the device holds.
    pub device_target: Setpoint,
}

/// Everything a controller may look at for one decision.
#[derive(Debug, Clone, Copy)]
pub struct ControlContext<'a> {
    pub now: DateTime<Utc>,
    /// Site-local offset from UTC, minutes.
    pub utc_offset_minutes: i32,
    pub reading: Option<ZoneReading>,
    /// A reading older than this is stale: no decision.
    pub stale_after: Duration,
    pub preferences: &'a Preferences,
    /// A manual hold, if any (wins over every strategy until it expires).
    pub hold: Option<Hold>,
    /// Expected occupancy (configured or learned schedule).
    pub occupancy: &'a OccupancyForecast,
    /// Outdoor-temperature forecast.
    pub forecast: &'a Forecast,
    pub prices: &'a PriceProfile,
    /// The zone's thermal model (identified, fallback or configured).
    pub model: &'a ZoneModel,
    /// The zone thermostat's hysteresis, K either side of the target.
    pub hysteresis_k: f64,
}

impl ControlContext<'_> {
    fn local_now(&self) -> chrono::NaiveDateTime {
        (self.now + Duration::minutes(i64::from(self.utc_offset_minutes))).naive_utc()
    }

    /// The fresh reading, or why there is none.
    fn fresh_reading(&self) -> Result<ZoneReading, String> {
        match self.reading {
            None => Err("no reading yet".into()),
            Some(r) if self.now - r.at > self.stale_after => {
                Err(format!("newest reading is {} s old", (self.now - r.at).num_seconds()))
            }
            Some(r) => Ok(r),
        }
    }

    fn active_hold(&self, occupied: bool) -> Option<Hold> {
        self.hold.filter(|h| h.is_active(self.now, occupied))
    }

    /// The answer while a manual hold is in force: its target, within the zone's bounds.
    fn hold_output(&self, occupied: bool) -> Option<ControlOutput> {
        self.active_hold(occupied).map(|h| ControlOutput {
            target: self.setpoint(h.target.celsius()),
            reason: "manual hold".into(),
            ..hold_out()
        })
    }

    fn setpoint(&self, celsius: f64) -> Option<Setpoint> {
        Setpoint::from_celsius(self.preferences.clamp(celsius)).ok()
    }
}

/// A controller's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlOutput {
    /// The target to write; `None`: decide nothing now (no or stale reading).
    pub target: Option<Setpoint>,
    /// Why, in words.
    pub reason: String,
    /// When the current plan starts heating up for the next expected occupancy (predictive only).
    pub planned_preheat_start: Option<DateTime<Utc>>,
    /// A hold was given but has expired: the caller should forget it.
    pub hold_expired: bool,
    /// Which rule of the reactive policy gave the target, with its weather adjustment (reactive only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<heating_core::control::Reason>,
}

impl ControlOutput {
    fn skip(why: String) -> Self {
        Self { target: None, reason: why, planned_preheat_start: None, hold_expired: false, detail: None }
    }
}

/// A setpoint controller for one zone.
pub trait Controller: fmt::Debug + Send {
    fn strategy(&self) -> Strategy;

    /// Decides the target for the coming control interval.
    fn control(&mut self, ctx: &ControlContext<'_>) -> ControlOutput;

    /// When the last plan starts preheating for the next expected occupancy (`None`: no preheat planned, or a
    /// strategy that does not plan).
    fn planned_preheat_start(&self) -> Option<DateTime<Utc>> {
        None
    }

    /// The last plan, for display (predictive only).
    fn last_plan(&self) -> Option<&PlanSummary> {
        None
    }

    /// The predictive controller behind this one, for the building step that plans zones jointly
    /// ([`building::control_building`]); `None` for strategies that do not plan.
    fn as_predictive(&mut self) -> Option<&mut Predictive> {
        None
    }
}

/// Builds a controller for one zone.
#[must_use]
pub fn controller(strategy: Strategy, config: &PredictiveConfig) -> Box<dyn Controller> {
    match strategy {
        Strategy::Constant => Box::new(Constant { celsius: 21.0 }),
        Strategy::Reactive => Box::new(Reactive),
        Strategy::Scheduled => Box::new(Scheduled),
        Strategy::Predictive => Box::new(Predictive::new(*config)),
    }
}

fn hold_out() -> ControlOutput {
    ControlOutput::skip(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use heating_core::schedule::WeeklySchedule;
    use heating_core::zone::default_profiles;

    pub(super) fn monday() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn strategies_parse_and_display() {
        for s in Strategy::ALL {
            assert_eq!(s.as_str().parse::<Strategy>().unwrap(), s);
        }
        assert!("pid".parse::<Strategy>().is_err());
    }

    #[test]
    fn every_strategy_obeys_a_hold_and_reports_its_end() {
        let prefs = Preferences::default();
        let occupancy = OccupancyForecast::Schedule(WeeklySchedule::parse(&["mon-fri 08:30-17:30"]).unwrap());
        let forecast = Forecast::constant(monday(), 3.0);
        let prices = PriceProfile::default();
        let model = ZoneModel::from_params(&default_profiles()[3].params());
        let hold = Hold {
            target: Setpoint::from_celsius(23.5).unwrap(),
            until: Some(monday() + Duration::hours(1)),
            occupied_at_start: false,
        };
        for s in Strategy::ALL {
            let mut ctl = controller(s, &PredictiveConfig::default());
            let mut ctx = ControlContext {
                now: monday(),
                utc_offset_minutes: 0,
                reading: Some(ZoneReading {
                    at: monday(),
                    t_air: 19.0,
                    t_out: Some(3.0),
                    occupied: false,
                    heater_on: false,
                    device_target: Setpoint::from_celsius(17.0).unwrap(),
                }),
                stale_after: Duration::minutes(5),
                preferences: &prefs,
                hold: Some(hold),
                occupancy: &occupancy,
                forecast: &forecast,
                prices: &prices,
                model: &model,
                hysteresis_k: 0.3,
            };
            let out = ctl.control(&ctx);
            assert_eq!(out.target.unwrap().celsius(), 23.5, "{s}");
            assert!(!out.hold_expired);
            ctx.now = monday() + Duration::hours(2);
            ctx.reading = ctx.reading.map(|r| ZoneReading { at: ctx.now, ..r });
            let out = ctl.control(&ctx);
            assert!(out.hold_expired, "{s}");
            assert!(out.target.unwrap().celsius() < 23.5, "{s}");
        }
    }

    #[test]
    fn stale_readings_mean_no_decision() {
        let prefs = Preferences::default();
        let occupancy = OccupancyForecast::Unknown;
        let forecast = Forecast::default();
        let prices = PriceProfile::default();
        let model = ZoneModel::fallback(1000.0);
        let ctx = ControlContext {
            now: monday(),
            utc_offset_minutes: 0,
            reading: None,
            stale_after: Duration::minutes(5),
            preferences: &prefs,
            hold: None,
            occupancy: &occupancy,
            forecast: &forecast,
            prices: &prices,
            model: &model,
            hysteresis_k: 0.3,
        };
        for s in Strategy::ALL {
            assert!(controller(s, &PredictiveConfig::default()).control(&ctx).target.is_none(), "{s}");
        }
    }
}
