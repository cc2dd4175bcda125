//! Reads and writes through the link's device profile: one request per block of the read plan, the target written
//! with the profile's function and confirmed by reading back.

use chrono::{DateTime, Utc};
use device_profile::{Block, DeviceValues, Raw};

use crate::connection::Request;
use crate::{ZoneError, ZoneLink};

/// One read of a device: the decoded values and the registers they came from (one [`Raw`] per block of the
/// profile's read plan, for the probe and for error messages).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceReading {
    pub values: DeviceValues,
    pub raw: Vec<Raw>,
}

impl ZoneLink {
    /// Reads every point of the profile (one request per block of its read plan) and decodes them. A value that
    /// cannot be true is [`ZoneError::InvalidReading`], naming the point and its raw registers; the device
    /// answered, so the link's health is degraded, not offline.
    pub async fn read_device(&mut self, now: DateTime<Utc>) -> Result<DeviceReading, ZoneError> {
        let result = self.read_reading().await;
        self.record(&result, now);
        result
    }

    /// Writes a target (°C) with the profile's write function (FC06, FC16 or FC05), rounded to the profile's step,
    /// then reads the device back and confirms it holds the value within half a step. A value outside the
    /// profile's range is refused before anything is sent ([`ZoneError::BadTarget`]).
    pub async fn write_target_value(&mut self, target: f64, now: DateTime<Utc>) -> Result<DeviceReading, ZoneError> {
        let result = self.write_and_confirm(target).await;
        self.record(&result, now);
        result
    }

    pub(crate) async fn read_values(&mut self) -> Result<DeviceValues, ZoneError> {
        Ok(self.read_reading().await?.values)
    }

    async fn read_reading(&mut self) -> Result<DeviceReading, ZoneError> {
        let answers = self.read_blocks().await?;
        let values = self.profile.decode_values(&self.plan, &answers)?;
        let raw = self.plan.blocks.iter().zip(answers).map(|(b, words)| raw_of(b, words)).collect();
        Ok(DeviceReading { values, raw })
    }

    /// The answers to every block of the plan, in order. When a connection kept from earlier turns out closed at
    /// the first request (a device may close connections it finds idle), once more on a fresh connection, so that
    /// is not taken for an outage. A timeout is not retried: that would double the deadline a silent device costs.
    pub(crate) async fn read_blocks(&mut self) -> Result<Vec<Vec<u16>>, ZoneError> {
        let plan = self.plan.clone();
        let mut answers = Vec::with_capacity(plan.blocks.len());
        for (i, block) in plan.blocks.iter().enumerate() {
            answers.push(self.read_block(*block, i == 0).await?);
        }
        Ok(answers)
    }

    /// One read request; bits come back as words holding 0 or 1. An answer of another length than asked is
    /// [`ZoneError::Invalid`].
    pub(crate) async fn read_block(&mut self, block: Block, retry_closed: bool) -> Result<Vec<u16>, ZoneError> {
        let words = self.request(Request::Read(block), retry_closed).await?;
        let (start, count) = (block.start, block.count);
        if words.len() != usize::from(count) {
            return Err(ZoneError::Invalid(format!(
                "asked {} {start} for {count}, got {} value(s)",
                block.table,
                words.len()
            )));
        }
        Ok(words)
    }

    pub(crate) async fn write_and_confirm(&mut self, target: f64) -> Result<DeviceReading, ZoneError> {
        let spec = self.profile.target();
        let encoded = spec.encode(target).map_err(|e| ZoneError::BadTarget(e.to_string()))?;
        // The device may have closed the connection we kept (devices close idle ones): then once more on a fresh
        // one. Writing the same value twice is harmless, and the read-back below confirms it.
        let written = self.request(Request::Write(spec.write, spec.point.address, &encoded.words), true).await;
        written?;
        let reading = self.read_reading().await?;
        if spec.confirms(encoded.value, reading.values.target) {
            Ok(reading)
        } else {
            Err(ZoneError::NotConfirmed { wrote: encoded.value, holds: reading.values.target })
        }
    }
}

pub(crate) fn raw_of(block: &Block, words: Vec<u16>) -> Raw {
    Raw { table: block.table, address: block.start, words }
}
