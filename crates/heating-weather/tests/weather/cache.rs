//! The cache: single flight, TTL, stale fallback, max stale age.
//!
//! Time jumps use `tokio::time::pause()` + `advance()` + `resume()` between requests, never while a request is in
//! flight: with the clock paused, tokio would fire the HTTP timeout as soon as the runtime waits on the socket.

use std::time::Duration;

use heating_weather::{ForecastDays, ForecastDocument, LocationQuery, WeatherError, WeatherQuery, WeatherService};
use tokio::task::JoinSet;

use crate::helpers::{Behaviour, FakeServer, weatherapi_service, weatherapi_settings};

fn loc(s: &str) -> LocationQuery {
    LocationQuery::parse(s).unwrap()
}

fn days(n: u32) -> ForecastDays {
    ForecastDays::new(n).unwrap()
}

async fn jump(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

fn service_with(fake: &FakeServer, ttl_secs: u64, max_stale_secs: u64) -> WeatherService {
    let settings = heating_weather::WeatherSettings {
        weather_cache_ttl_secs: ttl_secs,
        weather_max_stale_secs: max_stale_secs,
        ..weatherapi_settings(&fake.base_url)
    };
    let (_, clock) = crate::helpers::manual_clock();
    settings.build(clock, heating_core::weather::SyntheticWeather::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_make_one_upstream_call() {
    // The fake takes 100 ms, so the requests overlap the one in flight.
    let fake = FakeServer::weatherapi_with(3, Duration::from_millis(100)).await;
    let service = weatherapi_service(&fake.base_url);
    let mut tasks = JoinSet::new();
    for i in 0..50 {
        let service = service.clone();
        // Spelled differently, one location.
        let name = ["London", " london", "LONDON ", "London"][i % 4];
        tasks.spawn(async move { service.forecast(&loc(name), days(1 + (i % 3) as u32)).await });
    }
    let mut served = Vec::new();
    while let Some(result) = tasks.join_next().await {
        served.push(result.unwrap().unwrap());
    }
    assert_eq!(fake.calls(), 1, "50 concurrent requests, one upstream call");
    assert_eq!(served.len(), 50);
    assert!(served.iter().all(|s| !s.stale && s.forecast.location.name == served[0].forecast.location.name));
    assert!(served.iter().all(|s| s.forecast.fetched_at == served[0].forecast.fetched_at));

    // Another location is another call; the prototype path shares the cache.
    service.forecast(&loc("Paris"), days(3)).await.unwrap();
    service.forecast_document(&loc("london"), days(2)).await.unwrap();
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn a_new_call_after_the_ttl() {
    let fake = FakeServer::weatherapi().await;
    let service = service_with(&fake, 900, 21_600);
    let first = service.forecast(&loc("Berlin"), days(3)).await.unwrap();
    assert_eq!((fake.calls(), first.age_seconds, first.stale), (1, 0, false));

    jump(Duration::from_secs(600)).await;
    let cached = service.forecast(&loc("berlin"), days(3)).await.unwrap();
    assert_eq!(fake.calls(), 1);
    assert!((600..605).contains(&cached.age_seconds), "{}", cached.age_seconds);
    assert!(!cached.stale);

    jump(Duration::from_secs(301)).await;
    let fresh = service.forecast(&loc("Berlin"), days(3)).await.unwrap();
    assert_eq!(fake.calls(), 2, "past the TTL the provider is asked again");
    assert_eq!((fresh.age_seconds, fresh.stale), (0, false));
}

#[tokio::test]
async fn more_days_than_cached_refetch_fewer_do_not() {
    let fake = FakeServer::weatherapi_with(14, Duration::ZERO).await;
    let service = weatherapi_service(&fake.base_url); // default 3 days
    let one = service.forecast(&loc("Berlin"), days(1)).await.unwrap();
    assert_eq!(fake.state.last_query()["days"], "3", "fetches at least the default days");
    assert_eq!((one.forecast.days, one.forecast.hourly.len()), (1, 24));
    service.forecast(&loc("Berlin"), days(3)).await.unwrap();
    assert_eq!(fake.calls(), 1);
    let seven = service.forecast(&loc("Berlin"), days(7)).await.unwrap();
    assert_eq!((fake.calls(), seven.forecast.days), (2, 7));
    service.forecast(&loc("Berlin"), days(5)).await.unwrap();
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn stale_after_failure_then_error_beyond_max_stale() {
    let fake = FakeServer::weatherapi().await;
    let service = service_with(&fake, 900, 6 * 3600);
    let good = service.forecast(&loc("Berlin"), days(3)).await.unwrap();

    fake.set(Behaviour::Status { status: 500, body: "oops".into(), retry_after: None });
    jump(Duration::from_secs(1000)).await;
    let stale = service.forecast(&loc("Berlin"), days(3)).await.unwrap();
    assert_eq!(fake.calls(), 2);
    assert!(stale.stale);
    assert!((1000..1005).contains(&stale.age_seconds), "{}", stale.age_seconds);
    assert_eq!(stale.forecast, good.forecast);
    let document = service.forecast_document(&loc("Berlin"), days(3)).await.unwrap();
    assert!(matches!(document, ForecastDocument::WeatherApi { stale: true, .. }));
    assert!(document.age_seconds() >= 1000);

    // The failure is remembered for a minute: no call per request to a failing provider.
    for _ in 0..10 {
        assert!(service.forecast(&loc("Berlin"), days(3)).await.unwrap().stale);
    }
    assert_eq!(fake.calls(), 2);
    jump(Duration::from_secs(61)).await;
    assert!(service.forecast(&loc("Berlin"), days(3)).await.unwrap().stale);
    assert_eq!(fake.calls(), 3);

    // Beyond the max stale age, the error.
    jump(Duration::from_secs(6 * 3600)).await;
    let error = service.forecast(&loc("Berlin"), days(3)).await.unwrap_err();
    assert!(matches!(error, WeatherError::Upstream { .. }), "{error:?}");
    assert_eq!(fake.calls(), 4);

    // And back to normal once the provider recovers.
    fake.set(Behaviour::Normal);
    jump(Duration::from_secs(61)).await;
    let fresh = service.forecast(&loc("Berlin"), days(3)).await.unwrap();
    assert_eq!((fresh.stale, fresh.age_seconds, fake.calls()), (false, 0, 5));
}

#[tokio::test]
async fn no_stale_value_means_the_error() {
    let fake = FakeServer::weatherapi().await;
    let service = weatherapi_service(&fake.base_url);
    fake.set(Behaviour::WeatherApiError {
        status: 403,
        code: 2007,
        message: "API key has exceeded calls per month quota.".into(),
        retry_after: None,
    });
    let error = service.forecast(&loc("Berlin"), days(3)).await.unwrap_err();
    assert_eq!((error.http_status(), error.retry_after_secs()), (503, Some(3600)));
    // Remembered: the next requests get the same answer without a call.
    let again = service.forecast(&loc("Berlin"), days(3)).await.unwrap_err();
    assert_eq!(again, error);
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn retry_after_holds_off_the_next_call() {
    let fake = FakeServer::weatherapi().await;
    let service = service_with(&fake, 900, 21_600);
    fake.set(Behaviour::Status { status: 429, body: String::new(), retry_after: Some("300") });
    let error = service.forecast(&loc("Berlin"), days(3)).await.unwrap_err();
    assert_eq!(error.retry_after_secs(), Some(300));
    fake.set(Behaviour::Normal);
    jump(Duration::from_secs(200)).await;
    assert!(service.forecast(&loc("Berlin"), days(3)).await.is_err());
    assert_eq!(fake.calls(), 1);
    jump(Duration::from_secs(101)).await;
    assert!(service.forecast(&loc("Berlin"), days(3)).await.is_ok());
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn query_applies_defaults_and_checks_input() {
    let fake = FakeServer::weatherapi().await;
    let service = weatherapi_service(&fake.base_url);
    let served = service.query(&WeatherQuery::default()).await.unwrap();
    assert_eq!(fake.state.last_query()["q"], "Berlin", "the site location");
    assert_eq!((served.days_requested, served.forecast.days), (3, 3));
    let site = service.site_forecast().await.unwrap();
    assert_eq!(site.forecast, served.forecast);
    assert_eq!(fake.calls(), 1);

    for (query, message) in [
        (WeatherQuery { location: None, days: Some(0) }, "days must be from 1 to 14, got 0"),
        (WeatherQuery { location: None, days: Some(15) }, "days must be from 1 to 14, got 15"),
        (WeatherQuery { location: Some("   ".into()), days: None }, "location must not be empty"),
    ] {
        let error = service.query(&query).await.unwrap_err();
        assert_eq!((error.http_status(), error.public_message().as_str()), (400, message));
    }
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn a_full_cache_drops_the_oldest_location() {
    let fake = FakeServer::weatherapi().await;
    let (_, clock) = crate::helpers::manual_clock();
    let heating_weather::Provider::WeatherApi(provider) = weatherapi_settings(&fake.base_url)
        .provider(clock, heating_core::weather::SyntheticWeather::default())
        .unwrap()
    else {
        panic!("weatherapi settings give the weatherapi provider")
    };
    let options = heating_weather::ServiceOptions { max_cached_locations: 2, ..Default::default() };
    let service = WeatherService::new(provider.into(), options);
    for name in ["A", "B", "A", "B"] {
        service.forecast(&loc(name), days(1)).await.unwrap();
    }
    assert_eq!(fake.calls(), 2);
    service.forecast(&loc("C"), days(1)).await.unwrap(); // evicts A, fetched longest ago
    service.forecast(&loc("B"), days(1)).await.unwrap();
    assert_eq!(fake.calls(), 3);
    service.forecast(&loc("A"), days(1)).await.unwrap();
    assert_eq!(fake.calls(), 4);
}
