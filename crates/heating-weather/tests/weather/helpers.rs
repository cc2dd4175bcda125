//! Fake WeatherAPI.com and Open-Meteo servers (small axum apps on 127.0.0.1:0), realistic bodies, and a log
//! capture.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use heating_core::clock::{ManualClock, SharedClock};
use heating_core::weather::SyntheticWeather;
use heating_weather::{ApiKey, ProviderKind, WeatherService, WeatherSettings};

/// The key the fake WeatherAPI accepts. Distinctive, so a leak is easy to find.
pub const KEY: &str = "k3y-5f2b9c0e1d7a4e6b8c9d0e1f";

/// Local "today" of the fakes: 2026-01-05 in Berlin (UTC+1).
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()
}

pub const UTC_OFFSET_HOURS: i64 = 1;

pub fn local_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    (local - ChronoDuration::hours(UTC_OFFSET_HOURS)).and_utc()
}

/// What a fake does with the next requests.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Like the real service: checks key and location, answers at most `plan_days` days.
    Normal,
    /// A WeatherAPI error body `{"error":{"code","message"}}`, with an optional Retry-After.
    WeatherApiError { status: u16, code: u32, message: String, retry_after: Option<&'static str> },
    /// Any status and body.
    Status { status: u16, body: String, retry_after: Option<&'static str> },
    /// 200 with this body.
    Body(String),
    /// Never answers.
    Hang,
    /// Sends the headers and the first bytes, then nothing.
    StallBody,
}

#[derive(Debug)]
pub struct FakeState {
    pub calls: AtomicUsize,
    pub behaviour: Mutex<Behaviour>,
    pub plan_days: u8,
    pub delay: Duration,
    pub last_query: Mutex<Option<HashMap<String, String>>>,
    pub last_body: Mutex<Option<String>>,
}

impl FakeState {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn last_query(&self) -> HashMap<String, String> {
        self.last_query.lock().unwrap().clone().expect("the fake saw a request")
    }

    /// The last body served, exactly as sent.
    pub fn last_body_text(&self) -> String {
        self.last_body.lock().unwrap().clone().expect("the fake served a body")
    }

    pub fn last_body(&self) -> Value {
        serde_json::from_str(&self.last_body_text()).unwrap()
    }
}

/// A running fake. Dropping it stops the server task.
#[derive(Debug)]
pub struct FakeServer {
    pub base_url: String,
    pub state: Arc<FakeState>,
    task: JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    async fn start(app: fn(Arc<FakeState>) -> Router, plan_days: u8, delay: Duration) -> Self {
        let state = Arc::new(FakeState {
            calls: AtomicUsize::new(0),
            behaviour: Mutex::new(Behaviour::Normal),
            plan_days,
            delay,
            last_query: Mutex::new(None),
            last_body: Mutex::new(None),
        });
        // Bound before the task starts: connections queue in the backlog, no readiness wait needed.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let router = app(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { base_url, state, task }
    }

    /// A fake WeatherAPI.com on the free plan (3 days at most).
    pub async fn weatherapi() -> Self {
        Self::start(weatherapi_app, 3, Duration::ZERO).await
    }

    pub async fn weatherapi_with(plan_days: u8, delay: Duration) -> Self {
        Self::start(weatherapi_app, plan_days, delay).await
    }

    pub async fn open_meteo() -> Self {
        Self::start(open_meteo_app, 16, Duration::ZERO).await
    }

    pub fn calls(&self) -> usize {
        self.state.calls()
    }

    pub fn set(&self, behaviour: Behaviour) {
        self.state.set(behaviour);
    }
}

/// A base URL where nothing listens (bound, then closed).
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn json_response(status: u16, body: &Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), [(header::CONTENT_TYPE, "application/json")], body.to_string())
        .into_response()
}

