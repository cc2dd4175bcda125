//! From what a device tells (its profile's points, [`DeviceValues`]) to the complete reading the rest of the server
//! works with: what the device lacks is filled in, and marked.
//!
//! - **occupancy**, no sensor: the zone's `occupancy_schedule` at the site's local time; without one, occupied
//!   (comfort first: a zone is never set back on a guess). Marked `occupancy` in `estimated`.
//! - **heater state**, no point: the thermostat's demand, on while the air is below the device's target. Stored
//!   as NULL (unknown); the controllers and the energy estimate use the inferred state, marked `heater_on`.
//! - **energy**, no meter: a running counter per zone, heater on-time × rated power (the profile's `rated_power`
//!   point or constant, else the zone's `rated_power_w`), integrated from one reading to the next with the state of
//!   the earlier one (rated power: the device's register, else the zone's `rated_power_w`, else the profile's
//!   constant — the zone's setting is the installed heater, the profile's a model's typical value); a gap longer
//!   than three poll intervals (the server was down, the device offline) adds
//!   nothing. It starts from the zone's last stored counter, so it continues across restarts. Marked `energy_wh`.
//!   Without a rated power there is no estimate: energy is unknown (NULL).
//! - **outdoor temperature**, no sensor: unknown (NaN in the snapshot, NULL when stored); the control uses the
//!   weather service's.

use chrono::{DateTime, Utc};
use device_profile::DeviceValues;
use heating_core::registers::ZoneSnapshot;
use heating_core::units::Setpoint;

use crate::storage::{Estimated, NewReading, ZoneId};

/// A reading as the poller last saw it: complete, with what was not measured marked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveReading {
    pub at: DateTime<Utc>,
    pub snapshot: ZoneSnapshot,
    /// What the server filled in (occupancy from the schedule, heater inferred, energy estimated).
    pub estimated: Estimated,
    /// Whether `snapshot.energy_wh` is a value (measured or estimated); `false`: unknown.
    pub energy_known: bool,
}

impl LiveReading {
    /// A reading of a device that tells everything (README's register map).
    #[must_use]
    pub fn measured(at: DateTime<Utc>, snapshot: ZoneSnapshot) -> Self {
        Self { at, snapshot, estimated: Estimated::NONE, energy_known: true }
    }

    /// A stored reading as the live one (a zone another instance polls): unknown values as the poller has them
    /// (heater off, energy unknown, outdoor NaN), the target 5 °C if none was stored; `None` for a stored target out of range.
    #[must_use]
    pub fn from_stored(r: &crate::storage::Reading) -> Option<Self> {
        let target = Setpoint::from_celsius(r.target_temp.unwrap_or(Setpoint::MIN_CELSIUS)).ok()?;
        let snapshot = ZoneSnapshot {
            air_temperature: r.temperature,
            target,
            occupied: r.occupancy,
            heater_on: r.heater_on.unwrap_or(false),
            energy_wh: r.energy_wh.unwrap_or(0),
            outdoor_temperature: r.outdoor_temp.unwrap_or(f64::NAN),
            heater_power_w: 0,
        };
        let estimated = if r.heater_on.is_none() { r.estimated.with(Estimated::HEATER, true) } else { r.estimated };
        Some(Self { at: r.ts, snapshot, estimated, energy_known: r.energy_wh.is_some() })
    }

    /// The row that logs this reading for `zone_id`.
    #[must_use]
    pub fn to_record(&self, zone_id: ZoneId) -> NewReading {
        let s = &self.snapshot;
        let heater_inferred = self.estimated.contains(Estimated::HEATER);
        NewReading {
            zone_id,
            ts: self.at,
            temperature: s.air_temperature,
            target_temp: Some(s.target.celsius()),
            occupancy: s.occupied,
            heater_on: (!heater_inferred).then_some(s.heater_on),
            energy_wh: self.energy_known.then_some(s.energy_wh),
            outdoor_temp: Some(s.outdoor_temperature).filter(|t| t.is_finite()),
            // The heater bit is not stored: the column holds NULL for an unknown state.
            estimated: self.estimated.with(Estimated::HEATER, false),
        }
    }

    /// The outdoor temperature, when the device measures one.
    #[must_use]
    pub fn outdoor(&self) -> Option<f64> {
        Some(self.snapshot.outdoor_temperature).filter(|t| t.is_finite())
    }
}

/// The running energy estimate of a zone without a meter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyEstimate {
    /// Wh, fractional (the stored counter is its whole part).
    pub wh: f64,
    /// The reading it was last advanced to, and whether the heater was on then; `None` until the first reading
    /// after a start.
    pub last: Option<(DateTime<Utc>, bool)>,
}

