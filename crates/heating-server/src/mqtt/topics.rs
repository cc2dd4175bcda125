//! The bridge's topics and what it publishes on them: zone states, availability and Home Assistant discovery
//! configs, as pure functions of the status (tested without a broker).
//!
//! With the topic prefix `P` (`MQTT_TOPIC_PREFIX`), discovery prefix `D` and node `N` (the prefix with characters
//! outside `[A-Za-z0-9_-]` replaced by `_`):
//!
//! | topic | retained | payload |
//! |---|---|---|
//! | `P/status` | yes | `online` / `offline` (the last will) |
//! | `P/zone/{id}/availability` | yes | `offline` while the zone's device is offline, else `online` |
//! | `P/zone/{id}/state` | yes | [`state_json`]: one message per new reading or change |
//! | `P/zone/{id}/target/set` | — | command: a target in °C, e.g. `21.5` |
//! | `P/zone/{id}/mode/set` | — | command: `heat` or `off` (both command topics: a shared subscription
//! `$share/heating-N/…` when several instances share the database, so each command reaches one of them) |
//! | `D/climate/N/zone_{id}/config` | yes | the zone's `climate` entity |
//! | `D/sensor/N/zone_{id}_{energy,outdoor,health}/config` | yes | its sensors |
//! | `D/binary_sensor/N/zone_{id}_occupancy/config` | yes | its occupancy |
//! | `P/alerts/{zone_id}/{kind}` | yes | an open alert: the webhook body of its latest event; emptied when it clears |
//! | `P/alerts/events` | no | every alert event (raised, acknowledged, cleared): the webhook body |

use serde_json::{Value, json};
use zone_client::HealthState;

use crate::services::alerts::AlertKind;
use crate::services::status::ZoneStatus;

/// Mode `heat`: automatic control (or a manual hold). Mode `off`: a hold at the zone's `min_temp` (frost
/// protection), for [`OFF_HOLD_MINUTES`].
pub const MODE_HEAT: &str = "heat";
pub const MODE_OFF: &str = "off";
/// How long `off` holds the zone at its `min_temp`: the longest hold there is (a week), until `heat` ends it.
pub const OFF_HOLD_MINUTES: i64 = crate::services::control::MAX_HOLD_MINUTES;

pub const ONLINE: &str = "online";
pub const OFFLINE: &str = "offline";

/// A command from the broker, by its topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    Target,
    Mode,
}

/// The topic names of one bridge.
#[derive(Debug, Clone)]
pub struct Topics {
    prefix: String,
    discovery: String,
    node: String,
}

/// Discovery components and object-id suffixes, one per entity of a zone.
const ENTITIES: &[(&str, &str)] = &[
    ("climate", ""),
    ("sensor", "_energy"),
    ("sensor", "_outdoor"),
    ("sensor", "_health"),
    ("binary_sensor", "_occupancy"),
];

impl Topics {
    #[must_use]
    pub fn new(prefix: &str, discovery: &str) -> Self {
        let node = prefix.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        Self { prefix: prefix.to_string(), discovery: discovery.to_string(), node }
    }

    /// The bridge's availability (and last will).
    #[must_use]
    pub fn status(&self) -> String {
        format!("{}/status", self.prefix)
    }

    #[must_use]
    pub fn state(&self, zone: i64) -> String {
        format!("{}/zone/{zone}/state", self.prefix)
    }

    #[must_use]
    pub fn availability(&self, zone: i64) -> String {
        format!("{}/zone/{zone}/availability", self.prefix)
    }

    #[must_use]
    pub fn target_set(&self, zone: i64) -> String {
        format!("{}/zone/{zone}/target/set", self.prefix)
    }

    #[must_use]
    pub fn mode_set(&self, zone: i64) -> String {
        format!("{}/zone/{zone}/mode/set", self.prefix)
    }

    /// An alert's retained topic: its zone's alert of one kind.
    #[must_use]
    pub fn alert(&self, zone: i64, kind: AlertKind) -> String {
        format!("{}/alerts/{zone}/{}", self.prefix, kind.as_str())
    }

