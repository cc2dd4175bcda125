//! The WeatherAPI.com provider against a fake that speaks its exact JSON.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use heating_weather::{
    API_KEY_REJECTED_MESSAGE, ApiKey, ForecastDays, ForecastDocument, LocationQuery, ProviderKind, WeatherApiProvider,
    WeatherError,
};

use crate::helpers::{
    Behaviour, CURRENT_TEMP_C, FakeServer, KEY, assert_no_secrets, closed_port_url, local_to_utc, today,
    weatherapi_service, weatherapi_temp,
};

fn provider(fake: &FakeServer) -> WeatherApiProvider {
    WeatherApiProvider::new(&fake.base_url, ApiKey::new(KEY), Duration::from_secs(5)).unwrap()
}

fn berlin() -> LocationQuery {
    LocationQuery::parse("Berlin").unwrap()
}

fn days(n: u32) -> ForecastDays {
    ForecastDays::new(n).unwrap()
}

#[tokio::test]
async fn one_day() {
    let fake = FakeServer::weatherapi().await;
    let forecast = provider(&fake).forecast(&berlin(), days(1)).await.unwrap();

    let q = fake.state.last_query();
    assert_eq!(q["key"], KEY);
    assert_eq!(q["q"], "Berlin");
    assert_eq!(q["days"], "1");
    assert_eq!((q["aqi"].as_str(), q["alerts"].as_str()), ("no", "no"));

    assert_eq!(forecast.provider, ProviderKind::WeatherApi);
    assert_eq!(forecast.days, 1);
    assert_eq!(forecast.location.name, "Berlin");
    assert_eq!(forecast.location.country.as_deref(), Some("Germany"));
    assert_eq!(forecast.location.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!((forecast.location.latitude, forecast.location.longitude), (Some(52.5167), Some(13.4)));
    let current = forecast.current.unwrap();
    assert_eq!(current.temperature_c, CURRENT_TEMP_C);
    assert_eq!(current.observed_at, local_to_utc(today().and_hms_opt(14, 15, 0).unwrap()));

    assert_eq!(forecast.hourly.len(), 24);
    // Local midnight in Berlin is 23:00 UTC the day before.
    assert_eq!(forecast.hourly[0].time, DateTime::parse_from_rfc3339("2026-01-04T23:00:00Z").unwrap().to_utc());
    assert_eq!(forecast.hourly[0].local_time, today().and_hms_opt(0, 0, 0).unwrap());
    for (h, hour) in forecast.hourly.iter().enumerate() {
        assert_eq!(hour.temperature_c, weatherapi_temp(0, h));
        assert_eq!(hour.time, local_to_utc(hour.local_time));
    }
    assert!(forecast.fetched_at <= Utc::now());
}

#[tokio::test]
async fn three_days() {
    let fake = FakeServer::weatherapi().await;
    let forecast = provider(&fake).forecast(&berlin(), days(3)).await.unwrap();
    assert_eq!(fake.state.last_query()["days"], "3");
    assert_eq!((forecast.days, forecast.hourly.len()), (3, 72));
    assert!(forecast.hourly.windows(2).all(|w| w[1].time - w[0].time == chrono::Duration::hours(1)));
    assert_eq!(forecast.hourly[71].temperature_c, weatherapi_temp(2, 23));
}

#[tokio::test]
async fn days_above_the_plan_cap_return_what_came() {
    let fake = FakeServer::weatherapi().await; // free plan: 3 days
    let forecast = provider(&fake).forecast(&berlin(), days(7)).await.unwrap();
    assert_eq!(fake.state.last_query()["days"], "7");
    assert_eq!((forecast.days, forecast.hourly.len()), (3, 72));

    let service = weatherapi_service(&fake.base_url);
    let served = service.forecast(&berlin(), days(7)).await.unwrap();
    assert_eq!((served.days_requested, served.forecast.days, served.forecast.hourly.len()), (7, 3, 72));
    // Asking again for 7 within the TTL does not call again: the upstream already said 3 is all there is.
    let calls = fake.calls();
    service.forecast(&berlin(), days(7)).await.unwrap();
    assert_eq!(fake.calls(), calls);
}

#[tokio::test]
async fn raw_body_passes_through_unchanged() {
    let fake = FakeServer::weatherapi().await;
    let raw = provider(&fake).forecast_raw(&berlin(), days(2)).await.unwrap();
    assert_eq!(raw.get(), fake.state.last_body_text(), "byte for byte");

    let service = weatherapi_service(&fake.base_url);
    let document = service.forecast_document(&berlin(), days(3)).await.unwrap();
    let ForecastDocument::WeatherApi { body, stale, age_seconds } = &document else {
        panic!("expected WeatherAPI's own JSON, got {document:?}")
    };
    assert_eq!(body.get(), fake.state.last_body_text());
    assert!(!stale);
    assert_eq!(*age_seconds, 0);
    assert_eq!(serde_json::to_string(&document).unwrap(), fake.state.last_body_text());

    // Fewer days come from the same cached answer, cut to the days asked, as WeatherAPI would have sent them.
    let one = service.forecast_document(&berlin(), days(1)).await.unwrap();
    let one = serde_json::to_value(&one).unwrap();
    let full = fake.state.last_body();
    assert_eq!(one["forecast"]["forecastday"].as_array().unwrap().len(), 1);
    assert_eq!(one["forecast"]["forecastday"][0], full["forecast"]["forecastday"][0]);
    assert_eq!((&one["location"], &one["current"]), (&full["location"], &full["current"]));
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn current_json() {
    let fake = FakeServer::weatherapi().await;
    let current = provider(&fake).current(&berlin()).await.unwrap();
    assert_eq!(current.current.temperature_c, CURRENT_TEMP_C);
    assert_eq!(current.location.name, "Berlin");
    assert!(!fake.state.last_query().contains_key("days"));
    assert_eq!(fake.state.last_query()["key"], KEY);
}

/// (behaviour, expected code, HTTP status, Retry-After seconds)
fn error_cases() -> Vec<(Behaviour, &'static str, u16, Option<u64>)> {
    let api = |status, code, message: &str| Behaviour::WeatherApiError {
        status,
        code,
        message: message.to_string(),
        retry_after: None,
    };
    vec![
        (api(401, 1002, "API key not provided."), "weather_api_key_rejected", 502, None),
        (api(401, 2006, "API key provided is invalid"), "weather_api_key_rejected", 502, None),
        (api(403, 2008, "API key has been disabled."), "weather_api_key_rejected", 502, None),
        (api(400, 1003, "Parameter q is missing."), "weather_bad_request", 502, None),
        (api(400, 1005, "API request url is invalid"), "weather_bad_request", 502, None),
        (api(400, 1006, "No matching location found."), "weather_location_not_found", 404, None),
        (api(400, 9999, "Internal application error."), "weather_upstream_error", 502, None),
        (api(403, 2007, "API key has exceeded calls per month quota."), "weather_quota_exceeded", 503, Some(3600)),
        (
            Behaviour::WeatherApiError {
                status: 403,
                code: 2007,
                message: "API key has exceeded calls per month quota.".into(),
                retry_after: Some("86400"),
            },
            "weather_quota_exceeded",
            503,
            Some(86400),
        ),
        (
            api(
                403,
                2009,
                "API key does not have access to the resource. Please check pricing page for what is allowed in \
                 your API subscription plan.",
            ),
            "weather_plan_lacks_access",
            502,
            None,
        ),
        (
            Behaviour::Status { status: 429, body: "Too Many Requests".into(), retry_after: Some("30") },
            "weather_throttled",
            503,
            Some(30),
        ),
        (Behaviour::Status { status: 429, body: String::new(), retry_after: None }, "weather_throttled", 503, Some(60)),
        (
            Behaviour::Status {
                status: 500,
                body: "<html><body>Internal Server Error</body></html>".into(),
                retry_after: None,
            },
            "weather_upstream_error",
            502,
            None,
        ),
        (
            Behaviour::Status { status: 503, body: "Service Unavailable".into(), retry_after: Some("120") },
            "weather_upstream_error",
            502,
            None,
        ),
    ]
}

#[tokio::test]
async fn every_error_code_maps() {
    let fake = FakeServer::weatherapi().await;
    let provider = provider(&fake);
    for (behaviour, code, status, retry_after) in error_cases() {
        fake.set(behaviour.clone());
        let error = provider.forecast(&berlin(), days(3)).await.unwrap_err();
        assert_eq!(error.code(), code, "{behaviour:?} gave {error:?}");
        assert_eq!(error.http_status(), status, "{behaviour:?}");
        assert_eq!(error.retry_after_secs(), retry_after, "{behaviour:?}");
        if code == "weather_api_key_rejected" {
            assert_eq!(error.public_message(), API_KEY_REJECTED_MESSAGE);
        }
        for text in [error.to_string(), format!("{error:?}"), error.public_message()] {
            assert_no_secrets(&text, &fake.base_url);
        }
        // current.json maps the same way.
        let error = provider.current(&berlin()).await.unwrap_err();
        assert_eq!(error.code(), code, "current.json: {behaviour:?}");
    }
}

#[tokio::test]
async fn real_key_and_location_checks() {
    let fake = FakeServer::weatherapi().await;
    let wrong = WeatherApiProvider::new(&fake.base_url, ApiKey::new("not-the-key"), Duration::from_secs(5)).unwrap();
    let error = wrong.forecast(&berlin(), days(1)).await.unwrap_err();
    assert!(matches!(error, WeatherError::ApiKeyRejected { .. }), "{error:?}");
    assert_eq!((error.http_status(), error.public_message().as_str()), (502, API_KEY_REJECTED_MESSAGE));

    let error = provider(&fake).forecast(&LocationQuery::parse("Nowhere").unwrap(), days(1)).await.unwrap_err();
    assert!(matches!(&error, WeatherError::LocationNotFound { location, .. } if location == "Nowhere"), "{error:?}");
    assert_eq!(error.http_status(), 404);

    // A base URL pointing at the wrong path gets WeatherAPI's 1005.
    let prefixed = WeatherApiProvider::new(&format!("{}/api", fake.base_url), ApiKey::new(KEY), Duration::from_secs(5));
    let error = prefixed.unwrap().forecast(&berlin(), days(1)).await.unwrap_err();
    assert!(matches!(error, WeatherError::BadRequest { .. }), "{error:?}");
}

#[tokio::test]
async fn malformed_answers() {
    let fake = FakeServer::weatherapi().await;
    let provider = provider(&fake);
    let mut truncated = crate::helpers::weatherapi_forecast_body("Berlin", 1).to_string();
    truncated.truncate(truncated.len() / 2);
    let mut bad_time = crate::helpers::weatherapi_forecast_body("Berlin", 1);
    bad_time["forecast"]["forecastday"][0]["hour"][3]["time"] = "3 o'clock".into();
    let mut no_days = crate::helpers::weatherapi_forecast_body("Berlin", 1);
    no_days["forecast"]["forecastday"] = serde_json::json!([]);
    let mut string_temp = crate::helpers::weatherapi_forecast_body("Berlin", 1);
    string_temp["current"]["temp_c"] = "warm".into();
    for body in [
        "not json at all".to_string(),
        String::new(),
        truncated,
        r#"{"location":{"name":"Berlin"}}"#.to_string(),
        bad_time.to_string(),
        no_days.to_string(),
        string_temp.to_string(),
    ] {
        fake.set(Behaviour::Body(body.clone()));
        let error = provider.forecast(&berlin(), days(1)).await.unwrap_err();
        assert!(matches!(error, WeatherError::Malformed { .. }), "{body:.60}: {error:?}");
        assert_eq!(error.http_status(), 502);
        assert_no_secrets(&error.to_string(), &fake.base_url);
    }
}

#[tokio::test]
async fn slow_upstream_times_out() {
    let fake = FakeServer::weatherapi().await;
    let provider = WeatherApiProvider::new(&fake.base_url, ApiKey::new(KEY), Duration::from_millis(300)).unwrap();
    for behaviour in [Behaviour::Hang, Behaviour::StallBody] {
        fake.set(behaviour.clone());
        let started = Instant::now();
        let error = provider.forecast(&berlin(), days(1)).await.unwrap_err();
        let took = started.elapsed();
        assert!(matches!(error, WeatherError::Timeout { .. }), "{behaviour:?}: {error:?}");
        assert!(took >= Duration::from_millis(290) && took < Duration::from_secs(5), "{behaviour:?} took {took:?}");
        assert_eq!(
            (error.http_status(), error.public_message().as_str()),
            (504, "weather provider did not answer in time")
        );
        assert_no_secrets(&format!("{error} {error:?}"), &fake.base_url);
    }
}

#[tokio::test]
async fn unreachable_upstream() {
    let base_url = closed_port_url().await;
    let provider = WeatherApiProvider::new(&base_url, ApiKey::new(KEY), Duration::from_secs(5)).unwrap();
    let error = provider.forecast(&berlin(), days(1)).await.unwrap_err();
    assert!(matches!(error, WeatherError::Unreachable { .. }), "{error:?}");
    assert_eq!(error.http_status(), 504);
    assert_no_secrets(&format!("{error} {error:?}"), &base_url);
}
