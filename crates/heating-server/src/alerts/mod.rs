//! Alerts: the rules ([`rules`], pure, with hysteresis), the open alerts in memory (what `/status` counts without
//! asking the database), and the webhook that tells a receiver of each raise, acknowledgement and clear
//! ([`webhook`]); every such event is also broadcast in the process ([`AlertState::subscribe`]) for the MQTT
//! bridge, which publishes it (`crate::mqtt::alerts`). The alert job (`crate::jobs::alerts`) feeds the rules after each poll cycle and stores what they
//! raise and clear; acknowledging is an operator's service (`crate::services::alerts`).

pub mod rules;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::config::{AlertThresholds, WebhookSettings};
use crate::storage::{AlertId, AlertKind, StoredAlert};
pub use rules::{Observation, Rules, SeenFit, SeenReading, Transition};
pub use webhook::{Event, Webhook, WebhookWorker};

/// Open alerts by state, for `/status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertSummary {
    /// Open and not acknowledged.
    pub active: usize,
    /// Open and acknowledged.
    pub acknowledged: usize,
    /// Open alerts per kind.
    pub by_kind: BTreeMap<AlertKind, usize>,
    /// The newest open alert's raise time.
    pub newest: Option<DateTime<Utc>>,
    /// Open alerts per zone; zones without one are absent (the compact status's `alerts` column).
    pub per_zone: BTreeMap<crate::storage::ZoneId, usize>,
}

impl AlertSummary {
    /// The summary of these open alerts.
    pub fn of<'a>(open: impl IntoIterator<Item = &'a StoredAlert>) -> Self {
        let mut s = Self::default();
        for a in open {
            if a.acknowledged.is_some() {
                s.acknowledged += 1;
            } else {
                s.active += 1;
            }
            *s.by_kind.entry(a.kind).or_default() += 1;
            *s.per_zone.entry(a.zone_id).or_default() += 1;
            s.newest = s.newest.max(Some(a.raised_at));
        }
        s
    }
}

/// Events the broadcast channel holds for a slow listener; one that falls further behind misses events and is
/// told so (`RecvError::Lagged`), it never holds up the alert job.
pub const BROADCAST: usize = 1024;

/// One event of one alert as it happened: what the webhook is sent and the MQTT bridge publishes.
#[derive(Debug, Clone, PartialEq)]
pub struct Announced {
    pub event: Event,
    /// The alert after the event.
    pub alert: StoredAlert,
    pub zone_name: Option<String>,
    /// When it happened (server clock).
    pub at: DateTime<Utc>,
}

impl Announced {
    /// The webhook's body for this event.
    #[must_use]
    pub fn body(&self) -> serde_json::Value {
        webhook::body(self.event, &self.alert, self.zone_name.as_deref(), self.at)
    }
}

/// The event that brought an open alert to its current state and when: `acknowledged` at its acknowledgement, else
/// `raised` at its raise (a cleared alert: `cleared` at its clear). With the zone's name, [`Announced::body`] of
/// this is the body last sent for the alert.
#[must_use]
pub fn latest_event(alert: &StoredAlert) -> (Event, DateTime<Utc>) {
    match (&alert.acknowledged, alert.cleared_at) {
        (_, Some(at)) => (Event::Cleared, at),
        (Some((at, _)), None) => (Event::Acknowledged, *at),
        (None, None) => (Event::Raised, alert.raised_at),
    }
}

/// The alert side of the application state (in `AppState.alerts`).
#[derive(Debug)]
pub struct AlertState {
    rules: Mutex<Rules>,
    /// Every open alert (active or acknowledged), as stored.
    open: Mutex<BTreeMap<AlertId, StoredAlert>>,
    pub webhook: Webhook,
    /// Every event, for listeners in the process (the MQTT bridge).
    events: broadcast::Sender<Announced>,
}

impl AlertState {
    /// The rules with `thresholds`, the alerts open in storage, and the webhook's sending side (its worker, to run
    /// under the application's supervision, when one is configured).
    #[must_use]
    pub fn new(
        thresholds: AlertThresholds,
        webhook: Option<WebhookSettings>,
        open: Vec<StoredAlert>,
    ) -> (Self, Option<WebhookWorker>) {
        let mut rules = Rules::new(thresholds);
        for a in &open {
            rules.mark_open(a.zone_id, a.kind);
        }
        let (webhook, worker) = Webhook::new(webhook);
        let (events, _) = broadcast::channel(BROADCAST);
        let state = Self {
            rules: Mutex::new(rules),
            open: Mutex::new(open.into_iter().map(|a| (a.id, a)).collect()),
            webhook,
            events,
        };
        (state, worker)
    }

    /// An event of a stored alert: kept in memory ([`Self::record`]), queued for the webhook and broadcast to the
    /// listeners; never waits.
    pub fn announce(&self, event: Event, alert: &StoredAlert, zone_name: Option<&str>, at: DateTime<Utc>) {
        self.record(alert);
        self.webhook.send(event, alert, zone_name, at);
        // An error only means that no one listens now.
        let _ =
            self.events.send(Announced { event, alert: alert.clone(), zone_name: zone_name.map(str::to_string), at });
    }

    /// Every event announced from now on (a listener that falls [`BROADCAST`] events behind misses some and is
    /// told how many).
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Announced> {
        self.events.subscribe()
    }

    /// The rules, locked briefly (never across an await).
    pub fn rules(&self) -> MutexGuard<'_, Rules> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open_map(&self) -> MutexGuard<'_, BTreeMap<AlertId, StoredAlert>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a stored alert's new state: kept while open, dropped once cleared.
    pub fn record(&self, alert: &StoredAlert) {
        let mut open = self.open_map();
        if alert.cleared_at.is_some() {
            open.remove(&alert.id);
        } else {
            open.insert(alert.id, alert.clone());
        }
    }

    /// The open alert of a zone and kind.
    #[must_use]
    pub fn open_of(&self, zone_id: crate::storage::ZoneId, kind: AlertKind) -> Option<StoredAlert> {
        self.open_map().values().find(|a| a.zone_id == zone_id && a.kind == kind).cloned()
    }

    /// Every open alert, by id.
    #[must_use]
    pub fn open(&self) -> Vec<StoredAlert> {
        self.open_map().values().cloned().collect()
    }

    #[must_use]
    pub fn summary(&self) -> AlertSummary {
        AlertSummary::of(self.open_map().values())
    }
}
