//! What do the alert rules cost per poll cycle?
//!
//! Feeds the rules (`heating_server::alerts::Rules`, the pure part of the alert job run after every poll cycle) one
//! observation per zone per cycle for 1,000 zones over a simulated day at the default 5 s poll interval (17,280
//! cycles), with a tenth of the zones misbehaving in turn (offline, cold, heater without effect), and prints the
//! time per cycle and the transitions made.
//!
//! ```sh
//! cargo run --release -p heating-server --example alerts_bench
//! ```

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use heating_server::alerts::{Observation, Rules, SeenReading, Transition};
use heating_server::config::AlertSettings;

const ZONES: i64 = 1000;
const POLL_S: i64 = 5;
const CYCLES: i64 = 24 * 3600 / POLL_S;

fn main() {
    let start: DateTime<Utc> = "2026-01-05T00:00:00Z".parse().unwrap();
    let mut rules = Rules::new(AlertSettings::default().thresholds().unwrap());
    let (mut raised, mut cleared) = (0usize, 0usize);
    let mut worst = std::time::Duration::ZERO;
    let started = Instant::now();
    for c in 0..CYCLES {
        let now = start + Duration::seconds(c * POLL_S);
        let hour = c * POLL_S / 3600;
        let t = Instant::now();
        for z in 0..ZONES {
            // Each hour another tenth of the zones misbehaves: offline, cold while occupied, or heating in vain.
            let bad = (z + hour) % 10 == 0;
            let kind = (z / 10 + hour) % 3;
            let air = if bad && kind == 1 { 17.0 } else { 20.5 + ((c + z) % 7) as f64 * 0.05 };
            let reading = SeenReading { at: now, air_c: air, heater_on: bad && kind == 2, occupied: true };
            let o = Observation {
                zone_id: z,
                now,
                reading: (!(bad && kind == 0)).then_some(reading),
                reachable: !(bad && kind == 0),
                occupied_temp: 21.0,
                failed_writes: 0,
                fit: None,
            };
            for tr in rules.observe(&o) {
                match tr {
                    Transition::Raise { .. } => raised += 1,
                    Transition::Clear { .. } => cleared += 1,
                }
            }
        }
        worst = worst.max(t.elapsed());
    }
    let total = started.elapsed();
    println!(
        "{ZONES} zones, {CYCLES} cycles: {:.1} µs per cycle (mean), {:.1} µs worst, {:.2} µs per zone; \
         {raised} raised, {cleared} cleared",
        total.as_secs_f64() * 1e6 / CYCLES as f64,
        worst.as_secs_f64() * 1e6,
        total.as_secs_f64() * 1e6 / (CYCLES * ZONES) as f64,
    );
}
