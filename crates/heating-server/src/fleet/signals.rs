//! Operator signals: a zone's health changes are logged once per change, not once per cycle.
//!
//! Every request outcome updates the zone's [`Health`] (in [`ZoneRuntime::record_health`], called by the poller
//! and by [`super::dispatch`]); this module decides whether the change is worth a line:
//!
//! - `offline` (two transport failures in a row, or none answered yet) → WARN `zone offline`, with the error;
//! - `degraded` because the device answered but refused or answered nonsense → WARN `zone degraded`, with the error;
//! - `online` after a logged `offline`/`degraded` → INFO `zone back online`;
//! - the first contact (`online` from nothing) and a single transport failure (which becomes `offline` at the next
//!   failure or clears at the next success) → DEBUG only, so an outage of any length is one WARN and one INFO.
//!
//! What was last logged is kept in [`Live::signalled`], so repeated failures while offline, or a zone in
//! reconnection backoff, log nothing more.

use zone_client::{Health, HealthState, ZoneError};

use super::{Live, ZoneRuntime};

/// A line to log about a zone's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// First contact: DEBUG.
    FirstContact,
    /// One transport failure, not yet offline: DEBUG.
    Blip,
    /// WARN.
    Offline,
    /// WARN.
    Degraded,
    /// INFO.
    BackOnline,
}

/// The signal for a health update, and the state now counted as logged. `signalled` is the state last logged
/// (`None` before the first); `device_answered` whether the failure (if any) was an answer of the device.
#[must_use]
pub fn transition(
    signalled: Option<HealthState>,
    new: &Health,
    device_answered: bool,
) -> (Option<Signal>, Option<HealthState>) {
    let was = signalled.unwrap_or(HealthState::Unknown);
    match new.state {
        HealthState::Unknown => (None, signalled),
        HealthState::Online => match was {
            HealthState::Online => (None, signalled),
            HealthState::Unknown => (Some(Signal::FirstContact), Some(HealthState::Online)),
            HealthState::Degraded | HealthState::Offline => (Some(Signal::BackOnline), Some(HealthState::Online)),
        },
        HealthState::Offline => match was {
            HealthState::Offline => (None, signalled),
            _ => (Some(Signal::Offline), Some(HealthState::Offline)),
        },
        HealthState::Degraded if !device_answered => {
            // One transport failure: the next attempt decides (offline, or back to what was logged).
            if was == HealthState::Offline { (None, signalled) } else { (Some(Signal::Blip), signalled) }
        }
        HealthState::Degraded => match was {
            HealthState::Degraded => (None, signalled),
            _ => (Some(Signal::Degraded), Some(HealthState::Degraded)),
        },
    }
}

impl ZoneRuntime {
    /// Stores the link's health after a request whose outcome was `error` (`None` on success) and logs the change
    /// if it is one (see the module doc). Called with the live state locked.
    pub fn record_health(&self, live: &mut Live, health: Health, error: Option<&ZoneError>) {
        if matches!(error, Some(ZoneError::BackingOff(..))) {
            // Nothing was tried: the record stands.
            live.health = Some(health);
            return;
        }
        let answered = error.is_some_and(ZoneError::device_answered);
        let (signal, signalled) = transition(live.signalled, &health, answered);
        live.signalled = signalled;
        if let Some(signal) = signal {
            self.log(signal, &health);
        }
        live.health = Some(health);
    }

    fn log(&self, signal: Signal, health: &Health) {
        let zone_id = self.id;
        let zone = self.name();
        let endpoint = self.endpoint();
        let error = health.last_error.as_deref().unwrap_or("-");
        let failures = health.consecutive_failures;
        match signal {
            Signal::FirstContact => tracing::debug!(zone_id, %zone, %endpoint, "zone online"),
            Signal::Blip => tracing::debug!(zone_id, %zone, %endpoint, "zone request failed once: {error}"),
            Signal::Offline => tracing::warn!(zone_id, %zone, %endpoint, failures, "zone offline: {error}"),
            Signal::Degraded => tracing::warn!(zone_id, %zone, %endpoint, "zone degraded: {error}"),
            Signal::BackOnline => tracing::info!(zone_id, %zone, %endpoint, "zone back online"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(state: HealthState) -> Health {
        Health { state, last_seen: None, last_error: None, consecutive_failures: 0, retry_in_s: None }
    }

    /// Runs a sequence of (state, device answered) updates, returning the signals logged.
    fn run(steps: &[(HealthState, bool)]) -> Vec<Signal> {
        let mut signalled = None;
        let mut out = Vec::new();
        for (state, answered) in steps {
            let (signal, next) = transition(signalled, &health(*state), *answered);
            signalled = next;
            out.extend(signal);
        }
        out
    }

    use HealthState::{Degraded, Offline, Online};

    #[test]
    fn an_outage_of_many_cycles_is_one_warning_and_one_recovery() {
        let mut steps = vec![(Online, false), (Online, false), (Degraded, false)];
        steps.extend(std::iter::repeat_n((Offline, false), 50));
        steps.extend([(Online, false), (Online, false)]);
        assert_eq!(run(&steps), [Signal::FirstContact, Signal::Blip, Signal::Offline, Signal::BackOnline]);
    }

    #[test]
    fn a_single_transport_failure_is_not_a_warning() {
        let signals = run(&[(Online, false), (Degraded, false), (Online, false)]);
        assert_eq!(signals, [Signal::FirstContact, Signal::Blip]);
    }

    #[test]
    fn a_refusing_device_is_degraded_once_and_recovers_once() {
        let signals = run(&[(Online, false), (Degraded, true), (Degraded, true), (Degraded, true), (Online, false)]);
        assert_eq!(signals, [Signal::FirstContact, Signal::Degraded, Signal::BackOnline]);
    }

    #[test]
    fn a_zone_never_reached_is_one_warning() {
        let signals = run(&[(Degraded, false), (Offline, false), (Offline, false), (Offline, false)]);
        assert_eq!(signals, [Signal::Blip, Signal::Offline]);
    }

    #[test]
    fn offline_then_refusing_then_online() {
        let signals = run(&[
            (Online, false),
            (Degraded, false),
            (Offline, false),
            (Degraded, false),
            (Degraded, true),
            (Online, false),
        ]);
        assert_eq!(
            signals,
            [Signal::FirstContact, Signal::Blip, Signal::Offline, Signal::Degraded, Signal::BackOnline]
        );
    }
}
