//! Integration tests of the central server: one test binary, a fresh server on port 0 with a fresh temporary
//! SQLite database per test (see `helpers::spawn_app`).

mod access;
mod access_binary;
mod alerts;
mod commands;
mod dashboard;
mod device_profiles;
mod docs;
mod groups;
mod headers;
mod helpers;
mod history;
mod lifecycle;
mod maintenance;
mod malformed;
mod openapi;
mod persistence;
mod probe_binary;
mod prototype;
mod sensordata;
mod slashes;
mod weather_status;
mod zones;
