//! No error, `Debug`, response body or log line contains the API key or the upstream URL.

use std::time::Duration;

use heating_weather::{ApiKey, ForecastDays, LocationQuery, WeatherApiProvider, WeatherQuery};

use crate::helpers::{Behaviour, FakeServer, KEY, LogBuffer, assert_no_secrets, closed_port_url, weatherapi_settings};

/// An upstream that echoes the request (key included) in its error message.
fn echoing(base_url: &str, status: u16, code: u32) -> Behaviour {
    Behaviour::WeatherApiError {
        status,
        code,
        message: format!("bad request GET {base_url}/v1/forecast.json?key={KEY}&q=Berlin (key {KEY})"),
        retry_after: None,
    }
}

#[tokio::test]
async fn nothing_leaks_through_errors_bodies_or_logs() {
    let (logs, _guard) = LogBuffer::capture();
    let fake = FakeServer::weatherapi().await;
    let (_, clock) = crate::helpers::manual_clock();
    let settings = weatherapi_settings(&fake.base_url);
    assert_no_secrets(&format!("{settings:?}"), "http://never.example");
    let service = settings.build(clock, heating_core::weather::SyntheticWeather::default()).unwrap();
    assert!(!format!("{service:?}").contains(KEY));

    let mut seen = Vec::new();
    let ok = service.query(&WeatherQuery::default()).await.unwrap();
    seen.push(serde_json::to_string(&ok).unwrap());
    let berlin = LocationQuery::parse("Berlin").unwrap();
    let document = service.forecast_document(&berlin, ForecastDays::new(3).unwrap()).await.unwrap();
    seen.push(serde_json::to_string(&document).unwrap());

    let behaviours = [
        echoing(&fake.base_url, 401, 2006),
        echoing(&fake.base_url, 401, 1002),
        echoing(&fake.base_url, 403, 2008),
        echoing(&fake.base_url, 403, 2007),
        echoing(&fake.base_url, 403, 2009),
        echoing(&fake.base_url, 400, 1003),
        echoing(&fake.base_url, 400, 1005),
        echoing(&fake.base_url, 400, 1006),
        echoing(&fake.base_url, 400, 9999),
        Behaviour::Status { status: 429, body: format!("slow down {KEY}"), retry_after: Some("1") },
        Behaviour::Status {
            status: 500,
            body: format!("<pre>{}/v1/forecast.json?key={KEY}</pre>", fake.base_url),
            retry_after: None,
        },
        Behaviour::Body(format!("{{\"key\":\"{KEY}\", truncated")),
    ];
    // A new location per case: each misses the cache and calls upstream.
    for (i, behaviour) in behaviours.into_iter().enumerate() {
        fake.set(behaviour);
        let town = LocationQuery::parse(&format!("Town {i}")).unwrap();
        let error = service.forecast(&town, ForecastDays::new(1).unwrap()).await.unwrap_err();
        seen.extend([error.to_string(), format!("{error:?}"), error.public_message()]);
    }
    assert_eq!(fake.calls(), 13);

    // Timeouts and refused connections, straight from the provider.
    fake.set(Behaviour::Hang);
    let slow = WeatherApiProvider::new(&fake.base_url, ApiKey::new(KEY), Duration::from_millis(200)).unwrap();
    let error = slow.forecast(&berlin, ForecastDays::new(1).unwrap()).await.unwrap_err();
    seen.extend([error.to_string(), format!("{error:?}"), format!("{slow:?}")]);
    let closed = closed_port_url().await;
    let refused = WeatherApiProvider::new(&closed, ApiKey::new(KEY), Duration::from_secs(5)).unwrap();
    let error = refused.forecast(&berlin, ForecastDays::new(1).unwrap()).await.unwrap_err();
    assert_no_secrets(&format!("{error} {error:?}"), &closed);

    for text in &seen {
        assert_no_secrets(text, &fake.base_url);
    }
    let log = logs.text();
    assert!(log.contains("weather fetch failed"), "logs were captured: {log}");
    assert!(log.contains("weather service ready"));
    for line in log.lines() {
        // `2026-01-05T00:00:00.000000Z  WARN heating_weather::service: ...`
        let target = line.split_whitespace().nth(2).unwrap_or_default();
        if target.starts_with("heating_weather") {
            assert_no_secrets(line, &fake.base_url);
        } else {
            assert!(!line.contains(KEY), "the API key leaked into: {line}");
            assert!(!line.contains(&fake.base_url), "the base URL leaked into: {line}");
        }
    }
}
