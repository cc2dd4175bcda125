//! Zone profiles (the five default rooms) and the simulated zone that combines physics, thermostat, occupancy
//! and weather.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::physics::{ParamsError, RoomParams, RoomState, StepInputs, Thermostat};
use crate::registers::ZoneSnapshot;
use crate::schedule::{DEFAULT_JITTER_MINUTES, Occupancy, WeeklySchedule};
use crate::units::Setpoint;
use crate::weather::SyntheticWeather;

/// Everything needed to simulate one room, in the units a person would write in a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneProfile {
    pub name: String,
    /// Heat capacity C in MJ/K.
    pub capacitance_mj_per_k: f64,
    /// Heat-loss coefficient UA in W/K (R = 1/UA).
    pub ua_w_per_k: f64,
    /// Rated heater power in W.
    pub heater_power_w: f64,
    /// Internal gains while occupied, in W.
    #[serde(default = "default_occupied_gains")]
    pub occupied_gains_w: f64,
    /// Internal gains while vacant, in W.
    #[serde(default)]
    pub base_gains_w: f64,
    /// Weekly occupancy schedule, site-local time.
    pub schedule: WeeklySchedule,
    /// Target temperature at start, in °C (register 1 until a master writes it).
    #[serde(default = "default_target")]
    pub initial_target_c: f64,
    /// Air temperature at start, in °C (defaults to the initial target).
    #[serde(default)]
    pub initial_temperature_c: Option<f64>,
    /// Thermostat hysteresis, in K either side of the target.
    #[serde(default = "default_hysteresis")]
    pub hysteresis_k: f64,
}

fn default_occupied_gains() -> f64 {
    150.0
}
fn default_target() -> f64 {
    20.0
}
fn default_hysteresis() -> f64 {
    Thermostat::default().hysteresis_k
}

impl ZoneProfile {
    fn new(name: &str, c_mj: f64, ua: f64, heater: f64, gains: (f64, f64), schedule: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            capacitance_mj_per_k: c_mj,
            ua_w_per_k: ua,
            heater_power_w: heater,
            occupied_gains_w: gains.0,
            base_gains_w: gains.1,
            schedule: WeeklySchedule::parse(schedule).expect("built-in schedules parse"),
            initial_target_c: default_target(),
            initial_temperature_c: None,
            hysteresis_k: default_hysteresis(),
        }
    }

    #[must_use]
    pub fn params(&self) -> RoomParams {
        RoomParams {
            capacitance_j_per_k: self.capacitance_mj_per_k * 1.0e6,
            ua_w_per_k: self.ua_w_per_k,
            heater_power_w: self.heater_power_w,
            occupied_gains_w: self.occupied_gains_w,
            base_gains_w: self.base_gains_w,
        }
    }

    /// Checks every value; the message names the zone and the field.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let fail = |msg: String| Err(ParamsError(format!("zone {:?}: {msg}", self.name)));
        if self.name.trim().is_empty() {
            return Err(ParamsError("zone name must not be empty".into()));
        }
        if let Err(e) = self.params().validate() {
            return fail(e.0);
        }
        if let Err(e) = Setpoint::from_celsius(self.initial_target_c) {
            return fail(format!("initial_target_c: {e}"));
        }
        if let Some(t) = self.initial_temperature_c
            && !(t.is_finite() && (-50.0..=60.0).contains(&t))
        {
            return fail(format!("initial_temperature_c must be within -50..=60 °C, got {t}"));
        }
        if !(self.hysteresis_k.is_finite() && (0.0..=5.0).contains(&self.hysteresis_k)) {
            return fail(format!("hysteresis_k must be within 0..=5 K, got {}", self.hysteresis_k));
        }
        Ok(())
    }
}

/// The five default zones. Values are starting points for a typical, moderately insulated dwelling:
/// C is the effective heat capacity of air, furniture and the inner layer of the walls; UA covers transmission and
/// ventilation losses; gains are people plus appliances (the kitchen's include cooking).
#[must_use]
pub fn default_profiles() -> Vec<ZoneProfile> {
    vec![
        ZoneProfile::new(
            "Living Room",
            5.0,
            45.0,
            2500.0,
            (250.0, 50.0),
            &["mon-fri 06:30-08:00", "mon-fri 17:00-23:00", "sat,sun 08:00-23:00"],
        ),
        ZoneProfile::new("Bedroom", 2.5, 25.0, 1200.0, (150.0, 20.0), &["sun-thu 22:00-07:00", "fri,sat 22:00-09:00"]),
        ZoneProfile::new(
            "Kitchen",
            2.0,
            30.0,
            1500.0,
            (400.0, 80.0),
            &["daily 06:30-08:00", "daily 18:00-20:00", "sat,sun 12:00-13:00"],
        ),
        ZoneProfile::new("Office", 2.0, 22.0, 1000.0, (200.0, 30.0), &["mon-fri 08:30-17:30"]),
        ZoneProfile::new("Guest Room", 2.3, 28.0, 1000.0, (150.0, 10.0), &["fri 18:00-sun 16:00"]),
    ]
}

