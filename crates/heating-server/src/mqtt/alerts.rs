//! Alerts over MQTT: the bridge's side of the alert events ([`crate::alerts::AlertState::subscribe`]).
//!
//! - `P/alerts/{zone_id}/{kind}`, retained: each open alert, its payload the webhook body of the alert's latest
//!   event (`raised`, then `acknowledged`), republished at each event; emptied (a retained empty message, which
//!   deletes it at the broker) when the alert clears. A subscriber joining at any time sees exactly the open
//!   alerts.
//! - `P/alerts/events`, not retained: every event once, as it happens, with the webhook body.
//!
//! Events come from a broadcast channel: the alert job and the API never wait on the bridge, and a bridge that
//! falls behind misses events (a WARN; the events topic loses them) and resyncs its retained topics from storage.
//! After every (re)connection the retained topics are resynced too (a broker that lost its retained messages gets
//! them back), and a retained alert topic found on the broker whose alert is no longer open (left by a run that
//! stopped before the clear) is emptied.
//!
//! Several instances: each event is published by the instance where it happened (the zone's holder raises and
//! clears; any instance may take an acknowledgement); a resync publishes the open alerts of the zones this instance
//! holds, and empties only topics of zones it holds or that are gone.

use std::collections::{BTreeMap, BTreeSet};

use rumqttc::QoS;
use tokio::sync::broadcast::error::RecvError;

use super::Bridge;
use crate::alerts::{Announced, Event, latest_event};
use crate::services::alerts::StoredAlert;

/// The retained payload for the alert after an event: the event's webhook body; empty once the alert cleared.
#[must_use]
pub fn retained_payload(a: &Announced) -> String {
    if a.event == Event::Cleared { String::new() } else { a.body().to_string() }
}

/// The retained payload of an open alert as stored: that of its latest event, the same bytes as published then
/// (with the zone's name as now).
#[must_use]
pub fn stored_payload(alert: StoredAlert, zone_name: Option<String>) -> String {
    let (event, at) = latest_event(&alert);
    retained_payload(&Announced { event, alert, zone_name, at })
}

/// What the bridge knows of the retained alert topics.
#[derive(Debug, Default)]
pub(super) struct AlertTopics {
    /// Topics this bridge published an open alert on since it (re)connected, with the payload.
    published: BTreeMap<String, String>,
    /// Retained topics found on the broker with a payload this bridge did not publish (a previous run's, another
    /// instance's): checked against storage at the next resync.
    found: BTreeSet<String>,
    /// A resync against the open alerts in storage is due.
    pub(super) resync: bool,
}

impl AlertTopics {
    /// After a (re)connection: nothing is known to be at the broker; resync.
    pub(super) fn reset(&mut self) {
        self.published.clear();
        self.found.clear();
        self.resync = true;
    }
}

