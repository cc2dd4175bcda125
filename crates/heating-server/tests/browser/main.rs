//! The dashboard in a real browser: headless Chromium, driven through chromedriver, against the `demo` binary
//! (five simulated zones over real Modbus TCP, SQLite, the scaled clock) on ephemeral ports.
//!
//! Needs the Debian packages `chromium` and `chromium-driver`; without them the test fails and says how to
//! install them. `refresh_screenshots` (ignored by default) rewrites the README's screenshots under `docs/`:
//! `cargo test -p heating-server --test browser -- --ignored`. `signin.rs`: the same demo with `--auth`, signed in
//! as a viewer and as an operator. `grid.rs`: the plan chart with comfort ceilings and a building demand cap.
//! `groups.rs`: groups edited through the dashboard, alerting zones in the compact overview.

mod alerts;
mod demo;
mod grid;
mod groups;
mod scale;
mod signin;
mod webdriver;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_modbus::client::{Reader, tcp};
use tokio_modbus::prelude::Slave;
use webdriver::Driver;

use crate::demo::Demo;

const LOAD: Duration = Duration::from_secs(30);

/// What a zone card should show for a zone of `GET /status`, as the page formats it.
fn expected_card(z: &Value) -> Value {
    let r = &z["reading"];
    let target = if z["hold"].is_object() {
        z["hold"]["target_temp"].as_f64()
    } else if let Some(t) = z["active"]["target_temp"].as_f64() {
        Some(t)
    } else {
        r["target_temp"].as_f64()
    };
    let health = match z["health"]["state"].as_str().unwrap() {
        "online" => "Online",
        "degraded" => "Degraded",
        "offline" => "Offline",
        "no_device" => "No device",
        _ => "Waiting",
    };
    json!({
        "id": z["id"],
        "ts": r["timestamp"],
        "name": z["name"],
        "health": health,
        "temperature": format!("{:.1}", r["temperature"].as_f64().unwrap()),
        "target": target.map_or_else(|| "–".to_string(), |t| format!("{t:.1} °C")),
        "occupancy": if r["occupancy"] == true { "Occupied" } else { "Vacant" },
        "heater": if r["heater_on"] == true { "On" } else { "Off" },
    })
}

/// What the zone cards show now.
const CARDS_JS: &str = r#"
    const f = (card, name) => card.querySelector(`[data-field="${name}"]`).textContent;
    return Array.from(document.querySelectorAll(".zone-card")).map((c) => ({
        id: Number(c.dataset.zoneId), ts: c.dataset.readingTs, name: f(c, "name"), health: f(c, "health"),
        temperature: f(c, "temperature"), target: f(c, "target"), occupancy: f(c, "occupancy"),
        heater: f(c, "heater"),
    }));
"#;

/// The URLs of every request the page made (DevTools `Network.requestWillBeSent` events).
fn requested_urls(performance_log: &[Value]) -> Vec<String> {
    performance_log
        .iter()
        .filter_map(|entry| serde_json::from_str::<Value>(entry["message"].as_str()?).ok())
        .filter(|m| m["message"]["method"] == "Network.requestWillBeSent")
        .filter_map(|m| m["message"]["params"]["request"]["url"].as_str().map(str::to_string))
        .collect()
}

/// A request that leaves the browser for a host other than the server. `chrome://` (the browser's own start page),
/// `data:` and `blob:` URLs never touch the network.
fn is_foreign(url: &str, base: &str) -> bool {
    let network = ["http:", "https:", "ws:", "wss:", "ftp:"].iter().any(|s| url.starts_with(s));
    network && !url.starts_with(&format!("{base}/"))
}

fn severe(console: &[Value]) -> Vec<&Value> {
    console.iter().filter(|e| e["level"] == "SEVERE").collect()
}

