//! [`WeatherService`]: the cache in front of the provider, shared by the control job, the API and the dashboard.
//!
//! - **One upstream call per location per TTL.** Entries are keyed by [`LocationQuery::cache_key`] (trimmed, case
//!   folded). Each entry has its own `tokio::sync::Mutex`, held across the upstream call: concurrent requests for
//!   one location wait for the first one's answer instead of calling too (single flight); other locations are not
//!   held up.
//! - **Days.** An entry remembers how many days it asked for; a request for no more than that is served from it
//!   (cut to the days asked), a request for more refetches with the larger number. Fetches ask for at least the
//!   configured default days, so the control job and the dashboard share one call.
//! - **Failures.** When a refresh fails, the last good forecast is served marked `stale` with its age, until it is
//!   older than `max_stale`; after that the error is returned. A failure is remembered for [`FAILURE_BACKOFF`] (or the
//!   provider's Retry-After, at most the TTL), so a failing provider is not called again by every request.
//! - **The simulated provider is not cached**: it is a pure function of the shared clock, which can run 60 times
//!   faster than real time, so a cached value would lag behind what the zones feel.
//!
//! - **Never waiting: [`WeatherService::cached_site_forecast`]** answers with what is cached for the site now
//!   (fresh or stale, or the remembered error) without touching the provider, and starts one refresh in the
//!   background when one is due. The refresh runs on the service's own task, which ends when the service is dropped.
//!
//! Ages use tokio's clock (`tokio::time::Instant`), so tests can move time with `tokio::time::pause()`.

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

use crate::error::WeatherError;
use crate::forecast::{ForecastDays, ForecastDocument, LocationQuery, ProviderKind, ServedForecast, WeatherQuery};
use crate::provider::{Fetched, Provider};

/// Default time a forecast is served without asking the provider again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);
/// Default age beyond which a stale forecast is no longer served.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(6 * 3600);
/// How long a failure is remembered before the provider is asked again (unless its Retry-After is longer; never
/// longer than the TTL).
pub const FAILURE_BACKOFF: Duration = Duration::from_secs(60);
/// Default number of locations cached at once. When full, entries past their max stale age go first, then the one
/// fetched longest ago; a request that still finds no room (every entry in use) is answered uncached.
pub const MAX_CACHED_LOCATIONS: usize = 1024;

/// How long forecasts are fresh, and how long they may be served stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    pub ttl: Duration,
    pub max_stale: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self { ttl: DEFAULT_TTL, max_stale: DEFAULT_MAX_STALE }
    }
}

/// Everything but the provider that a [`WeatherService`] needs.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub policy: CachePolicy,
    /// The site location, used when a request names none.
    pub default_location: Option<LocationQuery>,
    /// Days used when a request names none, and the least number of days fetched.
    pub default_days: ForecastDays,
    /// Locations cached at once (see [`MAX_CACHED_LOCATIONS`]).
    pub max_cached_locations: usize,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            policy: CachePolicy::default(),
            default_location: None,
            default_days: ForecastDays::DEFAULT,
            max_cached_locations: MAX_CACHED_LOCATIONS,
        }
    }
}

/// The provider behind a cache. Cheap to clone: clones share the cache.
#[derive(Debug, Clone)]
pub struct WeatherService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    provider: Provider,
    options: ServiceOptions,
    entries: std::sync::Mutex<HashMap<String, Arc<Slot>>>,
    /// Locations to refresh in the background, read by the refresher task (started on first use; `None` outside a
    /// tokio runtime). The task ends when this sender is dropped with the service.
    refresher: OnceLock<Option<mpsc::Sender<LocationQuery>>>,
}

/// One location: what is known of it, and the lock of its upstream call.
#[derive(Debug, Default)]
struct Slot {
    /// Held across the upstream call: concurrent requests wait for the first one's answer (single flight).
    flight: Mutex<()>,
    /// Locked briefly, never across an await, so that what is cached can be read while a call is in flight.
    entry: std::sync::Mutex<Entry>,
}

