//! Server configuration: command-line flags over environment variables over `.env` over built-in defaults.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--database-url` | `DATABASE_URL` | `sqlite://heating.db?mode=rwc` |
//! | `--bind` | `BIND` | `127.0.0.1:8000` |
//! | `--poll-interval-secs` | `POLL_INTERVAL_SECS` | `5` (demo: `2`), at least 0.1 |
//! | `--control-interval-secs` | `CONTROL_INTERVAL_SECS` | `60` (demo: `10`) |
//! | `--modbus-timeout-ms` | `MODBUS_TIMEOUT_MS` | `1000` |
//! | `--modbus-backoff-max-secs` | `MODBUS_BACKOFF_MAX_SECS` | `30` |
//! | `--poll-concurrency` | `POLL_CONCURRENCY` | `512` |
//! | `--site-utc-offset-minutes` | `SITE_UTC_OFFSET_MINUTES` | `0` |
//! | `--site-timezone` | `SITE_TIMEZONE` | none (IANA name; daylight saving followed; replaces the fixed offset) |
//! | `--sim-seed` | `SIM_SEED` | `42` (the simulated weather's seed, same as the simulator's) |
//! | `--allowed-hosts` | `ALLOWED_HOSTS` | bound to loopback: `localhost`, `127.0.0.1`, `[::1]`, the bound address; else any (see [`HostSettings`]) |
//! | weather flags | `WEATHER_*`, `WEATHERAPI_*`, `OPEN_METEO_BASE_URL` | see `heating-weather` |
//! | price flags | `PRICE_SOURCE`, `PRICE_REFRESH_MINUTES`, `PRICE_TIMEOUT_MS` | see [`PriceSettings`] (default: the time-of-use table) |
//! | demand cap flags | `DEMAND_CAP_KW`, `DEMAND_CAP_WINDOWS` | see [`DemandSettings`] (default: no cap) |
//! | retention flags | `RETENTION_RAW`, `RETENTION_MINUTE`, `RETENTION_QUARTER`, `RETENTION_HOUR`, `RETENTION_COMMANDS`, `RETENTION_AUDIT`, `RETENTION_BATCH_ROWS` | see `RetentionSettings` (raw 30 days, 1-minute rollups 1 year, the rest forever) |
//! | maintenance flags | `MAINTENANCE_RETENTION_CRON`, `MAINTENANCE_OCCUPANCY_CRON`, `MAINTENANCE_DB_CHECK_CRON`, `MAINTENANCE_ROLLUP_REBUILD_CRON`, `MAINTENANCE_ROLLUP_REBUILD_DAYS` | see `MaintenanceSettings` (cron, six fields, seconds first, UTC) |
//! | alert flags | `ALERT_*` (rules' delays and thresholds, `ALERT_WEBHOOK_URL` and its retry policy) | see `AlertSettings` (every rule on, no webhook) |
//! | instance flags | `INSTANCE_ID`, `INSTANCE_NAME`, `ADVERTISED_URL`, `LEASE_PERIOD_MS`, `FORWARD_TIMEOUT_MS` | see `InstanceSettings` (PostgreSQL: several instances share the zones by leases) |
//! | MQTT flags | `MQTT_URL`, `MQTT_USERNAME`, `MQTT_PASSWORD`, `MQTT_CA_FILE`, `MQTT_CLIENT_ID`, `MQTT_TOPIC_PREFIX`, `MQTT_DISCOVERY_PREFIX`, `MQTT_HOLD_MINUTES` | see `MqttSettings` (off unless `MQTT_URL` is set) |
//!
//! The `demo` subcommand (in the binary) fills the intervals and the strategy left unset with its own defaults.
//!
//! Logging is set with `RUST_LOG` (read by the binary, not part of [`Config`]). Secrets — the weather API key, any
//! password in the database URL and `MQTT_PASSWORD` — never appear in `Debug` output, logs or `--help`.

mod alerts;
mod auth;
mod demand;
mod hosts;
mod instances;
mod limits;
mod maintenance;
mod mqtt;
mod prices;
mod profiles;
mod retention;

