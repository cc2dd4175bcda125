//! The strategies that do not plan: [`Constant`], [`Reactive`] and [`Scheduled`].

use heating_core::control::{ControlInput, Decision, ReadingView, decide};
use heating_core::units::Setpoint;

use super::{ControlContext, ControlOutput, Controller, Strategy};

/// 21 °C always.
#[derive(Debug, Clone, Copy)]
pub struct Constant {
    pub celsius: f64,
}

impl Controller for Constant {
    fn strategy(&self) -> Strategy {
        Strategy::Constant
    }

    fn control(&mut self, ctx: &ControlContext<'_>) -> ControlOutput {
        rule_output(ctx, || (Setpoint::from_celsius(self.celsius).ok(), format!("constant {:.1} °C", self.celsius)))
    }
}

/// The server's rule, [`heating_core::control::decide`], on the measured occupancy.
#[derive(Debug, Clone, Copy)]
pub struct Reactive;

impl Controller for Reactive {
    fn strategy(&self) -> Strategy {
        Strategy::Reactive
    }

    fn control(&mut self, ctx: &ControlContext<'_>) -> ControlOutput {
        let input = ControlInput {
            preferences: ctx.preferences,
            now: ctx.now,
            utc_offset_minutes: ctx.utc_offset_minutes,
            reading: ctx.reading.map(|r| ReadingView {
                at: r.at,
                occupied: r.occupied,
                device_target: r.device_target,
                outdoor_c: r.t_out,
            }),
            stale_after: ctx.stale_after,
            weather_outdoor_c: ctx.forecast.at(ctx.now),
            hold: ctx.hold,
        };
        match decide(&input) {
            Decision::Skip { why } => ControlOutput::skip(why),
            Decision::Target { target, reason, hold_expired, .. } => ControlOutput {
                target: Some(target),
                reason: reason.to_string(),
                planned_preheat_start: None,
                hold_expired,
                detail: Some(reason),
            },
        }
    }
}

/// `occupied_temp` while the expected (nominal or learned) schedule is active, `unoccupied_temp` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Scheduled;

impl Controller for Scheduled {
    fn strategy(&self) -> Strategy {
        Strategy::Scheduled
    }

    fn control(&mut self, ctx: &ControlContext<'_>) -> ControlOutput {
        rule_output(ctx, || {
            let active = ctx.occupancy.is_expected(ctx.local_now());
            let p = ctx.preferences;
            let (celsius, why) =
                if active { (p.occupied_temp, "schedule active") } else { (p.unoccupied_temp, "schedule off") };
            (ctx.setpoint(celsius), format!("{why}: {celsius:.1} °C"))
        })
    }
}

/// The answer of a simple rule: nothing without a fresh reading, the hold while one is in force, else the rule's
/// target and reason (a hold still given then has expired).
fn rule_output(ctx: &ControlContext<'_>, rule: impl FnOnce() -> (Option<Setpoint>, String)) -> ControlOutput {
    let reading = match ctx.fresh_reading() {
        Ok(r) => r,
        Err(why) => return ControlOutput::skip(why),
    };
    if let Some(held) = ctx.hold_output(reading.occupied) {
        return held;
    }
    let (target, reason) = rule();
    ControlOutput { target, reason, planned_preheat_start: None, hold_expired: ctx.hold.is_some(), detail: None }
}
