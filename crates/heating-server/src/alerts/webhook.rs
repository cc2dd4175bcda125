//! The alert webhook: each raise, acknowledgement and clear is POSTed as JSON to `ALERT_WEBHOOK_URL`, one event at
//! a time in the order they happened, by a worker of its own. Whoever has an event only queues it
//! ([`Webhook::send`] never waits: a full queue drops the event with a WARN), so the poller and the API never wait
//! on the receiver.
//!
//! A delivery that fails (no answer within `ALERT_WEBHOOK_TIMEOUT_MS`, a connection error, 408, 429 or a 5xx) is
//! retried up to `ALERT_WEBHOOK_RETRIES` times after `ALERT_WEBHOOK_BACKOFF_MS`, doubled each time (at most 60 s);
//! any other answer that is not a 2xx gives up at once. Each attempt of one event carries the same
//! `X-Alert-Event-Id` (`<alert id>-<event>`), so a receiver can drop a repeat. Logs name the receiver by scheme and
//! host only (a webhook URL's path or query often holds its secret).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{WebhookSettings, shown_url};
use crate::storage::StoredAlert;
use crate::time::rfc3339;

/// Events waiting for delivery at most; more are dropped (with a WARN).
pub const QUEUE: usize = 10_000;

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Raised,
    Acknowledged,
    Cleared,
}

impl Event {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raised => "raised",
            Self::Acknowledged => "acknowledged",
            Self::Cleared => "cleared",
        }
    }
}

/// The body POSTed for an event (the format README documents).
#[must_use]
pub fn body(event: Event, alert: &StoredAlert, zone_name: Option<&str>, at: DateTime<Utc>) -> Value {
    json!({
        "event": event.as_str(),
        "at": rfc3339(at),
        "alert": {
            "id": alert.id,
            "zone_id": alert.zone_id,
            "zone_name": zone_name,
            "kind": alert.kind.as_str(),
            "state": alert.state(),
            "message": alert.message,
            "raised_at": rfc3339(alert.raised_at),
            "acknowledged_at": alert.acknowledged.as_ref().map(|(t, _)| rfc3339(*t)),
            "acknowledged_by": alert.acknowledged.as_ref().map(|(_, by)| by.clone()),
            "cleared_at": alert.cleared_at.map(rfc3339),
        }
    })
}

#[derive(Debug)]
struct Queued {
    id: String,
    body: Value,
}

/// The sending side: queues events for the worker (nothing without `ALERT_WEBHOOK_URL`).
#[derive(Debug, Clone)]
pub struct Webhook {
    tx: Option<mpsc::Sender<Queued>>,
}

/// The delivering side, run by the application ([`run_webhook`]).
#[derive(Debug, Clone)]
pub struct WebhookWorker {
    settings: WebhookSettings,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Queued>>>,
}

impl Webhook {
    #[must_use]
    pub fn new(settings: Option<WebhookSettings>) -> (Self, Option<WebhookWorker>) {
        match settings {
            None => (Self { tx: None }, None),
            Some(settings) => {
                let (tx, rx) = mpsc::channel(QUEUE);
                (Self { tx: Some(tx) }, Some(WebhookWorker { settings, rx: Arc::new(tokio::sync::Mutex::new(rx)) }))
            }
        }
    }

    #[must_use]
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues an event for delivery; never waits.
    pub fn send(&self, event: Event, alert: &StoredAlert, zone_name: Option<&str>, at: DateTime<Utc>) {
        let Some(tx) = &self.tx else { return };
        let queued = Queued { id: format!("{}-{}", alert.id, event.as_str()), body: body(event, alert, zone_name, at) };
        if let Err(e) = tx.try_send(queued) {
            tracing::warn!(alert_id = alert.id, event = event.as_str(), "alert webhook event dropped: {e}");
        }
    }
}

/// How one attempt went.
enum Attempt {
    Delivered,
    /// Worth another try (the words for the log).
    Retry(String),
    /// The receiver refused it; trying again would not help.
    GiveUp(String),
}

async fn attempt(client: &reqwest::Client, s: &WebhookSettings, q: &Queued) -> Attempt {
    let sent = client
        .post(s.url.clone())
        .header("X-Alert-Event-Id", q.id.as_str())
        .timeout(s.timeout)
        .json(&q.body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Attempt::Delivered,
        Ok(r) => {
            let status = r.status();
            if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
                Attempt::Retry(format!("answered {status}"))
            } else {
                Attempt::GiveUp(format!("answered {status}"))
            }
        }
        // Without the URL: its path or query may hold the receiver's secret.
        Err(e) => Attempt::Retry(e.without_url().to_string()),
    }
}

/// Delivers one event with retries; whether it was delivered.
async fn deliver(client: &reqwest::Client, s: &WebhookSettings, q: &Queued, stop: &CancellationToken) -> bool {
    let receiver = shown_url(s.url.as_str());
    let mut backoff = s.backoff;
    for n in 0..=s.retries {
        match attempt(client, s, q).await {
            Attempt::Delivered => {
                tracing::debug!(event_id = %q.id, %receiver, attempts = n + 1, "alert webhook delivered");
                return true;
            }
            Attempt::GiveUp(why) => {
                tracing::warn!(event_id = %q.id, %receiver, "alert webhook refused, not retried: {why}");
                return false;
            }
            Attempt::Retry(why) if n < s.retries => {
                tracing::info!(event_id = %q.id, %receiver, attempt = n + 1, retry_in = ?backoff,
                    "alert webhook failed, retrying: {why}");
                tokio::select! {
                    () = stop.cancelled() => return false,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Attempt::Retry(why) => {
                tracing::warn!(event_id = %q.id, %receiver, attempts = n + 1, "alert webhook given up: {why}");
            }
        }
    }
    false
}

/// Delivers queued events one at a time until `stop`.
pub async fn run_webhook(worker: WebhookWorker, stop: CancellationToken) {
    let client = match reqwest::Client::builder().connect_timeout(worker.settings.timeout).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("alert webhook disabled: cannot build its HTTP client: {e}");
            return;
        }
    };
    let mut rx = worker.rx.lock().await;
    loop {
        let next = tokio::select! {
            () = stop.cancelled() => return,
            next = rx.recv() => next,
        };
        let Some(q) = next else { return };
        deliver(&client, &worker.settings, &q, &stop).await;
    }
}
