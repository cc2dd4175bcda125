//! A zone's device as its profile describes it: the register space built from the profile's points over the
//! zone's state, and the writes the profile's target allows.
//!
//! - Each table with points spans addresses `0..end` (the end of its last point); addresses of no point read 0,
//!   so a master may bridge gaps as its read plan does. A read past `end` is exception 02; a table without points
//!   is not served (01). A profile without input-register points answers FC04 from its holding registers, as
//!   README's map (`heating-sim`) does.
//! - Only the target is writable, with its profile's function: `fc06` targets take FC06 and FC16 (README's map
//!   takes both), `fc16` targets FC16 only (FC06 is exception 01, as on such devices), `fc05` targets FC05 only.
//!   A write touching any other address is 02; a value outside the profile's `min..=max` (or that is not a
//!   number, or a coil value other than 0xFF00/0x0000) is 03; an accepted value is rounded to the profile's step.
//! - Points the simulated room has no quantity for are served as plausible constants: the valve open 100 % while
//!   the heater runs (else 0), the window closed, humidity 45 %, supply water 55 °C while heating (else the air
//!   temperature).

use std::sync::Arc;

use device_profile::{PointKind, Profile, Table, Target, WriteFunction};
use heating_core::registers::ZoneSnapshot;
use heating_core::units::Setpoint;

use crate::frame::{
    Exception, FC_READ_COILS, FC_READ_DISCRETE, FC_READ_HOLDING, FC_READ_INPUT, FC_WRITE_COIL, FC_WRITE_MULTIPLE,
    FC_WRITE_SINGLE, Functions,
};

/// Most registers one FC16 request may write.
const MAX_WRITE_QUANTITY: usize = 123;

/// The served form of one device profile (shared by every zone speaking it).
#[derive(Debug)]
pub struct DeviceMap {
    profile: Arc<Profile>,
    target: Target,
    functions: Functions,
    /// Per table (in [`Table::ALL`] order): the first address past its last point, or `None` without points.
    ends: [Option<u32>; 4],
    input_mirrors_holding: bool,
}

fn index(table: Table) -> usize {
    match table {
        Table::Holding => 0,
        Table::Input => 1,
        Table::Coil => 2,
        Table::DiscreteInput => 3,
    }
}

impl DeviceMap {
    #[must_use]
    pub fn new(profile: Arc<Profile>) -> Self {
        let mut ends = [None; 4];
        for (_, p) in profile.points.iter() {
            let end = &mut ends[index(p.table)];
            *end = Some(end.unwrap_or(0).max(p.end()));
        }
        let input_mirrors_holding = ends[index(Table::Input)].is_none();
        let mut functions = Functions::EMPTY;
        for (table, function) in [
            (Table::Coil, FC_READ_COILS),
            (Table::DiscreteInput, FC_READ_DISCRETE),
            (Table::Holding, FC_READ_HOLDING),
            (Table::Input, FC_READ_INPUT),
        ] {
            if ends[index(table)].is_some() {
                functions = functions.with(function);
            }
        }
        if input_mirrors_holding && ends[index(Table::Holding)].is_some() {
            functions = functions.with(FC_READ_INPUT);
        }
        let target = profile.target();
        functions = match target.write {
            WriteFunction::Fc05 => functions.with(FC_WRITE_COIL),
            WriteFunction::Fc06 => functions.with(FC_WRITE_SINGLE).with(FC_WRITE_MULTIPLE),
            WriteFunction::Fc16 => functions.with(FC_WRITE_MULTIPLE),
        };
        Self { profile, target, functions, ends, input_mirrors_holding }
    }

    #[must_use]
    pub fn profile(&self) -> &Arc<Profile> {
        &self.profile
    }

    pub(crate) fn functions(&self) -> Functions {
        self.functions
    }

    /// FC01-FC04: `quantity` units of the function's table from `addr` (bits as 0/1), quantity checked first (03),
    /// then the address (02).
    pub(crate) fn read(
        &self,
        zone: &ZoneSnapshot,
        function: u8,
        addr: u16,
        quantity: u16,
    ) -> Result<Vec<u16>, Exception> {
        let table = match function {
            FC_READ_COILS => Table::Coil,
            FC_READ_DISCRETE => Table::DiscreteInput,
            FC_READ_INPUT if !self.input_mirrors_holding => Table::Input,
            FC_READ_HOLDING | FC_READ_INPUT => Table::Holding,
            _ => return Err(Exception::IllegalFunction),
        };
        if quantity == 0 || quantity > table.max_read() {
            return Err(Exception::IllegalDataValue);
        }
        let end = self.ends[index(table)].ok_or(Exception::IllegalFunction)?;
        let stop = u32::from(addr) + u32::from(quantity);
        if stop > end {
            return Err(Exception::IllegalDataAddress);
        }
        let image = self.image(zone, table, end);
        Ok(image[usize::from(addr)..stop as usize].to_vec())
    }

