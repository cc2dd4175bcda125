//! End-to-end checks of the scenario runner: determinism, KPIs that follow from the trace, and the binary.

use std::collections::BTreeMap;
use std::path::Path;

use heating_bench::cli::ScenarioArgs;
use heating_bench::report::run_to_dir;
use heating_predict::control::Strategy;

/// A short scenario: one warm-up day, two test days, two zones.
fn short_args() -> ScenarioArgs {
    ScenarioArgs { warmup_days: 1, test_days: 2, ..ScenarioArgs::default() }
}

fn two_zones(args: &ScenarioArgs) -> heating_bench::scenario::Scenario {
    let mut sc = args.scenario().unwrap();
    sc.zones.retain(|z| z.profile.name == "Office" || z.profile.name == "Bedroom");
    sc
}

#[test]
fn same_seed_gives_identical_kpis_and_trace() {
    // One zone keeps the predictive runs quick in a debug build.
    let mut sc = two_zones(&short_args());
    sc.zones.retain(|z| z.profile.name == "Office");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_to_dir(&sc, Strategy::Predictive, a.path()).unwrap();
    run_to_dir(&sc, Strategy::Predictive, b.path()).unwrap();
    let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(read(a.path(), "kpis.json"), read(b.path(), "kpis.json"));
    assert_eq!(read(a.path(), "trace.csv"), read(b.path(), "trace.csv"));
    // Another seed is another scenario.
    let (c, d) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let quick = heating_bench::scenario::Scenario { reference: false, ..sc.clone() };
    run_to_dir(&quick, Strategy::Constant, c.path()).unwrap();
    let other =
        heating_bench::scenario::Scenario { reference: false, ..two_zones(&ScenarioArgs { seed: 2, ..short_args() }) };
    run_to_dir(&other, Strategy::Constant, d.path()).unwrap();
    assert_ne!(read(c.path(), "trace.csv"), read(d.path(), "trace.csv"));
}

#[derive(Default, Debug)]
struct Sums {
    tdis_kh: f64,
    energy_kwh: f64,
    cost_eur: f64,
    tover_kh: f64,
    rows: usize,
}

fn sums_from_trace(path: &Path, step_s: f64) -> BTreeMap<String, Sums> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "timestamp,zone,t_air,t_out,target,heater_on,power_w,occupied,lower_bound,price_eur_kwh,upper_bound,cap_kw,shed"
    );
    let mut out: BTreeMap<String, Sums> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 13, "{line}");
        let num = |i: usize| f[i].parse::<f64>().unwrap();
        let s = out.entry(f[1].to_string()).or_default();
        let dt_h = step_s / 3600.0;
        s.tdis_kh += (num(8) - num(2)).max(0.0) * dt_h;
        let e = num(6) * dt_h / 1000.0;
        s.energy_kwh += e;
        s.cost_eur += e * num(9);
        s.tover_kh += (num(2) - num(10)).max(0.0) * dt_h;
        s.rows += 1;
        assert_eq!(f[5] == "1", num(6) > 0.0, "power follows the heater state: {line}");
    }
    out
}