impl Slot {
    fn entry(&self) -> MutexGuard<'_, Entry> {
        self.entry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct Entry {
    good: Option<Good>,
    failure: Option<Failure>,
}

#[derive(Debug)]
struct Good {
    fetched: Arc<Fetched>,
    requested_days: ForecastDays,
    at: Instant,
}

#[derive(Debug)]
struct Failure {
    error: WeatherError,
    retry_at: Instant,
}

struct Hit {
    fetched: Arc<Fetched>,
    stale: bool,
    age: Duration,
}

impl WeatherService {
    #[must_use]
    pub fn new(provider: Provider, options: ServiceOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                provider,
                options,
                entries: std::sync::Mutex::default(),
                refresher: OnceLock::new(),
            }),
        }
    }

    #[must_use]
    pub fn provider_kind(&self) -> ProviderKind {
        self.inner.provider.kind()
    }

    #[must_use]
    pub fn provider(&self) -> &Provider {
        &self.inner.provider
    }

    #[must_use]
    pub fn default_location(&self) -> Option<&LocationQuery> {
        self.inner.options.default_location.as_ref()
    }

    #[must_use]
    pub fn default_days(&self) -> ForecastDays {
        self.inner.options.default_days
    }

    #[must_use]
    pub fn policy(&self) -> CachePolicy {
        self.inner.options.policy
    }

    /// The location a request names, or the site default; 400 ([`WeatherError::InvalidRequest`]) if neither.
    pub fn location_or_default(&self, location: Option<&str>) -> Result<LocationQuery, WeatherError> {
        match location {
            Some(raw) => LocationQuery::parse(raw),
            None => self.default_location().cloned().ok_or_else(|| {
                WeatherError::InvalidRequest("no location given and no site location (WEATHER_LOCATION) set".into())
            }),
        }
    }

    /// The days a request names (1 to 14), or the configured default.
    pub fn days_or_default(&self, days: Option<u32>) -> Result<ForecastDays, WeatherError> {
        days.map_or(Ok(self.default_days()), ForecastDays::new)
    }

    /// The normalized forecast for `location`, from the cache when fresh.
    pub async fn forecast(&self, location: &LocationQuery, days: ForecastDays) -> Result<ServedForecast, WeatherError> {
        let hit = self.lookup(location, days).await?;
        Ok(served(&hit, days))
    }

    /// `GET /weather?location=&days=` in one call: defaults applied, input checked, forecast served.
    pub async fn query(&self, query: &WeatherQuery) -> Result<ServedForecast, WeatherError> {
        let location = self.location_or_default(query.location.as_deref())?;
        let days = self.days_or_default(query.days)?;
        self.forecast(&location, days).await
    }

    /// The site location's forecast for the default days: what the control job uses.
    pub async fn site_forecast(&self) -> Result<ServedForecast, WeatherError> {
        let location = self.location_or_default(None)?;
        self.forecast(&location, self.default_days()).await
    }

    /// The site forecast as cached right now, without waiting on the provider: fresh, or stale (within the max
    /// stale age); `Ok(None)` when nothing was fetched yet; the remembered error when the last call failed and
    /// nothing usable is cached. When a refresh is due (nothing cached, past the TTL) and no failure is being
    /// backed off, one refresh is started in the background — single flight with every other request for the
    /// site — and this answer does not wait for it. For pages polled often (`GET /status`).
    pub fn cached_site_forecast(&self) -> Result<Option<ServedForecast>, WeatherError> {
        let location = self.location_or_default(None)?;
        let days = self.default_days();
        if let Provider::Simulated(simulated) = &self.inner.provider {
            // A pure function of the clock: computed, never cached.
            let fetched = Fetched { forecast: simulated.forecast(&location, days), weatherapi_body: None };
            return Ok(Some(served(&Hit { fetched: Arc::new(fetched), stale: false, age: Duration::ZERO }, days)));
        }
        let policy = self.policy();
        let slot = self.slot(&location.cache_key());
        let now = Instant::now();
        let (answer, due) = {
            let entry = slot.entry();
            let answer = match (entry.cached(now, policy), &entry.failure) {
                (Some(hit), _) => Ok(Some(served(&hit, days))),
                (None, Some(failure)) => Err(failure.error.clone()),
                (None, None) => Ok(None),
            };
            let backing_off = entry.failure.as_ref().is_some_and(|f| now < f.retry_at);
            (answer, entry.fresh(days, now, policy).is_none() && !backing_off)
        };
        if due {
            self.refresh_in_background(location);
        }
        answer
    }

    /// Queues a refresh of `location` on the service's refresher task (started on first use). A refresh already
    /// queued is enough: the call is not queued twice.
    fn refresh_in_background(&self, location: LocationQuery) {
        let sender = self.inner.refresher.get_or_init(|| {
            let runtime = tokio::runtime::Handle::try_current().ok()?;
            let (tx, rx) = mpsc::channel(1);
            runtime.spawn(refresher(Arc::downgrade(&self.inner), rx));
            Some(tx)
        });
        if let Some(tx) = sender {
            // Full: a refresh is queued already, and it will find the same entry.
            let _ = tx.try_send(location);
        }
    }

    /// The prototype path `GET /weather/forecast/{location}?days=`: WeatherAPI's JSON when that provider is
    /// active, the normalized form otherwise. Shares the cache with [`WeatherService::forecast`].
    pub async fn forecast_document(
        &self,
        location: &LocationQuery,
        days: ForecastDays,
    ) -> Result<ForecastDocument, WeatherError> {
        let hit = self.lookup(location, days).await?;
        Ok(match &hit.fetched.weatherapi_body {
            Some(body) => ForecastDocument::WeatherApi {
                body: truncate_weatherapi_days(body, days),
                stale: hit.stale,
                age_seconds: hit.age.as_secs(),
            },
            None => ForecastDocument::Normalized(served(&hit, days)),
        })
    }

    async fn lookup(&self, location: &LocationQuery, days: ForecastDays) -> Result<Hit, WeatherError> {
        let inner = &self.inner;
        if let Provider::Simulated(simulated) = &inner.provider {
            let fetched = Fetched { forecast: simulated.forecast(location, days), weatherapi_body: None };
            return Ok(Hit { fetched: Arc::new(fetched), stale: false, age: Duration::ZERO });
        }
        let policy = inner.options.policy;
        let slot = self.slot(&location.cache_key());
        if let Some(hit) = slot.entry().fresh(days, Instant::now(), policy) {
            return Ok(hit);
        }
        let _flight = slot.flight.lock().await;
        {
            // What the call we may have waited for brought.
            let entry = slot.entry();
            let now = Instant::now();
            if let Some(hit) = entry.fresh(days, now, policy) {
                return Ok(hit);
            }
            if let Some(failure) = &entry.failure
                && now < failure.retry_at
            {
                return entry.fallback(failure.error.clone(), now, policy);
            }
        }

        let fetch_days = days.max(inner.options.default_days);
        match inner.provider.fetch(location, fetch_days).await {
            Ok(fetched) => {
                tracing::debug!(provider = %self.provider_kind(), %location, days = fetch_days.get(), "weather fetched");
                let fetched = Arc::new(fetched);
                let mut entry = slot.entry();
                entry.good = Some(Good { fetched: fetched.clone(), requested_days: fetch_days, at: Instant::now() });
                entry.failure = None;
                Ok(Hit { fetched, stale: false, age: Duration::ZERO })
            }
            Err(error) => {
                let now = Instant::now();
                let backoff =
                    error.upstream_retry_after().unwrap_or(FAILURE_BACKOFF).max(FAILURE_BACKOFF).min(policy.ttl);
                let message = error.to_string();
                let result = {
                    let mut entry = slot.entry();
                    entry.failure = Some(Failure { error: error.clone(), retry_at: now + backoff });
                    entry.fallback(error, now, policy)
                };
                tracing::warn!(
                    provider = %self.provider_kind(),
                    %location,
                    error = %message,
                    serving_stale = result.is_ok(),
                    retry_in_secs = backoff.as_secs(),
                    "weather fetch failed"
                );
                result
            }
        }
    }

    /// The entry for `key`, created if needed (see [`MAX_CACHED_LOCATIONS`]).
    fn slot(&self, key: &str) -> Arc<Slot> {
        let max = self.inner.options.max_cached_locations;
        let mut entries = self.inner.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = entries.get(key) {
            return slot.clone();
        }
        if entries.len() >= max {
            self.evict(&mut entries);
        }
        let slot = Arc::new(Slot::default());
        if entries.len() < max {
            entries.insert(key.to_string(), slot.clone());
        }
        slot
    }

    /// Drops unused entries past their max stale age; if none, the unused entry fetched longest ago.
    fn evict(&self, entries: &mut HashMap<String, Arc<Slot>>) {
        let now = Instant::now();
        let max_stale = self.inner.options.policy.max_stale;
        // `None` = in use (a call in flight, or shared by a request): keep.
        let fetched_at = |slot: &Arc<Slot>| -> Option<Option<Instant>> {
            if Arc::strong_count(slot) > 1 || slot.flight.try_lock().is_err() {
                return None;
            }
            Some(slot.entry().good.as_ref().map(|g| g.at))
        };
        entries.retain(|_, slot| match fetched_at(slot) {
            None => true,
            Some(at) => at.is_some_and(|at| now.duration_since(at) <= max_stale),
        });
        if entries.len() >= self.inner.options.max_cached_locations {
            let oldest = entries
                .iter()
                .filter_map(|(key, slot)| fetched_at(slot).flatten().map(|at| (at, key.clone())))
                .min()
                .map(|(_, key)| key);
            if let Some(key) = oldest {
                entries.remove(&key);
            }
        }
    }
}

