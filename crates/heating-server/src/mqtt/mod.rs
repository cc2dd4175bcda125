//! The MQTT bridge (an adapter beside HTTP, on when `MQTT_URL` is set): publishes each zone's state, the
//! availability of the bridge and of each zone, and Home Assistant discovery configs (every zone a `climate`
//! entity with sensors), and takes targets and modes from the broker through the manual-control service as the
//! operator `mqtt`. See [`topics`] for the topics and payloads, [`commands`] for what a command does, [`alerts`]
//! for the open alerts (retained) and alert events it publishes.
//!
//! One task owns the connection: it polls rumqttc's event loop, and every poll interval reads the status service
//! and publishes what changed since it last published (retained). It never waits on the poller or the devices:
//! commands run in a worker task of their own, one at a time, in the order they came. A lost connection is
//! retried with a capped exponential backoff; after every (re)connection everything is published again, so a
//! broker that restarted without its retained messages gets them back (the open alerts too). Zones that are gone
//! (deleted, or no longer with a device) get their retained messages cleared, also those a previous run left
//! behind.

pub mod alerts;
pub mod commands;
pub mod topics;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, Incoming, LastWill, MqttOptions, QoS, TlsConfiguration, Transport};
use tokio::sync::{Notify, broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use self::commands::Command;
use self::topics::{OFFLINE, ONLINE, Topics};
use crate::config::MqttSettings;
use crate::services::AppState;

/// First wait after a failed connection; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_INITIAL: Duration = Duration::from_millis(500);
/// Longest wait between two connection attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Requests queued for the connection at most; a publish that finds the queue full is retried next cycle.
const QUEUE: usize = 4096;
/// Commands waiting for the worker at most; more are refused (logged).
const COMMAND_QUEUE: usize = 64;
/// How often a due resync of the retained alert topics is looked for.
const ALERT_RESYNC_CHECK: Duration = Duration::from_secs(1);

/// The connection options `settings` describe: the broker, credentials, TLS, the last will. Fails with a message
/// (never holding the password) when the TLS roots cannot be loaded.
pub fn options(settings: &MqttSettings) -> Result<MqttOptions, String> {
    let url = settings.url.as_ref().ok_or("MQTT_URL is not set")?;
    let mut options = MqttOptions::new(settings.client_id.clone(), url.host.clone(), url.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(256 * 1024, 256 * 1024);
    let topics = Topics::new(&settings.topic_prefix, &settings.discovery_prefix);
    options.set_last_will(LastWill::new(topics.status(), OFFLINE, QoS::AtLeastOnce, true));
    if let Some(user) = &settings.username {
        options.set_credentials(user.clone(), settings.password.clone().unwrap_or_default());
    }
    if url.tls {
        let tls = match &settings.ca_file {
            Some(path) => ca_file_roots(path)?,
            None => system_roots()?,
        };
        options.set_transport(Transport::tls_with_config(tls));
    }
    Ok(options)
}

/// TLS trusting the certificates of a PEM file (read and checked now, so a bad file stops the start).
fn ca_file_roots(path: &std::path::Path) -> Result<TlsConfiguration, String> {
    use rumqttc::tokio_rustls::rustls::pki_types::CertificateDer;
    use rumqttc::tokio_rustls::rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(path).map_err(|e| format!("MQTT_CA_FILE {}: cannot be read: {e}", path.display()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok).collect();
    let mut roots = rumqttc::tokio_rustls::rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("MQTT_CA_FILE {}: holds no usable PEM certificate", path.display()));
    }
    Ok(with_roots(roots))
}

fn with_roots(roots: rumqttc::tokio_rustls::rustls::RootCertStore) -> TlsConfiguration {
    use rumqttc::tokio_rustls::rustls::ClientConfig;
    TlsConfiguration::Rustls(Arc::new(ClientConfig::builder().with_root_certificates(roots).with_no_client_auth()))
}

/// TLS trusting the system's root certificates.
fn system_roots() -> Result<TlsConfiguration, String> {
    use rumqttc::tokio_rustls::rustls::RootCertStore;
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found.errors.first().map(|e| format!(": {e}")).unwrap_or_default();
        return Err(format!("no system root certificates for mqtts:// (set MQTT_CA_FILE){why}"));
    }
    Ok(with_roots(roots))
}

/// The bridge's loop, until `stop`: then it publishes `offline` and disconnects. For [`crate::app`]'s supervisor.
pub async fn run_bridge(state: AppState, stop: CancellationToken) {
    let settings = &state.config.mqtt;
    let Some(url) = settings.url.clone() else { return };
    let options = match options(settings) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("MQTT bridge not started: {e}");
            return;
        }
    };
    let topics = Topics::new(&settings.topic_prefix, &settings.discovery_prefix);
    let (client, eventloop) = AsyncClient::new(options, QUEUE);
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
    let changed = Arc::new(Notify::new());
    let worker = tokio::spawn(commands::run_worker(state.clone(), commands_rx, changed.clone()));
    tracing::info!(broker = %url, prefix = %settings.topic_prefix, "MQTT bridge started");
    // Subscribed before connecting: no alert event is missed from here on.
    let alert_events = crate::services::alerts::subscribe(&state);
    let mut bridge = Bridge {
        state: state.clone(),
        client,
        topics,
        published: BTreeMap::new(),
        alerts: alerts::AlertTopics::default(),
        connected: false,
        commands_tx,
    };
    bridge.run(eventloop, alert_events, &stop, &changed).await;
    worker.abort();
    tracing::info!("MQTT bridge stopped");
}

