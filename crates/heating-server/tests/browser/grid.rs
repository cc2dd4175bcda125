//! Money and the grid on the zone page: the plan chart draws the comfort ceiling band (`storage_max_temp` /
//! `occupied_max_temp`) and the building demand cap (`DEMAND_CAP_KW`, `DEMAND_CAP_WINDOWS`) with the joint plan's
//! building power, as `GET /zones/{id}/plan` has them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::demo::Demo;
use crate::webdriver::Driver;
use crate::{LOAD, severe};

/// The plan chart's ceiling, bound and cap lines (their path data), the cap's values, the building bars, the legend
/// and the tooltip at point `k`; null while no chart is drawn.
const GRID_JS: &str = r#"
    const k = arguments[0];
    const svg = document.querySelector('#plan-chart svg.plan-chart');
    if (!svg) return null;
    const d = (css) => { const p = svg.querySelector(css); return p ? p.getAttribute('d') : null; };
    const temp = d('path.plan-temp').split(/[ML]/).filter(Boolean).map((p) => p.split(',').map(Number));
    let tip = null;
    if (temp[k]) {
        const rect = svg.getBoundingClientRect();
        const scale = rect.width / svg.viewBox.baseVal.width;
        svg.querySelector('.plan-overlay').dispatchEvent(new PointerEvent('pointermove', {
            bubbles: true, clientX: rect.left + temp[k][0] * scale, clientY: rect.top + 40 }));
        tip = document.querySelector('#plan-chart .chart-tip').textContent;
    }
    const strip = svg.querySelector('.plan-power rect.strip-bg');
    const legend = (f) => { const li = document.querySelector(`#plan [data-field="${f}"]`); return li && !li.hidden ? li.textContent : null; };
    return {
        made_at: svg.dataset.madeAt,
        ceiling: d('path.plan-ceiling'), bound: d('path.plan-bound'), cap: d('path.plan-cap'),
        cap_kw: (svg.querySelector('path.plan-cap') || { dataset: {} }).dataset.kw || null,
        building: svg.querySelectorAll('.plan-power rect.building').length,
        strip_top: Number(strip.getAttribute('y')), strip_bottom: Number(strip.getAttribute('y')) + Number(strip.getAttribute('height')),
        legend_cap: legend('legend-cap'), legend_building: legend('legend-building'),
        label: svg.getAttribute('aria-label'),
        tip,
    };
"#;

