//! The Modbus side of a zone: answers requests from the zone's device map (its profile's register space, see
//! [`crate::device`]). The one path every request takes after [`crate::frame`] has decoded it.
//!
//! Every refusal is a Modbus exception, never a dropped connection: another unit id gets 0x0B, a function the
//! profile does not serve 0x01, a PDU whose length does not fit its function 0x03, an address outside the map (or a
//! write to a read-only address) 0x02, a bad quantity or an out-of-range target 0x03, a
//! write while the zone's injected write fault is on 0x04. A refused write changes
//! nothing.

use std::sync::Arc;

use heating_core::units::Setpoint;

use crate::Zone;
use crate::frame::{Exception, FC_READ_COILS, FC_READ_DISCRETE, Reply, ZoneRequest};

/// Serves one zone.
#[derive(Debug, Clone)]
pub(crate) struct ZoneService {
    pub(crate) zone: Arc<Zone>,
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
                let snapshot = self.zone.served();
                self.zone.device.read(&snapshot, function, addr, quantity).map(|values| {
                    if matches!(function, FC_READ_COILS | FC_READ_DISCRETE) {
                        Reply::Bits { function, values: values.into_iter().map(|v| v != 0).collect() }
                    } else {
                        Reply::Registers { function, values }
                    }
                })
            }
            ZoneRequest::WriteCoil { addr, value } => {
                let target = self.zone.device.write_coil(addr, value);
                self.written(target, addr, &[value]).map(|()| Reply::Echo { function, addr, word: value })
            }
            ZoneRequest::WriteSingle { addr, value } => {
                let target = self.zone.device.write_registers(addr, &[value]);
                self.written(target, addr, &[value]).map(|()| Reply::Echo { function, addr, word: value })
            }
            ZoneRequest::WriteMultiple { addr, values } => {
                let quantity = u16::try_from(values.len()).unwrap_or(u16::MAX);
                let target = self.zone.device.write_registers(addr, &values);
                self.written(target, addr, &values).map(|()| Reply::Echo { function, addr, word: quantity })
            }
        }
        .map_err(|e| (function, e))
    }

    /// Applies an accepted write to the zone; a refused one changes nothing.
    fn written(&self, target: Result<Setpoint, Exception>, addr: u16, values: &[u16]) -> Result<(), Exception> {
        let target =
            target.and_then(|t| if self.zone.writes_refused() { Err(Exception::ServerDeviceFailure) } else { Ok(t) });
        let target = target.inspect_err(|e| {
            tracing::debug!(zone = %self.zone.name, addr, ?values, "write refused: {e:?}");
        })?;
        self.zone.set_target(target);
        tracing::info!(zone = %self.zone.name, %target, "target written over Modbus");
        Ok(())
    }
}
