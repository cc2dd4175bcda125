//! Alert rules and their webhook (flattened into [`super::Config`]). Every delay is in minutes of server time; a
//! rule whose delay (or count) is 0 is off.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--alert-offline-minutes` | `ALERT_OFFLINE_MINUTES` | `10`: a device without a valid reading this long |
//! | `--alert-cold-minutes` | `ALERT_COLD_MINUTES` | `30`: occupied and below the comfort bound this long |
//! | `--alert-cold-margin-k` | `ALERT_COLD_MARGIN_K` | `1.0`: the comfort bound is `occupied_temp` minus this |
//! | `--alert-no-rise-minutes` | `ALERT_NO_RISE_MINUTES` | `120`: the heater on this long without the air rising |
//! | `--alert-no-rise-k` | `ALERT_NO_RISE_K` | `0.3`: the rise that counts |
//! | `--alert-sensor-min-c`, `--alert-sensor-max-c` | `ALERT_SENSOR_MIN_C`, `ALERT_SENSOR_MAX_C` | `0`, `45`: a room's physical range |
//! | `--alert-frozen-minutes` | `ALERT_FROZEN_MINUTES` | `360`: the same air temperature this long |
//! | `--alert-write-failures` | `ALERT_WRITE_FAILURES` | `3`: control writes failed in a row |
//! | `--alert-model-fit` | `ALERT_MODEL_FIT` | `true`: the newest model fit is bad after a good one |
//! | `--alert-clear-minutes` | `ALERT_CLEAR_MINUTES` | `5`: how long a condition must have ended before its alert clears |
//! | `--alert-webhook-url` | `ALERT_WEBHOOK_URL` | none: no webhook |
//! | `--alert-webhook-retries` | `ALERT_WEBHOOK_RETRIES` | `5`: retries after a failed delivery |
//! | `--alert-webhook-backoff-ms` | `ALERT_WEBHOOK_BACKOFF_MS` | `1000`: the first retry's delay, doubled each time, at most 60 s |
//! | `--alert-webhook-timeout-ms` | `ALERT_WEBHOOK_TIMEOUT_MS` | `5000`: each delivery attempt's deadline |

use std::fmt;
use std::time::Duration;

/// The alert settings; checked at start by [`AlertSettings::validate`].
#[derive(Clone, clap::Args)]
pub struct AlertSettings {
    /// Minutes without a valid reading from a zone's device before the `offline` alert (0: off).
    #[arg(long, env = "ALERT_OFFLINE_MINUTES", default_value_t = 10.0)]
    pub alert_offline_minutes: f64,
    /// Minutes an occupied room stays below its comfort bound before the `below_comfort` alert (0: off).
    #[arg(long, env = "ALERT_COLD_MINUTES", default_value_t = 30.0)]
    pub alert_cold_minutes: f64,
    /// The comfort bound is the zone's `occupied_temp` minus this many kelvin.
    #[arg(long, env = "ALERT_COLD_MARGIN_K", default_value_t = 1.0)]
    pub alert_cold_margin_k: f64,
    /// Minutes the heater runs without the air rising by `ALERT_NO_RISE_K` before the `no_heat_rise` alert (0: off).
    #[arg(long, env = "ALERT_NO_RISE_MINUTES", default_value_t = 120.0)]
    pub alert_no_rise_minutes: f64,
    /// The rise (K) that shows the heater heats.
    #[arg(long, env = "ALERT_NO_RISE_K", default_value_t = 0.3)]
    pub alert_no_rise_k: f64,
    /// Below this air temperature (°C) the `sensor_range` alert is raised.
    #[arg(long, env = "ALERT_SENSOR_MIN_C", default_value_t = 0.0, allow_negative_numbers = true)]
    pub alert_sensor_min_c: f64,
    /// Above this air temperature (°C) the `sensor_range` alert is raised.
    #[arg(long, env = "ALERT_SENSOR_MAX_C", default_value_t = 45.0, allow_negative_numbers = true)]
    pub alert_sensor_max_c: f64,
    /// Minutes of the same air temperature before the `sensor_frozen` alert (0: off).
    #[arg(long, env = "ALERT_FROZEN_MINUTES", default_value_t = 360.0)]
    pub alert_frozen_minutes: f64,
    /// Control writes failed in a row before the `write_failures` alert (0: off).
    #[arg(long, env = "ALERT_WRITE_FAILURES", default_value_t = 3)]
    pub alert_write_failures: u32,
    /// Whether a bad model fit after a good one raises the `model_fit` alert.
    #[arg(long, env = "ALERT_MODEL_FIT", default_value_t = true, action = clap::ArgAction::Set)]
    pub alert_model_fit: bool,
    /// Minutes a condition must have ended before its alert clears (no flapping).
    #[arg(long, env = "ALERT_CLEAR_MINUTES", default_value_t = 5.0)]
    pub alert_clear_minutes: f64,
    /// Where alert events are POSTed as JSON (unset: no webhook). Never logged beyond its scheme and host.
    #[arg(long, env = "ALERT_WEBHOOK_URL", hide_env_values = true)]
    pub alert_webhook_url: Option<String>,
    /// Retries after a failed delivery (then the event is dropped, with a WARN).
    #[arg(long, env = "ALERT_WEBHOOK_RETRIES", default_value_t = 5)]
    pub alert_webhook_retries: u32,
    /// Delay before the first retry, in milliseconds; doubled each retry, at most 60 s.
    #[arg(long, env = "ALERT_WEBHOOK_BACKOFF_MS", default_value_t = 1000)]
    pub alert_webhook_backoff_ms: u64,
    /// Deadline of each delivery attempt, in milliseconds.
    #[arg(long, env = "ALERT_WEBHOOK_TIMEOUT_MS", default_value_t = 5000)]
    pub alert_webhook_timeout_ms: u64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            alert_offline_minutes: 10.0,
            alert_cold_minutes: 30.0,
            alert_cold_margin_k: 1.0,
            alert_no_rise_minutes: 120.0,
            alert_no_rise_k: 0.3,
            alert_sensor_min_c: 0.0,
            alert_sensor_max_c: 45.0,
            alert_frozen_minutes: 360.0,
            alert_write_failures: 3,
            alert_model_fit: true,
            alert_clear_minutes: 5.0,
            alert_webhook_url: None,
            alert_webhook_retries: 5,
            alert_webhook_backoff_ms: 1000,
            alert_webhook_timeout_ms: 5000,
        }
    }
}

