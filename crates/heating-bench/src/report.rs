//! Output: `trace.csv`, `kpis.json`, the results table, and the optimization timing.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use heating_core::preferences::Preferences;
use heating_core::units::Setpoint;
use heating_core::weather::SyntheticWeather;
use heating_core::zone::default_profiles;
use heating_predict::cap::DemandCap;
use heating_predict::control::building::control_building;
use heating_predict::control::{ControlContext, Controller, PredictiveConfig, Strategy, ZoneReading, controller};
use heating_predict::inputs::PriceProfile;
use heating_predict::model::ZoneModel;
use heating_predict::occupancy::OccupancyForecast;

use crate::cli::{ControllerArg, ScenarioArgs, TimingArgs};
use crate::scenario::{Scenario, ScenarioResult, TRACE_HEADER, Timing, run};
use crate::weather::{ForecastModel, WeatherSource};

/// Runs one strategy and writes `dir/trace.csv` and `dir/kpis.json`.
pub fn run_to_dir(sc: &Scenario, strategy: Strategy, dir: &Path) -> anyhow::Result<(ScenarioResult, Timing)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let trace_path = dir.join("trace.csv");
    let mut w = BufWriter::new(
        std::fs::File::create(&trace_path).with_context(|| format!("creating {}", trace_path.display()))?,
    );
    writeln!(w, "{TRACE_HEADER}")?;
    let (result, timing) = run(sc, strategy, |row, name| {
        writeln!(w, "{}", row.csv(name))?;
        Ok(())
    })?;
    w.flush()?;
    let json = serde_json::to_string_pretty(&result)?;
    std::fs::write(dir.join("kpis.json"), json + "\n")?;
    Ok((result, timing))
}

/// `heating-bench scenario`.
pub fn run_scenarios(args: &ScenarioArgs) -> anyhow::Result<()> {
    let sc = args.scenario()?;
    let strategies = args.controller.strategies();
    let mut results = Vec::new();
    for s in &strategies {
        let dir: PathBuf =
            if matches!(args.controller, ControllerArg::All) { args.out.join(s.as_str()) } else { args.out.clone() };
        let started = Instant::now();
        let (r, t) = run_to_dir(&sc, *s, &dir)?;
        eprintln!(
            "{s}: {:.1} s wall; {} controller calls, mean {:.2} ms, max {:.2} ms; wrote {}",
            started.elapsed().as_secs_f64(),
            t.calls,
            t.total_s / t.calls.max(1) as f64 * 1000.0,
            t.max_s * 1000.0,
            dir.display()
        );
        results.push(r);
    }
    print!("{}", table(&results));
    Ok(())
}

