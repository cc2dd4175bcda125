//! `cached_site_forecast`: what is cached now, never waiting on the provider; refreshes in the background, one at
//! a time.

use std::time::Duration;

use heating_weather::{WeatherError, WeatherService};
use tokio::time::Instant;

use crate::helpers::{Behaviour, FakeServer, weatherapi_settings};

/// A WeatherAPI service on `fake` whose calls give up after one second.
fn service(fake: &FakeServer, ttl_secs: u64) -> WeatherService {
    let settings = heating_weather::WeatherSettings {
        weather_timeout_secs: 1,
        weather_cache_ttl_secs: ttl_secs,
        ..weatherapi_settings(&fake.base_url)
    };
    let (_, clock) = crate::helpers::manual_clock();
    settings.build(clock, heating_core::weather::SyntheticWeather::default()).unwrap()
}

/// Asks for the cached site forecast and checks it answered at once.
fn cached_now(service: &WeatherService) -> Result<Option<heating_weather::ServedForecast>, WeatherError> {
    let started = std::time::Instant::now();
    let answer = service.cached_site_forecast();
    assert!(started.elapsed() < Duration::from_millis(50), "answered in {:?}", started.elapsed());
    answer
}

/// Waits (up to `within`) until `check` holds.
async fn until(within: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_hanging_provider_is_never_waited_for() {
    let fake = FakeServer::weatherapi().await;
    fake.set(Behaviour::Hang);
    let service = service(&fake, 900);
    assert!(cached_now(&service).unwrap().is_none(), "nothing fetched yet");
    until(Duration::from_secs(2), || fake.calls() == 1).await;
    // The refresh hangs; every answer meanwhile is immediate, and no second call is made.
    for _ in 0..20 {
        assert!(cached_now(&service).unwrap().is_none());
    }
    // After the provider's timeout the error is remembered and shown, still without waiting.
    let started = Instant::now();
    let error = loop {
        match cached_now(&service) {
            Err(e) => break e,
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        assert!(started.elapsed() < Duration::from_secs(3), "the error is shown after the timeout");
    };
    assert!(matches!(error, WeatherError::Timeout { .. }), "{error:?}");
    assert_eq!(fake.calls(), 1, "a failure is backed off, not retried per request");
}

#[tokio::test]
async fn a_fresh_forecast_arrives_in_the_background_and_a_stale_one_is_served_while_it_refreshes() {
    let fake = FakeServer::weatherapi().await;
    let service = service(&fake, 900);
    assert!(cached_now(&service).unwrap().is_none());
    let started = Instant::now();
    let fresh = loop {
        if let Some(served) = cached_now(&service).unwrap() {
            break served;
        }
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(!fresh.stale);
    assert_eq!(fresh.forecast.location.name, "Berlin");
    // Within the TTL: served from the cache, no call.
    for _ in 0..10 {
        cached_now(&service).unwrap().unwrap();
    }
    assert_eq!(fake.calls(), 1);

    // Past the TTL, with the provider hanging: the old forecast is served at once, marked stale, while one
    // refresh runs in the background.
    fake.set(Behaviour::Hang);
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(901)).await;
    tokio::time::resume();
    let stale = cached_now(&service).unwrap().unwrap();
    assert!(stale.stale && stale.age_seconds >= 901, "{stale:?}");
    assert_eq!(stale.forecast, fresh.forecast);
    until(Duration::from_secs(2), || fake.calls() == 2).await;
    for _ in 0..10 {
        assert!(cached_now(&service).unwrap().unwrap().stale);
    }
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn the_site_forecast_of_the_simulated_provider_is_computed() {
    let (_, clock) = crate::helpers::manual_clock();
    let service = heating_weather::WeatherSettings::default()
        .build(clock, heating_core::weather::SyntheticWeather::default())
        .unwrap();
    let served = cached_now(&service).unwrap().expect("always there");
    assert!(!served.stale);
}
