//! Room physics: a 1R1C thermal model with an on/off thermostat and an energy counter.
//!
//! The room air and everything that stores heat with it form one capacitance `C` (J/K), coupled to the outdoor
//! air by one conductance `UA = 1/R` (W/K):
//!
//! ```text
//! C · dT/dt = (T_out − T) / R + P_heat + P_gains
//! ```
//!
//! With the inputs held constant over a step `dt`, the exact solution is
//!
//! ```text
//! T(t + dt) = T_eq + (T(t) − T_eq) · exp(−dt / (R·C)),   T_eq = T_out + R · (P_heat + P_gains)
//! ```
//!
//! which is what [`RoomParams::advance`] computes: unconditionally stable for any step, exact for piecewise-constant
//! inputs. The thermostat decides the heater state at the start of each step from the hysteresis band, so a step
//! should be short against the time the heater needs to cross the band (the simulator uses 10 s by default).

use serde::{Deserialize, Serialize};

/// Thermal and equipment parameters of one room.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoomParams {
    /// Heat capacity C in J/K.
    pub capacitance_j_per_k: f64,
    /// Heat-loss coefficient UA = 1/R in W/K.
    pub ua_w_per_k: f64,
    /// Rated heater power in W (the heater is either off or at this power).
    pub heater_power_w: f64,
    /// Internal gains while occupied (people, appliances, cooking), in W.
    pub occupied_gains_w: f64,
    /// Internal gains while vacant (standby appliances, fridge), in W.
    pub base_gains_w: f64,
}

/// Why room parameters are unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ParamsError(pub String);

impl RoomParams {
    /// Thermal resistance R = 1/UA in K/W.
    #[must_use]
    pub fn resistance_k_per_w(&self) -> f64 {
        1.0 / self.ua_w_per_k
    }

    /// Time constant R·C in seconds.
    #[must_use]
    pub fn time_constant_s(&self) -> f64 {
        self.capacitance_j_per_k / self.ua_w_per_k
    }

    pub fn validate(&self) -> Result<(), ParamsError> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(ParamsError(format!("{name} must be a positive number, got {v}")))
            }
        };
        let non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(ParamsError(format!("{name} must be zero or positive, got {v}")))
            }
        };
        positive("capacitance", self.capacitance_j_per_k)?;
        positive("UA", self.ua_w_per_k)?;
        non_negative("heater power", self.heater_power_w)?;
        if self.heater_power_w > f64::from(u16::MAX) {
            return Err(ParamsError(format!(
                "heater power {} W does not fit register 7 (at most 65535 W)",
                self.heater_power_w
            )));
        }
        non_negative("occupied gains", self.occupied_gains_w)?;
        non_negative("base gains", self.base_gains_w)?;
        Ok(())
    }

    /// Air temperature the room settles at with constant heat input `heat_w` and outdoor temperature `t_out`.
    #[must_use]
    pub fn equilibrium(&self, t_out: f64, heat_w: f64) -> f64 {
        t_out + heat_w / self.ua_w_per_k
    }

    /// Exact air temperature after `dt_s` seconds with constant inputs.
    #[must_use]
    pub fn advance(&self, t_air: f64, t_out: f64, heat_w: f64, dt_s: f64) -> f64 {
        let t_eq = self.equilibrium(t_out, heat_w);
        t_eq + (t_air - t_eq) * (-dt_s / self.time_constant_s()).exp()
    }
}

/// On/off thermostat with a symmetric hysteresis band around the target: the heater switches on below
/// `target − hysteresis` and off above `target + hysteresis`, and keeps its state in between.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thermostat {
    pub hysteresis_k: f64,
}

impl Default for Thermostat {
    fn default() -> Self {
        Self { hysteresis_k: 0.3 }
    }
}

impl Thermostat {
    #[must_use]
    pub fn decide(&self, t_air: f64, target: f64, heater_on: bool) -> bool {
        if t_air < target - self.hysteresis_k {
            true
        } else if t_air > target + self.hysteresis_k {
            false
        } else {
            heater_on
        }
    }
}

/// The evolving state of a room: air temperature, heater state, and the energy the heater has used.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoomState {
    pub t_air: f64,
    pub heater_on: bool,
    /// Heater energy in joules since the counter started (rated power × on-time).
    pub energy_j: f64,
}

/// Inputs held constant during one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInputs {
    pub t_out: f64,
    pub target: f64,
    pub occupied: bool,
}

impl RoomState {
    #[must_use]
    pub fn new(t_air: f64) -> Self {
        Self { t_air, heater_on: false, energy_j: 0.0 }
    }

    /// Advances by `dt_s` seconds: the thermostat decides first, then the room evolves exactly with the heater
    /// held in that state, and the energy counter adds rated power × time if it was on.
    pub fn step(&mut self, params: &RoomParams, thermostat: &Thermostat, inputs: StepInputs, dt_s: f64) {
        self.heater_on = thermostat.decide(self.t_air, inputs.target, self.heater_on);
        self.step_with_heater(params, inputs, self.heater_on, dt_s);
    }