/// What the plan panel of a zone page shows: its chart's data attributes, accessible name and drawing, and the
/// tooltip of point `k` (hovered with a synthetic pointer event at the point's vertex); null while no chart is drawn.
const PLAN_JS: &str = r#"
    const k = arguments[0];
    const svg = document.querySelector('#plan-chart svg.plan-chart');
    if (!svg) return null;
    const d = svg.querySelector('path.plan-temp').getAttribute('d');
    const vertices = d.split(/[ML]/).filter(Boolean).map((p) => p.split(',').map(Number));
    let tip = null;
    if (vertices[k]) {
        const rect = svg.getBoundingClientRect();
        const scale = rect.width / svg.viewBox.baseVal.width;
        svg.querySelector('.plan-overlay').dispatchEvent(new PointerEvent('pointermove', {
            bubbles: true, clientX: rect.left + vertices[k][0] * scale, clientY: rect.top + 40 }));
        tip = document.querySelector('#plan-chart .chart-tip').textContent;
    }
    return {
        made_at: svg.dataset.madeAt, preheat: svg.dataset.preheat, role: svg.getAttribute('role'),
        label: svg.getAttribute('aria-label'), vertices: vertices.length,
        moves: (d.match(/M/g) || []).length,
        bars: svg.querySelectorAll('.plan-power rect.bar').length,
        prices: svg.querySelectorAll('.plan-price rect.on').length,
        preheat_marker: svg.querySelectorAll('.plan-preheat').length,
        summary: document.getElementById('plan-summary').textContent,
        reason: document.getElementById('plan-reason').textContent,
        heading: document.getElementById('plan-heading').textContent,
        tip,
    };
"#;

/// Moves a (synthetic) pointer over the plan chart, at a share of its width.
const PLAN_HOVER_JS: &str = r#"
    const overlay = document.querySelector('#plan-chart .plan-overlay');
    const rect = overlay.getBoundingClientRect();
    overlay.dispatchEvent(new PointerEvent('pointermove', {
        bubbles: true, clientX: rect.left + rect.width * arguments[0], clientY: rect.top + 40 }));
"#;

/// `HH:MM` of an RFC 3339 instant in site-local time, as the page shows it.
fn site_hhmm(at: &str, offset_min: i64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(at).unwrap() + chrono::Duration::minutes(offset_min);
    t.format("%H:%M").to_string()
}

