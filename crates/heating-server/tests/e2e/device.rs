//! A simulated room (heating-core's `SimZone`, on the test's clock) served over Modbus TCP through a device
//! profile: every request encodes the room's state into the profile's points, as a device speaking that register
//! map would. It answers FC01-06 and FC16; a write to the target point sets the room's target. Addresses between
//! points read as 0; a write elsewhere is refused with exception 02.
//!
//! With the `prototype-v1` profile it is exactly the Python prototype's simulated thermostat: four holding
//! registers, temperature ×10 truncated (the profile's `rounding = "toward_zero"`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Duration;
use device_profile::{PointKind, Profile, Table};
use heating_core::clock::SharedClock;
use heating_core::units::Setpoint;
use heating_core::weather::SyntheticWeather;
use heating_core::zone::{SimZone, ZoneProfile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Device {
    pub addr: SocketAddr,
    room: Arc<Mutex<SimZone>>,
    clock: SharedClock,
    weather: SyntheticWeather,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Device {
    /// A room of `room` on `clock`, served with `profile` on an ephemeral port.
    pub async fn start(profile: Profile, room: &ZoneProfile, clock: SharedClock) -> Self {
        let weather = SyntheticWeather::default();
        let sim = SimZone::new(room, 0, &weather, clock.now()).unwrap();
        let room = Arc::new(Mutex::new(sim));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let served = Served {
            profile: Arc::new(profile),
            room: room.clone(),
            clock: clock.clone(),
            weather,
            requests: requests.clone(),
        };
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let served = served.clone();
                tokio::spawn(async move { served.connection(stream).await });
            }
        });
        Self { addr, room, clock, weather, requests, task }
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The room's state now (advanced to the clock).
    pub fn room(&self) -> heating_core::registers::ZoneSnapshot {
        let mut room = self.room.lock().unwrap();
        room.advance_to(self.clock.now(), Duration::seconds(1), &self.weather);
        room.snapshot()
    }

    /// The heater's exact energy so far, Wh.
    pub fn energy_wh(&self) -> f64 {
        let mut room = self.room.lock().unwrap();
        room.advance_to(self.clock.now(), Duration::seconds(1), &self.weather);
        room.state().energy_j / 3600.0
    }
}

#[derive(Clone)]
struct Served {
    profile: Arc<Profile>,
    room: Arc<Mutex<SimZone>>,
    clock: SharedClock,
    weather: SyntheticWeather,
    requests: Arc<AtomicUsize>,
}

impl Served {
    /// The words (or bits as 0/1) of every point now.
    fn bank(&self) -> HashMap<(Table, u16), u16> {
        let s = {
            let mut room = self.room.lock().unwrap();
            room.advance_to(self.clock.now(), Duration::seconds(1), &self.weather);
            room.snapshot()
        };
        let energy_wh = self.room.lock().unwrap().state().energy_j / 3600.0;
        let mut bank = HashMap::new();
        for (kind, point) in self.profile.points.iter() {
            let flag = |b: bool| f64::from(u8::from(b));
            let words = match kind {
                PointKind::AirTemperature => point.encode_saturating(s.air_temperature),
                PointKind::Target => point.encode_saturating(s.target.celsius()),
                PointKind::Occupancy => point.encode_saturating(flag(s.occupied)),
                PointKind::Heater => point.encode_saturating(flag(s.heater_on)),
                PointKind::Energy => point.encode_counter(energy_wh.floor()),
                PointKind::OutdoorTemperature => point.encode_saturating(s.outdoor_temperature),
                PointKind::RatedPower => point.encode_saturating(f64::from(s.heater_power_w)),
                PointKind::ValvePosition => point.encode_saturating(if s.heater_on { 100.0 } else { 0.0 }),
                PointKind::WindowContact => point.encode_saturating(0.0),
                PointKind::Humidity => point.encode_saturating(45.0),
                PointKind::SupplyTemperature => point.encode_saturating(55.0),
            };
            for (i, w) in words.into_iter().enumerate() {
                bank.insert((point.table, point.address + i as u16), w);
            }
        }
        bank
    }

    fn set_target(&self, words: &[u16]) -> bool {
        let Ok(celsius) = self.profile.points.target.decode(words) else { return false };
        let Ok(target) = Setpoint::from_celsius((celsius * 10.0).round() / 10.0) else { return false };
        let mut room = self.room.lock().unwrap();
        room.advance_to(self.clock.now(), Duration::seconds(1), &self.weather);
        room.set_target(target);
        true
    }

    async fn connection(self, mut stream: TcpStream) {
        let mut header = [0u8; 7];
        loop {
            if stream.read_exact(&mut header).await.is_err() {
                return;
            }
            let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
            let mut pdu = vec![0u8; len.saturating_sub(1)];
            if len < 2 || stream.read_exact(&mut pdu).await.is_err() {
                return;
            }
            let answer = self.answer(&pdu);
            self.requests.fetch_add(1, Ordering::SeqCst);
            let mut frame = header[..4].to_vec();
            frame.extend_from_slice(&((answer.len() + 1) as u16).to_be_bytes());
            frame.push(header[6]);
            frame.extend_from_slice(&answer);
            if stream.write_all(&frame).await.is_err() {
                return;
            }
        }
    }

    fn answer(&self, pdu: &[u8]) -> Vec<u8> {
        let function = pdu[0];
        let exception = |code: u8| vec![function | 0x80, code];
        let word = |i: usize| u16::from_be_bytes([pdu[i], pdu[i + 1]]);
        if pdu.len() < 5 {
            return exception(3);
        }
        let (start, count) = (word(1), word(3));
        let target = self.profile.points.target;
        match function {
            1..=4 => {
                let table =
                    [Table::Coil, Table::DiscreteInput, Table::Holding, Table::Input][usize::from(function - 1)];
                let bank = self.bank();
                let values: Vec<u16> = (0..count).map(|i| *bank.get(&(table, start + i)).unwrap_or(&0)).collect();
                let mut out = vec![function];
                if function <= 2 {
                    let mut bytes = vec![0u8; values.len().div_ceil(8)];
                    for (i, v) in values.iter().enumerate() {
                        if *v != 0 {
                            bytes[i / 8] |= 1 << (i % 8);
                        }
                    }
                    out.push(bytes.len() as u8);
                    out.extend(bytes);
                } else {
                    out.push((values.len() * 2) as u8);
                    values.iter().for_each(|v| out.extend(v.to_be_bytes()));
                }
                out
            }
            5 | 6 => {
                let table = if function == 5 { Table::Coil } else { Table::Holding };
                let value = if function == 5 { u16::from(count == 0xFF00) } else { count };
                if target.table != table || target.address != start || target.width() != 1 {
                    return exception(2);
                }
                if !self.set_target(&[value]) {
                    return exception(3);
                }
                pdu[..5].to_vec()
            }
            16 => {
                let words: Vec<u16> = (0..usize::from(count)).map(|i| word(6 + 2 * i)).collect();
                if target.table != Table::Holding || target.address != start || target.width() != count {
                    return exception(2);
                }
                if !self.set_target(&words) {
                    return exception(3);
                }
                pdu[..5].to_vec()
            }
            _ => exception(1),
        }
    }
}
