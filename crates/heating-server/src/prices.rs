//! The price provider: electricity prices for control and the plan, from the source `PRICE_SOURCE` names — the
//! time-of-use table (default), a `timestamp,eur_kwh` file, or an HTTP JSON feed — validated as a
//! [`PriceSeries`] and cached.
//!
//! Like the weather service it never lets a slow source hold control up: the control job takes what is cached
//! ([`PriceService::profile`]) and a refresh due after `PRICE_REFRESH_MINUTES` (server clock) runs in the
//! background, one at a time. Only the very first read, with nothing cached, is awaited — bounded by
//! `PRICE_TIMEOUT_MS`. A failed read keeps the last good series for as long as it covers now (beyond its end, and
//! before any good read, the time-of-use table applies); the failure is logged once (until the source recovers)
//! and shown on `/status`.
//!
//! Feed shape (`http:URL`): `{"currency": "EUR", "unit": "kWh", "prices": [{"start": RFC 3339, "end": RFC 3339,
//! "price": 0.21}, …]}` — contiguous intervals of 1 minute to 24 hours; `unit` `MWh` is converted.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use heating_core::clock::SharedClock;
use heating_predict::{PriceInterval, PriceProfile, PriceSeries};
use serde::Deserialize;

use crate::config::{PriceSettings, PriceSource};

/// Largest feed body accepted, bytes (a week of quarter hours is about 60 kB).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The JSON feed, as served.
#[derive(Debug, Deserialize)]
struct Feed {
    currency: String,
    unit: String,
    prices: Vec<FeedPrice>,
}

#[derive(Debug, Deserialize)]
struct FeedPrice {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    price: f64,
}

/// Parses and validates a feed body into a series (€/kWh).
pub fn parse_feed(body: &[u8]) -> Result<PriceSeries, String> {
    let feed: Feed = serde_json::from_slice(body).map_err(|e| format!("feed is not the expected JSON: {e}"))?;
    if !feed.currency.eq_ignore_ascii_case("EUR") {
        return Err(format!("feed currency {:?}: only EUR is supported", feed.currency));
    }
    let per_kwh = match feed.unit.as_str() {
        "kWh" | "kwh" => 1.0,
        "MWh" | "mwh" => 1.0 / 1000.0,
        other => return Err(format!("feed unit {other:?}: expected kWh or MWh")),
    };
    let intervals =
        feed.prices.iter().map(|p| PriceInterval { start: p.start, end: p.end, eur_kwh: p.price * per_kwh }).collect();
    PriceSeries::new(intervals).map_err(|e| e.to_string())
}

/// Parses a `timestamp,eur_kwh` file: RFC 3339 times; `#` comment lines, blank lines and a header line skipped.
pub fn parse_csv(text: &str) -> Result<PriceSeries, String> {
    let mut points = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("line {}: expected timestamp,eur_kwh, got {line:?}", n + 1);
        let (t, p) = line.split_once(',').ok_or_else(bad)?;
        let at = match DateTime::parse_from_rfc3339(t.trim()) {
            Ok(at) => at.to_utc(),
            // The first such line is a header.
            Err(_) if points.is_empty() && p.trim().parse::<f64>().is_err() => continue,
            Err(_) => return Err(bad()),
        };
        let price: f64 = p.trim().parse().map_err(|_| bad())?;
        points.push((at, price));
    }
    PriceSeries::from_points(&points).map_err(|e| e.to_string())
}

/// What `/status` shows of prices.
#[derive(Debug, Clone, PartialEq)]
pub struct PricesNow {
    /// `tou`, `csv:PATH` or `http:URL` (without query string or credentials).
    pub source: String,
    /// The price in force now, €/kWh (from the series while it covers now, else the time-of-use table).
    pub eur_kwh: f64,
    /// Whether `eur_kwh` comes from the source's series (false: the time-of-use table).
    pub from_series: bool,
    /// End of the cached series.
    pub series_end: Option<DateTime<Utc>>,
    /// When the cached series was read (server clock).
    pub fetched_at: Option<DateTime<Utc>>,
    /// The last read failed, or the series is older than the refresh interval.
    pub stale: bool,
    /// Why the last read failed; `None` once a read succeeds again.
    pub error: Option<String>,
}

#[derive(Debug, Default)]
struct Cache {
    series: Option<PriceSeries>,
    fetched_at: Option<DateTime<Utc>>,
    attempted_at: Option<DateTime<Utc>>,
    error: Option<String>,
}