    /// The (not retained) topic of every alert event.
    #[must_use]
    pub fn alert_events(&self) -> String {
        format!("{}/alerts/events", self.prefix)
    }

    /// The zone and kind of one of this bridge's alert topics.
    #[must_use]
    pub fn alert_of(&self, topic: &str) -> Option<(i64, AlertKind)> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix("/alerts/")?;
        let (zone, kind) = rest.split_once('/')?;
        let zone = zone.parse::<i64>().ok().filter(|z| *z > 0)?;
        Some((zone, kind.parse().ok()?))
    }

    /// What the bridge subscribes to: the commands, its retained discovery configs (to clear those of zones that
    /// are gone), its retained alert topics (to clear those of alerts no longer open) and Home Assistant's birth
    /// message (to publish the configs again when it restarts).
    ///
    /// `shared` (several instances on one database): the commands as an MQTT shared subscription
    /// (`$share/heating-N/…`), so the broker hands each command to one instance only, which applies it through the
    /// control service (forwarded to the zone's holder when that is another instance).
    #[must_use]
    pub fn subscriptions(&self, shared: bool) -> Vec<String> {
        let share = if shared { format!("$share/heating-{}/", self.node) } else { String::new() };
        vec![
            format!("{share}{}/zone/+/target/set", self.prefix),
            format!("{share}{}/zone/+/mode/set", self.prefix),
            format!("{}/+/{}/+/config", self.discovery, self.node),
            format!("{}/alerts/+/+", self.prefix),
            self.ha_status(),
        ]
    }

    /// Home Assistant's own availability (`online` when it starts).
    #[must_use]
    pub fn ha_status(&self) -> String {
        format!("{}/status", self.discovery)
    }

    /// The discovery config topics of a zone.
    #[must_use]
    pub fn discovery(&self, zone: i64) -> Vec<String> {
        ENTITIES.iter().map(|(component, suffix)| self.config_topic(component, zone, suffix)).collect()
    }

    fn config_topic(&self, component: &str, zone: i64, suffix: &str) -> String {
        format!("{}/{component}/{}/zone_{zone}{suffix}/config", self.discovery, self.node)
    }

    /// `Some((zone, kind))` for a command topic; `Err` naming the topic for one under the command pattern whose
    /// zone id is not a number; `Ok(None)` for any other topic.
    pub fn command(&self, topic: &str) -> Result<Option<(i64, CommandKind)>, String> {
        let Some(rest) = topic.strip_prefix(&self.prefix).and_then(|r| r.strip_prefix("/zone/")) else {
            return Ok(None);
        };
        let (zone, kind) = if let Some(z) = rest.strip_suffix("/target/set") {
            (z, CommandKind::Target)
        } else if let Some(z) = rest.strip_suffix("/mode/set") {
            (z, CommandKind::Mode)
        } else {
            return Ok(None);
        };
        match zone.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Some((id, kind))),
            _ => Err(format!("no zone {zone:?} in command topic {topic:?}")),
        }
    }

    /// The zone of one of this bridge's discovery config topics.
    #[must_use]
    pub fn discovery_zone(&self, topic: &str) -> Option<i64> {
        let rest = topic.strip_prefix(&self.discovery)?.strip_prefix('/')?;
        let (_component, rest) = rest.split_once('/')?;
        let object = rest.strip_prefix(&self.node)?.strip_prefix('/')?.strip_suffix("/config")?;
        let id = object.strip_prefix("zone_")?;
        let digits = id.split_once('_').map_or(id, |(d, _)| d);
        digits.parse().ok()
    }
}

/// The zone's mode: `off` while a hold keeps it at its `min_temp`, else `heat`.
#[must_use]
pub fn mode(z: &ZoneStatus) -> &'static str {
    match &z.live.hold {
        Some(h) if (h.hold.target.celsius() - z.zone.preferences.min_temp).abs() < 0.05 => MODE_OFF,
        _ => MODE_HEAT,
    }
}

fn health(z: &ZoneStatus) -> HealthState {
    z.live.health.as_ref().map_or(HealthState::Unknown, |h| h.state)
}

