//! The alert badge and the alerts page in a real browser, against the `demo` binary with a sensor range that every
//! room is outside (`--alert-sensor-max-c 10`: each zone gets a `sensor_range` alert at its first reading, and keeps
//! it): the badge counts the active alerts, the page lists them, and acknowledging one (local mode: the actor
//! `local`) moves it to acknowledged in the page, the badge and the API.

use serde_json::Value;

use super::webdriver::Driver;
use super::{LOAD, severe};
use crate::demo::Demo;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_badge_and_page_show_alerts_and_an_operator_acknowledges_one() {
    let driver = Driver::start();
    let demo = Demo::start(&["--poll-interval-secs", "0.5", "--alert-sensor-max-c", "10"], &[]);
    demo.wait_online().await;
    let browser = driver.session(1366, 1000).await;
    browser.goto(&demo.url("/")).await;

    // The badge shows the active alerts: at least the five sensor_range ones.
    let badge = "(() => { const b = document.getElementById('alert-count'); return b && !b.hidden ? Number(b.textContent) : 0; })()";
    browser.wait_for("an alert badge of at least 5", &format!("{badge} >= 5"), LOAD).await;

    // The alerts page lists them with an Acknowledge button each.
    browser.click(&browser.find("#alerts-link").await).await;
    browser
        .wait_for(
            "five sensor_range rows with a button",
            "document.querySelectorAll('#alerts tr[data-state=active] button[data-ack]').length >= 5",
            LOAD,
        )
        .await;
    let open: Value = demo.get("/alerts?state=open").await;
    let first = open.as_array().unwrap().iter().find(|a| a["kind"] == "sensor_range").unwrap().clone();
    let id = first["id"].as_i64().unwrap();
    let row_text = browser
        .execute(&format!("return document.querySelector('#alerts tr[data-alert-id=\"{id}\"]').textContent"), vec![])
        .await;
    let row_text = row_text.as_str().unwrap();
    assert!(
        row_text.contains("Sensor out of range") && row_text.contains(first["zone_name"].as_str().unwrap()),
        "{row_text}"
    );

    browser.click(&browser.find(&format!("button[data-ack=\"{id}\"]")).await).await;
    browser
        .wait_for(
            "the row acknowledged by local",
            &format!(
                "(() => {{ const r = document.querySelector('#alerts tr[data-alert-id=\"{id}\"]'); \
                 return !!r && r.dataset.state === 'acknowledged' && r.textContent.includes('by local') \
                 && !r.querySelector('button[data-ack]'); }})()"
            ),
            LOAD,
        )
        .await;
    browser
        .wait_for(
            "the badge's title counting one acknowledged",
            "document.getElementById('alert-count').title.endsWith(', 1 acknowledged')",
            LOAD,
        )
        .await;
    let acked: Value = demo.get("/alerts?state=acknowledged").await;
    let acked = acked.as_array().unwrap();
    assert_eq!(acked.len(), 1);
    assert_eq!((acked[0]["id"].as_i64(), acked[0]["acknowledged_by"].as_str()), (Some(id), Some("local")));
    let status: Value = demo.get("/status").await;
    assert_eq!(status["alerts"]["acknowledged"], 1);

    let console = browser.log("browser").await;
    assert!(severe(&console).is_empty(), "no console errors: {console:?}");
    browser.quit().await;
}
