//! The central server: the system's record and its face to operators and scripts.
//!
//! - [`config`]: flags, environment and `.env`, with secrets redacted.
//! - [`app`]: builds the application ([`app::build`]) apart from running it ([`app::App::run`]), so tests get a
//!   handle on a server bound to port 0.
//! - [`storage`]: the one storage interface the handlers use ([`storage::Storage`]): SQLite or PostgreSQL.
//! - [`http`]: one module per REST resource, each with its own `router()`, merged once with the OpenAPI document
//!   and Swagger UI; one error type ([`http::error::ApiError`]).
//! - [`domain`]: validated values (zone names, Modbus endpoints, pagination) that requests convert into.
//! - [`time`]: the storage and wire formats of timestamps.
//! - [`fleet`]: the live side of the zones (Modbus links, health, newest readings, decisions, holds).
//! - [`jobs`]: the poller and the control job, each a public step plus a loop.
//! - [`dispatch`]: sending a target to a device with its command record, for every source.
//! - [`demo`]: simulator and server in one process on a shared simulated clock.
//!
//! Only this crate knows HTTP and SQL; the rules it applies come from `heating-core`.

pub mod app;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod domain;
pub mod fleet;
pub mod http;
pub mod jobs;
pub mod storage;
pub mod time;

pub use app::{App, AppState, build, build_with_clock};
pub use config::Config;