struct Bridge {
    state: AppState,
    client: AsyncClient,
    topics: Topics,
    /// Every retained topic this bridge owns and the payload it last queued there; a topic a previous run left
    /// behind is added by [`Bridge::seen_config`] with its payload, so the next sync clears it.
    published: BTreeMap<String, String>,
    /// The retained alert topics ([`alerts`]).
    alerts: alerts::AlertTopics,
    connected: bool,
    commands_tx: mpsc::Sender<Command>,
}

impl Bridge {
    async fn run(
        &mut self,
        eventloop: EventLoop,
        mut alert_events: broadcast::Receiver<crate::alerts::Announced>,
        stop: &CancellationToken,
        changed: &Notify,
    ) {
        let (events_tx, mut events) = mpsc::channel(256);
        let closing = CancellationToken::new();
        let mut driver = tokio::spawn(drive(eventloop, events_tx, closing.clone()));
        let mut tick = tokio::time::interval(self.state.config.poll_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut alerts_open = true;
        // A retained alert topic found on the broker is checked within a second, once for all found together.
        let mut alerts_tick = tokio::time::interval(ALERT_RESYNC_CHECK);
        alerts_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                event = events.recv() => match event {
                    Some(Link::Connected) => {
                        self.connected = true;
                        self.on_connected().await;
                    }
                    Some(Link::Message { topic, payload, retained }) => self.on_message(&topic, &payload, retained),
                    Some(Link::Lost) => self.connected = false,
                    None => break,
                },
                _ = tick.tick() => self.sync().await,
                _ = alerts_tick.tick(), if self.alerts.resync => self.resync_alerts().await,
                () = changed.notified() => self.sync().await,
                received = alert_events.recv(), if alerts_open => {
                    alerts_open = !matches!(received, Err(broadcast::error::RecvError::Closed));
                    self.on_alert(received);
                }
            }
        }
        // Says `offline` (retained) and disconnects; the driver sends both and ends, within two seconds.
        closing.cancel();
        if self.connected {
            let _ = self.client.try_publish(self.topics.status(), QoS::AtLeastOnce, true, OFFLINE);
            let _ = self.client.try_disconnect();
            drop(events);
            if tokio::time::timeout(Duration::from_secs(2), &mut driver).await.is_err() {
                tracing::warn!("MQTT broker did not take the disconnect within 2 s");
            }
        }
        driver.abort();
    }

    /// After every (re)connection: subscribe, say `online`, and publish everything again.
    async fn on_connected(&mut self) {
        for filter in self.topics.subscriptions(crate::services::control::shared_by_instances(&self.state)) {
            if let Err(e) = self.client.try_subscribe(filter, QoS::AtLeastOnce) {
                tracing::warn!("MQTT subscription not queued: {e}");
            }
        }
        self.published.clear();
        self.sync().await;
        self.alerts.reset();
        self.resync_alerts().await;
    }

    /// Publishes what changed: the bridge's `online`, and per zone with a device its state, availability and
    /// discovery configs; clears the retained messages of zones no longer bridged.
    async fn sync(&mut self) {
        if !self.connected {
            return;
        }
        let status = match crate::services::status::status(&self.state).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("MQTT bridge: no status to publish: {e}");
                return;
            }
        };
        let mut desired: BTreeMap<String, String> = BTreeMap::new();
        desired.insert(self.topics.status(), ONLINE.to_string());
        for z in status.zones.iter().filter(|z| z.endpoint.is_some()) {
            desired.extend(topics::zone_messages(&self.topics, z));
        }
        let gone: Vec<String> = self.published.keys().filter(|t| !desired.contains_key(*t)).cloned().collect();
        for topic in gone {
            if self.publish(&topic, String::new()) {
                tracing::info!(%topic, "MQTT: retained message of a zone no longer bridged cleared");
                self.published.remove(&topic);
            }
        }
        for (topic, payload) in desired {
            if self.published.get(&topic) != Some(&payload) && self.publish(&topic, payload.clone()) {
                self.published.insert(topic, payload);
            }
        }
    }

    /// Queues a retained publish; false when the queue is full (tried again next cycle).
    fn publish(&self, topic: &str, payload: String) -> bool {
        match self.client.try_publish(topic, QoS::AtLeastOnce, true, payload) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(%topic, "MQTT publish not queued, retried next cycle: {e}");
                false
            }
        }
    }

    fn on_message(&mut self, topic: &str, payload: &[u8], retained: bool) {
        if topic == self.topics.ha_status() {
            if payload == ONLINE.as_bytes() {
                tracing::info!("Home Assistant is online: publishing the discovery configs again");
                self.published.clear();
            }
            return;
        }
        if let Some(zone) = self.topics.discovery_zone(topic) {
            self.seen_config(topic, zone, payload);
            return;
        }
        if self.topics.alert_of(topic).is_some() {
            self.seen_alert(topic, payload, retained);
            return;
        }
        match self.topics.command(topic) {
            Ok(Some((zone, kind))) => {
                if retained {
                    // A command left retained would be applied again at every connection.
                    tracing::warn!(%topic, "MQTT command refused: retained commands are not applied");
                    return;
                }
                let command = Command { zone, kind, payload: payload.to_vec() };
                if self.commands_tx.try_send(command).is_err() {
                    tracing::warn!(%topic, "MQTT command refused: too many commands waiting");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("MQTT command refused: {e}"),
        }
    }

    /// A retained discovery config under this bridge's node: if its zone is not bridged now, it (and the zone's
    /// state and availability) is cleared at the next sync.
    fn seen_config(&mut self, topic: &str, zone: i64, payload: &[u8]) {
        if payload.is_empty() || self.published.contains_key(topic) {
            return;
        }
        let payload = String::from_utf8_lossy(payload).into_owned();
        for t in [self.topics.state(zone), self.topics.availability(zone)] {
            self.published.entry(t).or_default();
        }
        self.published.insert(topic.to_string(), payload);
    }
}

/// What the connection's driver reports to the bridge.
#[derive(Debug)]
enum Link {
    Connected,
    Message { topic: String, payload: Vec<u8>, retained: bool },
    Lost,
}

/// Polls rumqttc's event loop (which connects, reconnects and sends what the client queued), reporting
/// connections and messages; after a failure waits a capped exponential backoff. After `closing`, it no longer
/// waits between attempts and ends once the disconnect is sent (or the connection fails).
async fn drive(mut eventloop: EventLoop, events: mpsc::Sender<Link>, closing: CancellationToken) {
    let mut backoff = BACKOFF_INITIAL;
    let mut failures = 0u32;
    loop {
        let report = match eventloop.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(ack))) => {
                if failures > 0 {
                    tracing::info!(attempts = failures + 1, "MQTT broker connection back");
                } else {
                    tracing::info!(session_present = ack.session_present, "connected to the MQTT broker");
                }
                failures = 0;
                backoff = BACKOFF_INITIAL;
                Some(Link::Connected)
            }
            Ok(Event::Incoming(Incoming::Publish(p))) => {
                Some(Link::Message { topic: p.topic, payload: p.payload.to_vec(), retained: p.retain })
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) if closing.is_cancelled() => return,
            Ok(_) => None,
            Err(e) => {
                if closing.is_cancelled() {
                    return;
                }
                failures += 1;
                if failures == 1 {
                    tracing::warn!("MQTT broker connection lost or refused, retrying with backoff: {e}");
                } else {
                    tracing::debug!(failures, "MQTT broker still unreachable: {e}");
                }
                let _ = events.send(Link::Lost).await;
                tokio::select! {
                    () = closing.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                None
            }
        };
        if let Some(report) = report
            && events.send(report).await.is_err()
            && !closing.is_cancelled()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls_settings(ca_file: Option<&str>) -> MqttSettings {
        MqttSettings {
            url: Some("mqtts://broker.example".parse().unwrap()),
            username: Some("ha".into()),
            password: Some("hunter2".into()),
            ca_file: ca_file.map(Into::into),
            ..MqttSettings::default()
        }
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error_without_the_password() {
        let err = options(&tls_settings(Some("/nonexistent/ca.pem"))).unwrap_err();
        assert!(err.contains("MQTT_CA_FILE /nonexistent/ca.pem: cannot be read"), "{err}");
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn plain_and_tls_options() {
        let plain = MqttSettings { url: Some("mqtt://127.0.0.1:1884".parse().unwrap()), ..MqttSettings::default() };
        let o = options(&plain).unwrap();
        assert_eq!(o.broker_address(), ("127.0.0.1".to_string(), 1884));
        assert_eq!(o.last_will().unwrap().topic, "heating/status");
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let err = options(&tls_settings(ca.to_str())).unwrap_err();
        assert!(err.contains("holds no usable PEM certificate"), "{err}");
        // A bundle of real certificates, when the machine has one (Debian's ca-certificates).
        let bundle = "/etc/ssl/certs/ca-certificates.crt";
        if std::path::Path::new(bundle).exists() {
            assert!(options(&tls_settings(Some(bundle))).is_ok());
        }
        assert!(!format!("{:?}", tls_settings(None)).contains("hunter2"));
    }
}
