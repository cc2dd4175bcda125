//! Prediction and control for the heating platform: zone model identification, expected occupancy, and setpoint
//! controllers, with a linear-programming planner shared by the predictive controller and the perfect-foresight
//! reference of the benchmark.
//!
//! Pure: no I/O, no clock (callers pass `now`), no randomness. The server calls, per zone:
//! - [`model::identify`] on the zone's logged readings, periodically, and keeps [`model::Identification::model`]
//!   (the fit when good, a conservative default until then);
//! - [`control::controller`] once to build the zone's [`control::Controller`], then
//!   [`control::Controller::control`] each control interval with a [`control::ControlContext`];
//! - [`control::Controller::planned_preheat_start`] (and [`control::Controller::last_plan`]) for the status page.

pub mod cap;
pub mod control;
pub mod inputs;
pub mod lp;
pub mod model;
pub mod occupancy;
pub mod prices;

pub use control::{ControlContext, ControlOutput, Controller, PredictiveConfig, Strategy, ZoneReading, controller};
pub use inputs::{Forecast, PriceProfile};
pub use model::{FitCriteria, Identification, Sample, ZoneModel, identify};
pub use occupancy::{LearnedSchedule, OccupancyForecast};
pub use prices::{PriceInterval, PriceSeries};