#[derive(Debug)]
struct Inner {
    source: PriceSource,
    refresh: Duration,
    client: reqwest::Client,
    clock: SharedClock,
    cache: Mutex<Cache>,
    refreshing: AtomicBool,
    reads: AtomicU64,
}

/// The cached price provider (see the module documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct PriceService {
    inner: Arc<Inner>,
}

impl PriceService {
    /// The provider for `settings`. A CSV source is read once here, so a missing or malformed file is refused at
    /// start (the message names `PRICE_SOURCE`); a feed is first read at the first control run.
    pub fn new(settings: &PriceSettings, clock: SharedClock) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(settings.price_timeout_ms))
            .build()
            .map_err(|e| format!("PRICE_SOURCE: cannot build the HTTP client: {e}"))?;
        let service = Self {
            inner: Arc::new(Inner {
                source: settings.price_source.clone(),
                refresh: Duration::milliseconds((settings.price_refresh_minutes * 60_000.0).round() as i64),
                client,
                clock,
                cache: Mutex::default(),
                refreshing: AtomicBool::new(false),
                reads: AtomicU64::new(0),
            }),
        };
        if let PriceSource::Csv(path) = &settings.price_source {
            let series = read_csv(path).map_err(|e| format!("PRICE_SOURCE: {e}"))?;
            let now = service.inner.clock.now();
            *service.cache() =
                Cache { series: Some(series), fetched_at: Some(now), attempted_at: Some(now), error: None };
        }
        Ok(service)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.inner.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many times the source was read (tests, metrics).
    #[must_use]
    pub fn reads(&self) -> u64 {
        self.inner.reads.load(Ordering::Relaxed)
    }

    /// The prices for a control run: the cached series (time-of-use table beyond its end). With nothing cached yet
    /// the source is read now (at most `PRICE_TIMEOUT_MS`); when a refresh is due it starts in the background and
    /// this run uses what is cached.
    pub async fn profile(&self) -> PriceProfile {
        if self.inner.source == PriceSource::Tou {
            return PriceProfile::default();
        }
        let never_read = self.cache().attempted_at.is_none();
        if never_read {
            self.refresh().await;
        } else if self.due() {
            self.refresh_in_background();
        }
        self.cached_profile()
    }

    /// The prices as cached now, never reading the source (the plan endpoint).
    #[must_use]
    pub fn cached_profile(&self) -> PriceProfile {
        let now = self.inner.clock.now();
        match &self.cache().series {
            Some(series) if series.end() > now => PriceProfile::day_ahead(series.clone()),
            _ => PriceProfile::default(),
        }
    }

    /// What `/status` shows at `now` (the server clock's, read once by the caller).
    #[must_use]
    pub fn now(&self, now: DateTime<Utc>) -> PricesNow {
        let cache = self.cache();
        let covering = cache.series.as_ref().filter(|s| s.end() > now);
        let from_series = covering.and_then(|s| s.at(now));
        let stale = cache.error.is_some() || cache.fetched_at.is_some_and(|t| now - t >= self.inner.refresh);
        PricesNow {
            source: self.inner.source.to_string(),
            eur_kwh: from_series.unwrap_or_else(|| PriceProfile::default().at(now)),
            from_series: from_series.is_some(),
            series_end: cache.series.as_ref().map(PriceSeries::end),
            fetched_at: cache.fetched_at,
            stale: self.inner.source != PriceSource::Tou && stale,
            error: cache.error.clone(),
        }
    }

    fn due(&self) -> bool {
        let now = self.inner.clock.now();
        self.cache().attempted_at.is_none_or(|t| now - t >= self.inner.refresh)
    }

    fn refresh_in_background(&self) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move { this.refresh().await });
    }

    /// Reads the source once (single flight: a read already running is enough) and updates the cache.
    async fn refresh(&self) {
        if self.inner.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner.reads.fetch_add(1, Ordering::Relaxed);
        let result = self.read().await;
        let now = self.inner.clock.now();
        let mut cache = self.cache();
        cache.attempted_at = Some(now);
        match result {
            Ok(series) => {
                if cache.error.take().is_some() {
                    tracing::info!(source = %self.inner.source, "price source answers again");
                }
                cache.series = Some(series);
                cache.fetched_at = Some(now);
            }
            Err(e) => {
                if cache.error.as_deref() != Some(e.as_str()) {
                    tracing::warn!(source = %self.inner.source, "price source failed (keeping the last good series while it covers now): {e}");
                }
                cache.error = Some(e);
            }
        }
        drop(cache);
        self.inner.refreshing.store(false, Ordering::Release);
    }

    async fn read(&self) -> Result<PriceSeries, String> {
        match &self.inner.source {
            PriceSource::Tou => Err("the time-of-use table is not read".into()),
            PriceSource::Csv(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || read_csv(&path)).await.map_err(|e| e.to_string())?
            }
            PriceSource::Http(url) => {
                let response = self.inner.client.get(url.clone()).send().await.map_err(|e| {
                    if e.is_timeout() { "feed request timed out".to_string() } else { "feed unreachable".to_string() }
                })?;
                let status = response.status();
                if !status.is_success() {
                    return Err(format!("feed answered HTTP {}", status.as_u16()));
                }
                if response.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
                    return Err(format!("feed body over {MAX_BODY_BYTES} bytes"));
                }
                let body = response.bytes().await.map_err(|_| "feed body could not be read".to_string())?;
                if body.len() > MAX_BODY_BYTES {
                    return Err(format!("feed body over {MAX_BODY_BYTES} bytes"));
                }
                parse_feed(&body)
            }
        }
    }
}