    /// The table's registers (or bits) `0..end` for the zone's state now.
    fn image(&self, zone: &ZoneSnapshot, table: Table, end: u32) -> Vec<u16> {
        let mut image = vec![0u16; end as usize];
        for (kind, p) in self.profile.points.iter().filter(|(_, p)| p.table == table) {
            let value = value_of(kind, zone);
            let words = if kind == PointKind::Energy { p.encode_counter(value) } else { p.encode_saturating(value) };
            let from = usize::from(p.address);
            image[from..from + words.len()].copy_from_slice(&words);
        }
        image
    }

    /// FC06/FC16: `values` from `addr`; only exactly the target's registers. Returns the new target.
    pub(crate) fn write_registers(&self, addr: u16, values: &[u16]) -> Result<Setpoint, Exception> {
        if values.is_empty() || values.len() > MAX_WRITE_QUANTITY {
            return Err(Exception::IllegalDataValue);
        }
        let p = &self.target.point;
        if p.table != Table::Holding || addr != p.address || values.len() != usize::from(p.width()) {
            return Err(Exception::IllegalDataAddress);
        }
        self.accept(p.decode(values).map_err(|_| Exception::IllegalDataValue)?)
    }

    /// FC05: `value` 0xFF00 (on) or 0x0000 (off), checked first (03), then the address: the target coil only (02).
    pub(crate) fn write_coil(&self, addr: u16, value: u16) -> Result<Setpoint, Exception> {
        let on = match value {
            0xFF00 => 1,
            0x0000 => 0,
            _ => return Err(Exception::IllegalDataValue),
        };
        let p = &self.target.point;
        if p.table != Table::Coil || addr != p.address {
            return Err(Exception::IllegalDataAddress);
        }
        self.accept(p.decode(&[on]).map_err(|_| Exception::IllegalDataValue)?)
    }

    /// A written target within the profile's range, rounded to its step.
    fn accept(&self, value: f64) -> Result<Setpoint, Exception> {
        let t = &self.target;
        let tolerance = t.step * 1e-6;
        if !value.is_finite() || value < t.min - tolerance || value > t.max + tolerance {
            return Err(Exception::IllegalDataValue);
        }
        Setpoint::from_celsius(t.round(value).clamp(t.min, t.max)).map_err(|_| Exception::IllegalDataValue)
    }
}