/// One simulated zone: a room, its thermostat, its occupants and the weather it feels, advanced in time.
#[derive(Debug, Clone)]
pub struct SimZone {
    name: String,
    params: RoomParams,
    thermostat: Thermostat,
    occupancy: Occupancy,
    state: RoomState,
    target: Setpoint,
    time: DateTime<Utc>,
    occupied: bool,
    t_out: f64,
    /// Fault injection: the heater switches and reports as usual but no heat reaches the room.
    heater_fault: bool,
}

impl SimZone {
    /// A zone at time `start`. `key` tells zones apart in the seeded jitter (use the zone's index).
    pub fn new(
        profile: &ZoneProfile,
        key: u64,
        weather: &SyntheticWeather,
        start: DateTime<Utc>,
    ) -> Result<Self, ParamsError> {
        profile.validate()?;
        let target = Setpoint::from_celsius(profile.initial_target_c).map_err(|e| ParamsError(e.to_string()))?;
        let mut zone = Self {
            name: profile.name.clone(),
            params: profile.params(),
            thermostat: Thermostat { hysteresis_k: profile.hysteresis_k },
            occupancy: Occupancy::new(profile.schedule.clone(), weather.seed, key, DEFAULT_JITTER_MINUTES),
            state: RoomState::new(profile.initial_temperature_c.unwrap_or(profile.initial_target_c)),
            target,
            time: start,
            occupied: false,
            t_out: 0.0,
            heater_fault: false,
        };
        zone.observe(weather);
        Ok(zone)
    }

    fn local(&self, weather: &SyntheticWeather) -> NaiveDateTime {
        (self.time + Duration::minutes(i64::from(weather.utc_offset_minutes))).naive_utc()
    }

    fn observe(&mut self, weather: &SyntheticWeather) {
        self.occupied = self.occupancy.is_occupied(self.local(weather));
        self.t_out = weather.temperature_at(self.time);
    }

    /// Advances the zone to `now` in steps of at most `max_step`. Occupancy and outdoor temperature are held
    /// constant within a step (taken at its start); the physics within a step is exact.
    pub fn advance_to(&mut self, now: DateTime<Utc>, max_step: Duration, weather: &SyntheticWeather) {
        let max_step = max_step.max(Duration::milliseconds(1));
        while self.time < now {
            let dt = (now - self.time).min(max_step);
            let inputs = StepInputs { t_out: self.t_out, target: self.target.celsius(), occupied: self.occupied };
            if self.heater_fault {
                let on = self.thermostat.decide(self.state.t_air, inputs.target, self.state.heater_on);
                let dead = RoomParams { heater_power_w: 0.0, ..self.params };
                self.state.step_with_heater(&dead, inputs, on, dt.as_seconds_f64());
            } else {
                self.state.step(&self.params, &self.thermostat, inputs, dt.as_seconds_f64());
            }
            self.time += dt;
            self.observe(weather);
        }
    }

    /// Changes the room's heat-loss coefficient UA (W/K) from now on: a window held open (higher) or closed again.
    /// Refused unless the parameters stay valid.
    pub fn set_ua(&mut self, ua_w_per_k: f64) -> Result<(), ParamsError> {
        let params = RoomParams { ua_w_per_k, ..self.params };
        params.validate()?;
        self.params = params;
        Ok(())
    }

    /// The room's parameters now.
    #[must_use]
    pub fn params(&self) -> &RoomParams {
        &self.params
    }

    /// Injects (or removes) a heater fault from now on: the heater switches and reports `on` as usual, but no heat
    /// reaches the room (a stuck valve, a dead element); its energy counter stands still while it lasts.
    pub fn set_heater_fault(&mut self, fault: bool) {
        self.heater_fault = fault;
    }

    #[must_use]
    pub fn heater_fault(&self) -> bool {
        self.heater_fault
    }

    /// Sets the target; it stays in force until the next call (nothing in the simulation overwrites it).
    pub fn set_target(&mut self, target: Setpoint) {
        self.target = target;
    }

    #[must_use]
    pub fn snapshot(&self) -> ZoneSnapshot {
        ZoneSnapshot {
            air_temperature: self.state.t_air,
            target: self.target,
            occupied: self.occupied,
            heater_on: self.state.heater_on,
            energy_wh: self.state.energy_wh(),
            outdoor_temperature: self.t_out,
            heater_power_w: self.params.heater_power_w.round() as u16,
        }
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    #[must_use]
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }

    #[must_use]
    pub fn state(&self) -> &RoomState {
        &self.state
    }

