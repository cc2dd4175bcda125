//! Just enough of a W3C WebDriver client, over the `reqwest` the tests already use, to drive headless Chromium
//! through `chromedriver`: sessions, navigation, elements, scripts, screenshots, plus chromedriver's log endpoint
//! (console and network events) and its CDP passthrough (colour-scheme emulation). The protocol is JSON over HTTP;
//! a WebDriver crate would add a dependency tree and still need these two chromedriver extensions by hand.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The W3C element reference key.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Finds a program on `PATH` (or as given, if it contains a slash).
pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Path::new(program).is_file().then(|| PathBuf::from(program));
    }
    std::env::var_os("PATH").iter().flat_map(std::env::split_paths).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// Chromium and chromedriver, or a panic that says how to install them. Never a silent skip: the browser test is
/// part of `cargo test --workspace`.
pub fn browser_programs() -> (PathBuf, PathBuf) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    match (which(&chromium), which(&driver)) {
        (Some(c), Some(d)) => (c, d),
        (c, d) => panic!(
            "the dashboard browser test needs headless Chromium and chromedriver, and {} not found. Install them \
             with `apt-get update && apt-get install -y chromium chromium-driver` (.ci/run does this), or point \
             CHROMIUM and CHROMEDRIVER at them.",
            match (c, d) {
                (None, None) => format!("neither `{chromium}` nor `{driver}` was"),
                (None, _) => format!("`{chromium}` was"),
                _ => format!("`{driver}` was"),
            }
        ),
    }
}

/// A running chromedriver on a port it chose itself; killed on drop.
pub struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
    http: reqwest::Client,
    profile: TempDir,
}

impl Driver {
    /// Starts chromedriver on port 0 and waits for the line announcing the port it took.
    pub fn start() -> Self {
        let (chromium, driver) = browser_programs();
        let mut child = Command::new(&driver)
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            // Its own process group, which the browsers it starts inherit: dropping the driver ends them all, even
            // when a failed assertion skipped the orderly end of the session.
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut port = None;
        let mut seen = Vec::new();
        for line in stdout.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                port = rest.trim_end_matches('.').trim().parse::<u16>().ok();
                break;
            }
            seen.push(line);
        }
        // Keep reading, so that chromedriver never blocks on (or dies of) a full or closed pipe.
        std::thread::spawn(move || stdout.for_each(drop));
        let port = port.unwrap_or_else(|| {
            let _ = child.kill();
            panic!("chromedriver did not announce its port: {seen:?}")
        });
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
            http: reqwest::Client::new(),
            profile: tempfile::tempdir().unwrap(),
        }
    }

    /// A new headless browser session (fresh profile), logging console messages and network events.
    pub async fn session(&self, width: u32, height: u32) -> Session {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": self.chromium.to_string_lossy(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-quic", "--disable-dev-shm-usage", "--hide-scrollbars", "--disable-crash-reporter",
                    "--disable-breakpad",
                    format!("--user-data-dir={}", self.profile.path().display()),
                    format!("--window-size={width},{height}"),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"},
        }}});
        let resp = self.http.post(format!("{}/session", self.url)).json(&caps).send().await.unwrap();
        let body: Value = resp.json().await.unwrap();
        let id = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver refused a session: {body}"))
            .to_string();
        Session { http: self.http.clone(), url: format!("{}/session/{id}", self.url) }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An element reference.
#[derive(Debug, Clone)]
pub struct Element(String);

/// One browser session.
pub struct Session {
    http: reqwest::Client,
    url: String,
}

impl Session {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.url));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| format!("{method} {path}: {e}"))?;
        if status.is_success() {
            Ok(body["value"].clone())
        } else {
            Err(format!("{method} {path}: {status} {}", body["value"]))
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns its result.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args })).await
    }

    /// Evaluates `expr` until it is truthy (not false, null, 0 or ""), then returns its value. Panics with
    /// `what` and the last value after `within`.
    pub async fn wait_for(&self, what: &str, expr: &str, within: Duration) -> Value {
        let started = tokio::time::Instant::now();
        let script = format!("return ({expr});");
        loop {
            let v = self.execute(&script, vec![]).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            assert!(started.elapsed() < within, "timed out after {within:?} waiting for {what}; last value: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        let v = self.post("/element", json!({"using": "css selector", "value": css})).await;
        Element(v[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("no element {css}: {v}")).to_string())
    }

    pub async fn click(&self, el: &Element) {
        self.post(&format!("/element/{}/click", el.0), json!({})).await;
    }

    pub async fn clear(&self, el: &Element) {
        self.post(&format!("/element/{}/clear", el.0), json!({})).await;
    }

    /// Types `text` into the element, as keystrokes.
    pub async fn type_text(&self, el: &Element, text: &str) {
        self.post(&format!("/element/{}/value", el.0), json!({ "text": text })).await;
    }

    /// PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await.unwrap_or_else(|e| panic!("{e}"));
        base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap()
    }

    /// Sets the viewport (not the window) to exactly this size, as screenshots need; `mobile` emulates a phone
    /// (a desktop window cannot be narrower than 500 px).
    pub async fn set_viewport(&self, width: u32, height: u32, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
    }

    /// New log entries of a kind (`browser`: the console; `performance`: DevTools events) since the last call.
    pub async fn log(&self, kind: &str) -> Vec<Value> {
        self.post("/se/log", json!({ "type": kind })).await.as_array().cloned().unwrap_or_default()
    }

    /// A Chrome DevTools Protocol command, through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.post("/goog/cdp/execute", json!({ "cmd": cmd, "params": params })).await
    }

    /// Makes the page see `prefers-color-scheme: dark` (or light).
    pub async fn color_scheme(&self, scheme: &str) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        )
        .await;
    }

    pub async fn quit(self) {
        let _ = self.call(reqwest::Method::DELETE, "", None).await;
    }
}