impl Entry {
    /// The cached forecast if it covers `days` and is within the TTL.
    fn fresh(&self, days: ForecastDays, now: Instant, policy: CachePolicy) -> Option<Hit> {
        let good = self.good.as_ref()?;
        let age = now.duration_since(good.at);
        (good.requested_days >= days && age < policy.ttl).then(|| Hit {
            fetched: good.fetched.clone(),
            stale: false,
            age,
        })
    }

    /// The last good forecast if it is not too old (stale past the TTL).
    fn cached(&self, now: Instant, policy: CachePolicy) -> Option<Hit> {
        let good = self.good.as_ref()?;
        let age = now.duration_since(good.at);
        (age <= policy.max_stale).then(|| Hit { fetched: good.fetched.clone(), stale: age >= policy.ttl, age })
    }

    /// The last good forecast if it is not too old, else `error`.
    fn fallback(&self, error: WeatherError, now: Instant, policy: CachePolicy) -> Result<Hit, WeatherError> {
        self.cached(now, policy).ok_or(error)
    }
}

/// The refresher task: fetches the queued locations one at a time, through the cache (so a call in flight for the
/// same location is joined, not repeated; failures are logged and remembered there). Holds the service only during
/// a refresh, and ends when the service is dropped (its sender goes with it).
async fn refresher(inner: Weak<Inner>, mut queue: mpsc::Receiver<LocationQuery>) {
    while let Some(location) = queue.recv().await {
        let Some(inner) = inner.upgrade() else { break };
        let service = WeatherService { inner };
        let days = service.default_days();
        let _ = service.forecast(&location, days).await;
    }
}

