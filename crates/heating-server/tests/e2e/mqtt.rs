//! The MQTT bridge against real Mosquitto brokers: the machine's (`TEST_MQTT_URL`, default
//! `mqtt://127.0.0.1:1883`; `scripts/test` starts or installs it) for discovery, states and commands, each test
//! under a topic prefix of its own; and a private `mosquitto` process on a free port for the broker restart, so the
//! shared broker is never restarted.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use heating_server::config::{MqttSettings, MqttUrl};
use reqwest::StatusCode;
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use serde_json::Value;

use crate::helpers::{Env, LogCapture, Options, start};

/// A topic prefix no other test or run uses.
pub(crate) fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("test-{}-{nanos}-{test}", std::process::id())
}

pub(crate) fn shared_broker() -> MqttUrl {
    let url = std::env::var("TEST_MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let url: MqttUrl = url.parse().unwrap();
    if std::net::TcpStream::connect_timeout(
        &format!("{}:{}", url.host, url.port).parse().unwrap(),
        Duration::from_secs(2),
    )
    .is_err()
    {
        panic!(
            "no MQTT broker at {url}: install and start Mosquitto (`sudo apt-get install -y mosquitto && sudo \
             service mosquitto start`; scripts/test does both) or set TEST_MQTT_URL"
        );
    }
    url
}

pub(crate) fn settings(url: MqttUrl, prefix: &str) -> MqttSettings {
    MqttSettings {
        url: Some(url),
        client_id: format!("{prefix}-server"),
        topic_prefix: prefix.to_string(),
        ..MqttSettings::default()
    }
}

/// One message as a watcher received it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub topic: String,
    pub payload: String,
    pub at: DateTime<Utc>,
    /// Sent as a retained message (one the broker kept, delivered at subscription).
    pub retained: bool,
}

/// A client of the broker recording every message under the bridge's topics (subscribing again after each
/// reconnection), and publishing commands.
pub(crate) struct Watcher {
    client: AsyncClient,
    seen: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    pub async fn start(url: &MqttUrl, prefix: &str) -> Self {
        Self::start_as(url, prefix, "watcher").await
    }

