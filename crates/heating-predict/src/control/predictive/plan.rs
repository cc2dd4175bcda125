//! From a plan to the predictive controller's output: the target for the zone's on/off thermostat
//! ([`thermostat_target`]) and the planned preheat start ([`preheat_start`]).

use crate::control::ZoneReading;
use crate::model::ZoneModel;

/// Turns the plan's first interval into a target for an on/off thermostat that switches on below
/// `target − h` and off above `target + h`, keeping its state in between.
///
/// - The floor `F` (the bound the plan keeps at the end of the interval) is protected: the target is not below
///   `F + h`, so the heater comes on whenever the room falls to `F` (the one exception is the early switch-off
///   below, and only when the model says the room stays above `F` until the next decision anyway).
/// - Floating or holding (the plan does not heat, or only to hold the floor), heater off: exactly that, `F + h`,
///   so the room drifts down freely to the floor.
/// - Floating or holding, heater on: the lowest target whose switch-off point `target + h` still keeps the room
///   above `F` until the next decision, by the model minute by minute (heater on up to the switch-off point, then
///   off): a target just below `T − h` (off now) if the room can coast through the interval, else a switch-off a
///   little above the room, instead of at `F + 2h`; `F + h` if none does.
/// - Heating, heater on: keep it on until the planned end temperature `E`: target `E − h`.
/// - Heating, heater off, `E` above the room: force it on with a target above `T + h` (the reading is quantized to
///   0.1 K, hence the extra 0.1 K); it will be brought back at the next interval at the latest.
/// - Heating, heater off, `E` not above the room: `E + h` (on as soon as the room falls below `E`).
///
/// Rounded up to 0.1 K, which only ever raises the floor (the early switch-off keeps 0.15 K for the rounding and the
/// quantized reading, and checks the floor also for a room 0.05 K warmer than read, within 0.03 K).
pub(super) fn thermostat_target(
    plan: &crate::lp::Plan,
    floor: f64,
    reading: &ZoneReading,
    h: f64,
    power_max_w: f64,
    interval: &Interval<'_>,
) -> f64 {
    let s_min = floor + h;
    let end = plan.temp_c[1];
    // "Heating" means more than holding: the plan ends the interval clearly above the floor.
    let heating = plan.power_w[0] > 0.05 * power_max_w && end > floor + 0.05;
    let t = reading.t_air;
    let ceil = |v: f64| (v * 10.0 - 1e-6).ceil() / 10.0;
    let s = if !heating {
        if reading.heater_on {
            // The lowest target (on the 0.1 K grid) whose switch-off point still keeps the room above the floor until
            // the next decision: from "off now" (0.15 K below the reading, for the rounding) up to `s_min`. The room
            // may be up to 0.05 K warmer than read, reaching the switch-off point sooner: 0.03 K of slack for that.
            let mut c = ceil(t - h - 0.15);
            let mut pick = s_min;
            while c < s_min - 1e-6 {
                let off = c + h;
                if interval.lowest(t, off) >= floor && interval.lowest(t + 0.05, off) >= floor - 0.03 {
                    pick = c;
                    break;
                }
                c += 0.1;
            }
            pick
        } else {
            s_min
        }
    } else if reading.heater_on {
        s_min.max(end - h)
    } else if end > t + 0.05 {
        s_min.max(t + h + 0.1)
    } else {
        s_min.max(end + h)
    };
    ceil(s)
}

/// The coming control interval as the model sees it, for the thermostat's switching within it.
pub(super) struct Interval<'a> {
    pub(super) model: &'a ZoneModel,
    pub(super) t_out: f64,
    pub(super) gains_w: f64,
    pub(super) dt_s: f64,
}

impl Interval<'_> {
    /// The lowest temperature over the interval, minute by minute, when the heater is on at the start (from `t0`)
    /// and stays on until the room is above `off_above`, then off (`f64::NEG_INFINITY`: off from the start).
    fn lowest(&self, t0: f64, off_above: f64) -> f64 {
        let n = (self.dt_s / 60.0).round().max(1.0) as usize;
        let sub = self.dt_s / n as f64;
        let (mut t, mut on, mut low) = (t0, true, t0);
        for _ in 0..n {
            on = on && t <= off_above;
            let heat = self.gains_w + if on { self.model.heater_power_w } else { 0.0 };
            t = self.model.advance(t, self.t_out, heat, sub);
            low = low.min(t);
        }
        low
    }
}

/// How close to the set-back bound the planned temperature counts as "set back", K.
const SETBACK_BAND_K: f64 = 0.2;