use std::fmt;
use std::net::SocketAddr;

use clap::Parser;

pub use self::alerts::{AlertSettings, AlertThresholds, WebhookSettings, shown_url};
pub use self::auth::{AuthSettings, DEFAULT_SIGN_IN_FAILURES_PER_MINUTE, DeviceNetworks};
pub use self::demand::DemandSettings;
pub use self::hosts::{AllowedHosts, HostSettings};
pub use self::instances::{DEFAULT_LEASE_PERIOD_MS, InstanceSettings};
pub use self::limits::LimitSettings;
pub use self::maintenance::{CronSchedule, JobSchedule, MaintenanceJob, MaintenanceSettings, parse_cron_or_off};
pub use self::mqtt::{MqttSettings, MqttUrl};
pub use self::prices::{PriceSettings, PriceSource};
pub use self::profiles::ProfileSettings;
pub use self::retention::{Keep, RetentionSettings, parse_keep};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://heating.db?mode=rwc";
pub const DEFAULT_BIND: &str = "127.0.0.1:8000";
pub const DEFAULT_POLL_INTERVAL_SECS: f64 = 5.0;
pub const DEFAULT_CONTROL_INTERVAL_SECS: f64 = 60.0;
pub const DEFAULT_MODBUS_TIMEOUT_MS: u64 = 1000;
pub const DEFAULT_BACKOFF_MAX_SECS: f64 = 30.0;
pub const DEFAULT_POLL_CONCURRENCY: usize = 512;
pub const DEFAULT_SIM_SEED: u64 = 42;

/// `CONTROL_STRATEGY`: one of constant, reactive, scheduled, predictive.
fn parse_strategy(s: &str) -> Result<heating_predict::Strategy, String> {
    s.trim().to_ascii_lowercase().parse().map_err(|_| {
        format!("unknown control strategy {s:?}: expected one of constant, reactive, scheduled, predictive")
    })
}

fn parse_timezone(s: &str) -> Result<chrono_tz::Tz, String> {
    s.trim().parse().map_err(|_| format!("unknown time zone {s:?}: expected an IANA name such as Europe/Berlin or UTC"))
}

/// Site-local time: a fixed offset from UTC (`SITE_UTC_OFFSET_MINUTES`, UTC by default) or an IANA zone with its
/// daylight-saving changes (`SITE_TIMEZONE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteZone {
    Fixed(chrono::FixedOffset),
    Named(chrono_tz::Tz),
}

impl SiteZone {
    const UTC_OFFSET: chrono::FixedOffset = chrono::FixedOffset::east_opt(0).expect("UTC is a valid offset");
    pub const UTC: Self = Self::Fixed(Self::UTC_OFFSET);
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v.is_finite() && (0.1..=86_400.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0.1..=86400 seconds"))
    }
}

