//! The scenario benchmark of the heating platform's control strategies.
//!
//! [`scenario::run`] simulates the zones (the domain crate's room physics, thermostat and jittered occupancy) in
//! pure simulated time, drives them with one [`heating_predict::Controller`] per zone (or one building step under a
//! demand cap, with a guard that sheds heaters), scores the test days (BOPTEST-style discomfort in K·h, energy,
//! cost) and solves the perfect-foresight reference by linear programming ([`reference`]). [`kpis`] holds what a
//! run reports; [`cli`] turns command-line options into a [`scenario::Scenario`]; [`report`] writes `trace.csv` and
//! `kpis.json` and prints the table; [`prices`] generates the synthetic day-ahead series. Deterministic by seed: no
//! clock, no randomness besides the seeded streams.

pub mod cli;
pub mod kpis;
pub mod prices;
pub mod reference;
pub mod report;
pub mod scenario;
pub mod weather;
