//! The Modbus side of a zone: a `tokio_modbus` service that answers requests from the register map.
//!
//! Every refusal is a Modbus exception, never a dropped connection: another unit id gets 0x0B, an unsupported
//! function 0x01, an address outside the map (or a write to a read-only address) 0x02, a bad quantity or an
//! out-of-range target 0x03. A refused write changes nothing.

use std::future;
use std::sync::Arc;

use heating_core::registers::{self, RegisterError, ZoneRegisters};
use tokio_modbus::prelude::{ExceptionCode, Request, Response, SlaveRequest};
use tokio_modbus::server::Service;

use crate::Zone;

/// Serves one zone to one connection.
#[derive(Debug, Clone)]
pub struct ZoneService {
    pub(crate) zone: Arc<Zone>,
}

fn exception(e: &RegisterError) -> ExceptionCode {
    match e {
        RegisterError::IllegalAddress(_) => ExceptionCode::IllegalDataAddress,
        RegisterError::IllegalValue(_) => ExceptionCode::IllegalDataValue,
    }
}

impl ZoneService {
    fn answer(&self, req: SlaveRequest<'static>) -> Result<Response, ExceptionCode> {
        if req.slave != self.zone.unit_id {
            return Err(ExceptionCode::GatewayTargetDevice);
        }
        match req.request {
            Request::ReadHoldingRegisters(addr, qty) => self.read(addr, qty).map(Response::ReadHoldingRegisters),
            Request::ReadInputRegisters(addr, qty) => self.read(addr, qty).map(Response::ReadInputRegisters),
            Request::WriteSingleRegister(addr, value) => {
                self.write(addr, &[value]).map(|()| Response::WriteSingleRegister(addr, value))
            }
            Request::WriteMultipleRegisters(addr, values) => {
                let qty = values.len() as u16;
                self.write(addr, &values).map(|()| Response::WriteMultipleRegisters(addr, qty))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }

    fn read(&self, addr: u16, qty: u16) -> Result<Vec<u16>, ExceptionCode> {
        let snapshot = self.zone.current();
        ZoneRegisters::encode(&snapshot).read(addr, qty).map_err(|e| exception(&e))
    }

    fn write(&self, addr: u16, values: &[u16]) -> Result<(), ExceptionCode> {
        let target = registers::validate_write(addr, values).map_err(|e| {
            tracing::debug!(zone = %self.zone.name, addr, ?values, "write refused: {e}");
            exception(&e)
        })?;
        self.zone.set_target(target);
        tracing::info!(zone = %self.zone.name, %target, "target written over Modbus");
        Ok(())
    }
}

impl Service for ZoneService {
    type Request = SlaveRequest<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        future::ready(self.answer(req))
    }
}