/// Central server of the heating platform: REST API, storage, polling and control.
#[derive(Clone, Parser)]
#[command(name = "heating-server", version)]
pub struct Config {
    /// Database URL. SQLite: `sqlite://PATH?mode=rwc` (the file is created if missing); PostgreSQL:
    /// `postgres://USER:PASSWORD@HOST:PORT/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
    /// Address and port the HTTP server listens on.
    #[arg(long, env = "BIND", default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,
    /// Seconds between two polls of every zone [default: 5; demo: 2].
    #[arg(long, env = "POLL_INTERVAL_SECS", value_parser = parse_interval)]
    pub poll_interval_secs: Option<f64>,
    /// Seconds between two runs of the control job [default: 60; demo: 10].
    #[arg(long, env = "CONTROL_INTERVAL_SECS", value_parser = parse_interval)]
    pub control_interval_secs: Option<f64>,
    /// Deadline of one Modbus request (connect, read or write), in milliseconds.
    #[arg(long, env = "MODBUS_TIMEOUT_MS", default_value_t = DEFAULT_MODBUS_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub modbus_timeout_ms: u64,
    /// Longest wait between reconnection attempts to an unreachable zone, in seconds.
    #[arg(long, env = "MODBUS_BACKOFF_MAX_SECS", default_value_t = DEFAULT_BACKOFF_MAX_SECS, value_parser = parse_interval)]
    pub modbus_backoff_max_secs: f64,
    /// Most zones polled at the same time.
    #[arg(long, env = "POLL_CONCURRENCY", default_value_t = DEFAULT_POLL_CONCURRENCY,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub poll_concurrency: usize,
    /// Site-local time offset from UTC in minutes (for timer programs and the simulated weather's daily cycle).
    #[arg(long, env = "SITE_UTC_OFFSET_MINUTES", default_value_t = 0, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-840..=840))]
    pub site_utc_offset_minutes: i32,
    /// Site time zone, an IANA name such as `Europe/Berlin`: site-local time then follows its daylight-saving
    /// changes. Takes the place of SITE_UTC_OFFSET_MINUTES.
    #[arg(long, env = "SITE_TIMEZONE", value_parser = parse_timezone)]
    pub site_timezone: Option<chrono_tz::Tz>,
    /// Seed of the simulated weather (the simulator's `--seed`, so both agree).
    #[arg(long, env = "SIM_SEED", default_value_t = DEFAULT_SIM_SEED)]
    pub sim_seed: u64,
    /// Control strategy of zones without a `control_strategy` preference: constant, reactive, scheduled or
    /// predictive [default: reactive; demo: predictive].
    #[arg(long, env = "CONTROL_STRATEGY", value_parser = parse_strategy)]
    pub control_strategy: Option<heating_predict::Strategy>,
    /// Weather provider settings.
    #[command(flatten)]
    pub weather: heating_weather::WeatherSettings,
    #[command(flatten)]
    pub auth: AuthSettings,
    #[command(flatten)]
    pub limits: LimitSettings,
    #[command(flatten)]
    pub hosts: HostSettings,
    #[command(flatten)]
    pub mqtt: MqttSettings,
    #[command(flatten)]
    pub profiles: ProfileSettings,
    #[command(flatten)]
    pub prices: PriceSettings,
    #[command(flatten)]
    pub demand: DemandSettings,
    #[command(flatten)]
    pub retention: RetentionSettings,
    #[command(flatten)]
    pub maintenance: MaintenanceSettings,
    #[command(flatten)]
    pub alerts: AlertSettings,
    #[command(flatten)]
    pub instances: InstanceSettings,
    /// Run without the poller and the control job (API only). Not a flag: for tests and tools.
    #[arg(skip)]
    pub background_jobs_disabled: bool,
}

impl Config {
    /// The defaults, with `database_url` replaced (for tests and embedding).
    #[must_use]
    pub fn with_database_url(database_url: impl Into<String>) -> Self {
        Self { database_url: database_url.into(), ..Self::default() }
    }

    /// An empty `WEATHERAPI_KEY=` (as in `.env.example`) means "no key".
    pub fn normalize(&mut self) {
        if self.weather.api_key().is_none() {
            self.weather.weatherapi_key = None;
        }
    }

