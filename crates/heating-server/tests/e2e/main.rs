//! End to end: the real zone simulator on ephemeral ports, the real server, a temporary SQLite file, real Modbus
//! TCP on loopback. Control tests drive the public steps (`poll_once`, `control_once`) on a manual clock; fault
//! tests run the background loops on the wall clock.

mod alerts;
mod alerts_model;
mod audit;
mod control;
mod demo;
mod device;
mod faults;
mod gateway;
mod grid;
mod groups;
mod helpers;
mod learning;
mod metrics;
mod model;
mod mqtt;
mod mqtt_alerts;
mod pipeline;
mod profiles;
