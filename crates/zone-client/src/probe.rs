//! Commissioning: read every point of a profile once and show each decoded value next to its raw registers, so an
//! installer sees at once whether a profile fits a device.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use device_profile::{Block, DataType, PointKind, Profile, Raw, Table};

use crate::device::raw_of;
use crate::{Endpoint, LinkConfig, ZoneError, ZoneLink};

/// What one probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    pub profile: String,
    /// Each request of the read plan and its answer (the raw block) or why it failed (an exception: the device
    /// lacks these addresses).
    pub blocks: Vec<(Block, Result<Raw, String>)>,
    /// Every point of the profile, in [`PointKind::ALL`] order.
    pub points: Vec<PointProbe>,
}

/// One point: where the profile says it is, what the device holds there, and the value or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct PointProbe {
    pub point: PointKind,
    pub table: Table,
    pub address: u16,
    pub data_type: DataType,
    /// The point's registers, when its block was answered.
    pub raw: Option<Raw>,
    /// The decoded, plausible value (flags as 0/1), or the error: the block's exception, or why the value cannot be
    /// true.
    pub value: Result<f64, String>,
}

impl ProbeReport {
    /// Whether every point decoded to a plausible value.
    #[must_use]
    pub fn fits(&self) -> bool {
        self.points.iter().all(|p| p.value.is_ok())
    }
}

impl ZoneLink {
    /// Reads every block of the profile's plan once. A Modbus exception or an odd answer to a block is reported
    /// for that block's points and the probe goes on; a transport failure (timeout, unreachable) ends it with the
    /// error, as the device is not there to probe.
    pub async fn probe(&mut self, now: DateTime<Utc>) -> Result<ProbeReport, ZoneError> {
        let result = self.probe_inner().await;
        self.record(&result, now);
        result
    }

    async fn probe_inner(&mut self) -> Result<ProbeReport, ZoneError> {
        let plan = self.plan.clone();
        let mut answers: Vec<Result<Vec<u16>, String>> = Vec::with_capacity(plan.blocks.len());
        for (i, block) in plan.blocks.iter().enumerate() {
            let answer = self.read_block(*block, i == 0).await;
            answers.push(match answer {
                Ok(words) => Ok(words),
                Err(e) if e.device_answered() => Err(e.to_string()),
                Err(e) => return Err(e),
            });
        }
        let points = plan
            .slots
            .iter()
            .filter_map(|slot| {
                let point = self.profile.points.get(slot.kind)?;
                let from = usize::from(slot.offset);
                let words = match &answers[slot.block] {
                    Ok(words) => words.get(from..from + usize::from(slot.width)).map(<[u16]>::to_vec),
                    Err(_) => None,
                };
                let value = match (&answers[slot.block], &words) {
                    (Err(e), _) => Err(e.clone()),
                    (Ok(_), None) => Err("the answer is shorter than the request".into()),
                    (Ok(_), Some(w)) => match self.profile.decode(slot.kind, w)? {
                        Ok(v) => Ok(v),
                        Err(invalid) => Err(invalid.to_string()),
                    },
                };
                Some(PointProbe {
                    point: slot.kind,
                    table: point.table,
                    address: point.address,
                    data_type: point.data_type,
                    raw: words.map(|words| Raw { table: point.table, address: point.address, words }),
                    value,
                })
            })
            .collect();
        let blocks = plan.blocks.iter().zip(answers).map(|(b, a)| (*b, a.map(|words| raw_of(b, words)))).collect();
        Ok(ProbeReport { profile: self.profile.name.clone(), blocks, points })
    }
}

/// Probes the device at `endpoint` with `profile` on a connection of its own (the commissioning CLI and API).
pub async fn probe(
    endpoint: Endpoint,
    profile: Arc<Profile>,
    config: LinkConfig,
    now: DateTime<Utc>,
) -> Result<ProbeReport, ZoneError> {
    ZoneLink::with_profile(endpoint, config, profile).probe(now).await
}