fn read_csv(path: &Path) -> Result<PriceSeries, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_csv(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use heating_core::clock::Clock;

    #[test]
    fn a_feed_is_validated_and_converted() {
        let body = br#"{"currency":"EUR","unit":"MWh","prices":[
            {"start":"2026-12-02T00:00:00Z","end":"2026-12-02T00:15:00Z","price":210},
            {"start":"2026-12-02T00:15:00Z","end":"2026-12-02T00:30:00Z","price":-5}]}"#;
        let s = parse_feed(body).unwrap();
        assert_eq!(s.intervals().len(), 2);
        assert!((s.intervals()[0].eur_kwh - 0.21).abs() < 1e-12);
        let gap = br#"{"currency":"EUR","unit":"kWh","prices":[
            {"start":"2026-12-02T00:00:00Z","end":"2026-12-02T00:15:00Z","price":0.2},
            {"start":"2026-12-02T00:30:00Z","end":"2026-12-02T00:45:00Z","price":0.2}]}"#;
        assert!(parse_feed(gap).unwrap_err().contains("interval 1 (2026-12-02T00:30Z): gap of 900 s"));
        let usd = br#"{"currency":"USD","unit":"kWh","prices":[]}"#;
        assert!(parse_feed(usd).unwrap_err().contains("only EUR"));
        assert!(parse_feed(b"<html>").unwrap_err().contains("not the expected JSON"));
        let empty = br#"{"currency":"EUR","unit":"kWh","prices":[]}"#;
        assert!(parse_feed(empty).unwrap_err().contains("no intervals"));
    }

    #[test]
    fn a_csv_file_skips_comments_and_a_header() {
        let s =
            parse_csv("# day-ahead\ntimestamp,eur_kwh\n2026-12-02T00:00:00Z,0.2\n2026-12-02T01:00:00Z,0.1\n").unwrap();
        assert_eq!(s.intervals().len(), 2);
        assert_eq!(s.end(), DateTime::parse_from_rfc3339("2026-12-02T02:00:00Z").unwrap().to_utc());
        let err = parse_csv("2026-12-02T00:00:00Z,0.2\nyesterday,0.1\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[tokio::test]
    async fn a_failed_read_keeps_the_series_while_it_covers_now() {
        let clock = Arc::new(heating_core::clock::ManualClock::new(
            DateTime::parse_from_rfc3339("2026-12-02T00:05:00Z").unwrap().to_utc(),
        ));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, "2026-12-02T00:00:00Z,0.5\n2026-12-02T01:00:00Z,0.4\n").unwrap();
        let settings = PriceSettings {
            price_source: PriceSource::Csv(path.clone()),
            price_refresh_minutes: 10.0,
            ..PriceSettings::default()
        };
        let service = PriceService::new(&settings, clock.clone()).unwrap();
        assert_eq!(service.now(clock.now()).eur_kwh, 0.5);
        std::fs::write(&path, "garbage").unwrap();
        clock.advance(Duration::minutes(70));
        service.refresh().await;
        let now = service.now(clock.now());
        assert!(now.stale && now.from_series && now.eur_kwh == 0.4, "{now:?}");
        assert!(now.error.as_deref().unwrap().contains("line 1"), "{now:?}");
        clock.advance(Duration::minutes(60));
        let now = service.now(clock.now());
        assert!(!now.from_series, "beyond the series: the table");
        assert_eq!(now.eur_kwh, PriceProfile::default().at(clock.now()));
        std::fs::remove_file(&path).unwrap();
        assert!(PriceService::new(&settings, clock).unwrap_err().starts_with("PRICE_SOURCE: cannot read"));
    }
}