impl EnergyEstimate {
    /// Starting from a stored counter.
    #[must_use]
    pub fn from_stored(wh: Option<u32>) -> Self {
        Self { wh: wh.map_or(0.0, f64::from), last: None }
    }

    /// Advances to a reading at `at` with the heater `on`: the interval since the previous reading counts at the
    /// rated power if the heater was on at its start, unless it is longer than `max_gap`.
    pub fn advance(&mut self, at: DateTime<Utc>, on: bool, rated_power_w: f64, max_gap: chrono::Duration) {
        if let Some((last_at, was_on)) = self.last {
            let dt = at - last_at;
            if was_on && dt > chrono::Duration::zero() && dt <= max_gap {
                self.wh += rated_power_w * dt.as_seconds_f64() / 3600.0;
            }
        }
        if self.last.is_none_or(|(last_at, _)| at >= last_at) {
            self.last = Some((at, on));
        }
    }

    /// The counter as stored: whole Wh, wrapping at 2³² as the device counters do.
    #[must_use]
    pub fn counter(&self) -> u32 {
        (self.wh.floor() as u64 % (1u64 << 32)) as u32
    }
}

/// What the server knows beside the device's values to complete a reading.
#[derive(Debug, Clone, Copy)]
pub struct Fill {
    /// Occupancy by the zone's schedule (or the comfort default) now.
    pub scheduled_occupancy: bool,
    /// The zone's own rated power, W: wins over the profile's constant, not over a device's register.
    pub zone_rated_power_w: Option<f64>,
    /// Whether the device has a rated-power register (then its value is used).
    pub rated_power_point: bool,
    /// Longest interval the energy estimate integrates over.
    pub max_gap: chrono::Duration,
}

/// Completes `values` read at `at`; `energy` is the zone's running estimate (used only when the device has no
/// meter).
#[must_use]
pub fn complete(at: DateTime<Utc>, values: &DeviceValues, fill: Fill, energy: &mut EnergyEstimate) -> LiveReading {
    let mut estimated = Estimated::NONE;
    let occupied = values.occupied.unwrap_or_else(|| {
        estimated = estimated.with(Estimated::OCCUPANCY, true);
        fill.scheduled_occupancy
    });
    let target = setpoint_of(values.target);
    let heater_on = values.heater_on.unwrap_or_else(|| {
        estimated = estimated.with(Estimated::HEATER, true);
        values.air_temperature < target.celsius()
    });
    let rated =
        if fill.rated_power_point { values.rated_power_w } else { fill.zone_rated_power_w.or(values.rated_power_w) };
    let rated = rated.filter(|p| p.is_finite() && *p > 0.0);
    let (energy_wh, energy_known) = match (values.energy_wh, rated) {
        (Some(wh), _) => ((wh.max(0.0).floor() as u64 % (1u64 << 32)) as u32, true),
        (None, Some(power)) => {
            energy.advance(at, heater_on, power, fill.max_gap);
            estimated = estimated.with(Estimated::ENERGY, true);
            (energy.counter(), true)
        }
        (None, None) => (0, false),
    };
    let snapshot = ZoneSnapshot {
        air_temperature: values.air_temperature,
        target,
        occupied,
        heater_on,
        energy_wh,
        outdoor_temperature: values.outdoor_temperature.unwrap_or(f64::NAN),
        heater_power_w: rated.map_or(0, |p| p.round().clamp(0.0, f64::from(u16::MAX)) as u16),
    };
    LiveReading { at, snapshot, estimated, energy_known }
}

/// What the server assumes for a zone whose device lacks points, in words: what the model fit and the controllers
/// work with instead of a measurement (empty when the device tells everything they use).
#[must_use]
pub fn assumptions(profile: &device_profile::Profile, zone: &crate::storage::Zone) -> Vec<String> {
    let caps = profile.capabilities();
    let mut out = Vec::new();
    if profile.points.rated_power.is_none() {
        match (zone.rated_power_w, profile.rated_power_w) {
            (Some(w), _) => out.push(format!("heater power from the zone's rated_power_w ({w} W)")),
            (None, Some(w)) => out.push(format!("heater power from the profile's rated power ({w} W)")),
            (None, None) => out.push("heater power unknown: set the zone's rated_power_w".to_string()),
        }
    }
    if !caps.heater {
        out.push("heater state inferred: on while the air is below the device's target".to_string());
    }
    if !caps.energy {
        out.push("energy estimated: heater on-time × rated power".to_string());
    }
    if !caps.occupancy {
        let scheduled = zone.preferences.occupancy_schedule.as_ref().is_some_and(|s| !s.is_empty());
        out.push(if scheduled {
            "occupancy from the zone's occupancy_schedule".to_string()
        } else {
            "occupancy assumed (no sensor, no occupancy_schedule): occupied".to_string()
        });
    }
    if !caps.outdoor_temperature {
        out.push("outdoor temperature from the weather service".to_string());
    }
    out
}

