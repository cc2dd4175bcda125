//! The dashboard with authentication on (`heating-server --auth demo`): the page asks for a token, shows the
//! server's refusal in its words, and shows each role only what it may do — a viewer no control and no zone
//! editing, an operator control but no zone editing — and a target set by the operator is recorded, and listed,
//! under the operator token's name.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::webdriver::{Driver, Session};
use super::{LOAD, is_foreign, requested_urls, severe};
use crate::demo::Demo;

const TOKEN_KEY: &str = "heating-dashboard.token";

/// A token made by the demo's admin through `POST /tokens`: (id, token).
async fn create_token(demo: &Demo, admin: &str, name: &str, role: &str) -> (i64, String) {
    let resp = reqwest::Client::new()
        .post(demo.url("/tokens"))
        .bearer_auth(admin)
        .json(&json!({"name": name, "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED, "POST /tokens {name}");
    let body: Value = resp.json().await.unwrap();
    (body["id"].as_i64().unwrap(), body["token"].as_str().unwrap().to_string())
}

/// The `detail` of the 401 `GET /auth/whoami` answers for `token`.
async fn refusal(demo: &Demo, token: &str) -> String {
    let resp = reqwest::Client::new().get(demo.url("/auth/whoami")).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    resp.json::<Value>().await.unwrap()["detail"].as_str().unwrap().to_string()
}

/// The token kept in [sessionStorage, localStorage].
async fn stored(browser: &Session) -> Value {
    let js = format!("return [sessionStorage.getItem('{TOKEN_KEY}'), localStorage.getItem('{TOKEN_KEY}')]");
    browser.execute(&js, vec![]).await
}

/// Pastes `token` into the sign-in form (ticking "remember on this device" if asked) and submits it.
async fn sign_in(browser: &Session, token: &str, remember: bool) {
    browser
        .wait_for("the sign-in form", "location.hash === '#/signin' && document.getElementById('token')", LOAD)
        .await;
    let input = browser.find("#token").await;
    browser.clear(&input).await;
    browser.type_text(&input, token).await;
    if remember {
        browser.click(&browser.find("#remember").await).await;
    }
    browser.click(&browser.find("#sign-in-submit").await).await;
}

/// Waits for the top bar to say who is signed in.
async fn wait_signed_in(browser: &Session, name: &str, role: &str) {
    let who = format!("Signed in as {name} ({role}) · Sign out");
    browser
        .wait_for(
            &format!("\"{who}\" in the top bar"),
            &format!(
                "(document.getElementById('who') || {{}}).textContent === {}",
                serde_json::to_string(&who).unwrap()
            ),
            LOAD,
        )
        .await;
}

/// What the page offers now: the control form and hold button, links to add or edit zones (visible ones), the zone
/// form, and the "needs the … role" message.
const OFFERS_JS: &str = r#"
    const visible = (sel) => Array.from(document.querySelectorAll(sel)).filter((e) => e.offsetParent !== null).length;
    return {
        target_form: !!document.getElementById('target-form'),
        cancel_hold: !!document.getElementById('cancel-hold'),
        control_note: !!document.getElementById('control-note'),
        add_links: visible("a[href='#/zones/new']"),
        edit_links: visible("a[href$='/edit']"),
        zone_form: !!document.getElementById('zone-form'),
        delete: !!document.getElementById('delete-start'),
        needs_role: (document.getElementById('needs-role') || {}).textContent || null,
    };
"#;

/// On a zone-form route (`#/zones/new`, `#/zone/{id}/edit`), a non-admin is told the admin role is needed.
async fn check_form_refused(browser: &Session, demo: &Demo, route: &str, name: &str, role: &str) {
    browser.goto(&demo.url(&format!("/{route}"))).await;
    browser.wait_for("the admin-role message", "document.getElementById('needs-role')", LOAD).await;
    let offers = browser.execute(OFFERS_JS, vec![]).await;
    let message = offers["needs_role"].as_str().unwrap();
    assert!(message.contains("needs the admin role"), "{route}: {message:?}");
    assert!(message.contains(&format!("signed in as {name} ({role})")), "{route}: {message:?}");
    assert_eq!(offers["zone_form"], false, "{route}: {offers}");
    assert_eq!(offers["delete"], false, "{route}: {offers}");
}

/// In local mode (the server without `--auth`) the page shows no sign-in at all, and every link an admin has.
pub(crate) async fn check_local_mode(browser: &Session) {
    let shown = browser
        .execute(
            "return { who: !!document.getElementById('who'), signin: !!document.getElementById('signin-form'), \
             hash: location.hash, add: document.querySelector(\"a[data-nav='new']\").offsetParent !== null };",
            vec![],
        )
        .await;
    assert_eq!(shown, json!({"who": false, "signin": false, "hash": "", "add": true}), "local mode");
}

/// Console errors other than Chromium's notes of the 401 answers the sign-in flow expects.
fn unexpected_console_errors(console: &[Value]) -> Vec<&Value> {
    severe(console)
        .into_iter()
        .filter(|e| !(e["source"] == "network" && e["message"].as_str().unwrap_or("").contains(" 401 ")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_signs_in_and_shows_only_what_the_role_may_do() {
    let driver = Driver::start();
    let demo = Demo::start(&["--auth", "--poll-interval-secs", "0.5"], &[]);
    let admin = demo.token.clone().unwrap();
    assert!(admin.starts_with("hst_"), "the demo prints its admin token alone on stdout: {admin:?}");
    demo.wait_online().await;
    let anonymous = reqwest::get(demo.url("/status")).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "no reads without a token");
    let (viewer_id, viewer) = create_token(&demo, &admin, "hall-display", "viewer").await;
    let (_, operator) = create_token(&demo, &admin, "facility-laptop", "operator").await;
    let zones = demo.get("/zones").await;
    let zone_id = zones[0]["id"].as_i64().unwrap();
    let browser = driver.session(1366, 1000).await;

    // 1. Without a token the page shows the sign-in view, and nobody is named in the top bar.
    browser.goto(&demo.url("/")).await;
    browser
        .wait_for("the sign-in view", "location.hash === '#/signin' && document.getElementById('signin-form')", LOAD)
        .await;
    let who = browser.execute("const w = document.getElementById('who'); return !!w && !w.hidden;", vec![]).await;
    assert_eq!(who, false, "nobody is signed in");

    // 2. A wrong token: the server's 401 message, as it says it.
    let wrong = format!("hst_{}", "A".repeat(43));
    let detail = refusal(&demo, &wrong).await;
    sign_in(&browser, &wrong, false).await;
    browser
        .wait_for(
            "the server's refusal",
            &format!(
                "document.getElementById('signin-error').textContent === {}",
                serde_json::to_string(&detail).unwrap()
            ),
            LOAD,
        )
        .await;

    // 3. A viewer sees the overview and a zone page, with no control form and no links to add or edit zones.
    sign_in(&browser, &viewer, false).await;
    wait_signed_in(&browser, "hall-display", "viewer").await;
    browser
        .wait_for(
            "five filled zone cards",
            r#"location.hash === '#/' && document.querySelectorAll(".zone-card[data-reading-ts]:not([data-reading-ts=''])").length === 5"#,
            LOAD,
        )
        .await;
    let offers = browser.execute(OFFERS_JS, vec![]).await;
    assert_eq!(offers["add_links"], 0, "no 'Add zone' for a viewer: {offers}");
    assert_eq!(stored(&browser).await, json!([viewer, null]), "kept for this tab only, unless remembered");
    browser.click(&browser.find(&format!("#zone-{zone_id}-name")).await).await;
    browser
        .wait_for(
            "the zone page's commands",
            "document.querySelectorAll('#commands tbody tr[data-command-id]').length > 0",
            LOAD,
        )
        .await;
    let offers = browser.execute(OFFERS_JS, vec![]).await;
    assert_eq!(
        offers,
        json!({"target_form": false, "cancel_hold": false, "control_note": true, "add_links": 0, "edit_links": 0,
               "zone_form": false, "delete": false, "needs_role": null}),
        "a viewer's zone page"
    );
    // The command list names who gave each command (here the control job).
    let listed = browser
        .execute(
            "return Array.from(document.querySelectorAll('#commands tbody tr[data-command-id]')).map((r) => \
             [Number(r.dataset.commandId), r.querySelector('[data-field=actor]').textContent])",
            vec![],
        )
        .await;
    let commands = demo.get(&format!("/commands/zone/{zone_id}?limit=20")).await;
    for row in listed.as_array().unwrap() {
        let command = commands.as_array().unwrap().iter().find(|c| c["id"] == row[0]);
        if let Some(c) = command {
            assert_eq!(c["actor"], row[1], "the listed actor is the API's: {c}");
        }
    }
    assert!(listed.as_array().unwrap().iter().any(|r| r[1] == "control"), "{listed}");
    check_form_refused(&browser, &demo, "#/zones/new", "hall-display", "viewer").await;
    check_form_refused(&browser, &demo, &format!("#/zone/{zone_id}/edit"), "hall-display", "viewer").await;

    // 4. The viewer's token revoked while its zone page is open: back to the sign-in view with the server's reason.
    browser.goto(&demo.url(&format!("/#/zone/{zone_id}"))).await;
    browser.wait_for("the zone page", "document.getElementById('control-note')", LOAD).await;
    let resp = reqwest::Client::new()
        .delete(demo.url(&format!("/tokens/{viewer_id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "DELETE /tokens/{viewer_id}: {}", resp.status());
    let detail = refusal(&demo, &viewer).await;
    browser
        .wait_for(
            "the sign-in view with the revocation",
            &format!(
                "location.hash === '#/signin' && document.getElementById('signin-error').textContent === {}",
                serde_json::to_string(&detail).unwrap()
            ),
            LOAD,
        )
        .await;
    assert_eq!(stored(&browser).await, json!([null, null]), "a refused token is forgotten");

    // 5. An operator, remembered on this device, is taken back to the zone page, which offers control but no
    // zone editing; a target set there is confirmed, recorded under the token's name and listed so.
    sign_in(&browser, &operator, true).await;
    wait_signed_in(&browser, "facility-laptop", "operator").await;
    browser
        .wait_for(
            "the zone page again",
            &format!("location.hash === '#/zone/{zone_id}' && document.getElementById('target-form')"),
            LOAD,
        )
        .await;
    let offers = browser.execute(OFFERS_JS, vec![]).await;
    assert_eq!(
        offers,
        json!({"target_form": true, "cancel_hold": true, "control_note": false, "add_links": 0, "edit_links": 0,
               "zone_form": false, "delete": false, "needs_role": null}),
        "an operator's zone page"
    );
    let input = browser.find("#target-temp").await;
    browser.clear(&input).await;
    browser.type_text(&input, "23.5").await;
    browser.click(&browser.find("#hold-minutes option[value='480']").await).await;
    browser.click(&browser.find("#set-target").await).await;
    let result =
        browser.wait_for("a confirmed command", "document.getElementById('control-result').textContent", LOAD).await;
    assert!(result.as_str().unwrap().contains("confirmed"), "{result}");
    let command_id =
        browser.execute("return Number(document.getElementById('control-result').dataset.commandId)", vec![]).await;
    let commands = demo.get(&format!("/commands/zone/{zone_id}?limit=10")).await;
    let command = commands.as_array().unwrap().iter().find(|c| c["id"] == command_id).expect("the command is listed");
    assert_eq!(command["actor"], "facility-laptop", "{command}");
    assert_eq!(command["target_temp"], 23.5, "{command}");
    browser
        .wait_for(
            "the operator named in the command list",
            &format!(
                "(document.querySelector('#commands tr[data-command-id=\"{command_id}\"] [data-field=actor]') || {{}}).textContent === 'facility-laptop'"
            ),
            LOAD,
        )
        .await;
    check_form_refused(&browser, &demo, "#/zones/new", "facility-laptop", "operator").await;

    // 6. Remembered: the page loaded anew stays signed in. Signing out forgets the token and shows the sign-in view.
    browser.goto(&demo.url("/#/")).await;
    browser.execute("window.notReloaded = true; location.reload();", vec![]).await;
    browser.wait_for("the page loaded anew", "!window.notReloaded && document.querySelector('.zone-card')", LOAD).await;
    wait_signed_in(&browser, "facility-laptop", "operator").await;
    assert_eq!(stored(&browser).await, json!([null, operator]), "remembered on this device");
    browser.click(&browser.find("#sign-out").await).await;
    browser
        .wait_for("the sign-in view", "location.hash === '#/signin' && document.getElementById('signin-form')", LOAD)
        .await;
    assert_eq!(stored(&browser).await, json!([null, null]), "signing out forgets the token");

    // No console errors but the expected 401s, and no request to another host.
    let console = browser.log("browser").await;
    let unexpected = unexpected_console_errors(&console);
    assert!(unexpected.is_empty(), "console errors: {unexpected:?}");
    let urls = requested_urls(&browser.log("performance").await);
    assert!(urls.iter().any(|u| u.ends_with("/auth/whoami")), "{urls:?}");
    let foreign: Vec<&String> = urls.iter().filter(|u| is_foreign(u, &demo.base)).collect();
    assert!(foreign.is_empty(), "requests to other hosts: {foreign:?}");
    browser.quit().await;
}
