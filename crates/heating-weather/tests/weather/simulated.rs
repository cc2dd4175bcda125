//! The simulated provider agrees exactly with the synthetic model the zones feel.

use chrono::{Duration, NaiveTime};
use heating_core::weather::SyntheticWeather;
use heating_weather::{
    ForecastDays, ForecastDocument, LocationQuery, ProviderKind, SimulatedProvider, WeatherQuery, WeatherSettings,
};

use crate::helpers::manual_clock;

fn model() -> SyntheticWeather {
    SyntheticWeather { utc_offset_minutes: 60, ..SyntheticWeather::with_seed(42) }
}

#[test]
fn values_equal_the_model_at_the_same_instants() {
    let (clock, shared) = manual_clock();
    let provider = SimulatedProvider::new(model(), shared, None);
    let forecast = provider.forecast(&LocationQuery::parse("Berlin").unwrap(), ForecastDays::new(2).unwrap());

    assert_eq!(forecast.provider, ProviderKind::Simulated);
    assert_eq!((forecast.days, forecast.hourly.len()), (2, 48));
    let current = forecast.current.unwrap();
    assert_eq!(current.observed_at, heating_core::clock::Clock::now(&*clock));
    assert_eq!(current.temperature_c, model().temperature_at(current.observed_at));
    // From local midnight (UTC+1) today.
    assert_eq!(forecast.hourly[0].local_time.time(), NaiveTime::MIN);
    assert_eq!(forecast.hourly[0].time.to_rfc3339(), "2026-01-04T23:00:00+00:00");
    for (i, hour) in forecast.hourly.iter().enumerate() {
        assert_eq!(hour.time, forecast.hourly[0].time + Duration::hours(i as i64));
        assert_eq!(hour.local_time, (hour.time + Duration::minutes(60)).naive_utc());
        assert_eq!(hour.temperature_c, model().temperature_at(hour.time));
    }
}

#[tokio::test]
async fn the_service_follows_the_shared_clock() {
    let (clock, shared) = manual_clock();
    let service = WeatherSettings::default().build(shared, model()).unwrap();
    assert_eq!(service.provider_kind(), ProviderKind::Simulated);

    let first = service.query(&WeatherQuery::default()).await.unwrap();
    assert_eq!(first.forecast.location.name, "simulated site");
    assert_eq!((first.stale, first.age_seconds), (false, 0));
    clock.advance(Duration::minutes(90));
    let later = service.query(&WeatherQuery::default()).await.unwrap();
    let now = heating_core::clock::Clock::now(&*clock);
    let current = later.forecast.current.unwrap();
    assert_eq!((current.observed_at, current.temperature_c), (now, model().temperature_at(now)));
    assert_ne!(first.forecast.current, later.forecast.current, "not cached: it follows the clock");

    // The prototype path answers the normalized form for this provider.
    let document = service
        .forecast_document(&LocationQuery::parse("anywhere").unwrap(), ForecastDays::new(1).unwrap())
        .await
        .unwrap();
    let ForecastDocument::Normalized(served) = document else { panic!("expected the normalized form") };
    assert_eq!(served.forecast.hourly.len(), 24);
    assert_eq!(served.forecast.location.name, "anywhere");
}

#[test]
fn the_site_reports_its_coordinates() {
    let (_, shared) = manual_clock();
    let settings = WeatherSettings {
        weather_location: Some("Berlin".into()),
        weather_latitude: Some(52.52),
        weather_longitude: Some(13.41),
        ..WeatherSettings::default()
    };
    let heating_weather::Provider::Simulated(provider) = settings.provider(shared, model()).unwrap() else {
        panic!("no key: simulated")
    };
    let forecast = provider.forecast(&LocationQuery::parse("BERLIN").unwrap(), ForecastDays::new(1).unwrap());
    assert_eq!(forecast.location.name, "Berlin");
    assert_eq!((forecast.location.latitude, forecast.location.longitude), (Some(52.52), Some(13.41)));
}

#[test]
fn the_openapi_document_describes_the_forecast() {
    #[derive(utoipa::OpenApi)]
    #[openapi(components(schemas(heating_weather::ServedForecast, heating_weather::CurrentWeather)))]
    struct Doc;
    let doc = serde_json::to_value(<Doc as utoipa::OpenApi>::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for name in ["ServedForecast", "Forecast", "HourlyTemperature", "ProviderKind", "Observation", "ForecastLocation"] {
        assert!(schemas.get(name).is_some(), "{name} missing from {schemas}");
    }
    assert_eq!(schemas["ProviderKind"]["enum"], serde_json::json!(["weatherapi", "open-meteo", "simulated"]));
}
