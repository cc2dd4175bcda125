//! The `demo` binary under test: started on ephemeral ports in a temporary directory, killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;

use crate::LOAD;

/// `heating-server demo` on ephemeral ports, in a temporary directory; killed on drop.
pub struct Demo {
    child: Child,
    pub base: String,
    pub log: Arc<Mutex<Vec<String>>>,
    /// With `--auth`: the admin token the demo prints on stdout, sent by [`Demo::get`].
    pub token: Option<String>,
    _dir: TempDir,
}

impl Demo {
    /// Starts the binary and waits for its `listening on http://ADDR/` line (and, with `--auth`, its token).
    pub fn start(server_args: &[&str], demo_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--bind", "127.0.0.1:0"];
        args.extend_from_slice(server_args);
        args.extend_from_slice(&["demo", "--base-port", "0"]);
        args.extend_from_slice(demo_args);
        let mut child = Command::new(env!("CARGO_BIN_EXE_heating-server"))
            .current_dir(dir.path())
            .args(&args)
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL")
            .env_remove("WEATHERAPI_KEY")
            .env_remove("WEATHER_PROVIDER")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut base = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            log.lock().unwrap().push(line.clone());
            if let Some(rest) = line.split("listening on ").nth(1) {
                base = Some(rest.split_whitespace().next().unwrap().trim_end_matches('/').to_string());
                break;
            }
        }
        let Some(base) = base else {
            let _ = child.kill();
            panic!("the demo did not start: {:?}", log.lock().unwrap());
        };
        // The token line comes before the server listens; the rest of stdout is drained like stderr.
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let token = server_args.contains(&"--auth").then(|| stdout.next().and_then(Result::ok).unwrap_or_default());
        std::thread::spawn(move || stdout.for_each(drop));
        // Keep draining stderr (a full pipe would stall the server), keeping the lines for failure messages.
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, base, log, token, _dir: dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Value {
        let mut req = reqwest::Client::new().get(self.url(path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
        resp.json().await.unwrap()
    }

    /// Waits until every zone is online with a reading.
    pub async fn wait_online(&self) -> Value {
        let started = tokio::time::Instant::now();
        loop {
            let status = self.get("/status").await;
            let zones = status["zones"].as_array().unwrap();
            if zones.len() == 5 && zones.iter().all(|z| z["health"]["state"] == "online" && z["reading"].is_object()) {
                return status;
            }
            assert!(started.elapsed() < LOAD, "zones not online: {status}\n{}", self.log.lock().unwrap().join("\n"));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
