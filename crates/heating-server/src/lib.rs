//! The central server: the system's record and its face to operators and scripts.
//!
//! Layers, top to bottom (a module uses only modules below it; `app` alone sees all of them):
//!
//! - [`app`]: builds the application ([`app::build`]) apart from running it ([`app::App::run`]), so tests get a
//!   handle on a server bound to port 0.
//! - [`server`]: the HTTP server's accept loop and connections, under timeouts and connection caps that keep a
//!   slow or greedy client from holding it.
//! - [`http`]: one module per REST resource, each with its own `router()`, merged once with the OpenAPI document
//!   and Swagger UI; one error type ([`http::error::ApiError`]). Handlers parse, call one service, map its error.
//! - [`mqtt`]: the MQTT bridge (Home Assistant discovery, zone states, commands), an adapter beside HTTP over the
//!   same services; on when `MQTT_URL` is set.
//! - [`services`]: every operation the API offers (zones, manual control, readings, history, models and plans,
//!   status, weather, health), with domain errors ([`services::ServiceError`]) and no HTTP types.
//! - [`jobs`]: the poller, the control job and the learning job, each a public step plus a loop.
//! - [`strategy`]: deciding a zone's target, one `Controller` per zone for every strategy.
//! - [`learning`]: model fits and occupancy learned from the zones' logged readings.
//! - [`state`]: [`AppState`], what services and jobs share, and the jobs' latest reports.
//! - [`fleet`]: the live side of the zones (Modbus links, health, newest readings, decisions, holds), and
//!   [`fleet::dispatch`], the one way a target reaches a device.
//! - [`profiles`]: the device profiles zones may name (built-in, `DEVICE_PROFILES_DIR`, posted).
//! - [`alerts`]: the alert rules (pure, with hysteresis), the open alerts in memory, the alert webhook.
//! - [`metrics`]: the Prometheus registry ([`metrics::Metrics`]), fed by one-line hooks where things happen.
//! - [`storage`]: the one storage interface ([`storage::Storage`]): SQLite or PostgreSQL.
//! - [`config`], [`domain`], [`time`]: flags and environment; validated values; timestamp formats.
//!
//! Only this crate knows HTTP and SQL; the rules it applies come from `heating-core`. The `demo` subcommand lives
//! in the binary (`src/bin/heating-server/`), not in this library.

pub mod alerts;
pub mod app;
pub mod config;
pub mod demand;
pub mod domain;
pub mod fleet;
pub mod http;
pub mod jobs;
pub mod learning;
pub mod metrics;
pub mod mqtt;
pub mod prices;
pub mod profiles;
pub mod server;
pub mod services;
pub mod state;
pub mod storage;
pub mod strategy;
pub mod time;

pub use app::{App, build, build_with_clock};
pub use config::Config;
pub use state::AppState;