/// The behaviours every fake shares; `None` means "answer normally".
async fn common(state: &FakeState) -> Option<Response> {
    state.calls.fetch_add(1, Ordering::SeqCst);
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    let behaviour = state.behaviour.lock().unwrap().clone();
    let with_retry_after = |mut response: Response, retry_after: Option<&'static str>| {
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value.parse().unwrap());
        }
        response
    };
    match behaviour {
        Behaviour::Normal => None,
        Behaviour::WeatherApiError { status, code, message, retry_after } => Some(with_retry_after(
            json_response(status, &json!({"error": {"code": code, "message": message}})),
            retry_after,
        )),
        Behaviour::Status { status, body, retry_after } => {
            Some(with_retry_after((StatusCode::from_u16(status).unwrap(), body).into_response(), retry_after))
        }
        Behaviour::Body(body) => {
            Some((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Behaviour::Hang => {
            std::future::pending::<()>().await;
            None
        }
        Behaviour::StallBody => {
            let stream = futures::stream::once(async { Ok::<_, std::io::Error>("{\"location\":") })
                .chain(futures::stream::pending());
            Some(
                Response::builder()
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from_stream(stream))
                    .unwrap(),
            )
        }
    }
}

use futures::StreamExt as _;

// ---------------------------------------------------------------------------------------------------------------
// WeatherAPI.com

fn weatherapi_app(state: Arc<FakeState>) -> Router {
    Router::new()
        .route("/v1/forecast.json", get(weatherapi_forecast))
        .route("/v1/current.json", get(weatherapi_current))
        .fallback(|| async {
            json_response(400, &json!({"error": {"code": 1005, "message": "API request url is invalid"}}))
        })
        .with_state(state)
}

/// Checks key and `q` as WeatherAPI does; `Err` is the error response's (status, code, message).
fn weatherapi_check(query: &HashMap<String, String>) -> Result<String, (u16, u32, &'static str)> {
    match query.get("key").map(String::as_str) {
        None | Some("") => return Err((401, 1002, "API key is invalid or not provided.")),
        Some(KEY) => {}
        Some(_) => return Err((401, 2006, "API key provided is invalid")),
    }
    match query.get("q").map(|q| q.trim()) {
        None | Some("") => Err((400, 1003, "Parameter q is missing.")),
        Some(q) if q.eq_ignore_ascii_case("nowhere") => Err((400, 1006, "No matching location found.")),
        Some(q) => Ok(q.to_string()),
    }
}

fn weatherapi_error((status, code, message): (u16, u32, &str)) -> Response {
    json_response(status, &json!({"error": {"code": code, "message": message}}))
}

async fn weatherapi_forecast(
    State(state): State<Arc<FakeState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    *state.last_query.lock().unwrap() = Some(query.clone());
    if let Some(response) = common(&state).await {
        return response;
    }
    let name = match weatherapi_check(&query) {
        Ok(q) => q,
        Err(error) => return weatherapi_error(error),
    };
    let asked: u8 = query.get("days").and_then(|d| d.parse().ok()).unwrap_or(1).clamp(1, 14);
    let body = weatherapi_forecast_body(&name, asked.min(state.plan_days));
    *state.last_body.lock().unwrap() = Some(body.to_string());
    json_response(200, &body)
}

async fn weatherapi_current(
    State(state): State<Arc<FakeState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    *state.last_query.lock().unwrap() = Some(query.clone());
    if let Some(response) = common(&state).await {
        return response;
    }
    let name = match weatherapi_check(&query) {
        Ok(q) => q,
        Err(error) => return weatherapi_error(error),
    };
    let full = weatherapi_forecast_body(&name, 1);
    let body = json!({"location": full["location"], "current": full["current"]});
    *state.last_body.lock().unwrap() = Some(body.to_string());
    json_response(200, &body)
}

fn condition(text: &str, code: u32, day: bool) -> Value {
    let icon = format!("//cdn.weatherapi.com/weather/64x64/{}/{}.png", if day { "day" } else { "night" }, code - 887);
    json!({"text": text, "icon": icon, "code": code})
}

/// The fake's temperature for local hour `hour` of day `day` (0 = today).
pub fn weatherapi_temp(day: usize, hour: usize) -> f64 {
    let daily = [
        -1.2, -1.6, -1.9, -2.1, -2.3, -2.4, -2.2, -1.8, -0.9, 0.4, 1.8, 3.0, 3.9, 4.5, 4.8, 4.7, 4.1, 3.2, 2.4, 1.7,
        1.1, 0.6, 0.1, -0.4,
    ];
    ((daily[hour] + day as f64 * 0.7) * 10.0).round() / 10.0
}

pub const CURRENT_TEMP_C: f64 = 4.6;

/// A realistic `forecast.json` body for `name` (Berlin's coordinates and time zone), `days` days from today.
pub fn weatherapi_forecast_body(name: &str, days: u8) -> Value {
    let now_local = today().and_hms_opt(14, 30, 0).unwrap();
    let now_epoch = local_to_utc(now_local).timestamp();
    let last_updated = today().and_hms_opt(14, 15, 0).unwrap();
    let forecastday: Vec<Value> = (0..usize::from(days))
        .map(|d| {
            let date = today() + ChronoDuration::days(d as i64);
            let temps: Vec<f64> = (0..24).map(|h| weatherapi_temp(d, h)).collect();
            let max = temps.iter().copied().fold(f64::MIN, f64::max);
            let min = temps.iter().copied().fold(f64::MAX, f64::min);
            let avg = (temps.iter().sum::<f64>() / 24.0 * 10.0).round() / 10.0;
            let hours: Vec<Value> = (0..24)
                .map(|h| {
                    let local = date.and_hms_opt(h as u32, 0, 0).unwrap();
                    let t = temps[h];
                    let is_day = (8..16).contains(&h);
                    json!({
                        "time_epoch": local_to_utc(local).timestamp(),
                        "time": local.format("%Y-%m-%d %H:%M").to_string(),
                        "temp_c": t,
                        "temp_f": ((t * 1.8 + 32.0) * 10.0).round() / 10.0,
                        "is_day": i32::from(is_day),
                        "condition": condition(if is_day { "Partly Cloudy " } else { "Clear " }, if is_day { 1003 } else { 1000 }, is_day),
                        "wind_mph": 8.1, "wind_kph": 13.0, "wind_degree": 245, "wind_dir": "WSW",
                        "pressure_mb": 1021.0, "pressure_in": 30.15, "precip_mm": 0.0, "precip_in": 0.0,
                        "snow_cm": 0.0, "humidity": 81, "cloud": 43,
                        "feelslike_c": t - 3.1, "feelslike_f": (t - 3.1) * 1.8 + 32.0,
                        "windchill_c": t - 3.1, "windchill_f": (t - 3.1) * 1.8 + 32.0,
                        "heatindex_c": t, "heatindex_f": t * 1.8 + 32.0,
                        "dewpoint_c": t - 2.5, "dewpoint_f": (t - 2.5) * 1.8 + 32.0,
                        "will_it_rain": 0, "chance_of_rain": 0, "will_it_snow": 0, "chance_of_snow": 0,
                        "vis_km": 10.0, "vis_miles": 6.0, "gust_mph": 12.4, "gust_kph": 20.0, "uv": 0.0
                    })
                })
                .collect();
            json!({
                "date": date.format("%Y-%m-%d").to_string(),
                "date_epoch": date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp(),
                "day": {
                    "maxtemp_c": max, "maxtemp_f": max * 1.8 + 32.0, "mintemp_c": min, "mintemp_f": min * 1.8 + 32.0,
                    "avgtemp_c": avg, "avgtemp_f": avg * 1.8 + 32.0, "maxwind_mph": 9.4, "maxwind_kph": 15.1,
                    "totalprecip_mm": 0.0, "totalprecip_in": 0.0, "totalsnow_cm": 0.0, "avgvis_km": 10.0,
                    "avgvis_miles": 6.0, "avghumidity": 80, "daily_will_it_rain": 0, "daily_chance_of_rain": 0,
                    "daily_will_it_snow": 0, "daily_chance_of_snow": 0,
                    "condition": condition("Partly Cloudy ", 1003, true), "uv": 0.4
                },
                "astro": {
                    "sunrise": "08:16 AM", "sunset": "04:11 PM", "moonrise": "09:47 PM", "moonset": "10:41 AM",
                    "moon_phase": "Waning Gibbous", "moon_illumination": 91, "is_moon_up": 0, "is_sun_up": 0
                },
                "hour": hours
            })
        })
        .collect();
    json!({
        "location": {
            "name": name, "region": "Berlin", "country": "Germany", "lat": 52.5167, "lon": 13.4,
            "tz_id": "Europe/Berlin", "localtime_epoch": now_epoch,
            "localtime": now_local.format("%Y-%m-%d %-H:%M").to_string()
        },
        "current": {
            "last_updated_epoch": local_to_utc(last_updated).timestamp(),
            "last_updated": last_updated.format("%Y-%m-%d %H:%M").to_string(),
            "temp_c": CURRENT_TEMP_C, "temp_f": 40.3, "is_day": 1,
            "condition": condition("Partly cloudy", 1003, true),
            "wind_mph": 8.1, "wind_kph": 13.0, "wind_degree": 245, "wind_dir": "WSW", "pressure_mb": 1021.0,
            "pressure_in": 30.15, "precip_mm": 0.0, "precip_in": 0.0, "humidity": 75, "cloud": 50,
            "feelslike_c": 1.4, "feelslike_f": 34.5, "windchill_c": 1.2, "windchill_f": 34.2, "heatindex_c": 4.6,
            "heatindex_f": 40.3, "dewpoint_c": 0.4, "dewpoint_f": 32.7, "vis_km": 10.0, "vis_miles": 6.0,
            "uv": 0.5, "gust_mph": 11.3, "gust_kph": 18.2
        },
        "forecast": { "forecastday": forecastday }
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Open-Meteo

fn open_meteo_app(state: Arc<FakeState>) -> Router {
    Router::new().route("/v1/forecast", get(open_meteo_forecast)).with_state(state)
}

fn open_meteo_error(reason: &str) -> Response {
    json_response(400, &json!({"error": true, "reason": reason}))
}

async fn open_meteo_forecast(
    State(state): State<Arc<FakeState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    *state.last_query.lock().unwrap() = Some(query.clone());
    if let Some(response) = common(&state).await {
        return response;
    }
    let (Some(lat), Some(lon)) = (
        query.get("latitude").and_then(|v| v.parse::<f64>().ok()),
        query.get("longitude").and_then(|v| v.parse::<f64>().ok()),
    ) else {
        return open_meteo_error("Parameter 'latitude' and 'longitude' must have the same number of elements");
    };
    if !(-90.0..=90.0).contains(&lat) {
        return open_meteo_error(&format!("Latitude must be in range of -90 to 90°. Given: {lat}."));
    }
    let days: u8 = query.get("forecast_days").and_then(|d| d.parse().ok()).unwrap_or(7);
    if days > state.plan_days {
        return open_meteo_error("Forecast days is invalid. Allowed range 0 to 16.");
    }
    let body = open_meteo_body(lat, lon, days);
    *state.last_body.lock().unwrap() = Some(body.to_string());
    json_response(200, &body)
}

/// Hours (index into the hourly arrays) the fake leaves `null`.
pub fn open_meteo_is_null(index: usize) -> bool {
    index % 24 == 23 || index == 5
}

pub fn open_meteo_temp(index: usize) -> f64 {
    ((weatherapi_temp(index / 24, index % 24) + 0.3) * 10.0).round() / 10.0
}

pub const OPEN_METEO_CURRENT_C: f64 = 4.9;

/// A realistic Open-Meteo body (Berlin's grid point, `timezone=auto` → local times, UTC+1).
pub fn open_meteo_body(lat: f64, lon: f64, days: u8) -> Value {
    let hours = usize::from(days) * 24;
    let times: Vec<String> = (0..hours)
        .map(|i| {
            (today().and_hms_opt(0, 0, 0).unwrap() + ChronoDuration::hours(i as i64))
                .format("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .collect();
    let temps: Vec<Value> =
        (0..hours).map(|i| if open_meteo_is_null(i) { Value::Null } else { json!(open_meteo_temp(i)) }).collect();
    json!({
        "latitude": (lat * 100.0).round() / 100.0,
        "longitude": (lon * 100.0).round() / 100.0 - 0.000_002,
        "generationtime_ms": 0.046_491_622_924_804_69,
        "utc_offset_seconds": UTC_OFFSET_HOURS * 3600,
        "timezone": "Europe/Berlin",
        "timezone_abbreviation": "GMT+1",
        "elevation": 38.0,
        "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C"},
        "current": {"time": "2026-01-05T14:30", "interval": 900, "temperature_2m": OPEN_METEO_CURRENT_C},
        "hourly_units": {"time": "iso8601", "temperature_2m": "°C"},
        "hourly": {"time": times, "temperature_2m": temps}
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Services and settings

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T13:30:00Z").unwrap().to_utc()
}

pub fn manual_clock() -> (Arc<ManualClock>, SharedClock) {
    let clock = Arc::new(ManualClock::new(t0()));
    let shared: SharedClock = clock.clone();
    (clock, shared)
}

/// Settings for the WeatherAPI provider against `base_url`, site "Berlin".
pub fn weatherapi_settings(base_url: &str) -> WeatherSettings {
    WeatherSettings {
        weather_provider: Some(ProviderKind::WeatherApi),
        weatherapi_key: Some(ApiKey::new(KEY)),
        weatherapi_base_url: base_url.to_string(),
        weather_location: Some("Berlin".into()),
        weather_timeout_secs: 5,
        ..WeatherSettings::default()
    }
}

pub fn weatherapi_service(base_url: &str) -> WeatherService {
    let (_, clock) = manual_clock();
    weatherapi_settings(base_url).build(clock, SyntheticWeather::default()).unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// Logs

/// Everything logged on this thread while the guard lives, at every level.
///
/// One global subscriber (installed once per test binary) writes each event to the buffer of the thread that logged
/// it, if that thread is capturing. A scoped subscriber per test (`set_default`) lost events now and then: tracing
/// caches each call site's interest globally, and a call site first hit on another test's thread, which had no
/// subscriber, could be cached as uninteresting.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<LogBuffer>> = const { std::cell::RefCell::new(None) };
}

/// Stops capturing on this thread when dropped.
pub struct CaptureGuard(());

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURING.with(|c| *c.borrow_mut() = None);
    }
}

impl LogBuffer {
    pub fn capture() -> (Self, CaptureGuard) {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(ThreadWriter)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in these tests");
        });
        let buffer = Self::default();
        CAPTURING.with(|c| *c.borrow_mut() = Some(buffer.clone()));
        (buffer, CaptureGuard(()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Writes to the capturing buffer of the current thread, or nowhere.
pub struct LogWriter(Option<Arc<Mutex<Vec<u8>>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(buffer) = &self.0 {
            buffer.lock().unwrap().extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct ThreadWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ThreadWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter(CAPTURING.with(|c| c.borrow().as_ref().map(|b| b.0.clone())))
    }
}

/// Fails if `text` holds the key, the base URL, or the fake's `host:port`. (Only for text of this crate: hyper's
/// own TRACE lines name the host it connects to.)
pub fn assert_no_secrets(text: &str, base_url: &str) {
    let authority = base_url.trim_start_matches("http://");
    assert!(!text.contains(KEY), "the API key leaked into: {text}");
    assert!(!text.contains(base_url), "the base URL leaked into: {text}");
    assert!(!text.contains(authority), "the upstream host leaked into: {text}");
}