    #[must_use]
    pub fn occupancy(&self) -> &Occupancy {
        &self.occupancy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// Monday 2026-01-05 00:00 UTC.
    fn monday() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn a_heater_fault_keeps_the_heater_on_without_heating_and_a_larger_ua_cools_faster() {
        let weather = SyntheticWeather::with_seed(3);
        let profile = &default_profiles()[0];
        let start = monday();
        let mut healthy = SimZone::new(profile, 0, &weather, start).unwrap();
        let mut faulty = healthy.clone();
        faulty.set_heater_fault(true);
        assert!(faulty.heater_fault());
        healthy.set_target(Setpoint::from_celsius(30.0).unwrap());
        faulty.set_target(Setpoint::from_celsius(30.0).unwrap());
        let end = start + Duration::hours(2);
        healthy.advance_to(end, Duration::seconds(10), &weather);
        faulty.advance_to(end, Duration::seconds(10), &weather);
        let t0 = profile.initial_temperature_c.unwrap_or(profile.initial_target_c);
        assert!(healthy.snapshot().air_temperature > t0 + 1.0, "{:?}", healthy.snapshot());
        assert!(faulty.snapshot().heater_on, "the heater reports on");
        assert!(faulty.snapshot().air_temperature < t0, "and the room cools: {:?}", faulty.snapshot());
        assert_eq!(faulty.snapshot().energy_wh, 0);
        // Repaired: it heats again.
        faulty.set_heater_fault(false);
        let cold = faulty.snapshot().air_temperature;
        faulty.advance_to(end + Duration::hours(1), Duration::seconds(10), &weather);
        assert!(faulty.snapshot().air_temperature > cold + 0.5);

        let mut closed = SimZone::new(profile, 0, &weather, start).unwrap();
        let mut open = closed.clone();
        open.set_ua(closed.params().ua_w_per_k * 5.0).unwrap();
        for z in [&mut closed, &mut open] {
            z.set_target(Setpoint::from_celsius(5.0).unwrap());
            z.advance_to(start + Duration::hours(1), Duration::seconds(10), &weather);
        }
        assert!(open.snapshot().air_temperature < closed.snapshot().air_temperature - 1.0);
        assert!(open.set_ua(-1.0).is_err() && open.set_ua(f64::NAN).is_err());
    }

    #[test]
    fn defaults_are_valid() {
        let profiles = default_profiles();
        assert_eq!(profiles.len(), 5);
        for p in profiles {
            p.validate().unwrap();
        }
    }

    /// Occupied minutes per occurrence over a simulated week match the profile within the jitter, and every
    /// minute further than the jitter from a nominal edge agrees with the nominal schedule.
    #[test]
    fn a_simulated_week_follows_each_profile_within_the_jitter() {
        let weather = SyntheticWeather::with_seed(11);
        for (key, profile) in default_profiles().iter().enumerate() {
            let mut zone = SimZone::new(profile, key as u64, &weather, monday()).unwrap();
            let mut occupied_min = 0i64;
            let week = 7 * 24 * 60;
            for minute in 0..week {
                let now = monday() + Duration::minutes(minute);
                zone.advance_to(now, Duration::minutes(1), &weather);
                let local = now.naive_utc();
                let nominal = profile.schedule.is_active(local);
                let near_edge = (-20..=20).any(|d| profile.schedule.is_active(local + Duration::minutes(d)) != nominal);
                if !near_edge {
                    assert_eq!(zone.snapshot().occupied, nominal, "{} at {local}", profile.name);
                }
                occupied_min += i64::from(zone.snapshot().occupied);
            }
            // Nominal minutes in the same window, counting occurrences from the previous week that run into it.
            let from = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
            let nominal_min = (0..week)
                .filter(|m| profile.schedule.is_active(from.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(*m)))
                .count() as i64;
            let edges =
                profile.schedule.occurrences_starting(from - Duration::days(3), from + Duration::days(7)).count()
                    as i64;
            assert!(
                (occupied_min - nominal_min).abs() <= edges * 40,
                "{}: {occupied_min} min occupied vs {nominal_min} nominal",
                profile.name
            );
            assert!(occupied_min > 0);
        }
    }

    fn trace(seed: u64) -> Vec<(i16, bool, bool)> {
        let weather = SyntheticWeather::with_seed(seed);
        let mut zones: Vec<SimZone> = default_profiles()
            .iter()
            .enumerate()
            .map(|(k, p)| SimZone::new(p, k as u64, &weather, monday()).unwrap())
            .collect();
        let mut out = Vec::new();
        for step in 1..=(7 * 24 * 4) {
            let now = monday() + Duration::minutes(15 * step);
            for z in &mut zones {
                z.advance_to(now, Duration::seconds(10), &weather);
                let s = z.snapshot();
                out.push((crate::units::encode_deci_celsius(s.air_temperature), s.occupied, s.heater_on));
            }
        }
        out
    }

    #[test]
    fn same_seed_same_trace_other_seed_other_trace() {
        let a = trace(1);
        assert_eq!(a, trace(1));
        assert_ne!(a, trace(2));
    }

    #[test]
    fn a_written_target_stays_in_force() {
        let weather = SyntheticWeather::with_seed(5);
        let mut z = SimZone::new(&default_profiles()[3], 3, &weather, monday()).unwrap();
        let t = Setpoint::from_celsius(23.5).unwrap();
        z.set_target(t);
        z.advance_to(monday() + Duration::days(3), Duration::seconds(10), &weather);
        assert_eq!(z.snapshot().target, t);
        assert!((z.snapshot().air_temperature - 23.5).abs() < 0.35, "the thermostat holds the written target");
    }
}