#[test]
fn kpis_follow_from_the_trace() {
    let sc = two_zones(&short_args());
    for strategy in [Strategy::Reactive, Strategy::Constant] {
        let dir = tempfile::tempdir().unwrap();
        run_to_dir(&sc, strategy, dir.path()).unwrap();
        let kpis: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("kpis.json")).unwrap()).unwrap();
        let sums = sums_from_trace(&dir.path().join("trace.csv"), 60.0);
        let zones = kpis["zones"].as_array().unwrap();
        assert_eq!(zones.len(), 2);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()));
        let (mut tdis, mut energy) = (0.0, 0.0);
        for z in zones {
            let s = &sums[z["zone"].as_str().unwrap()];
            assert_eq!(s.rows, 2 * 24 * 60, "one row per step of the test days");
            assert!(close(s.tdis_kh, z["tdis_kh"].as_f64().unwrap()), "{strategy}: {s:?} vs {z}");
            assert!(close(s.energy_kwh, z["energy_kwh"].as_f64().unwrap()), "{strategy}: {s:?} vs {z}");
            assert!(close(s.cost_eur, z["cost_eur"].as_f64().unwrap()), "{strategy}: {s:?} vs {z}");
            assert!(close(s.tover_kh, z["tover_kh"].as_f64().unwrap()), "{strategy}: {s:?} vs {z}");
            tdis += s.tdis_kh;
            energy += s.energy_kwh;
            // The reference is a lower bound on energy for anything that keeps comfort.
            // (From the zone's own start temperature, which may already be below the bound: then some shortfall
            // is unavoidable, but never more than the controller's.)
            let opt = z["reference"]["energy_opt_kwh"].as_f64().unwrap();
            let tdis_opt = z["reference"]["tdis_opt_kh"].as_f64().unwrap();
            assert!(opt > 0.0 && tdis_opt <= s.tdis_kh + 0.01, "{strategy}: {tdis_opt} vs {s:?}");
            if s.tdis_kh < 1e-6 && tdis_opt < 1e-3 {
                assert!(s.energy_kwh >= opt * 0.999, "{strategy}: {} below the optimum {opt}", s.energy_kwh);
            }
        }
        assert!(close(tdis, kpis["total"]["tdis_kh"].as_f64().unwrap()));
        assert!(close(energy, kpis["total"]["energy_kwh"].as_f64().unwrap()));
        assert_eq!(kpis["scenario"]["controller"], strategy.as_str());
    }
}