fn short(name: &str) -> String {
    name.split_whitespace().map(|w| w.chars().take(3).collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// The results table (Markdown).
#[must_use]
pub fn table(results: &[ScenarioResult]) -> String {
    let mut s = String::new();
    let Some(first) = results.first() else { return s };
    let zones: Vec<String> = first.zones.iter().map(|z| short(&z.zone)).collect();
    let _ = write!(s, "| controller |");
    for z in &zones {
        let _ = write!(s, " tdis {z} |");
    }
    let _ = writeln!(s, " tdis max | energy kWh | E/E* | cost € | C/C* | writes | switches |");
    let _ = writeln!(s, "|---|{}---:|---:|---:|---:|---:|---:|---:|", "---:|".repeat(zones.len()));
    let ratio = |r: Option<f64>| r.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    for r in results {
        let _ = write!(s, "| {} |", r.scenario.controller);
        for z in &r.zones {
            let _ = write!(s, " {:.2} |", z.kpis.tdis_kh);
        }
        let max = r.zones.iter().map(|z| z.kpis.tdis_kh).fold(0.0, f64::max);
        let t = &r.total;
        let _ = writeln!(
            s,
            " {max:.2} | {:.1} | {} | {:.2} | {} | {} | {} |",
            t.energy_kwh,
            ratio(t.energy_ratio),
            t.cost_eur,
            ratio(t.cost_ratio),
            t.setpoint_writes,
            t.heater_switches
        );
    }
    for r in results {
        let t = &r.total;
        let cap = r.scenario.demand_cap.as_ref().map_or_else(|| "no cap".to_string(), |c| format!("cap {} kW", c.kw));
        let _ = writeln!(
            s,
            "\n{}: highest 15-minute building mean {:.2} kW ({cap}); above the comfort ceiling {:.2} K·h; heaters \
             shed by the cap guard {} steps.",
            r.scenario.controller,
            t.max_15min_kw.unwrap_or(0.0),
            t.tover_kh,
            t.shed_steps
        );
    }
    if let Some(reference) = first.total.reference {
        let _ = writeln!(
            s,
            "\nPerfect-foresight optimum (from each run's own start temperatures; shown for the first run): energy \
             {:.1} kWh (costing {:.2} €), cost {:.2} € (using {:.1} kWh), residual tdis {:.3} K·h.",
            reference.energy_opt_kwh,
            reference.energy_opt_cost_eur,
            reference.cost_opt_eur,
            reference.cost_opt_energy_kwh,
            reference.tdis_opt_kh
        );
    }
    s
}

/// `heating-bench timing`: one predictive optimization per zone and control step, timed.
pub fn timing(args: &TimingArgs) -> anyhow::Result<()> {
    let weather = WeatherSource::Synthetic(SyntheticWeather::with_seed(1));
    let forecasts = ForecastModel { sigma_24h_k: 0.5, seed: 1 };
    let prices = PriceProfile::default();
    let prefs = Preferences::default();
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-01-12T00:00:00Z")?.to_utc();
    let mut all = Vec::new();
    println!("| zone | optimizations | mean ms | p95 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for profile in default_profiles() {
        let model = ZoneModel::from_params(&profile.params());
        let occupancy = OccupancyForecast::Schedule(profile.schedule.clone());
        let mut ctl = controller(Strategy::Predictive, &PredictiveConfig::default());
        let mut times = Vec::new();
        for k in 0..args.iterations {
            let now = start + Duration::minutes(15 * i64::from(k));
            let forecast = forecasts.issue(&weather, now);
            let ctx = ControlContext {
                now,
                utc_offset_minutes: 0,
                reading: Some(timing_reading(
                    now,
                    k,
                    weather.temperature_at(now),
                    profile.schedule.is_active(now.naive_utc()),
                )),
                stale_after: Duration::minutes(45),
                preferences: &prefs,
                hold: None,
                occupancy: &occupancy,
                forecast: &forecast,
                prices: &prices,
                model: &model,
                hysteresis_k: 0.3,
            };
            let t = Instant::now();
            let out = ctl.control(&ctx);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(out.target.is_some(), "no target: {}", out.reason);
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        let p95 = times[((times.len() as f64 * 0.95) as usize).min(times.len() - 1)];
        let max = times.last().copied().unwrap_or(0.0);
        println!("| {} | {} | {mean:.2} | {p95:.2} | {max:.2} |", profile.name, times.len());
        all.extend(times);
    }
    all.sort_by(f64::total_cmp);
    let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
    println!(
        "\nall zones: {} optimizations, mean {mean:.2} ms, max {:.2} ms (target < 50 ms)",
        all.len(),
        all.last().copied().unwrap_or(0.0)
    );
    joint_timing(args, &weather, &forecasts, &prices, &prefs, start)
}

/// The joint optimization of the five default zones under a 4 kW demand cap (one LP over all zones, 24 h at
/// 15-minute steps), one per control step.
fn joint_timing(
    args: &TimingArgs,
    weather: &WeatherSource,
    forecasts: &ForecastModel,
    prices: &PriceProfile,
    prefs: &Preferences,
    start: DateTime<Utc>,
) -> anyhow::Result<()> {
    let profiles = default_profiles();
    let models: Vec<ZoneModel> = profiles.iter().map(|p| ZoneModel::from_params(&p.params())).collect();
    let occupancy: Vec<OccupancyForecast> =
        profiles.iter().map(|p| OccupancyForecast::Schedule(p.schedule.clone())).collect();
    let mut controllers: Vec<Box<dyn Controller>> =
        profiles.iter().map(|_| controller(Strategy::Predictive, &PredictiveConfig::default())).collect();
    let cap = DemandCap::constant(4.0);
    let mut times = Vec::new();
    let mut capped = 0;
    for k in 0..args.iterations {
        let now = start + Duration::minutes(15 * i64::from(k));
        let forecast = forecasts.issue(weather, now);
        let mut zones: Vec<(&mut dyn Controller, ControlContext<'_>)> = controllers
            .iter_mut()
            .zip(profiles.iter().zip(&models).zip(&occupancy))
            .map(|(c, ((profile, model), occupancy))| {
                let ctx = ControlContext {
                    now,
                    utc_offset_minutes: 0,
                    reading: Some(timing_reading(
                        now,
                        k,
                        weather.temperature_at(now),
                        profile.schedule.is_active(now.naive_utc()),
                    )),
                    stale_after: Duration::minutes(45),
                    preferences: prefs,
                    hold: None,
                    occupancy,
                    forecast: &forecast,
                    prices,
                    model,
                    hysteresis_k: 0.3,
                };
                (&mut **c as &mut dyn Controller, ctx)
            })
            .collect();
        let t = Instant::now();
        let decision =
            control_building(&mut zones, Some(&cap), None, PredictiveConfig::default().shortfall_penalty_eur_per_kh);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        let joint = decision.joint.context("no joint plan")?;
        anyhow::ensure!(joint.error.is_none(), "joint plan failed: {:?}", joint.error);
        capped += usize::from(joint.capped_windows > 0);
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let p95 = times[((times.len() as f64 * 0.95) as usize).min(times.len().saturating_sub(1))];
    println!(
        "\njoint plan, {} zones under a 4 kW cap (one LP of {} variables): {} optimizations, mean {mean:.1} ms, p95 \
         {p95:.1} ms, max {:.1} ms (target < 200 ms); the cap bound in {capped} of them",
        profiles.len(),
        profiles.len() * 3 * 96 + 1,
        times.len(),
        times.last().copied().unwrap_or(0.0)
    );
    Ok(())
}

/// The reading a timing iteration plans from: the room somewhere between 17 and 21 °C, the device's target 20 °C.
fn timing_reading(now: DateTime<Utc>, k: u32, t_out: f64, occupied: bool) -> ZoneReading {
    ZoneReading {
        at: now,
        t_air: 17.0 + f64::from(k % 40) / 10.0,
        t_out: Some(t_out),
        occupied,
        heater_on: false,
        device_target: Setpoint::from_celsius(20.0).expect("20 °C is a valid setpoint"),
    }
}