/// Waits for the plan chart on the zone page shown, and checks that it draws the plan `GET /zones/{id}/plan`
/// returns: one vertex per point, a bar per heated interval, a price cell per interval, the warm-up marker and
/// time, the energy and cost in its accessible name, and a point's values in the hover tooltip.
/// Returns the plan's `made_at`.
async fn check_plan_drawn(browser: &webdriver::Session, demo: &Demo, zone_id: i64) -> String {
    let k = 40;
    browser.wait_for("the plan chart", "document.querySelector('#plan-chart svg.plan-chart')", LOAD).await;
    let offset = demo.get("/status").await["site_utc_offset_minutes"].as_i64().unwrap();
    let started = tokio::time::Instant::now();
    // The control job replaces the plan at every run, and the page fetches it once it sees the run in /status:
    // compare when both show the same plan.
    let (drawn, plan) = loop {
        let drawn = browser.execute(PLAN_JS, vec![json!(k)]).await;
        let answer = demo.get(&format!("/zones/{zone_id}/plan")).await;
        if !drawn.is_null() && answer["plan"]["made_at"] == drawn["made_at"] {
            break (drawn, answer["plan"].clone());
        }
        assert!(started.elapsed() < LOAD, "the page's plan differs from the API's:\npage: {drawn}\napi:  {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let points = plan["points"].as_array().unwrap();
    assert_eq!(points.len(), 97, "24 h in 15-minute steps: {plan}");
    assert_eq!(drawn["heading"], "Plan — next 24 h");
    assert_eq!(drawn["role"], "img");
    assert_eq!(drawn["vertices"], json!(points.len()), "one vertex per planned point: {drawn}");
    assert_eq!(drawn["moves"], 1, "one unbroken temperature line: {drawn}");
    let heated = points.iter().filter(|p| p["power_w"].as_f64().is_some_and(|w| w >= 1.0)).count();
    assert_eq!(drawn["bars"], json!(heated), "a power bar per heated interval: {drawn}");
    let priced = points.iter().filter(|p| p["price_eur_kwh"].is_number()).count();
    assert_eq!(drawn["prices"], json!(priced), "a price cell per interval: {drawn}");
    let label = drawn["label"].as_str().unwrap();
    let energy = format!("{:.1} kWh", plan["energy_kwh"].as_f64().unwrap());
    let cost = format!("{:.2} €", plan["cost_eur"].as_f64().unwrap());
    assert!(label.contains(&energy) && label.contains(&cost), "{label:?} names {energy} and {cost}");
    let summary = drawn["summary"].as_str().unwrap().replace('\u{a0}', " ");
    let summary = summary.as_str();
    assert!(summary.contains(&energy) && summary.contains(&cost), "{summary:?} names {energy} and {cost}");
    let source = plan["model_source"].as_str().unwrap();
    assert!(summary.contains(&format!("model: {source}")), "{summary:?} names the model ({source})");
    if let Some(preheat) = plan["preheat_start"].as_str() {
        let hhmm = site_hhmm(preheat, offset);
        assert_eq!(drawn["preheat"], preheat);
        assert_eq!(drawn["preheat_marker"], 1, "{drawn}");
        assert!(label.contains("warm-up from ") && label.contains(&hhmm), "{label:?} names {hhmm}");
        assert!(summary.starts_with("Warm-up from ") && summary.contains(&hhmm), "{summary:?} names {hhmm}");
    } else {
        assert_eq!(drawn["preheat"], "");
        assert_eq!(drawn["preheat_marker"], 0, "{drawn}");
        assert!(label.contains("no warm-up planned"), "{label:?}");
        assert!(summary.starts_with("No warm-up planned"), "{summary:?}");
    }
    assert_eq!(drawn["reason"], "", "no reason shown beside a plan");
    let tip = drawn["tip"].as_str().unwrap();
    let p = &points[k];
    let temp = format!("Planned{:.1} °C", p["temp_c"].as_f64().unwrap());
    let time = site_hhmm(p["at"].as_str().unwrap(), offset);
    assert!(tip.contains(&temp) && tip.contains(&time), "tooltip of point {k} {tip:?} shows {time} and {temp}");
    plan["made_at"].as_str().unwrap().to_string()
}

/// Holding register 1 (the target, 0.1 °C) of the zone at `port`, read over Modbus TCP.
async fn device_target_register(port: u16) -> u16 {
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut ctx = tcp::connect_slave(addr, Slave(1)).await.unwrap();
    ctx.read_holding_registers(1, 1).await.unwrap().unwrap()[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() {
    let driver = Driver::start();
    let demo = Demo::start(&["--poll-interval-secs", "0.5"], &[]);
    demo.wait_online().await;
    let browser = driver.session(1366, 1000).await;

    // 1. The overview loads, with five zone cards showing what GET /status says.
    browser.goto(&demo.url("/")).await;
    browser
        .wait_for(
            "five filled zone cards",
            r#"document.querySelectorAll(".zone-card[data-reading-ts]:not([data-reading-ts=''])").length === 5"#,
            LOAD,
        )
        .await;
    let started = tokio::time::Instant::now();
    loop {
        // The page and this test poll on their own: compare when both show the same poll cycle.
        let cards = browser.execute(CARDS_JS, vec![]).await;
        let status = demo.get("/status").await;
        let expected: Vec<Value> = status["zones"].as_array().unwrap().iter().map(expected_card).collect();
        if cards.as_array().unwrap() == &expected {
            break;
        }
        assert!(started.elapsed() < LOAD, "zone cards differ from GET /status:\ncards:  {cards}\nstatus: {expected:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let clock = browser.execute("return document.getElementById('clock').textContent", vec![]).await;
    assert!(clock.as_str().unwrap().contains("Simulated ×60"), "the demo's simulated time is shown: {clock}");
    let outdoor =
        browser.execute(r#"return document.querySelector('[data-field="outdoor"]').textContent"#, vec![]).await;
    assert!(outdoor.as_str().unwrap().ends_with("°C"), "outdoor temperature shown: {outdoor}");
    signin::check_local_mode(&browser).await; // no sign-in anywhere, every link an admin has

    // 2. A zone's detail page, reached by clicking its card, draws a chart with data points.
    let zones = demo.get("/zones").await;
    let zone = &zones[0];
    let zone_id = zone["id"].as_i64().unwrap();
    let port = u16::try_from(zone["modbus_port"].as_u64().unwrap()).unwrap();
    browser.click(&browser.find(&format!("#zone-{zone_id}-name")).await).await;
    browser.wait_for("the zone page", "document.querySelector(\"button[data-range='1h']\")", LOAD).await;
    browser.click(&browser.find("button[data-range='1h']").await).await;
    let points = browser
        .wait_for(
            "a chart with data points",
            r#"(() => { const svg = document.querySelector('#chart svg.chart');
                        const line = document.querySelector('#chart path.series-temperature');
                        const drawn = svg && line && line.getAttribute("d").includes("L");
                        return drawn ? Number(svg.dataset.points) : 0; })()"#,
            LOAD,
        )
        .await;
    assert!(points.as_f64().unwrap() >= 2.0, "chart points: {points}");
    // The demo's zones run the predictive strategy: the plan panel draws the zone's plan, and the next one after
    // the next control run.
    let first = check_plan_drawn(&browser, &demo, zone_id).await;
    browser
        .wait_for(
            "the next plan",
            &format!(
                "(document.querySelector('#plan-chart svg.plan-chart') || {{dataset: {{}}}}).dataset.madeAt > {}",
                serde_json::to_string(&first).unwrap()
            ),
            LOAD,
        )
        .await;
    check_plan_drawn(&browser, &demo, zone_id).await;
    browser.wait_for("the commands table", "document.querySelectorAll('#commands tbody tr').length > 0", LOAD).await;

    // 3. A target set through the form is confirmed, and the device's register 1 holds it.
    let before = device_target_register(port).await;
    let target = if before == 235 { 24.0 } else { 23.5 };
    let input = browser.find("#target-temp").await;
    browser.clear(&input).await;
    browser.type_text(&input, &target.to_string()).await;
    browser.click(&browser.find("#hold-minutes option[value='480']").await).await;
    browser.click(&browser.find("#set-target").await).await;
    let result =
        browser.wait_for("a confirmed command", "document.getElementById('control-result').textContent", LOAD).await;
    assert!(result.as_str().unwrap().contains("confirmed"), "{result}");
    let command_id =
        browser.execute("return Number(document.getElementById('control-result').dataset.commandId)", vec![]).await;
    let commands = demo.get(&format!("/commands/zone/{zone_id}?limit=10")).await;
    let command = commands.as_array().unwrap().iter().find(|c| c["id"] == command_id).expect("the command is listed");
    assert_eq!(command["status"], "confirmed", "{command}");
    assert_eq!(command["source"], "manual", "{command}");
    assert_eq!(command["target_temp"], target, "{command}");
    let after = device_target_register(port).await;
    assert_eq!(f64::from(after), target * 10.0, "register 1 of the simulator (was {before})");
    assert_ne!(after, before);
    browser
        .wait_for(
            "the hold shown",
            "!document.getElementById('hold-box').hidden && !document.getElementById('cancel-hold').disabled",
            LOAD,
        )
        .await;

    // Until here: no console errors, and no request to another host.
    let console = browser.log("browser").await;
    assert!(severe(&console).is_empty(), "console errors: {console:?}");
    let urls = requested_urls(&browser.log("performance").await);
    assert!(urls.iter().any(|u| u.ends_with("/assets/app.js")), "the network log is recorded: {urls:?}");
    assert!(urls.iter().any(|u| u.contains("/history?")), "{urls:?}");
    // The plan is fetched when a control run shows in GET /status, not at every poll.
    let plans = urls.iter().filter(|u| u.ends_with(&format!("/zones/{zone_id}/plan"))).count();
    let polls = urls.iter().filter(|u| u.ends_with("/status")).count();
    assert!(plans >= 2 && plans * 3 <= polls, "{plans} plan requests over {polls} status polls");
    let foreign: Vec<&String> = urls.iter().filter(|u| is_foreign(u, &demo.base)).collect();
    assert!(foreign.is_empty(), "requests to other hosts: {foreign:?}");

    // 4. An out-of-range target shows the server's own message.
    let expected = reqwest::Client::new()
        .post(demo.url(&format!("/zones/{zone_id}/target")))
        .json(&json!({"target_temp": 40, "hold_minutes": 480}))
        .send()
        .await
        .unwrap();
    assert_eq!(expected.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail = expected.json::<Value>().await.unwrap()["detail"].as_str().unwrap().to_string();
    browser.clear(&input).await;
    browser.type_text(&input, "40").await;
    browser.click(&browser.find("#set-target").await).await;
    let shown =
        browser.wait_for("the error message", "document.getElementById('control-error').textContent", LOAD).await;
    assert_eq!(shown.as_str().unwrap(), detail);
    assert_eq!(device_target_register(port).await, after, "a refused target changes nothing");
    // The only console entry allowed now is Chromium's own note of the 422 response.
    let console = browser.log("browser").await;
    let unexpected: Vec<&Value> = severe(&console)
        .into_iter()
        .filter(|e| !(e["source"] == "network" && e["message"].as_str().unwrap_or("").contains("422")))
        .collect();
    assert!(unexpected.is_empty(), "console errors: {unexpected:?}");
    let foreign: Vec<String> =
        requested_urls(&browser.log("performance").await).into_iter().filter(|u| is_foreign(u, &demo.base)).collect();
    assert!(foreign.is_empty(), "requests to other hosts: {foreign:?}");

    // 5. A zone switched to the reactive strategy shows why it has no plan instead of a chart; back on the
    // predictive one, the chart returns after the next control run. The body holds the whole preferences object, as
    // read, with the strategy changed.
    let other_id = zones[1]["id"].as_i64().unwrap();
    browser.goto(&demo.url(&format!("/#/zone/{other_id}"))).await;
    check_plan_drawn(&browser, &demo, other_id).await;
    let before = demo.get(&format!("/zones/{other_id}")).await["preferences"].clone();
    let mut reactive = before.clone();
    reactive.as_object_mut().unwrap().insert("control_strategy".into(), json!("reactive"));
    let put = |prefs: Value| {
        let url = demo.url(&format!("/zones/{other_id}"));
        async move {
            let resp = reqwest::Client::new().put(url).json(&json!({"preferences": prefs})).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            resp.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(put(reactive.clone()).await["preferences"], reactive);
    let answer = demo.get(&format!("/zones/{other_id}/plan")).await;
    assert_eq!(answer["strategy"], "reactive");
    assert!(answer["plan"].is_null(), "{answer}");
    let reason = answer["reason"].as_str().unwrap().to_string();
    assert!(!reason.is_empty());
    browser
        .wait_for(
            "the reason instead of the plan",
            &format!(
                "document.getElementById('plan-reason').textContent === {} && \
                 !document.querySelector('#plan-chart svg') && document.getElementById('plan-summary').textContent === ''",
                serde_json::to_string(&reason).unwrap()
            ),
            LOAD,
        )
        .await;
    // Back to what it was: PUT merges key by key, and null resets a key.
    let mut restore = before.clone();
    restore.as_object_mut().unwrap().entry("control_strategy").or_insert(Value::Null);
    assert_eq!(put(restore).await["preferences"], before);
    check_plan_drawn(&browser, &demo, other_id).await;
    let console = browser.log("browser").await;
    assert!(severe(&console).is_empty(), "console errors: {console:?}");

    // 6. Zones: the form says what the server refuses, in its words; a valid zone is added, then deleted.
    let taken = reqwest::Client::new().post(demo.url("/zones")).json(&json!({"name": "Kitchen"})).send().await.unwrap();
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let taken = taken.json::<Value>().await.unwrap()["detail"].as_str().unwrap().to_string();
    browser.goto(&demo.url("/#/zones/new")).await;
    let name = browser.find("#f-name").await;
    let save = browser.find("#zone-form button[type=submit]").await;
    browser.click(&save).await;
    let shown =
        browser.wait_for("a missing name refused", "document.getElementById('f-name-error').textContent", LOAD).await;
    assert_eq!(shown, "Enter a name.");
    browser.type_text(&name, "Kitchen").await;
    browser.click(&save).await;
    browser
        .wait_for(
            "the server's refusal",
            &format!(
                "document.getElementById('form-error').textContent === {}",
                serde_json::to_string(&taken).unwrap()
            ),
            LOAD,
        )
        .await;
    browser.clear(&name).await;
    browser.type_text(&name, "Workshop").await;
    browser.click(&save).await;
    let hash =
        browser.wait_for("the new zone's page", r"/^#\/zone\/\d+$/.test(location.hash) && location.hash", LOAD).await;
    let new_id: i64 = hash.as_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
    let zone = demo.get(&format!("/zones/{new_id}")).await;
    assert_eq!(zone["name"], "Workshop");
    assert_eq!(zone["modbus_port"], Value::Null, "no port given: no device");
    browser.goto(&demo.url(&format!("/#/zone/{new_id}/edit"))).await;
    browser.wait_for("the form filled", "document.getElementById('f-name').value === 'Workshop'", LOAD).await;
    browser.click(&browser.find("#delete-start").await).await;
    browser.click(&browser.find("#delete-yes").await).await;
    browser.wait_for("back on the overview", "location.hash === '#/'", LOAD).await;
    let gone = reqwest::get(demo.url(&format!("/zones/{new_id}"))).await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // The form's expected 409 was logged by Chromium; start afresh.
    let _ = browser.log("browser").await;

    // 7. Swagger UI works under its Content-Security-Policy: operations listed, one opened with its example, no
    //    console error (a refused script, style or image would be one).
    browser.goto(&demo.url("/docs/")).await;
    browser.wait_for("Swagger UI's operations", "document.querySelectorAll('.opblock').length > 10", LOAD).await;
    browser.click(&browser.find("#operations-status-get_status .opblock-summary-control").await).await;
    browser
        .wait_for("the operation opened", "document.querySelector('#operations-status-get_status .opblock-body')", LOAD)
        .await;
    browser.wait_for("its response example", "document.querySelector('#operations-status-get_status .highlight-code, #operations-status-get_status .model-example')", LOAD).await;
    let console = browser.log("browser").await;
    assert!(severe(&console).is_empty(), "console errors on /docs/: {console:?}");
    browser.quit().await;
}

/// Rewrites `docs/dashboard-*.png`: the overview and a zone detail (history and plan), light and dark, after a
/// simulated day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the README's screenshots under docs/; run with --ignored to refresh them"]
async fn refresh_screenshots() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    std::fs::create_dir_all(&docs).unwrap();
    let driver = Driver::start();
    // 1800×: a simulated day in 48 s; a reading every 6 simulated minutes, control every 15.
    let demo = Demo::start(
        &["--poll-interval-secs", "0.2", "--control-interval-secs", "0.5"],
        &["--time-scale", "1800", "--start", "2026-11-25T20:00:00Z"],
    );
    demo.wait_online().await;
    let zones = demo.get("/zones").await;
    // Wait for a simulated day and some to pass.
    let day_later = chrono::DateTime::parse_from_rfc3339("2026-11-26T22:30:00Z").unwrap();
    let started = tokio::time::Instant::now();
    loop {
        let now = demo.get("/status").await["now"].as_str().unwrap().to_string();
        if chrono::DateTime::parse_from_rfc3339(&now).unwrap() >= day_later {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(180), "the simulated clock does not advance: {now}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A manual hold on the kitchen, as an operator would set one.
    let kitchen = zones.as_array().unwrap().iter().find(|z| z["name"] == "Kitchen").unwrap()["id"].clone();
    let resp = reqwest::Client::new()
        .post(demo.url(&format!("/zones/{kitchen}/target")))
        .json(&json!({"target_temp": 22.0, "hold_minutes": 4320}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let browser = driver.session(1440, 1000).await;
    for scheme in ["light", "dark"] {
        browser.color_scheme(scheme).await;
        browser.set_viewport(1440, 1000, false).await;
        browser.goto(&demo.url("/#/")).await;
        browser
            .wait_for(
                "cards",
                r#"document.querySelectorAll(".zone-card[data-reading-ts]:not([data-reading-ts=''])").length === 5"#,
                LOAD,
            )
            .await;
        std::fs::write(docs.join(format!("dashboard-overview-{scheme}.png")), browser.screenshot().await).unwrap();

        browser.set_viewport(1440, 1800, false).await;
        browser.goto(&demo.url(&format!("/#/zone/{}", zones[0]["id"]))).await;
        browser
            .wait_for(
                "chart",
                r#"Number((document.querySelector('#chart svg.chart') || {dataset: {}}).dataset.points) > 20"#,
                LOAD,
            )
            .await;
        browser.wait_for("commands", "document.querySelectorAll('#commands tbody tr').length > 1", LOAD).await;
        browser.wait_for("the plan", "document.querySelector('#plan-chart svg.plan-chart')", LOAD).await;
        // Hover the plan a little past its middle, to show its tooltip.
        browser.execute(PLAN_HOVER_JS, vec![json!(0.6)]).await;
        std::fs::write(docs.join(format!("dashboard-zone-{scheme}.png")), browser.screenshot().await).unwrap();
    }
    // A phone, light theme: the overview and the zone's chart.
    browser.color_scheme("light").await;
    browser.set_viewport(390, 1100, true).await;
    browser.goto(&demo.url("/#/")).await;
    browser.wait_for("cards", r#"document.querySelectorAll(".zone-card").length === 5"#, LOAD).await;
    std::fs::write(docs.join("dashboard-phone-overview.png"), browser.screenshot().await).unwrap();
    browser.goto(&demo.url(&format!("/#/zone/{}", zones[0]["id"]))).await;
    browser
        .wait_for(
            "chart",
            r#"Number((document.querySelector('#chart svg.chart') || {dataset: {}}).dataset.points) > 20"#,
            LOAD,
        )
        .await;
    browser.wait_for("the plan", "document.querySelector('#plan-chart svg.plan-chart')", LOAD).await;
    browser.execute("document.getElementById('chart').scrollIntoView()", vec![]).await;
    std::fs::write(docs.join("dashboard-phone-zone.png"), browser.screenshot().await).unwrap();
    browser.quit().await;
}