/// The zone's state message: the newest reading (`null`s before the first), health, mode and hold. A new reading
/// changes `reading_at`, so every reading is published once.
#[must_use]
pub fn state_json(z: &ZoneStatus) -> Value {
    let r = z.live.reading.as_ref();
    let hold = z.live.hold.as_ref().map(|h| {
        json!({"target_temp": h.hold.target.celsius(), "until": h.hold.until.map(crate::time::rfc3339),
               "source": h.source.as_str()})
    });
    json!({
        "name": z.zone.name,
        "air_temp": r.map(|r| r.snapshot.air_temperature),
        "target_temp": r.map(|r| r.snapshot.target.celsius()),
        "outdoor_temp": r.map(|r| r.snapshot.outdoor_temperature),
        "heater_on": r.map(|r| r.snapshot.heater_on),
        "occupied": r.map(|r| r.snapshot.occupied),
        "energy_kwh": r.map(|r| f64::from(r.snapshot.energy_wh) / 1000.0),
        "reading_at": r.map(|r| crate::time::rfc3339(r.at)),
        "health": health(z),
        "mode": mode(z),
        "hold": hold,
    })
}

/// `offline` while the zone's device is offline, else `online`.
#[must_use]
pub fn zone_availability(z: &ZoneStatus) -> &'static str {
    if health(z) == HealthState::Offline { OFFLINE } else { ONLINE }
}

/// Every retained message of one zone: state, availability and the discovery configs, as (topic, payload).
#[must_use]
pub fn zone_messages(t: &Topics, z: &ZoneStatus) -> Vec<(String, String)> {
    let id = z.zone.id;
    let mut out = vec![(t.state(id), state_json(z).to_string()), (t.availability(id), zone_availability(z).into())];
    out.extend(t.discovery(id).into_iter().zip(discovery_configs(t, z)).map(|(topic, v)| (topic, v.to_string())));
    out
}

