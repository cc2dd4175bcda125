//! The compact overview at building scale: 1,000 zone-simulator rooms on ephemeral ports (in this process) in 10
//! floor groups, registered through the API of an in-process server that polls them; headless Chromium shows the
//! compact overview. Checked: it is the default above 24 zones and renders in under a second after the data
//! arrives (measured in the page with `performance.now()` around the render, layout included); the page stays
//! within a few screens; filters, search and sorting work; a floor collapses and expands.

use std::time::{Duration, Instant};

use heating_server::Config;
use serde_json::{Value, json};

use crate::LOAD;
use crate::webdriver::Driver;

const ZONES: usize = 1000;
const FLOORS: usize = 10;

/// Every tile the page holds: zone id, flags, whether shown, and its section's group id.
const TILES_JS: &str = r#"
    return Array.from(document.querySelectorAll('#compact .tile')).map((t) => ({
        id: Number(t.dataset.zoneId), flags: Number(t.dataset.flags), shown: !t.hidden && !t.closest('.group-sec').hidden,
        group: t.closest('.group-sec').dataset.groupId, name: t.querySelector('.t-name').textContent }));
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compact_overview_shows_1000_zones_in_floors() {
    let started = Instant::now();
    let _ = rlimit::increase_nofile_limit(ZONES as u64 * 4 + 1024);
    // The rooms: the simulator's five default profiles in turn, named by floor.
    let rooms = heating_core::zone::default_profiles();
    let specs = (0..ZONES)
        .map(|i| {
            zone_simulator::ZoneSpec::from_profile(heating_core::zone::ZoneProfile {
                name: format!("Room {}.{:03}", i % FLOORS + 1, i / FLOORS + 1),
                ..rooms[i % rooms.len()].clone()
            })
        })
        .collect();
    let sim_config = zone_simulator::SimulatorConfig { base_port: 0, zones: specs, ..Default::default() };
    let sim = zone_simulator::Simulator::bind(&sim_config).await.unwrap().spawn();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_database_url(format!("sqlite://{}?mode=rwc", dir.path().join("scale.db").display()));
    config.poll_interval_secs = Some(1.0);
    let app = heating_server::build(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let token = stop.clone();
    let server = tokio::spawn(async move { app.run(listener, async move { token.cancelled().await }).await });

    // Groups and zones through the API.
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let req = client.post(format!("{base}{path}")).json(&body);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), reqwest::StatusCode::CREATED);
            r.json::<Value>().await.unwrap()
        }
    };
    let hq = post("/groups", json!({"name": "HQ", "kind": "building"})).await["id"].as_i64().unwrap();
    let mut floors = Vec::new();
    for f in 0..FLOORS {
        let g = post("/groups", json!({"name": format!("Floor {}", f + 1), "kind": "floor", "parent_id": hq})).await;
        floors.push(g["id"].as_i64().unwrap());
    }
    let mut zone_ids = Vec::new();
    for (i, addr) in sim.addrs().iter().enumerate() {
        let body = json!({"name": sim.zones()[i].name, "modbus_host": "127.0.0.1", "modbus_port": addr.port(),
                          "group_id": floors[i % FLOORS]});
        zone_ids.push(post("/zones", body).await["id"].as_i64().unwrap());
    }
    // Three rooms of floor 3 stop answering: offline after the poller's next cycles.
    for i in [2, 12, 22] {
        sim.stop_zone(i);
    }
    eprintln!("{ZONES} zones registered after {:?}", started.elapsed());
    // Wait until every running room has a reading and the stopped ones are offline.
    let wait_start = Instant::now();
    loop {
        let s: Value = client.get(format!("{base}/status?view=compact")).send().await.unwrap().json().await.unwrap();
        let c = &s["counts"];
        if c["online"] == ZONES - 3 && c["offline"] == 3 {
            break;
        }
        assert!(wait_start.elapsed() < LOAD * 2, "zones not polled: {c}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let driver = Driver::start();
    let browser = driver.session(1366, 900).await;
    browser.goto(&format!("{base}/")).await;
    let rendered = browser
        .wait_for(
            "the compact overview of 1000 zones",
            r#"document.getElementById('main').dataset.renderedZones === '1000'
               && document.getElementById('main').dataset.mode === 'compact'
               && document.querySelectorAll('#compact .tile').length === 1000
               && Number(document.getElementById('main').dataset.renderMs)"#,
            LOAD,
        )
        .await;
    let render_ms = rendered.as_f64().unwrap();
    eprintln!("compact overview of {ZONES} zones rendered in {render_ms} ms");
    assert!(render_ms < 1000.0, "render took {render_ms} ms");
    let (cards, sections) = {
        let v = browser
            .execute(
                "return [document.querySelectorAll('.zone-card').length, document.querySelectorAll('.group-sec').length]",
                vec![],
            )
            .await;
        (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
    };
    assert_eq!((cards, sections), (0, FLOORS as u64), "no cards; a section per floor");
    // The summary tiles hold counts on one line each: no names.
    let notes = browser
        .execute(
            "return Array.from(document.querySelectorAll('.summary .stat-note')).map((n) => [n.textContent, n.getBoundingClientRect().height])",
            vec![],
        )
        .await;
    for n in notes.as_array().unwrap() {
        assert!(!n[0].as_str().unwrap().contains("Room"), "a tile lists names: {n}");
        assert!(n[1].as_f64().unwrap() < 30.0, "a tile's note wraps: {n}");
    }
    let occupied_note =
        browser.execute(r#"return document.querySelector('[data-field="occupied-note"]').textContent"#, vec![]).await;
    assert!(
        occupied_note.as_str().unwrap() == "Building vacant" || occupied_note.as_str().unwrap() == "of 1000 zones",
        "{occupied_note}"
    );

    // Above 200 zones the floors start collapsed: the page is a few screens at most.
    let height = || async {
        browser.execute("return [document.documentElement.scrollHeight, window.innerHeight]", vec![]).await
    };
    let h = height().await;
    let (page, screen) = (h[0].as_f64().unwrap(), h[1].as_f64().unwrap());
    assert!(page <= 2.0 * screen, "collapsed: page {page} px for a {screen} px screen");

    // A floor expands and collapses.
    let floor1 = format!("#compact .group-sec[data-group-id='{}'] .group-head", floors[0]);
    browser.click(&browser.find(&floor1).await).await;
    let open = browser
        .execute(
            &format!("const s = document.querySelector(\"#compact .group-sec[data-group-id='{}']\"); return [s.querySelector('.group-head').getAttribute('aria-expanded'), Array.from(s.querySelectorAll('.tile')).filter((t) => t.offsetParent).length]", floors[0]),
            vec![],
        )
        .await;
    assert_eq!(open, json!(["true", ZONES / FLOORS]), "floor 1 expanded shows its 100 rooms");
    let h = height().await;
    assert!(h[0].as_f64().unwrap() <= 4.0 * screen, "one floor open: page {} px", h[0]);
    browser.click(&browser.find(&floor1).await).await;
    let closed = browser
        .execute(
            &format!("const s = document.querySelector(\"#compact .group-sec[data-group-id='{}']\"); return [s.querySelector('.group-head').getAttribute('aria-expanded'), Array.from(s.querySelectorAll('.tile')).filter((t) => t.offsetParent).length]", floors[0]),
            vec![],
        )
        .await;
    assert_eq!(closed, json!(["false", 0]), "floor 1 collapsed again");

    // The offline filter: exactly the three stopped rooms, shown (their floor opened), offline first.
    browser.click(&browser.find("#compact .chip[data-filter='offline']").await).await;
    let tiles = browser.execute(TILES_JS, vec![]).await;
    let shown: Vec<&Value> = tiles.as_array().unwrap().iter().filter(|t| t["shown"] == true).collect();
    let mut shown_ids: Vec<i64> = shown.iter().map(|t| t["id"].as_i64().unwrap()).collect();
    shown_ids.sort_unstable();
    assert_eq!(shown_ids, [zone_ids[2], zone_ids[12], zone_ids[22]], "offline filter");
    let visible = browser
        .execute(
            "return Array.from(document.querySelectorAll('#compact .tile')).filter((t) => t.offsetParent).length",
            vec![],
        )
        .await;
    assert_eq!(visible, 3, "the matching floor opens by itself");
    browser.click(&browser.find("#compact .chip[data-filter='offline']").await).await;

    // Each filter shows exactly the tiles with its flag (any of the chosen ones), as the page's data says.
    for (filter, bits) in [("heating", 8), ("occupied", 16), ("below", 4)] {
        let chip = browser.find(&format!("#compact .chip[data-filter='{filter}']")).await;
        browser.click(&chip).await;
        let tiles = browser.execute(TILES_JS, vec![]).await;
        let tiles = tiles.as_array().unwrap();
        let wrong: Vec<&Value> =
            tiles.iter().filter(|t| (t["shown"] == true) != (t["flags"].as_i64().unwrap() & bits != 0)).collect();
        assert!(wrong.is_empty(), "filter {filter}: {wrong:?}");
        browser.click(&chip).await;
    }

    // Search: one room; the count line says so.
    let search = browser.find("#zone-search").await;
    browser.type_text(&search, "Room 7.042").await;
    let found = browser
        .wait_for(
            "one match",
            "document.getElementById('group-list').dataset.visible === '1' && document.getElementById('zone-shown').textContent",
            LOAD,
        )
        .await;
    assert_eq!(found, "1 of 1000 zones match");
    let tiles = browser.execute(TILES_JS, vec![]).await;
    let hit: Vec<&Value> = tiles.as_array().unwrap().iter().filter(|t| t["shown"] == true).collect();
    assert_eq!((hit.len(), hit[0]["name"].as_str()), (1, Some("Room 7.042")));
    assert_eq!(hit[0]["group"], floors[6].to_string(), "in its floor's section");
    browser.clear(&search).await;
    browser.type_text(&search, " ").await;

    // Needs attention first: floor 3's offline rooms lead its section.
    let first = browser
        .execute(
            &format!("return Array.from(document.querySelectorAll(\"#compact .group-sec[data-group-id='{}'] .tile\")).slice(0, 3).map((t) => Number(t.dataset.zoneId)).sort((a, b) => a - b)", floors[2]),
            vec![],
        )
        .await;
    assert_eq!(first, json!([zone_ids[2], zone_ids[12], zone_ids[22]]), "offline rooms first");

    // `SCALE_SCREENSHOT=/path.png`: the overview with floor 3 open, for a look.
    if let Ok(path) = std::env::var("SCALE_SCREENSHOT") {
        browser
            .click(&browser.find(&format!("#compact .group-sec[data-group-id='{}'] .group-head", floors[2])).await)
            .await;
        std::fs::write(path, browser.screenshot().await).unwrap();
    }

    // Cards stay a toggle away (and back).
    browser.click(&browser.find("#view-toggle button[data-mode='cards']").await).await;
    browser
        .wait_for("the cards", "document.querySelectorAll('.zone-card').length === 1000 && document.getElementById('main').dataset.mode === 'cards'", LOAD)
        .await;
    browser.click(&browser.find("#view-toggle button[data-mode='compact']").await).await;
    browser.wait_for("compact again", "document.getElementById('main').dataset.mode === 'compact'", LOAD).await;

    let console = browser.log("browser").await;
    assert!(crate::severe(&console).is_empty(), "console errors: {console:?}");
    browser.quit().await;
    stop.cancel();
    server.await.unwrap().unwrap();
    sim.shutdown().await;
    eprintln!("done in {:?}", started.elapsed());
}