    /// Time between two poll cycles (real time).
    #[must_use]
    pub fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.poll_interval_secs.unwrap_or(DEFAULT_POLL_INTERVAL_SECS))
    }

    /// The control strategy of zones without a `control_strategy` preference.
    #[must_use]
    pub fn control_strategy(&self) -> heating_predict::Strategy {
        self.control_strategy.unwrap_or(heating_predict::Strategy::Reactive)
    }

    /// Time between two control runs (real time).
    #[must_use]
    pub fn control_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.control_interval_secs.unwrap_or(DEFAULT_CONTROL_INTERVAL_SECS))
    }

    /// Deadlines and backoff of the Modbus links.
    #[must_use]
    pub fn link_config(&self) -> zone_client::LinkConfig {
        let timeout = std::time::Duration::from_millis(self.modbus_timeout_ms);
        let max = std::time::Duration::from_secs_f64(self.modbus_backoff_max_secs);
        zone_client::LinkConfig {
            request_timeout: timeout,
            backoff_initial: std::time::Duration::from_millis(250).min(max),
            backoff_max: max,
        }
    }

    /// The demand cap (`DEMAND_CAP_KW`, `DEMAND_CAP_WINDOWS`), its windows in the site's offset at start-up; an
    /// error naming the setting when refused.
    pub fn demand_cap(&self) -> Result<Option<heating_predict::cap::DemandCap>, String> {
        self.demand.cap(self.site_offset_minutes(chrono::Utc::now()))
    }

    /// Parses `args`, returning the error's text (tests of the settings' messages).
    #[cfg(test)]
    pub(crate) fn try_parse_from_for_test<const N: usize>(args: [&str; N]) -> String {
        Self::try_parse_from(args).err().map(|e| e.to_string()).unwrap_or_default()
    }

    /// Site-local time's offset from UTC at `at`, minutes: from `SITE_TIMEZONE` (daylight saving included) when set,
    /// else `SITE_UTC_OFFSET_MINUTES`.
    #[must_use]
    pub fn site_offset_minutes(&self, at: chrono::DateTime<chrono::Utc>) -> i32 {
        use chrono::{Offset, TimeZone};
        match self.site_timezone {
            Some(tz) => tz.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc() / 60,
            None => self.site_utc_offset_minutes,
        }
    }

    /// The site's time zone, for anything that reads wall-clock times as site-local (the maintenance schedules).
    #[must_use]
    pub fn site_zone(&self) -> SiteZone {
        match self.site_timezone {
            Some(tz) => SiteZone::Named(tz),
            None => SiteZone::Fixed(
                chrono::FixedOffset::east_opt(self.site_utc_offset_minutes * 60).unwrap_or(SiteZone::UTC_OFFSET),
            ),
        }
    }

    /// The synthetic weather model the simulated provider uses: the simulator's, for the same seed and site.
    #[must_use]
    pub fn synthetic_weather(&self) -> heating_core::weather::SyntheticWeather {
        heating_core::weather::SyntheticWeather {
            // The simulated daily cycle keeps one offset: the site's at start-up.
            utc_offset_minutes: self.site_offset_minutes(chrono::Utc::now()),
            ..heating_core::weather::SyntheticWeather::with_seed(self.sim_seed)
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_string(),
            bind: DEFAULT_BIND.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8000))),
            poll_interval_secs: None,
            control_interval_secs: None,
            modbus_timeout_ms: DEFAULT_MODBUS_TIMEOUT_MS,
            modbus_backoff_max_secs: DEFAULT_BACKOFF_MAX_SECS,
            poll_concurrency: DEFAULT_POLL_CONCURRENCY,
            site_utc_offset_minutes: 0,
            site_timezone: None,
            sim_seed: DEFAULT_SIM_SEED,
            control_strategy: None,
            weather: heating_weather::WeatherSettings::default(),
            auth: AuthSettings::default(),
            limits: LimitSettings::default(),
            hosts: HostSettings::default(),
            mqtt: MqttSettings::default(),
            profiles: ProfileSettings::default(),
            prices: PriceSettings::default(),
            demand: DemandSettings::default(),
            retention: RetentionSettings::default(),
            maintenance: MaintenanceSettings::default(),
            alerts: AlertSettings::default(),
            instances: InstanceSettings::default(),
            background_jobs_disabled: false,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind", &self.bind)
            .field("poll_interval", &self.poll_interval())
            .field("control_interval", &self.control_interval())
            .field("modbus_timeout_ms", &self.modbus_timeout_ms)
            .field("modbus_backoff_max_secs", &self.modbus_backoff_max_secs)
            .field("poll_concurrency", &self.poll_concurrency)
            .field("site_utc_offset_minutes", &self.site_utc_offset_minutes)
            .field("site_timezone", &self.site_timezone)
            .field("sim_seed", &self.sim_seed)
            .field("control_strategy", &self.control_strategy())
            .field("weather", &self.weather)
            .field("auth", &self.auth)
            .field("limits", &self.limits)
            .field("hosts", &self.hosts)
            .field("mqtt", &self.mqtt)
            .field("profiles", &self.profiles)
            .field("price_source", &self.prices.price_source.to_string())
            .field("price_refresh_minutes", &self.prices.price_refresh_minutes)
            .field("demand", &self.demand)
            .field("retention", &self.retention)
            .field("maintenance", &self.maintenance)
            .field("alerts", &self.alerts)
            .field("instances", &self.instances)
            .finish()
    }
}

