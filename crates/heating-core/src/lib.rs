//! Domain and protocol types of the heating platform.
//!
//! This crate does no I/O: no sockets, no files, no database, no environment. It defines the zone register map
//! ([`registers`]), temperatures and setpoints ([`units`]), the room physics ([`physics`]), weekly occupancy
//! schedules ([`schedule`]), the synthetic weather model ([`weather`]), clocks ([`clock`]), the default zone
//! profiles and the simulated zone built from all of them ([`zone`]), and user preferences ([`preferences`]).
//! The simulator and the server both build on it, so they cannot disagree about any of these.

pub mod clock;
pub mod control;
pub mod physics;
pub mod preferences;
pub mod registers;
pub mod rng;
pub mod schedule;
pub mod units;
pub mod weather;
pub mod zone;