/// The y of each level of a step path (`M x0,y L x1,y L x2,y' L x3,y' …`: two vertices per value), in order.
fn step_levels(d: &str) -> Vec<f64> {
    let ys: Vec<f64> =
        d.split(['M', 'L']).filter(|p| !p.is_empty()).map(|p| p.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(ys.len() % 2, 0, "two vertices per step: {d}");
    ys.chunks(2)
        .map(|c| {
            assert_eq!(c[0], c[1], "a flat step: {d}");
            c[0]
        })
        .collect()
}

/// `values[i]` drawn at `ys[i]`: one scale, higher values higher up (smaller y), equal values at the same height.
fn drawn_to_scale(what: &str, values: &[f64], ys: &[f64]) {
    assert_eq!(values.len(), ys.len(), "{what}: one level per value: {values:?} {ys:?}");
    for i in 0..values.len() {
        for j in 0..values.len() {
            let (a, b) = (values[i], values[j]);
            if (a - b).abs() < 1e-9 {
                assert!((ys[i] - ys[j]).abs() < 0.11, "{what}: {a} drawn at {} and {}", ys[i], ys[j]);
            } else if a > b {
                assert!(ys[i] < ys[j], "{what}: {a} (y {}) not above {b} (y {})", ys[i], ys[j]);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_shows_the_ceiling_band_and_the_building_cap() {
    let driver = Driver::start();
    // A 3 kW cap, 2.5 kW from 17:00 to 21:00 site time: the plan's 24 hours always hold both.
    let demo = Demo::start(
        &[
            "--poll-interval-secs",
            "0.5",
            "--control-interval-secs",
            "1",
            "--demand-cap-kw",
            "3",
            "--demand-cap-windows",
            "17:00-21:00=2.5",
        ],
        &[],
    );
    demo.wait_online().await;
    let zones = demo.get("/zones").await;
    let zone_id = zones[0]["id"].as_i64().unwrap();
    // Comfort ceilings: store heat up to 24 °C while vacant, up to 22 °C while occupied.
    let resp = reqwest::Client::new()
        .put(demo.url(&format!("/zones/{zone_id}")))
        .json(&json!({"preferences": {"storage_max_temp": 24.0, "occupied_max_temp": 22.0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let browser = driver.session(1366, 1000).await;
    browser.goto(&demo.url(&format!("/#/zone/{zone_id}"))).await;
    browser.wait_for("the plan chart", "document.querySelector('#plan-chart svg.plan-chart')", LOAD).await;
    let k = 30;
    let started = tokio::time::Instant::now();
    // Wait for a plan made with the ceilings and jointly under the cap, drawn by the page.
    let (drawn, plan) = loop {
        let drawn = browser.execute(GRID_JS, vec![json!(k)]).await;
        let answer = demo.get(&format!("/zones/{zone_id}/plan")).await;
        let plan = &answer["plan"];
        let ready = plan["points"].as_array().is_some_and(|pts| {
            pts.iter().any(|p| p["upper_c"] == 24.0) && pts.iter().any(|p| p["building_kw"].is_number())
        });
        if ready && !drawn.is_null() && plan["made_at"] == drawn["made_at"] {
            break (drawn, plan.clone());
        }
        assert!(
            started.elapsed() < LOAD * 2,
            "no plan with the ceilings and the cap drawn:\npage: {drawn}\napi:  {answer}\n{}",
            demo.log.lock().unwrap().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let points = plan["points"].as_array().unwrap();
    let n = points.len();
    assert_eq!(n, 97, "{plan}");

    // The API: the ceilings where vacant / occupied, the cap in force per step, the building's planned power.
    let uppers: Vec<f64> = points[1..].iter().map(|p| p["upper_c"].as_f64().unwrap()).collect();
    let lowers: Vec<f64> = points[1..].iter().map(|p| p["lower_c"].as_f64().unwrap()).collect();
    assert!(uppers.iter().all(|u| *u == 24.0 || *u == 22.0), "{uppers:?}");
    assert!(uppers.contains(&24.0), "{uppers:?}");
    let caps: Vec<f64> = points[..n - 1].iter().map(|p| p["cap_kw"].as_f64().unwrap()).collect();
    assert!(points[n - 1]["cap_kw"].is_null());
    assert!(caps.iter().all(|c| *c == 3.0 || *c == 2.5), "{caps:?}");
    assert!(caps.contains(&3.0) && caps.contains(&2.5), "both caps in 24 h: {caps:?}");
    let building: Vec<f64> = points[..n - 1].iter().map(|p| p["building_kw"].as_f64().unwrap()).collect();
    for (b, c) in building.iter().zip(&caps) {
        assert!(*b <= c + 1e-3, "the joint plan keeps the cap: {b} kW against {c} kW");
    }

    // The ceiling band: its top drawn as a step line at the ceiling of each step, on the temperature scale, above
    // the comfort floor.
    let ceiling = step_levels(drawn["ceiling"].as_str().expect("a ceiling line"));
    drawn_to_scale("ceiling", &uppers, &ceiling);
    let bound = step_levels(drawn["bound"].as_str().unwrap());
    assert_eq!(bound.len(), lowers.len());
    for i in 0..uppers.len() {
        assert!(ceiling[i] < bound[i], "step {i}: the ceiling {} °C above the floor {} °C", uppers[i], lowers[i]);
    }
    let mut both = lowers.clone();
    both.extend(&uppers);
    let mut ys = bound.clone();
    ys.extend(&ceiling);
    drawn_to_scale("floor and ceiling", &both, &ys);

    // The cap: a step line in the power strip at the cap of each step, the building's planned power as bars.
    let Some(cap) = drawn["cap"].as_str() else {
        let js = reqwest::get(demo.url("/assets/chart.js")).await.unwrap().text().await.unwrap();
        panic!(
            "no cap line: legend {} / {}, label {}, served chart.js draws the cap: {}\nconsole: {:?}\nplan point: {}",
            drawn["legend_cap"],
            drawn["legend_building"],
            drawn["label"],
            js.contains("plan-cap"),
            browser.log("browser").await,
            points[k]
        );
    };
    let cap = step_levels(cap);
    drawn_to_scale("cap", &caps, &cap);
    let (top, bottom) = (drawn["strip_top"].as_f64().unwrap(), drawn["strip_bottom"].as_f64().unwrap());
    assert!(cap.iter().all(|y| (top..=bottom).contains(y)), "the cap inside the power strip {top}..{bottom}: {cap:?}");
    let drawn_caps: Vec<f64> =
        drawn["cap_kw"].as_str().unwrap().split(' ').map(|v| v.parse().unwrap()).collect::<Vec<f64>>();
    assert_eq!(drawn_caps, caps);
    let heated = building.iter().filter(|b| **b * 1000.0 >= 1.0).count();
    assert_eq!(drawn["building"], json!(heated), "a bar per step the building heats: {drawn}");
    assert_eq!(drawn["legend_cap"], "Building cap 2.5–3.0 kW");
    assert_eq!(drawn["legend_building"], "Building power (joint plan)");
    let label = drawn["label"].as_str().unwrap();
    assert!(
        label.contains("highest allowed 22.0 to 24.0 °C") && label.contains("building cap 2.5–3.0 kW"),
        "{label:?}"
    );
    let tip = drawn["tip"].as_str().unwrap();
    let p = &points[k];
    for row in [
        format!("Highest allowed{:.1} °C", p["upper_c"].as_f64().unwrap()),
        format!("Building cap{:.1} kW", p["cap_kw"].as_f64().unwrap()),
        format!("Building{:.2} kW planned", p["building_kw"].as_f64().unwrap()),
    ] {
        assert!(tip.contains(&row), "tooltip of point {k} {tip:?} shows {row:?}");
    }
    let console = browser.log("browser").await;
    assert!(severe(&console).is_empty(), "console errors: {console:?}");
    browser.quit().await;
}