    /// Advances by `dt_s` seconds with the heater forced to `heater_on` (no thermostat).
    pub fn step_with_heater(&mut self, params: &RoomParams, inputs: StepInputs, heater_on: bool, dt_s: f64) {
        self.heater_on = heater_on;
        let heater_w = if heater_on { params.heater_power_w } else { 0.0 };
        let gains_w = if inputs.occupied { params.occupied_gains_w } else { params.base_gains_w };
        self.t_air = params.advance(self.t_air, inputs.t_out, heater_w + gains_w, dt_s);
        self.energy_j += heater_w * dt_s;
    }

    /// The energy counter in whole watt-hours, as register 4-5 holds it (wraps at 2³² Wh).
    #[must_use]
    pub fn energy_wh(&self) -> u32 {
        ((self.energy_j / 3600.0).floor() as u64 % (1u64 << 32)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn living_room() -> RoomParams {
        RoomParams {
            capacitance_j_per_k: 5.0e6,
            ua_w_per_k: 45.0,
            heater_power_w: 2500.0,
            occupied_gains_w: 0.0,
            base_gains_w: 0.0,
        }
    }

    fn inputs(t_out: f64, target: f64) -> StepInputs {
        StepInputs { t_out, target, occupied: false }
    }

    #[test]
    fn free_decay_follows_the_analytic_solution() {
        let p = living_room();
        let tau = p.time_constant_s();
        let (t0, t_out) = (21.0, 2.0);
        let mut room = RoomState::new(t0);
        let dt = 60.0;
        for i in 1..=(3 * 24 * 60) {
            room.step_with_heater(&p, inputs(t_out, 20.0), false, dt);
            let t = f64::from(i) * dt;
            let analytic = t_out + (t0 - t_out) * (-t / tau).exp();
            assert!((room.t_air - analytic).abs() < 0.01, "t={t}: {} vs {analytic}", room.t_air);
        }
        // After one time constant the gap has shrunk to 1/e.
        let mut one_tau = RoomState::new(t0);
        one_tau.step_with_heater(&p, inputs(t_out, 20.0), false, tau);
        assert!((one_tau.t_air - (t_out + (t0 - t_out) / std::f64::consts::E)).abs() < 0.01);
    }

    #[test]
    fn any_step_is_stable() {
        let p = living_room();
        let mut room = RoomState::new(21.0);
        room.step_with_heater(&p, inputs(0.0, 20.0), false, 1.0e9);
        assert!((room.t_air - 0.0).abs() < 1e-9);
    }

    #[test]
    fn steady_state_with_heater_on_is_t_out_plus_r_times_p() {
        let p = living_room();
        let mut room = RoomState::new(10.0);
        for _ in 0..(40 * 24) {
            room.step_with_heater(&p, inputs(0.0, 20.0), true, 3600.0);
        }
        let expected = 0.0 + p.resistance_k_per_w() * p.heater_power_w;
        assert!((room.t_air - expected).abs() < 0.01, "{} vs {expected}", room.t_air);
    }

    #[test]
    fn thermostat_cycles_within_its_band_and_energy_matches_on_time() {
        let p = living_room();
        let th = Thermostat::default();
        let mut room = RoomState::new(15.0);
        let dt = 10.0;
        let (mut on_time, mut switches, mut was_on) = (0.0, 0, false);
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        for i in 0..(2 * 24 * 360) {
            room.step(&p, &th, inputs(3.0, 21.0), dt);
            if room.heater_on {
                on_time += dt;
            }
            if room.heater_on != was_on {
                switches += 1;
                was_on = room.heater_on;
            }
            if i > 24 * 360 {
                lo = lo.min(room.t_air);
                hi = hi.max(room.t_air);
            }
        }
        // A step can overshoot the band edge by at most the change within one step (~0.005 K here).
        assert!(lo > 21.0 - 0.3 - 0.01 && hi < 21.0 + 0.3 + 0.01, "band {lo}..{hi}");
        assert!(hi - lo > 0.5, "it really cycles across the band: {lo}..{hi}");
        assert!(switches > 10, "switches {switches}");
        assert!((room.energy_j - p.heater_power_w * on_time).abs() < 1e-6);
        assert_eq!(room.energy_wh(), (p.heater_power_w * on_time / 3600.0).floor() as u32);
    }

    #[test]
    fn occupants_warm_the_room() {
        let mut p = living_room();
        p.occupied_gains_w = 450.0;
        let occupied = StepInputs { t_out: 0.0, target: 5.0, occupied: true };
        let mut room = RoomState::new(0.0);
        room.step_with_heater(&p, occupied, false, 1.0e9);
        assert!((room.t_air - 10.0).abs() < 1e-9);
    }

    #[test]
    fn params_validation() {
        assert!(living_room().validate().is_ok());
        let mut p = living_room();
        p.ua_w_per_k = 0.0;
        assert!(p.validate().is_err());
        p = living_room();
        p.heater_power_w = 70_000.0;
        assert!(p.validate().unwrap_err().0.contains("register 7"));
        p = living_room();
        p.capacitance_j_per_k = f64::NAN;
        assert!(p.validate().is_err());
    }
}
