//! The Open-Meteo provider against a fake that speaks its exact JSON (parallel arrays, nulls).

use std::time::Duration;

use heating_weather::{
    Coordinates, ForecastDays, LocationQuery, OpenMeteoProvider, ProviderKind, SiteLocation, WeatherError,
};

use crate::helpers::{
    Behaviour, FakeServer, OPEN_METEO_CURRENT_C, local_to_utc, open_meteo_body, open_meteo_is_null, open_meteo_temp,
    today,
};

fn site() -> SiteLocation {
    SiteLocation {
        name: LocationQuery::parse("Berlin").unwrap(),
        coordinates: Some(Coordinates::new(52.52, 13.41).unwrap()),
    }
}

fn provider(fake: &FakeServer, timeout: Duration) -> OpenMeteoProvider {
    OpenMeteoProvider::new(&fake.base_url, Some(site()), timeout).unwrap()
}

fn days(n: u32) -> ForecastDays {
    ForecastDays::new(n).unwrap()
}

#[tokio::test]
async fn one_and_three_days_with_nulls() {
    let fake = FakeServer::open_meteo().await;
    let provider = provider(&fake, Duration::from_secs(5));
    for n in [1u8, 3] {
        let forecast = provider.forecast(&LocationQuery::parse(" berlin ").unwrap(), days(u32::from(n))).await.unwrap();
        let q = fake.state.last_query();
        assert_eq!((q["latitude"].as_str(), q["longitude"].as_str()), ("52.52", "13.41"));
        assert_eq!((q["current"].as_str(), q["hourly"].as_str()), ("temperature_2m", "temperature_2m"));
        assert_eq!(q["timezone"], "auto");
        assert_eq!(q["forecast_days"], n.to_string());

        assert_eq!(forecast.provider, ProviderKind::OpenMeteo);
        assert_eq!(forecast.days, n);
        assert_eq!(forecast.location.name, "Berlin");
        assert_eq!(forecast.location.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(forecast.location.latitude, Some(52.52));
        let current = forecast.current.unwrap();
        assert_eq!(current.temperature_c, OPEN_METEO_CURRENT_C);
        assert_eq!(current.observed_at, local_to_utc(today().and_hms_opt(14, 30, 0).unwrap()));

        let expected: Vec<usize> = (0..usize::from(n) * 24).filter(|&i| !open_meteo_is_null(i)).collect();
        assert_eq!(forecast.hourly.len(), expected.len());
        for (hour, &i) in forecast.hourly.iter().zip(&expected) {
            let local = today().and_hms_opt(0, 0, 0).unwrap() + chrono::Duration::hours(i as i64);
            assert_eq!(hour.local_time, local);
            assert_eq!(hour.time, local_to_utc(local));
            assert_eq!(hour.temperature_c, open_meteo_temp(i));
        }
    }
}

#[tokio::test]
async fn locations_need_coordinates() {
    let fake = FakeServer::open_meteo().await;
    let provider = provider(&fake, Duration::from_secs(5));
    let forecast = provider.forecast(&LocationQuery::parse("48.85, 2.35").unwrap(), days(1)).await.unwrap();
    assert_eq!(fake.state.last_query()["latitude"], "48.85");
    assert_eq!(forecast.location.name, "48.85, 2.35");

    let calls = fake.calls();
    let error = provider.forecast(&LocationQuery::parse("Paris").unwrap(), days(1)).await.unwrap_err();
    assert!(matches!(error, WeatherError::LocationNotFound { .. }), "{error:?}");
    assert_eq!(error.http_status(), 404);
    assert_eq!(fake.calls(), calls, "no upstream call for a name without coordinates");
}

#[tokio::test]
async fn errors() {
    let fake = FakeServer::open_meteo().await;
    let provider = provider(&fake, Duration::from_secs(5));
    let berlin = LocationQuery::parse("Berlin").unwrap();

    let fortnight = provider.forecast(&berlin, days(14)).await.unwrap();
    assert_eq!(fortnight.days, 14);

    let cases = [
        (
            Behaviour::Status {
                status: 400,
                body: r#"{"error":true,"reason":"Latitude must be in range of -90 to 90°. Given: 95.0."}"#.into(),
                retry_after: None,
            },
            "weather_bad_request",
            502,
        ),
        (
            Behaviour::Status {
                status: 429,
                body:
                    r#"{"error":true,"reason":"Minutely API request limit exceeded. Please try again in one minute."}"#
                        .into(),
                retry_after: None,
            },
            "weather_throttled",
            503,
        ),
        (
            Behaviour::Status { status: 502, body: "Bad Gateway".into(), retry_after: None },
            "weather_upstream_error",
            502,
        ),
        (Behaviour::Body("{\"latitude\":52.52,".into()), "weather_malformed_response", 502),
    ];
    for (behaviour, code, status) in cases {
        fake.set(behaviour.clone());
        let error = provider.forecast(&berlin, days(1)).await.unwrap_err();
        assert_eq!((error.code(), error.http_status()), (code, status), "{behaviour:?}: {error:?}");
        assert!(!error.to_string().contains(&fake.base_url));
    }
    fake.set(Behaviour::Status {
        status: 400,
        body: r#"{"error":true,"reason":"Latitude must be in range of -90 to 90°. Given: 95.0."}"#.into(),
        retry_after: None,
    });
    let error = provider.forecast(&berlin, days(1)).await.unwrap_err();
    assert!(error.to_string().contains("Latitude must be in range"), "the reason is kept for the log: {error}");
    assert_eq!(error.public_message(), "weather provider rejected the request");

    // Arrays of different lengths, or times that are not times.
    let mut mismatched = open_meteo_body(52.52, 13.41, 1);
    mismatched["hourly"]["temperature_2m"].as_array_mut().unwrap().pop();
    let mut bad_time = open_meteo_body(52.52, 13.41, 1);
    bad_time["hourly"]["time"][0] = "midnight".into();
    for body in [mismatched, bad_time] {
        fake.set(Behaviour::Body(body.to_string()));
        let error = provider.forecast(&berlin, days(1)).await.unwrap_err();
        assert!(matches!(error, WeatherError::Malformed { .. }), "{error:?}");
    }
}

#[tokio::test]
async fn missing_current_is_none() {
    let fake = FakeServer::open_meteo().await;
    let mut body = open_meteo_body(52.52, 13.41, 1);
    body["current"]["temperature_2m"] = serde_json::Value::Null;
    fake.set(Behaviour::Body(body.to_string()));
    let forecast =
        provider(&fake, Duration::from_secs(5)).forecast(&LocationQuery::parse("Berlin").unwrap(), days(1)).await;
    assert_eq!(forecast.unwrap().current, None);
}

#[tokio::test]
async fn slow_upstream_times_out() {
    let fake = FakeServer::open_meteo().await;
    fake.set(Behaviour::Hang);
    let error = provider(&fake, Duration::from_millis(300))
        .forecast(&LocationQuery::parse("Berlin").unwrap(), days(1))
        .await
        .unwrap_err();
    assert!(matches!(error, WeatherError::Timeout { .. }), "{error:?}");
    assert_eq!(error.http_status(), 504);
}
