//! The control strategies a zone can be given (its `control_strategy` preference, or the server's default).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a zone's target is decided. Written in JSON (and on the command line) as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlStrategy {
    /// 21 °C always (a plain thermostat).
    Constant,
    /// The domain rule on the measured occupancy ([`crate::control::decide`]).
    Reactive,
    /// `occupied_temp` while the expected occupancy schedule is active, else `unoccupied_temp`.
    Scheduled,
    /// A 24 h price-aware plan (model-predictive control).
    Predictive,
}

impl ControlStrategy {
    pub const ALL: [Self; 4] = [Self::Constant, Self::Reactive, Self::Scheduled, Self::Predictive];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Constant => "constant",
            Self::Reactive => "reactive",
            Self::Scheduled => "scheduled",
            Self::Predictive => "predictive",
        }
    }
}

impl fmt::Display for ControlStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown strategy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown control strategy {0:?} (expected constant, reactive, scheduled or predictive)")]
pub struct UnknownStrategy(pub String);

impl FromStr for ControlStrategy {
    type Err = UnknownStrategy;
    /// The strategy named `s`, ignoring case and surrounding blanks.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownStrategy(s.into()))
    }
}
