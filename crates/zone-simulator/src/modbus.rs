//! The Modbus side of a zone: answers requests from the register map. The one path every request takes after
//! [`crate::frame`] has decoded it.
//!
//! Every refusal is a Modbus exception, never a dropped connection: another unit id gets 0x0B, an unsupported
//! function 0x01, a PDU whose length does not fit its function 0x03, an address outside the map (or a write to a
//! read-only address) 0x02, a bad quantity or an out-of-range target 0x03. A refused write changes nothing.

use std::sync::Arc;

use heating_core::registers::{self, RegisterError, ZoneRegisters};

use crate::Zone;
use crate::frame::{Exception, Reply, ZoneRequest};

/// Serves one zone.
#[derive(Debug, Clone)]
pub(crate) struct ZoneService {
    pub(crate) zone: Arc<Zone>,
}

fn exception(e: &RegisterError) -> Exception {
    match e {
        RegisterError::IllegalAddress(_) => Exception::IllegalDataAddress,
        RegisterError::IllegalValue(_) => Exception::IllegalDataValue,
    }
}

impl ZoneService {
    /// Answers a request addressed to `unit_id`, as decoded by [`crate::frame::decode_request`] (a decoding
    /// refusal is answered here too, after the unit id check, as a device behind a gateway would).
    pub(crate) fn answer(
        &self,
        unit_id: u8,
        request: Result<ZoneRequest, (u8, Exception)>,
    ) -> Result<Reply, (u8, Exception)> {
        if unit_id != self.zone.unit_id {
            let function = match &request {
                Ok(r) => r.function(),
                Err((function, _)) => *function,
            };
            return Err((function, Exception::GatewayTargetDevice));
        }
        let request = request?;
        let function = request.function();
        match request {
            ZoneRequest::Read { function, addr, quantity } => {
                self.read(addr, quantity).map(|values| Reply::Registers { function, values })
            }
            ZoneRequest::WriteSingle { addr, value } => {
                self.write(addr, &[value]).map(|()| Reply::Echo { function, addr, word: value })
            }
            ZoneRequest::WriteMultiple { addr, values } => {
                let quantity = u16::try_from(values.len()).unwrap_or(u16::MAX);
                self.write(addr, &values).map(|()| Reply::Echo { function, addr, word: quantity })
            }
        }
        .map_err(|e| (function, e))
    }

    fn read(&self, addr: u16, qty: u16) -> Result<Vec<u16>, Exception> {
        let snapshot = self.zone.current();
        ZoneRegisters::encode(&snapshot).read(addr, qty).map_err(|e| exception(&e))
    }

    fn write(&self, addr: u16, values: &[u16]) -> Result<(), Exception> {
        let target = registers::validate_write(addr, values).map_err(|e| {
            tracing::debug!(zone = %self.zone.name, addr, ?values, "write refused: {e}");
            exception(&e)
        })?;
        self.zone.set_target(target);
        tracing::info!(zone = %self.zone.name, %target, "target written over Modbus");
        Ok(())
    }
}