    /// As [`Self::start`], with a client id of its own (`{prefix}-{name}`): a second client with the same id would
    /// take the first one's session.
    pub async fn start_as(url: &MqttUrl, prefix: &str, name: &str) -> Self {
        let node: String =
            prefix.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let mut options = MqttOptions::new(format!("{prefix}-{name}"), url.host.clone(), url.port);
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let filters = [format!("{prefix}/#"), format!("homeassistant/+/{node}/+/config")];
        let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
        let mut subscribed_tx = Some(subscribed_tx);
        let task = {
            let (client, seen) = (client.clone(), seen.clone());
            tokio::spawn(async move {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                            for f in &filters {
                                client.subscribe(f.clone(), QoS::AtLeastOnce).await.unwrap();
                            }
                        }
                        Ok(Event::Incoming(Incoming::SubAck(_))) => {
                            if let Some(tx) = subscribed_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(Event::Incoming(Incoming::Publish(p))) => seen.lock().unwrap().push(Received {
                            topic: p.topic,
                            payload: String::from_utf8_lossy(&p.payload).into_owned(),
                            at: Utc::now(),
                            retained: p.retain,
                        }),
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            })
        };
        tokio::time::timeout(Duration::from_secs(10), subscribed).await.unwrap().unwrap();
        Self { client, seen, task }
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Messages from index `from` on.
    pub fn since(&self, from: usize) -> Vec<Received> {
        self.seen.lock().unwrap()[from..].to_vec()
    }

    /// The last payload on `topic` from index `from` on, waiting up to `within` for one that `check` accepts.
    pub async fn wait(&self, from: usize, topic: &str, within: Duration, check: impl Fn(&str) -> bool) -> Received {
        let started = tokio::time::Instant::now();
        loop {
            if let Some(r) = self.since(from).into_iter().rev().find(|r| r.topic == topic && check(&r.payload)) {
                return r;
            }
            let last = self.since(from).into_iter().rev().find(|r| r.topic == topic);
            assert!(started.elapsed() < within, "nothing fitting on {topic} within {within:?}; last: {last:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn publish(&self, topic: &str, payload: &str) {
        self.client.publish(topic, QoS::AtLeastOnce, false, payload.to_string()).await.unwrap();
    }

    pub async fn publish_retained(&self, topic: &str, payload: &str) {
        self.client.publish(topic, QoS::AtLeastOnce, true, payload.to_string()).await.unwrap();
    }

    /// Stops, leaving the retained messages as they are.
    pub fn stop(self) {
        self.task.abort();
    }

    /// Clears every retained message seen (the shared broker keeps them across runs), then stops.
    pub async fn clean_up(self) {
        let mut topics: Vec<String> = self.since(0).into_iter().map(|r| r.topic).collect();
        topics.sort();
        topics.dedup();
        for topic in topics {
            self.client.publish(topic, QoS::AtLeastOnce, true, Vec::new()).await.unwrap();
        }
        // The event loop sends them; wait until they are out.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.task.abort();
    }
}

pub(crate) fn json(r: &Received) -> Value {
    serde_json::from_str(&r.payload).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", r.topic, r.payload))
}

fn climate_topic(prefix: &str, id: i64) -> String {
    format!("homeassistant/climate/{prefix}/zone_{id}/config")
}

#[tokio::test]
async fn discovery_and_states_appear_for_every_zone_and_follow_readings() {
    let url = shared_broker();
    let prefix = unique_prefix("discovery");
    let watcher = Watcher::start(&url, &prefix).await;
    let opts = Options { mqtt: settings(url, &prefix), ..Options::live() };
    let interval = Duration::from_secs_f64(opts.poll_interval_secs);
    let env = start(opts).await;

    watcher.wait(0, &format!("{prefix}/status"), Duration::from_secs(10), |p| p == "online").await;
    for (i, &id) in env.zone_ids.iter().enumerate() {
        let name = env.sim.zones()[i].name.clone();
        let climate =
            json(&watcher.wait(0, &climate_topic(&prefix, id), Duration::from_secs(10), |p| p.contains(&name)).await);
        assert_eq!(climate["unique_id"], format!("{prefix}_zone_{id}"));
        assert_eq!(climate["device"]["name"], name);
        assert_eq!(climate["modes"], serde_json::json!(["heat", "off"]));
        assert_eq!(climate["temperature_command_topic"], format!("{prefix}/zone/{id}/target/set"));
        assert_eq!(climate["mode_command_topic"], format!("{prefix}/zone/{id}/mode/set"));
        assert_eq!(climate["current_temperature_topic"], format!("{prefix}/zone/{id}/state"));
        assert_eq!((climate["min_temp"].as_f64(), climate["max_temp"].as_f64()), (Some(10.0), Some(28.0)));
        for sensor in ["energy", "outdoor", "health"] {
            let topic = format!("homeassistant/sensor/{prefix}/zone_{id}_{sensor}/config");
            let config = json(&watcher.wait(0, &topic, Duration::from_secs(5), |p| !p.is_empty()).await);
            assert_eq!(config["unique_id"], format!("{prefix}_zone_{id}_{sensor}"));
            assert_eq!(config["state_topic"], format!("{prefix}/zone/{id}/state"));
            if sensor == "energy" {
                assert_eq!(
                    (config["device_class"].as_str(), config["state_class"].as_str()),
                    (Some("energy"), Some("total_increasing"))
                );
                assert_eq!(config["unit_of_measurement"], "kWh");
            }
        }
    }

    // Every reading is published within one poll interval (plus the trip through the broker).
    let state_topic = format!("{prefix}/zone/{}/state", env.zone_ids[0]);
    let from = watcher.count();
    let mut readings = Vec::new();
    while readings.len() < 5 {
        let last = readings.last().cloned();
        let r = watcher
            .wait(from, &state_topic, interval * 4, |p| {
                serde_json::from_str::<Value>(p)
                    .is_ok_and(|v| v["reading_at"].is_string() && Some(&v["reading_at"]) != last.as_ref())
            })
            .await;
        readings.push(json(&r)["reading_at"].clone());
    }
    let states: Vec<Received> = watcher.since(from).into_iter().filter(|r| r.topic == state_topic).collect();
    for r in &states {
        let v = json(r);
        let reading_at = DateTime::parse_from_rfc3339(v["reading_at"].as_str().unwrap()).unwrap().to_utc();
        let delay = (r.at - reading_at).to_std().unwrap_or_default();
        assert!(delay <= interval + Duration::from_millis(700), "state {delay:?} after its reading: {v}");
        assert_eq!(v["health"], "online");
        assert_eq!(v["mode"], "heat");
        assert!(v["air_temp"].is_number() && v["energy_kwh"].is_number() && v["outdoor_temp"].is_number(), "{v}");
    }
    let status = env.zone_status(0).await;
    let v = json(states.last().unwrap());
    assert_eq!(v["target_temp"].as_f64(), status["reading"]["target_temp"].as_f64());

    // A deleted zone's configs are cleared (empty retained payloads).
    let gone = env.zone_ids[4];
    let from = watcher.count();
    let (s, body) = env.delete(&format!("/zones/{gone}?cascade=true")).await;
    assert!(s.is_success(), "{s}: {body}");
    watcher.wait(from, &climate_topic(&prefix, gone), Duration::from_secs(5), str::is_empty).await;
    let topic = format!("homeassistant/sensor/{prefix}/zone_{gone}_energy/config");
    watcher.wait(from, &topic, Duration::from_secs(5), str::is_empty).await;
    watcher.wait(from, &format!("{prefix}/zone/{gone}/state"), Duration::from_secs(5), str::is_empty).await;

    // Shutting down says offline (retained).
    let from = watcher.count();
    env.shutdown().await;
    watcher.wait(from, &format!("{prefix}/status"), Duration::from_secs(5), |p| p == "offline").await;
    watcher.clean_up().await;
}

#[tokio::test]
async fn commands_go_through_manual_control_and_invalid_ones_write_nothing() {
    let (logs, _guard) = LogCapture::start();
    let url = shared_broker();
    let prefix = unique_prefix("commands");
    let watcher = Watcher::start(&url, &prefix).await;
    let env = start(Options { mqtt: settings(url, &prefix), ..Options::live() }).await;
    let id = env.zone_ids[1];
    let target_topic = format!("{prefix}/zone/{id}/target/set");
    let mode_topic = format!("{prefix}/zone/{id}/mode/set");
    let state_topic = format!("{prefix}/zone/{id}/state");
    watcher
        .wait(0, &format!("{prefix}/zone/{id}/state"), Duration::from_secs(10), |p| p.contains("reading_at\":\""))
        .await;

    // A target: written to the device, confirmed, by `mqtt`, and held.
    watcher.publish(&target_topic, "23.5").await;
    let within = Duration::from_secs(5);
    env.wait_for(1, within, |z| z["reading"]["target_temp"].as_f64() == Some(23.5)).await;
    assert_eq!(env.device_target(1), 23.5);
    let commands = env.commands(1).await;
    assert_eq!(commands[0]["target_temp"].as_f64(), Some(23.5));
    assert_eq!((commands[0]["status"].as_str(), commands[0]["actor"].as_str()), (Some("confirmed"), Some("mqtt")));
    assert_eq!(commands[0]["source"], "manual");
    let state = watcher.wait(0, &state_topic, within, |p| p.contains("\"target_temp\":23.5")).await;
    assert_eq!(json(&state)["hold"]["target_temp"].as_f64(), Some(23.5));
    let (s, audit) = env.get("/audit").await;
    assert_eq!(s, StatusCode::OK);
    assert!(audit.to_string().contains("\"mqtt\""), "the hold is audited as mqtt's: {audit}");

    // Invalid ones: refused and logged, nothing written. A valid command after them shows they were handled.
    let before = env.commands(1).await.len();
    for (topic, payload) in [
        (target_topic.as_str(), "warm"),
        (target_topic.as_str(), "99"),
        (target_topic.as_str(), "29"),
        (target_topic.as_str(), ""),
        (mode_topic.as_str(), "cool"),
    ] {
        watcher.publish(topic, payload).await;
    }
    watcher.publish(&format!("{prefix}/zone/999999/target/set"), "21").await;
    watcher.publish(&format!("{prefix}/zone/abc/target/set"), "21").await;
    assert_eq!(env.device_target(1), 23.5);
    watcher.publish(&target_topic, "22").await;
    env.wait_for(1, within, |z| z["reading"]["target_temp"].as_f64() == Some(22.0)).await;
    let commands = env.commands(1).await;
    assert_eq!(commands.len(), before + 1, "only the valid command was written: {commands:#?}");
    assert_eq!(commands[0]["target_temp"].as_f64(), Some(22.0));
    let lines = logs.lines();
    let refused: Vec<&String> = lines.iter().filter(|l| l.contains("MQTT command refused")).collect();
    assert!(refused.iter().all(|l| l.contains(" WARN ")), "{refused:#?}");
    for why in [
        "\"warm\" is not a temperature",
        "outside the allowed range",
        "outside this zone's limits",
        "\"\" is not a temperature",
        "mode \"cool\" is not one of heat, off",
        "Zone not found",
        "no zone \"abc\"",
    ] {
        assert!(refused.iter().any(|l| l.contains(why)), "no refusal saying {why:?}: {refused:#?}");
    }

    // Mode off: held at min_temp; heat: the hold ends.
    watcher.publish(&mode_topic, "off").await;
    env.wait_for(1, within, |z| z["reading"]["target_temp"].as_f64() == Some(10.0)).await;
    watcher.wait(0, &state_topic, within, |p| p.contains("\"mode\":\"off\"")).await;
    let commands = env.commands(1).await;
    assert_eq!((commands[0]["actor"].as_str(), commands[0]["status"].as_str()), (Some("mqtt"), Some("confirmed")));
    watcher.publish(&mode_topic, "heat").await;
    let from = watcher.count();
    watcher
        .wait(from, &state_topic, within, |p| {
            serde_json::from_str::<Value>(p).is_ok_and(|v| v["mode"] == "heat" && v["hold"].is_null())
        })
        .await;
    assert!(env.zone_status(1).await["hold"].is_null());

    env.shutdown().await;
    watcher.clean_up().await;
}

/// A private Mosquitto on a free loopback port, for tests that stop it.
pub(crate) struct PrivateBroker {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

fn mosquitto_binary() -> String {
    for candidate in ["mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"] {
        if Command::new(candidate).arg("-h").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok() {
            return candidate.to_string();
        }
    }
    panic!("the broker restart test needs the `mosquitto` binary: install it with `sudo apt-get install -y mosquitto`");
}

impl PrivateBroker {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let config = format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n");
        std::fs::write(dir.path().join("mosquitto.conf"), config).unwrap();
        let mut broker = Self { child: None, port, dir };
        broker.run().await;
        broker
    }

    pub fn url(&self) -> MqttUrl {
        format!("mqtt://127.0.0.1:{}", self.port).parse().unwrap()
    }

    pub async fn run(&mut self) {
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = std::time::Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "mosquitto did not listen on port {}", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn the_bridge_reconnects_after_a_broker_restart_and_publishes_again() {
    let mut broker = PrivateBroker::start().await;
    let prefix = unique_prefix("restart");
    let watcher = Watcher::start(&broker.url(), &prefix).await;
    let env: Env = start(Options { mqtt: settings(broker.url(), &prefix), ..Options::live() }).await;
    let status = format!("{prefix}/status");
    watcher.wait(0, &status, Duration::from_secs(10), |p| p == "online").await;
    for &id in &env.zone_ids {
        watcher.wait(0, &climate_topic(&prefix, id), Duration::from_secs(10), |p| !p.is_empty()).await;
    }

    // The broker restarts without its retained messages (no persistence): the bridge connects again and publishes
    // its availability, the discovery configs and the states again.
    broker.kill();
    let from = watcher.count();
    broker.run().await;
    watcher.wait(from, &status, Duration::from_secs(15), |p| p == "online").await;
    for &id in &env.zone_ids {
        watcher.wait(from, &climate_topic(&prefix, id), Duration::from_secs(5), |p| !p.is_empty()).await;
        watcher.wait(from, &format!("{prefix}/zone/{id}/state"), Duration::from_secs(5), |p| !p.is_empty()).await;
    }
    // A client that connects now gets them retained.
    let late = Watcher::start_as(&broker.url(), &prefix, "late").await;
    late.wait(0, &status, Duration::from_secs(5), |p| p == "online").await;
    late.wait(0, &climate_topic(&prefix, env.zone_ids[0]), Duration::from_secs(5), |p| !p.is_empty()).await;

    // And it still takes commands.
    watcher.publish(&format!("{prefix}/zone/{}/target/set", env.zone_ids[2]), "24").await;
    env.wait_for(2, Duration::from_secs(5), |z| z["reading"]["target_temp"].as_f64() == Some(24.0)).await;
    env.shutdown().await;
}