/// The device's target as a setpoint: to 0.1 °C, within the setpoint range (a device may allow more).
pub fn setpoint_of(celsius: f64) -> Setpoint {
    let clamped = celsius.clamp(Setpoint::MIN_CELSIUS, Setpoint::MAX_CELSIUS);
    Setpoint::from_celsius((clamped * 10.0).round() / 10.0).unwrap_or_else(|_| {
        // Unreachable after the clamp; the lowest setpoint is the safe side.
        Setpoint::from_celsius(Setpoint::MIN_CELSIUS).expect("the minimum is a setpoint")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    fn values(heater: Option<bool>, energy: Option<f64>, rated: Option<f64>) -> DeviceValues {
        DeviceValues {
            air_temperature: 19.5,
            target: 21.0,
            occupied: None,
            heater_on: heater,
            energy_wh: energy,
            outdoor_temperature: None,
            rated_power_w: rated,
            valve_position_pct: None,
            window_open: None,
            humidity_pct: None,
            supply_temperature: None,
        }
    }

    const FILL: Fill = Fill {
        scheduled_occupancy: true,
        zone_rated_power_w: None,
        rated_power_point: false,
        max_gap: chrono::Duration::seconds(30),
    };

    #[test]
    fn energy_is_on_time_times_rated_power_from_the_stored_counter() {
        let mut e = EnergyEstimate::from_stored(Some(1000));
        let r = complete(at(0), &values(Some(true), None, Some(2000.0)), FILL, &mut e);
        assert_eq!((r.snapshot.energy_wh, r.energy_known), (1000, true));
        // 9 s on at 2000 W = 5 Wh; then 9 s off adds nothing.
        let _ = complete(at(9), &values(Some(false), None, Some(2000.0)), FILL, &mut e);
        let r = complete(at(18), &values(Some(true), None, Some(2000.0)), FILL, &mut e);
        assert_eq!(r.snapshot.energy_wh, 1005);
        assert!(r.estimated.contains(Estimated::ENERGY) && r.estimated.contains(Estimated::OCCUPANCY));
        // A gap beyond max_gap adds nothing.
        let r = complete(at(100), &values(Some(true), None, Some(2000.0)), FILL, &mut e);
        assert_eq!(r.snapshot.energy_wh, 1005);
        let stored = r.to_record(1);
        assert_eq!(
            (stored.energy_wh, stored.heater_on, stored.estimated.names()),
            (Some(1005), Some(true), vec!["energy_wh", "occupancy"])
        );
    }

    #[test]
    fn without_rated_power_energy_is_unknown_and_a_missing_heater_is_inferred_not_stored() {
        let mut e = EnergyEstimate::from_stored(None);
        let r = complete(at(0), &values(None, None, None), FILL, &mut e);
        assert!(!r.energy_known && r.snapshot.heater_on, "19.5 °C below a 21.0 target: demand");
        let stored = r.to_record(1);
        assert_eq!((stored.energy_wh, stored.heater_on, stored.outdoor_temp), (None, None, None));
        assert_eq!(stored.estimated, Estimated::OCCUPANCY);
        assert!(r.estimated.contains(Estimated::HEATER));
        let zone_power = Fill { zone_rated_power_w: Some(1000.0), ..FILL };
        let r = complete(at(0), &values(Some(false), None, None), zone_power, &mut e);
        assert!(r.energy_known && r.estimated.contains(Estimated::ENERGY));
        assert_eq!(r.snapshot.heater_power_w, 1000);
        // The zone's setting wins over a profile constant, a device's register over both.
        let r = complete(at(0), &values(Some(false), None, Some(2000.0)), zone_power, &mut e);
        assert_eq!(r.snapshot.heater_power_w, 1000);
        let register = Fill { rated_power_point: true, ..zone_power };
        let r = complete(at(0), &values(Some(false), None, Some(2000.0)), register, &mut e);
        assert_eq!(r.snapshot.heater_power_w, 2000);
    }

    #[test]
    fn a_metered_device_is_measured() {
        let mut e = EnergyEstimate::from_stored(None);
        let mut v = values(Some(true), Some(4_294_967_297.0), Some(2500.0));
        v.occupied = Some(false);
        let r = complete(at(0), &v, FILL, &mut e);
        assert_eq!((r.estimated, r.snapshot.energy_wh, r.snapshot.occupied), (Estimated::NONE, 1, false));
    }
}