/// The step at which the planned warm-up for the next required comfort period starts: the first rise after the
/// plan was last set back (at most [`SETBACK_BAND_K`] above the set-back bound) before that period. All the heat
/// from there on is for the coming period, including heat stored early in cheap hours (the plan may heat, coast,
/// then heat again); when it is not set back now nor later, the first rise from now. `None` when the plan does not
/// heat up for it, when it is under way now, or when no comfort period lies in the horizon.
pub(super) fn preheat_start(temp_c: &[f64], interval_lb: &[f64], vac_lb: f64, occ_lb: f64) -> Option<usize> {
    if occ_lb <= vac_lb {
        return None;
    }
    let first = interval_lb.iter().position(|lb| *lb >= occ_lb)?;
    if first == 0 {
        return None;
    }
    let set_back = |k: usize| temp_c[k] <= vac_lb + SETBACK_BAND_K;
    let rises = |k: usize| temp_c[k + 1] > temp_c[k] + 1e-3;
    // Back to the last set-back point before the period (or now), then forward to where the plan heats up.
    let mut k = first;
    while k > 0 && !set_back(k) {
        k -= 1;
    }
    while k < first && !rises(k) {
        k += 1;
    }
    (k < first).then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::tests::monday;
    use heating_core::physics::{RoomState, StepInputs, Thermostat};
    use heating_core::units::Setpoint;
    use heating_core::zone::default_profiles;

    #[test]
    fn the_warm_up_starts_where_the_plan_leaves_the_set_back() {
        let (vac, occ) = (16.5, 20.5);
        // Steps 0-7 vacant, 8-9 comfort.
        let lb = [vac, vac, vac, vac, vac, vac, vac, vac, occ, occ];
        // Set back, heat stored in cheap hours from step 2, coasting, a last heat-up from step 6.
        let stored = [16.6, 16.6, 16.6, 18.0, 19.5, 19.2, 19.0, 20.0, 20.6, 20.6, 20.6];
        assert_eq!(preheat_start(&stored, &lb, vac, occ), Some(2));
        // Warm now (cooling from earlier), then heated from step 5.
        let cooling = [19.0, 18.5, 18.0, 17.6, 17.3, 17.1, 18.5, 19.8, 20.6, 20.6, 20.6];
        assert_eq!(preheat_start(&cooling, &lb, vac, occ), Some(5));
        // Heating right away from the set-back.
        let now = [16.6, 17.5, 18.5, 19.5, 20.0, 20.1, 20.2, 20.4, 20.6, 20.6, 20.6];
        assert_eq!(preheat_start(&now, &lb, vac, occ), Some(0));
        // Comfort required now: no warm-up to announce.
        let lb2 = [occ, occ, vac, vac, vac, vac, vac, vac, occ, occ];
        assert_eq!(preheat_start(&stored, &lb2, vac, occ), None);
        // No heat-up needed: the room coasts into the period above the bound.
        let coast = [22.0, 21.9, 21.8, 21.7, 21.6, 21.5, 21.4, 21.3, 21.2, 21.1, 21.0];
        assert_eq!(preheat_start(&coast, &lb, vac, occ), None);
    }

    #[test]
    fn a_heater_on_while_holding_stops_as_early_as_the_floor_allows() {
        let params = default_profiles()[1].params();
        let model = ZoneModel::from_params(&params);
        let interval = Interval { model: &model, t_out: 3.0, gains_w: model.base_gains_w, dt_s: 900.0 };
        let plan = crate::lp::Plan {
            power_w: vec![100.0],
            temp_c: vec![20.6, 20.5],
            energy_kwh: 0.025,
            cost_eur: 0.0,
            shortfall_kh: 0.0,
        };
        let th = Thermostat::default();
        for t_true in [20.56, 20.6, 20.64, 20.7, 20.9] {
            let reading = ZoneReading {
                at: monday(),
                t_air: (t_true * 10.0f64).round() / 10.0,
                t_out: Some(3.0),
                occupied: true,
                heater_on: true,
                device_target: Setpoint::from_celsius(20.8).unwrap(),
            };
            let target = thermostat_target(&plan, 20.5, &reading, th.hysteresis_k, 1200.0, &interval);
            // Below the plain hold target (which runs the heater up to 21.1 °C) ...
            assert!(target < 20.8 - 1e-9, "{t_true}: {target}");
            // ... and the room stays at the floor until the next decision.
            let mut room = RoomState { t_air: t_true, heater_on: true, energy_j: 0.0 };
            for _ in 0..15 {
                room.step(&params, &th, StepInputs { t_out: 3.0, target, occupied: true }, 60.0);
                assert!(room.t_air > 20.5 - 0.03, "{t_true}: {target} lets the room fall to {}", room.t_air);
            }
        }
    }
}
