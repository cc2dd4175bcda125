//! Sending a target to a device, the one way every source (control job, manual control, `POST /commands/`) does
//! it: log the command as `pending`, write it over the zone's persistent link, read it back, and mark the command
//! `confirmed` or `failed` with the error. Nothing is sent without a row, and no row stays `pending` after an
//! answer (or the lack of one). The write goes through the zone's device profile: its function (FC06, FC16, FC05),
//! the target rounded to its step, confirmed within half a step. With several instances (PostgreSQL), only the
//! holder of the zone's lease writes, and only while the database confirms its lease epoch ([`Fence`]).

use heating_core::clock::Clock;
use heating_core::units::Setpoint;
use zone_client::ZoneError;

use super::reading::setpoint_of;
use super::{Fence, ZoneRuntime};
use crate::metrics::ModbusOp;
use crate::storage::{Command, CommandSource, CommandStatus, NewCommand, Storage, StorageError};

/// Why a target did not reach the device.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The device failed or refused; the command row says `failed`.
    #[error("{error}")]
    Device { command: Command, error: ZoneError },
    /// The command could not be recorded.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Another instance holds the zone (or this one's lease could expire before the write ends): nothing was
    /// written, to the device or to the commands.
    #[error("this instance does not hold the zone's lease")]
    NotOwner,
}

/// Sends `target` to the zone, recording the command. On success the command is `confirmed` and the zone's live
/// reading is refreshed from the read-back. `actor` is who asked (`control`, a token's name, `local`).
pub async fn send_target(
    storage: &Storage,
    clock: &dyn Clock,
    runtime: &ZoneRuntime,
    target: Setpoint,
    source: CommandSource,
    reason: Option<String>,
    actor: &str,
) -> Result<Command, SendError> {
    // The fence: with several instances, a write goes out only under a lease the database says is still ours for
    // longer than the write can take (its epoch unchanged), so no zone is ever written by two instances.
    match runtime.fence() {
        Fence::Sole => {}
        Fence::Held { instance, epoch, margin } => {
            if !storage.lease_holds(runtime.id, &instance, epoch, margin).await? {
                tracing::warn!(zone_id = runtime.id, epoch, "write refused: the zone's lease was lost");
                return Err(SendError::NotOwner);
            }
        }
        Fence::Elsewhere => return Err(SendError::NotOwner),
    }
    let pending = storage
        .insert_command(&NewCommand {
            zone_id: runtime.id,
            ts: clock.now(),
            target_temp: target,
            source,
            reason,
            status: CommandStatus::Pending,
            actor: actor.to_string(),
        })
        .await?;
    let (result, health) = {
        let mut link = runtime.link.lock().await;
        let result =
            runtime.metrics.modbus(ModbusOp::Write, link.write_target_value(target.celsius(), clock.now())).await;
        (result, link.health())
    };
    let (status, error) = match &result {
        Ok(_) => (CommandStatus::Confirmed, None),
        Err(e) => (CommandStatus::Failed, Some(e.to_string())),
    };
    runtime.metrics.control_write(source, status);
    let command = storage.update_command_status(pending.id, status, error.as_deref()).await?;
    {
        let mut live = runtime.live();
        runtime.record_health(&mut live, health, result.as_ref().err());
        live.last_command = Some(command.clone());
        live.failed_writes = if result.is_ok() { 0 } else { live.failed_writes.saturating_add(1) };
        // The read-back refreshes what the device holds; the rest of the reading waits for the next poll (it
        // needs the poller's estimates).
        if let (Ok(device), Some(reading)) = (&result, live.reading.as_mut()) {
            reading.at = clock.now();
            reading.snapshot.target = setpoint_of(device.values.target);
            reading.snapshot.air_temperature = device.values.air_temperature;
        }
    }
    match result {
        Ok(_) => {
            tracing::info!(zone_id = runtime.id, %target, %source, actor, command_id = command.id, "target confirmed");
            Ok(command)
        }
        Err(error) => {
            let zone = runtime.name();
            tracing::warn!(zone_id = runtime.id, %zone, %target, %source, command_id = command.id, "target not sent: {error}");
            Err(SendError::Device { command, error })
        }
    }
}
