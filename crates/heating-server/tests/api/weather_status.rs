//! `GET /status` never waits on the weather provider.

use std::time::{Duration, Instant};

use heating_weather::ProviderKind;
use reqwest::StatusCode;

use crate::helpers::{json_of, spawn_app_with};

#[tokio::test]
async fn status_answers_at_once_while_the_weather_provider_hangs() {
    // A provider that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", silent.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let app = spawn_app_with(|c| {
        c.weather.weather_provider = Some(ProviderKind::OpenMeteo);
        c.weather.open_meteo_base_url = base_url;
        c.weather.weather_latitude = Some(52.52);
        c.weather.weather_longitude = Some(13.40);
        c.weather.weather_location = Some("Berlin".into());
        c.weather.weather_timeout_secs = 10;
    })
    .await;
    for _ in 0..5 {
        let started = Instant::now();
        let (status, body) = json_of(app.get("/status").await).await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(took < Duration::from_millis(500), "/status took {took:?}");
        let w = &body["weather"];
        assert_eq!(w["provider"], "open-meteo", "{w}");
        assert!(w["outdoor_c"].is_null() && w["error"].is_null(), "nothing fetched yet, no error yet: {w}");
    }
    // The dashboard's other reads do not wait either.
    let started = Instant::now();
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(500));
    app.stop().await;
    holder.abort();
}
