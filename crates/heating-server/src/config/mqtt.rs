//! The MQTT bridge's settings (off unless `MQTT_URL` is set).

/// MQTT settings (flattened into [`super::Config`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MqttSettings {}