/// A database URL fit for logs and error messages: the password in `user:password@host` and any `password=`
/// query parameter are replaced by `[redacted]`.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..].find(['/', '?', '#']).map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "[redacted]");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[redacted]"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_timezone_follows_daylight_saving() {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let c = Config::try_parse_from(["heating-server", "--site-timezone", "Europe/Berlin"]).unwrap();
        assert_eq!(c.site_offset_minutes(at("2026-01-15T12:00:00Z")), 60);
        assert_eq!(c.site_offset_minutes(at("2026-07-15T12:00:00Z")), 120);
        // The spring change happens at 01:00 UTC.
        assert_eq!(c.site_offset_minutes(at("2026-03-29T00:59:00Z")), 60);
        assert_eq!(c.site_offset_minutes(at("2026-03-29T01:00:00Z")), 120);
        let fixed = Config::try_parse_from(["heating-server", "--site-utc-offset-minutes", "-300"]).unwrap();
        assert_eq!(fixed.site_offset_minutes(at("2026-07-15T12:00:00Z")), -300);
        let err = Config::try_parse_from(["heating-server", "--site-timezone", "Europe/Atlantis"]).unwrap_err();
        assert!(err.to_string().contains("unknown time zone \"Europe/Atlantis\""), "{err}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let config = Config {
            database_url: "postgres://app:hunter2@db:5432/heating?sslmode=require&password=hunter3".into(),
            weather: heating_weather::WeatherSettings {
                weatherapi_key: Some("abc123".parse().unwrap()),
                ..Default::default()
            },
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("hunter3") && !shown.contains("abc123"), "{shown}");
        assert!(shown.contains("postgres://app:[redacted]@db:5432/heating"), "{shown}");
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        assert_eq!(redact_url(DEFAULT_DATABASE_URL), DEFAULT_DATABASE_URL);
        assert_eq!(redact_url("sqlite:///var/lib/heating/x.db"), "sqlite:///var/lib/heating/x.db");
        assert_eq!(redact_url("postgres://app@db/heating"), "postgres://app@db/heating");
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let parsed = Config::try_parse_from(["heating-server", "--database-url", DEFAULT_DATABASE_URL]).unwrap();
        let d = Config::default();
        assert_eq!(parsed.bind, d.bind);
        assert_eq!(d.bind.to_string(), DEFAULT_BIND);
        assert_eq!(parsed.poll_interval(), std::time::Duration::from_secs(5));
        assert_eq!(parsed.control_interval(), std::time::Duration::from_secs(60));
        assert!(Config::try_parse_from(["heating-server", "--poll-interval-secs", "0"]).is_err());
        let fast = Config::try_parse_from(["heating-server", "--poll-interval-secs", "0.5"]).unwrap();
        assert_eq!(fast.poll_interval(), std::time::Duration::from_millis(500));
    }

    #[test]
    fn control_strategy_defaults_to_reactive_and_refuses_unknown_values() {
        let config = Config::try_parse_from(["heating-server"]).unwrap();
        assert_eq!(config.control_strategy(), heating_predict::Strategy::Reactive);
        let config = Config::try_parse_from(["heating-server", "--control-strategy", "Scheduled"]).unwrap();
        assert_eq!(config.control_strategy(), heating_predict::Strategy::Scheduled);
        let err = Config::try_parse_from(["heating-server", "--control-strategy", "bogus"]).unwrap_err().to_string();
        assert!(
            err.contains(
                "unknown control strategy \"bogus\": expected one of constant, reactive, scheduled, predictive"
            ),
            "{err}"
        );
    }

    #[test]
    fn empty_key_means_none() {
        let mut c = Config::default();
        c.weather.weatherapi_key = Some("  ".parse().unwrap());
        c.normalize();
        assert!(c.weather.weatherapi_key.is_none());
    }
}