impl Bridge {
    /// One event from the alert channel (or word that some were missed).
    pub(super) fn on_alert(&mut self, received: Result<Announced, RecvError>) {
        let a = match received {
            Ok(a) => a,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "MQTT bridge fell behind the alert events: {missed} not published on the \
                    events topic; the retained alert topics are resynced from storage"
                );
                self.alerts.resync = true;
                return;
            }
            Err(RecvError::Closed) => return,
        };
        if !self.connected {
            // Published from storage once connected.
            self.alerts.resync = true;
            return;
        }
        let (zone, kind) = (a.alert.zone_id, a.alert.kind);
        if let Err(e) =
            self.client.try_publish(self.topics.alert_events(), QoS::AtLeastOnce, false, a.body().to_string())
        {
            tracing::warn!(zone_id = zone, kind = %kind, event = a.event.as_str(), "MQTT alert event not published: {e}");
        }
        let topic = self.topics.alert(zone, kind);
        let payload = retained_payload(&a);
        if self.publish(&topic, payload.clone()) {
            if payload.is_empty() {
                self.alerts.published.remove(&topic);
            } else {
                self.alerts.published.insert(topic, payload);
            }
        } else {
            self.alerts.resync = true;
        }
    }

    /// A message on an alert topic: a retained one this bridge did not publish is checked at the next resync.
    pub(super) fn seen_alert(&mut self, topic: &str, payload: &[u8], retained: bool) {
        if !retained || payload.is_empty() || self.alerts.published.get(topic).is_some_and(|p| p.as_bytes() == payload)
        {
            return;
        }
        self.alerts.found.insert(topic.to_string());
        self.alerts.resync = true;
    }

    /// Publishes the open alerts (of the zones held here) from storage where the broker may lack them, and empties
    /// the alert topics known here whose alert is no longer open. On a storage error it is tried again next tick.
    pub(super) async fn resync_alerts(&mut self) {
        if !self.connected {
            return;
        }
        let open = match crate::services::alerts::open_to_publish(&self.state).await {
            Ok(open) => open,
            Err(e) => {
                tracing::warn!("MQTT bridge: open alerts not read, retried next cycle: {e}");
                return;
            }
        };
        self.alerts.resync = false;
        let open_topics: BTreeSet<String> =
            open.open.iter().map(|(zone, kind)| self.topics.alert(*zone, *kind)).collect();
        let desired: BTreeMap<String, String> = open
            .held
            .into_iter()
            .map(|(a, zone_name)| (self.topics.alert(a.zone_id, a.kind), stored_payload(a, zone_name)))
            .collect();
        let known: BTreeSet<String> = self.alerts.published.keys().chain(self.alerts.found.iter()).cloned().collect();
        let mut failed = BTreeSet::new();
        for topic in known.into_iter().filter(|t| !desired.contains_key(t)) {
            self.alerts.published.remove(&topic);
            let Some((zone, _)) = self.topics.alert_of(&topic) else { continue };
            // Open but held elsewhere, or a zone another instance holds: that instance's to publish or empty.
            if open_topics.contains(&topic) || !crate::services::alerts::published_here(&self.state, zone) {
                continue;
            }
            if self.publish(&topic, String::new()) {
                tracing::info!(%topic, "MQTT: retained message of an alert no longer open emptied");
            } else {
                failed.insert(topic);
            }
        }
        for (topic, payload) in desired {
            if self.alerts.published.get(&topic) == Some(&payload) {
                continue;
            }
            if self.publish(&topic, payload.clone()) {
                self.alerts.published.insert(topic, payload);
            } else {
                failed.insert(topic);
            }
        }
        self.alerts.resync = !failed.is_empty();
        self.alerts.found = failed;
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::services::alerts::AlertKind;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn alert() -> StoredAlert {
        StoredAlert {
            id: 7,
            zone_id: 3,
            kind: AlertKind::Offline,
            message: "device not answering".into(),
            raised_at: at("2026-01-05T03:04:00Z"),
            acknowledged: None,
            cleared_at: None,
        }
    }

    /// The retained payload rebuilt from storage is byte for byte the one published at the alert's latest event.
    #[test]
    fn stored_payloads_match_the_event_payloads() {
        let mut a = alert();
        let raised =
            Announced { event: Event::Raised, alert: a.clone(), zone_name: Some("Hall".into()), at: a.raised_at };
        assert_eq!(stored_payload(a.clone(), Some("Hall".into())), retained_payload(&raised));
        let body: serde_json::Value = serde_json::from_str(&retained_payload(&raised)).unwrap();
        assert_eq!((body["event"].as_str(), body["alert"]["state"].as_str()), (Some("raised"), Some("active")));
        assert_eq!(body["alert"]["zone_name"], "Hall");

        let acked_at = at("2026-01-05T03:10:00Z");
        a.acknowledged = Some((acked_at, "ops".into()));
        let acked =
            Announced { event: Event::Acknowledged, alert: a.clone(), zone_name: Some("Hall".into()), at: acked_at };
        assert_eq!(stored_payload(a.clone(), Some("Hall".into())), retained_payload(&acked));
        let body: serde_json::Value = serde_json::from_str(&retained_payload(&acked)).unwrap();
        assert_eq!(
            (body["event"].as_str(), body["at"].as_str()),
            (Some("acknowledged"), Some("2026-01-05T03:10:00.000Z"))
        );
        assert_eq!(body["alert"]["acknowledged_by"], "ops");

        a.cleared_at = Some(at("2026-01-05T04:00:00Z"));
        let cleared = Announced { event: Event::Cleared, alert: a, zone_name: None, at: at("2026-01-05T04:00:00Z") };
        assert_eq!(retained_payload(&cleared), "", "a cleared alert empties its topic");
        assert_eq!(cleared.body()["event"], "cleared", "the events topic still gets the body");
    }
}
