//! What decoding costs per poll: plan and decode each built-in profile's answers many times and print the figures.
//!
//! `cargo run --release -p device-profile --example decode_bench`

use std::hint::black_box;
use std::time::Instant;

use device_profile::{ReadPlan, builtins};

fn main() {
    const ROUNDS: u32 = 1_000_000;
    println!("{:<14} {:>8} {:>14} {:>16}", "profile", "requests", "decode ns/poll", "plan ns/profile");
    for profile in builtins() {
        let started = Instant::now();
        for _ in 0..ROUNDS / 10 {
            black_box(ReadPlan::new(black_box(&profile)));
        }
        let plan_ns = started.elapsed().as_nanos() as f64 / f64::from(ROUNDS / 10);
        let plan = ReadPlan::new(&profile);
        // Answers holding the value each point encodes for a mid-range reading (zeros would be implausible targets).
        let mut answers: Vec<Vec<u16>> = plan.blocks.iter().map(|b| vec![0; usize::from(b.count)]).collect();
        for slot in &plan.slots {
            let point = profile.points.get(slot.kind).expect("planned points exist");
            let words =
                point.encode_saturating(if point.data_type == device_profile::DataType::Bool { 1.0 } else { 21.0 });
            let from = usize::from(slot.offset);
            answers[slot.block][from..from + words.len()].copy_from_slice(&words);
        }
        profile.decode_values(&plan, &answers).expect("plausible answers");
        let started = Instant::now();
        for _ in 0..ROUNDS {
            black_box(profile.decode_values(black_box(&plan), black_box(&answers)).ok());
        }
        let decode_ns = started.elapsed().as_nanos() as f64 / f64::from(ROUNDS);
        println!("{:<14} {:>8} {:>14.0} {:>16.0}", profile.name, plan.blocks.len(), decode_ns, plan_ns);
    }
}