#[test]
fn the_binary_runs_a_scenario_from_files_and_prints_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let weather = dir.path().join("weather.csv");
    let mut csv = String::from("timestamp,temp_c\n");
    for h in 0..(3 * 24) {
        csv.push_str(
            &format!("2026-01-05T{:02}:00:00Z,{}\n", h % 24, -2.0 + f64::from(h % 24) / 6.0)
                .replace("2026-01-05", &format!("2026-01-{:02}", 5 + h / 24)),
        );
    }
    std::fs::write(&weather, csv).unwrap();
    let zones = dir.path().join("zones.toml");
    std::fs::write(
        &zones,
        r#"
[[zones]]
name = "Study"
capacitance_mj_per_k = 2.0
ua_w_per_k = 20.0
heater_power_w = 1000.0
schedule = ["mon-fri 09:00-17:00"]

[preferences.Study]
occupied_temp = 20.0
unoccupied_temp = 16.0
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_heating-bench"))
        .args(["scenario", "--controller", "all", "--warmup-days", "1", "--test-days", "1"])
        .args(["--weather", weather.to_str().unwrap(), "--zones", zones.to_str().unwrap()])
        .args(["--schedule", "learned", "--model", "true", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    for s in ["constant", "reactive", "scheduled", "predictive"] {
        assert!(stdout.contains(&format!("| {s} |")), "{stdout}");
        let kpis = std::fs::read_to_string(out.join(s).join("kpis.json")).unwrap();
        assert!(kpis.contains("\"Study\"") && kpis.contains("weather.csv"), "{kpis}");
    }
    assert!(stdout.contains("E/E*"));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_heating-bench"))
        .args(["scenario", "--controller", "pid"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown control strategy"));
}

/// Building power per aligned 15-minute window from the trace (a row's step ends at its timestamp), kW.
fn window_means_kw(path: &Path, step_s: i64) -> BTreeMap<i64, f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut joules: BTreeMap<i64, f64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let end = chrono::DateTime::parse_from_rfc3339(f[0]).unwrap().timestamp();
        let window = (end - step_s).div_euclid(900);
        *joules.entry(window).or_default() += f[6].parse::<f64>().unwrap() * step_s as f64;
        assert_eq!(f[11], "3.000", "the cap in force: {line}");
    }
    joules.into_iter().map(|(w, j)| (w, j / 900.0 / 1000.0)).collect()
}

#[test]
fn a_demand_cap_holds_in_every_window_of_the_trace_and_the_ceiling_is_kept() {
    // Three zones (2.5 + 1.5 + 1.0 kW of heaters) under a 3 kW cap, comfort ceilings 24 °C vacant / 22 °C occupied.
    let args = ScenarioArgs {
        demand_cap_kw: Some(3.0),
        storage_max: Some(24.0),
        occupied_max: Some(22.0),
        // The true model: one warm-up day is too short to identify one.
        model: heating_bench::scenario::ModelChoice::True,
        test_days: 1,
        ..short_args()
    };
    let mut sc = args.scenario().unwrap();
    sc.zones.retain(|z| ["Living Room", "Kitchen", "Office"].contains(&z.profile.name.as_str()));
    for strategy in [Strategy::Predictive, Strategy::Constant] {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = run_to_dir(&sc, strategy, dir.path()).unwrap();
        let means = window_means_kw(&dir.path().join("trace.csv"), 60);
        assert_eq!(means.len(), 96);
        let max = means.values().copied().fold(0.0, f64::max);
        assert!(max <= 3.0 + 1e-9, "{strategy}: a 15-minute mean of {max} kW");
        assert!((result.total.max_15min_kw.unwrap() - max).abs() < 1e-9);
        let text = std::fs::read_to_string(dir.path().join("trace.csv")).unwrap();
        let row = text.lines().nth(1).unwrap();
        let upper: f64 = row.split(',').nth(10).unwrap().parse().unwrap();
        let occupied = row.split(',').nth(7).unwrap() == "1";
        assert_eq!(upper, if occupied { 22.0 } else { 24.0 }, "{row}");
        if strategy == Strategy::Constant {
            // 21 °C everywhere would need more than the cap at times: the guard rotates the heaters.
            assert!(result.total.shed_steps > 0);
        } else {
            // The joint plan keeps comfort within the cap.
            for z in &result.zones {
                assert!(z.kpis.tdis_kh < 0.5, "{}: {} K·h", z.zone, z.kpis.tdis_kh);
            }
            let kpis = std::fs::read_to_string(dir.path().join("kpis.json")).unwrap();
            assert!(kpis.contains("\"demand_cap\"") && kpis.contains("\"ceilings_c\""), "{kpis}");
        }
    }
}

#[test]
fn the_committed_day_ahead_series_is_what_the_generator_writes() {
    let args = heating_bench::prices::PricesArgs {
        start: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        days: 31,
        interval_min: 15,
        seed: 1,
        out: "-".into(),
    };
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/day-ahead-2026-01.csv")).unwrap();
    assert_eq!(heating_bench::prices::csv(&args), committed);
    // And the benchmark reads it as a day-ahead series.
    let sc = ScenarioArgs {
        prices: concat!(env!("CARGO_MANIFEST_DIR"), "/data/day-ahead-2026-01.csv").into(),
        ..ScenarioArgs::default()
    }
    .scenario()
    .unwrap();
    assert!(matches!(sc.prices, heating_predict::inputs::PriceProfile::DayAhead { .. }));
    assert_eq!(sc.price_publication_hour, Some(12));
}

#[test]
fn unset_ceilings_plan_exactly_as_the_occupied_temperature_ceiling() {
    // The default (no ceilings) is the rule before they existed: at most the occupants' 21 °C.
    let mut sc = two_zones(&ScenarioArgs { model: heating_bench::scenario::ModelChoice::True, ..short_args() });
    sc.zones.retain(|z| z.profile.name == "Office");
    sc.reference = false;
    let mut explicit = sc.clone();
    for z in &mut explicit.zones {
        z.preferences.storage_max_temp = Some(21.0);
        z.preferences.occupied_max_temp = Some(21.0);
    }
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_to_dir(&sc, Strategy::Predictive, a.path()).unwrap();
    run_to_dir(&explicit, Strategy::Predictive, b.path()).unwrap();
    let read = |d: &Path| std::fs::read_to_string(d.join("trace.csv")).unwrap();
    assert_eq!(read(a.path()), read(b.path()));
}