impl fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertSettings")
            .field("offline_minutes", &self.alert_offline_minutes)
            .field("cold_minutes", &self.alert_cold_minutes)
            .field("cold_margin_k", &self.alert_cold_margin_k)
            .field("no_rise_minutes", &self.alert_no_rise_minutes)
            .field("no_rise_k", &self.alert_no_rise_k)
            .field("sensor_range_c", &(self.alert_sensor_min_c, self.alert_sensor_max_c))
            .field("frozen_minutes", &self.alert_frozen_minutes)
            .field("write_failures", &self.alert_write_failures)
            .field("model_fit", &self.alert_model_fit)
            .field("clear_minutes", &self.alert_clear_minutes)
            .field("webhook", &self.alert_webhook_url.as_deref().map(shown_url))
            .field("webhook_retries", &self.alert_webhook_retries)
            .finish()
    }
}

/// A URL as logs may show it: scheme, host and port only (a webhook's path or query often holds its secret).
#[must_use]
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}/…", u.scheme(), u.host_str().unwrap_or(""))
        }
        Err(_) => "(invalid URL)".to_string(),
    }
}

fn minutes(name: &str, v: f64) -> Result<Duration, String> {
    if v.is_finite() && (0.0..=525_600.0).contains(&v) {
        Ok(Duration::from_secs_f64(v * 60.0))
    } else {
        Err(format!("{name}: {v} is outside 0..=525600 minutes"))
    }
}

fn kelvin(name: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() && (0.0..=20.0).contains(&v) { Ok(v) } else { Err(format!("{name}: {v} is outside 0..=20 K")) }
}

/// The rules' thresholds, checked: durations of server time; `None` where a rule is off.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertThresholds {
    pub offline: Option<Duration>,
    pub cold: Option<Duration>,
    pub cold_margin_k: f64,
    pub no_rise: Option<Duration>,
    pub no_rise_k: f64,
    pub sensor_range_c: (f64, f64),
    pub frozen: Option<Duration>,
    pub write_failures: Option<u32>,
    pub model_fit: bool,
    pub clear_after: Duration,
}

impl Default for AlertThresholds {
    fn default() -> Self {
        AlertSettings::default().thresholds().unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"))
    }
}

/// The webhook's settings, checked.
#[derive(Clone, PartialEq)]
pub struct WebhookSettings {
    pub url: reqwest::Url,
    pub retries: u32,
    pub backoff: Duration,
    pub timeout: Duration,
}

impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &shown_url(self.url.as_str()))
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl AlertSettings {
    /// The thresholds, or an error naming the setting.
    pub fn thresholds(&self) -> Result<AlertThresholds, String> {
        let on = |d: Duration| (!d.is_zero()).then_some(d);
        let (lo, hi) = (self.alert_sensor_min_c, self.alert_sensor_max_c);
        for (name, v) in [("ALERT_SENSOR_MIN_C", lo), ("ALERT_SENSOR_MAX_C", hi)] {
            if !v.is_finite() || !(-50.0..=100.0).contains(&v) {
                return Err(format!("{name}: {v} is outside -50..=100 °C"));
            }
        }
        if lo + 1.0 > hi {
            return Err(format!("ALERT_SENSOR_MAX_C: {hi} must be at least 1 K above ALERT_SENSOR_MIN_C ({lo})"));
        }
        Ok(AlertThresholds {
            offline: on(minutes("ALERT_OFFLINE_MINUTES", self.alert_offline_minutes)?),
            cold: on(minutes("ALERT_COLD_MINUTES", self.alert_cold_minutes)?),
            cold_margin_k: kelvin("ALERT_COLD_MARGIN_K", self.alert_cold_margin_k)?,
            no_rise: on(minutes("ALERT_NO_RISE_MINUTES", self.alert_no_rise_minutes)?),
            no_rise_k: {
                let k = kelvin("ALERT_NO_RISE_K", self.alert_no_rise_k)?;
                if k < 0.05 {
                    return Err(format!("ALERT_NO_RISE_K: {k} is below 0.05 K, the sensors' resolution"));
                }
                k
            },
            sensor_range_c: (lo, hi),
            frozen: on(minutes("ALERT_FROZEN_MINUTES", self.alert_frozen_minutes)?),
            write_failures: (self.alert_write_failures > 0).then_some(self.alert_write_failures),
            model_fit: self.alert_model_fit,
            clear_after: minutes("ALERT_CLEAR_MINUTES", self.alert_clear_minutes)?,
        })
    }

    /// The webhook, `None` without `ALERT_WEBHOOK_URL`; an error naming the setting.
    pub fn webhook(&self) -> Result<Option<WebhookSettings>, String> {
        let Some(raw) = self.alert_webhook_url.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let url = reqwest::Url::parse(raw).map_err(|e| format!("ALERT_WEBHOOK_URL: not a URL ({e})")).and_then(
            |u| match u.scheme() {
                "http" | "https" if u.host_str().is_some() => Ok(u),
                other => {
                    Err(format!("ALERT_WEBHOOK_URL: expected an http:// or https:// URL with a host, not {other}:"))
                }
            },
        )?;
        if self.alert_webhook_retries > 100 {
            return Err(format!("ALERT_WEBHOOK_RETRIES: {} is above 100", self.alert_webhook_retries));
        }
        if !(1..=600_000).contains(&self.alert_webhook_backoff_ms) {
            return Err(format!("ALERT_WEBHOOK_BACKOFF_MS: {} is outside 1..=600000", self.alert_webhook_backoff_ms));
        }
        if !(10..=120_000).contains(&self.alert_webhook_timeout_ms) {
            return Err(format!("ALERT_WEBHOOK_TIMEOUT_MS: {} is outside 10..=120000", self.alert_webhook_timeout_ms));
        }
        Ok(Some(WebhookSettings {
            url,
            retries: self.alert_webhook_retries,
            backoff: Duration::from_millis(self.alert_webhook_backoff_ms),
            timeout: Duration::from_millis(self.alert_webhook_timeout_ms),
        }))
    }

    /// Both checks, as [`crate::app::build`] runs them at start.
    pub fn validate(&self) -> Result<(), String> {
        self.thresholds()?;
        self.webhook()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_zero_turns_a_rule_off() {
        let t = AlertSettings::default().thresholds().unwrap();
        assert_eq!(t.offline, Some(Duration::from_secs(600)));
        assert_eq!(t.write_failures, Some(3));
        let off = AlertSettings { alert_offline_minutes: 0.0, alert_write_failures: 0, ..AlertSettings::default() };
        let t = off.thresholds().unwrap();
        assert_eq!((t.offline, t.write_failures), (None, None));
        assert_eq!(AlertSettings::default().webhook(), Ok(None));
    }

    #[test]
    fn bad_values_are_refused_naming_the_setting() {
        let check = |s: AlertSettings, start: &str| {
            let e = s.validate().unwrap_err();
            assert!(e.starts_with(start), "{e}");
        };
        check(AlertSettings { alert_cold_minutes: -1.0, ..AlertSettings::default() }, "ALERT_COLD_MINUTES: -1");
        check(AlertSettings { alert_offline_minutes: f64::NAN, ..AlertSettings::default() }, "ALERT_OFFLINE_MINUTES");
        check(AlertSettings { alert_no_rise_k: 0.0, ..AlertSettings::default() }, "ALERT_NO_RISE_K: 0 is below");
        check(AlertSettings { alert_sensor_max_c: -5.0, ..AlertSettings::default() }, "ALERT_SENSOR_MAX_C: -5 must");
        check(
            AlertSettings { alert_webhook_url: Some("ftp://x/y".into()), ..AlertSettings::default() },
            "ALERT_WEBHOOK_URL: expected an http",
        );
        check(
            AlertSettings { alert_webhook_url: Some("not a url".into()), ..AlertSettings::default() },
            "ALERT_WEBHOOK_URL: not a URL",
        );
        check(
            AlertSettings {
                alert_webhook_url: Some("http://h/".into()),
                alert_webhook_backoff_ms: 0,
                ..AlertSettings::default()
            },
            "ALERT_WEBHOOK_BACKOFF_MS",
        );
    }

    #[test]
    fn the_webhook_url_is_never_shown_beyond_its_host() {
        let s = AlertSettings {
            alert_webhook_url: Some("https://hooks.example.com:8443/services/T000/SECRET?token=abc".into()),
            ..AlertSettings::default()
        };
        let shown = format!("{s:?} {:?}", s.webhook().unwrap().unwrap());
        assert!(shown.contains("https://hooks.example.com:8443/…"), "{shown}");
        assert!(!shown.contains("SECRET") && !shown.contains("abc"), "{shown}");
    }
}