/// The discovery configs of a zone, in the order of [`Topics::discovery`].
#[must_use]
pub fn discovery_configs(t: &Topics, z: &ZoneStatus) -> Vec<Value> {
    let id = z.zone.id;
    let p = &z.zone.preferences;
    let state = t.state(id);
    let uid = |suffix: &str| format!("{}_zone_{id}{suffix}", t.node);
    let device = json!({
        "identifiers": [uid("")],
        "name": z.zone.name,
        "manufacturer": "heating",
        "model": "heating zone (Modbus TCP)",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    let origin = json!({"name": "heating-server", "sw_version": env!("CARGO_PKG_VERSION")});
    let bridge_only = json!([{"topic": t.status()}]);
    let with_zone = json!([{"topic": t.status()}, {"topic": t.availability(id)}]);
    let climate = json!({
        "name": null,
        "unique_id": uid(""),
        "device": device,
        "origin": origin,
        "availability": with_zone,
        "availability_mode": "all",
        "modes": [MODE_HEAT, MODE_OFF],
        "mode_state_topic": state,
        "mode_state_template": "{{ value_json.mode }}",
        "mode_command_topic": t.mode_set(id),
        "current_temperature_topic": state,
        "current_temperature_template": "{{ value_json.air_temp }}",
        "temperature_state_topic": state,
        "temperature_state_template": "{{ value_json.target_temp }}",
        "temperature_command_topic": t.target_set(id),
        "action_topic": state,
        "action_template":
            "{{ 'heating' if value_json.heater_on else ('off' if value_json.mode == 'off' else 'idle') }}",
        "min_temp": p.min_temp,
        "max_temp": p.max_temp,
        "temp_step": 0.5,
        "precision": 0.1,
        "temperature_unit": "C",
        "qos": 1,
    });
    let sensor = |suffix: &str, name: &str, extra: Value, availability: &Value| {
        let mut v = json!({
            "name": name,
            "unique_id": uid(suffix),
            "device": {"identifiers": [uid("")]},
            "origin": origin,
            "availability": availability,
            "availability_mode": "all",
            "state_topic": state,
        });
        if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
        v
    };
    vec![
        climate,
        sensor(
            "_energy",
            "Energy",
            json!({"device_class": "energy", "state_class": "total_increasing", "unit_of_measurement": "kWh",
                   "value_template": "{{ value_json.energy_kwh }}", "suggested_display_precision": 2}),
            &with_zone,
        ),
        sensor(
            "_outdoor",
            "Outdoor temperature",
            json!({"device_class": "temperature", "state_class": "measurement", "unit_of_measurement": "°C",
                   "value_template": "{{ value_json.outdoor_temp }}"}),
            &with_zone,
        ),
        // The health stays visible while the device is offline: only the bridge's availability applies.
        sensor(
            "_health",
            "Connection",
            json!({"device_class": "enum", "options": ["unknown", "online", "degraded", "offline"],
                   "entity_category": "diagnostic", "value_template": "{{ value_json.health }}"}),
            &bridge_only,
        ),
        sensor(
            "_occupancy",
            "Occupancy",
            json!({"device_class": "occupancy",
                   "value_template": "{{ 'ON' if value_json.occupied else 'OFF' }}"}),
            &with_zone,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_topics_are_recognised() {
        let t = Topics::new("site/a", "homeassistant");
        assert_eq!(t.command("site/a/zone/3/target/set"), Ok(Some((3, CommandKind::Target))));
        assert_eq!(t.command("site/a/zone/12/mode/set"), Ok(Some((12, CommandKind::Mode))));
        assert_eq!(t.command("site/a/zone/3/state"), Ok(None));
        assert_eq!(t.command("site/b/zone/3/target/set"), Ok(None));
        assert!(t.command("site/a/zone/x/target/set").is_err());
        assert!(t.command("site/a/zone/-1/mode/set").is_err());
    }

    #[test]
    fn discovery_topics_name_their_zone() {
        let t = Topics::new("site/a", "homeassistant");
        let topics = t.discovery(7);
        assert_eq!(topics[0], "homeassistant/climate/site_a/zone_7/config");
        assert_eq!(topics[1], "homeassistant/sensor/site_a/zone_7_energy/config");
        for topic in &topics {
            assert_eq!(t.discovery_zone(topic), Some(7), "{topic}");
        }
        assert_eq!(t.discovery_zone("homeassistant/climate/other/zone_7/config"), None);
        assert_eq!(t.discovery_zone("homeassistant/climate/site_a/thing/config"), None);
        assert!(t.subscriptions(false).contains(&"homeassistant/+/site_a/+/config".to_string()));
        assert!(t.subscriptions(false).contains(&"site/a/zone/+/target/set".to_string()));
        let shared = t.subscriptions(true);
        assert!(shared.contains(&"$share/heating-site_a/site/a/zone/+/target/set".to_string()), "{shared:?}");
        assert!(shared.contains(&"$share/heating-site_a/site/a/zone/+/mode/set".to_string()), "{shared:?}");
        assert!(shared.contains(&"homeassistant/status".to_string()), "{shared:?}");
    }

    #[test]
    fn alert_topics_name_their_zone_and_kind() {
        let t = Topics::new("site/a", "homeassistant");
        assert_eq!(t.alert(4, AlertKind::Offline), "site/a/alerts/4/offline");
        assert_eq!(t.alert_of("site/a/alerts/4/offline"), Some((4, AlertKind::Offline)));
        assert_eq!(t.alert_of(&t.alert(12, AlertKind::ModelFit)), Some((12, AlertKind::ModelFit)));
        assert_eq!(t.alert_events(), "site/a/alerts/events");
        for other in [
            "site/a/alerts/events",
            "site/a/alerts/x/offline",
            "site/a/alerts/4/nonsense",
            "site/b/alerts/4/offline",
            "site/a/alerts/0/offline",
            "site/a/alerts/4/offline/x",
        ] {
            assert_eq!(t.alert_of(other), None, "{other}");
        }
        assert!(t.subscriptions(false).contains(&"site/a/alerts/+/+".to_string()));
        assert_eq!(t.command("site/a/alerts/4/offline"), Ok(None));
    }
}