fn served(hit: &Hit, days: ForecastDays) -> ServedForecast {
    ServedForecast {
        forecast: hit.fetched.forecast.clone().truncated(days),
        days_requested: days.get(),
        stale: hit.stale,
        age_seconds: hit.age.as_secs(),
    }
}

/// WeatherAPI's body as it would have been for `days`: `forecast.forecastday` cut to that many entries. Unchanged
/// (byte for byte) when it has no more than that.
fn truncate_weatherapi_days(body: &RawValue, days: ForecastDays) -> Box<RawValue> {
    #[derive(serde::Deserialize)]
    struct Outer<'a> {
        #[serde(borrow)]
        forecast: Option<Inner<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Inner<'a> {
        #[serde(borrow)]
        forecastday: Vec<&'a RawValue>,
    }
    let count =
        serde_json::from_str::<Outer<'_>>(body.get()).ok().and_then(|d| d.forecast).map_or(0, |f| f.forecastday.len());
    if count <= usize::from(days.get()) {
        return body.to_owned();
    }
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(body.get()) else { return body.to_owned() };
    if let Some(list) = value.pointer_mut("/forecast/forecastday").and_then(serde_json::Value::as_array_mut) {
        list.truncate(usize::from(days.get()));
    }
    serde_json::value::to_raw_value(&value).unwrap_or_else(|_| body.to_owned())
}