/// What the simulated room shows for a point.
fn value_of(kind: PointKind, z: &ZoneSnapshot) -> f64 {
    let heating = if z.heater_on { 1.0 } else { 0.0 };
    match kind {
        PointKind::AirTemperature => z.air_temperature,
        PointKind::Target => z.target.celsius(),
        PointKind::Occupancy => f64::from(u8::from(z.occupied)),
        PointKind::Heater => heating,
        PointKind::Energy => f64::from(z.energy_wh),
        PointKind::OutdoorTemperature => z.outdoor_temperature,
        PointKind::RatedPower => f64::from(z.heater_power_w),
        PointKind::ValvePosition => 100.0 * heating,
        PointKind::WindowContact => 0.0,
        PointKind::Humidity => 45.0,
        PointKind::SupplyTemperature => {
            if z.heater_on {
                55.0
            } else {
                z.air_temperature
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(name: &str) -> DeviceMap {
        DeviceMap::new(Arc::new(device_profile::builtin(name).unwrap()))
    }

    fn snapshot() -> ZoneSnapshot {
        ZoneSnapshot {
            air_temperature: 20.96,
            target: Setpoint::from_celsius(21.0).unwrap(),
            occupied: true,
            heater_on: false,
            energy_wh: 0x0001_0002,
            outdoor_temperature: -3.25,
            heater_power_w: 2500,
        }
    }

    #[test]
    fn heating_sim_serves_exactly_the_register_maps_words() {
        let m = map("heating-sim");
        let s = snapshot();
        let words = heating_core::registers::ZoneRegisters::encode(&s).0.to_vec();
        assert_eq!(m.read(&s, FC_READ_HOLDING, 0, 8).unwrap(), words);
        assert_eq!(m.read(&s, FC_READ_INPUT, 0, 8).unwrap(), words, "FC04 mirrors the holding registers");
        for (function, served) in
            [(1, false), (2, false), (3, true), (4, true), (5, false), (6, true), (0x0F, false), (0x10, true)]
        {
            assert_eq!(m.functions().serves(function), served, "FC{function:02}");
        }
        assert_eq!(m.write_registers(1, &[215]).unwrap().register(), 215);
        assert_eq!(m.write_registers(1, &[351]), Err(Exception::IllegalDataValue));
        assert_eq!(m.write_registers(0, &[215]), Err(Exception::IllegalDataAddress));
    }

    #[test]
    fn prototype_truncates_the_air_temperature() {
        let m = map("prototype-v1");
        assert_eq!(m.read(&snapshot(), FC_READ_HOLDING, 0, 4).unwrap(), vec![209, 210, 1, 0]);
        assert_eq!(m.read(&snapshot(), FC_READ_HOLDING, 0, 5), Err(Exception::IllegalDataAddress));
    }

    #[test]
    fn thermo_f32_reads_fc16_only_and_rounds_to_its_step() {
        let m = map("thermo-f32");
        let s = snapshot();
        let input = m.read(&s, FC_READ_INPUT, 0, 14).unwrap();
        assert_eq!(f32::from_bits((u32::from(input[1]) << 16) | u32::from(input[0])), 20.96_f32);
        assert_eq!(&input[6..10], &[0, 0, 0, 0], "the bridged gap reads 0");
        assert_eq!((input[10], input[11]), (2, 1), "uint32 low word first");
        assert_eq!(m.read(&s, FC_READ_HOLDING, 100, 3).unwrap(), vec![0, 0x41A8, 250]);
        assert!(!m.functions().serves(FC_WRITE_SINGLE) && m.functions().serves(FC_WRITE_MULTIPLE));
        let w = (21.3_f32).to_bits();
        assert_eq!(m.write_registers(100, &[w as u16, (w >> 16) as u16]).unwrap().celsius(), 21.5);
        let w = (9.5_f32).to_bits();
        assert_eq!(m.write_registers(100, &[w as u16, (w >> 16) as u16]), Err(Exception::IllegalDataValue));
        let nan = f32::NAN.to_bits();
        assert_eq!(m.write_registers(100, &[nan as u16, (nan >> 16) as u16]), Err(Exception::IllegalDataValue));
        assert_eq!(m.write_registers(100, &[0]), Err(Exception::IllegalDataAddress), "half a float");
        assert_eq!(m.write_registers(101, &[0, 0]), Err(Exception::IllegalDataAddress));
    }

    #[test]
    fn relay_coil_serves_bits() {
        let m = map("relay-coil");
        let mut s = snapshot();
        s.heater_on = true;
        assert_eq!(m.read(&s, FC_READ_COILS, 0, 1).unwrap(), vec![1]);
        assert_eq!(m.read(&s, FC_READ_DISCRETE, 0, 2).unwrap(), vec![1, 0]);
        assert_eq!(m.read(&s, FC_READ_DISCRETE, 0, 3), Err(Exception::IllegalDataAddress));
        assert_eq!(m.read(&s, FC_READ_COILS, 0, 2001), Err(Exception::IllegalDataValue));
        assert_eq!(
            m.read(&s, FC_READ_INPUT, 0, 2).unwrap(),
            vec![2096, 74],
            "×0.01; (-3.25 + 40) / 0.5 = 73.5, rounded half away from zero"
        );
        assert_eq!(m.read(&s, FC_READ_HOLDING, 0, 1).unwrap(), vec![42]);
        assert!(!m.functions().serves(FC_WRITE_COIL), "the heater coil is read-only");
        assert_eq!(m.write_registers(0, &[43]).unwrap().celsius(), 21.5);
        assert_eq!(m.write_registers(0, &[61]), Err(Exception::IllegalDataValue), "30.5 > max 30");
    }

    #[test]
    fn a_coil_target_takes_fc05_only() {
        let mut p = device_profile::builtin("relay-coil").unwrap();
        let coil = device_profile::Point {
            table: Table::Coil,
            address: 5,
            data_type: device_profile::DataType::Bool,
            word_order: None,
            scale: 4.0,
            offset: 17.0,
            rounding: None,
            write: Some(WriteFunction::Fc05),
            min: Some(17.0),
            max: Some(21.0),
            step: Some(4.0),
            wraps_at: None,
        };
        p.points.target = coil;
        p.validate().unwrap();
        let m = DeviceMap::new(Arc::new(p));
        assert!(m.functions().serves(FC_WRITE_COIL) && !m.functions().serves(FC_WRITE_SINGLE));
        assert_eq!(m.write_coil(5, 0xFF00).unwrap().celsius(), 21.0);
        assert_eq!(m.write_coil(5, 0x0000).unwrap().celsius(), 17.0);
        assert_eq!(m.write_coil(5, 0x0001), Err(Exception::IllegalDataValue));
        assert_eq!(m.write_coil(0, 0xFF00), Err(Exception::IllegalDataAddress), "the heater relay");
        let mut s = snapshot();
        s.target = Setpoint::from_celsius(21.0).unwrap();
        assert_eq!(m.read(&s, FC_READ_COILS, 5, 1).unwrap(), vec![1]);
    }
}
