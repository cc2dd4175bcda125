//! A fleet bigger than one process: ZONES simulated zones polled every second by 1 or 2 real `heating-server`
//! processes into a fresh PostgreSQL database (or, with one instance, a SQLite file), the zones served by
//! SIM_PROCESSES real `zone-simulator` processes, UNITS_PER_PORT zones behind each port (a Modbus TCP gateway;
//! the servers then hold one connection per port). After a warm-up it measures a window of SECONDS and prints a
//! table row ready for README:
//!
//! - per instance, p50/p99 of a cycle's reading half (every zone the instance holds read once: what has to fit in
//!   the 1 s period), of its storing half (which runs while the next cycle reads) and of the whole cycle from its
//!   start to its readings stored, from each server's debug lines (target `heating_server::poll_cycle`, to the
//!   microsecond);
//! - readings stored per second in the window, and whether every zone was read every second (fewest and most
//!   readings of a zone, and the count of gaps over 2 s between a zone's readings, window edges included);
//! - polls per CPU-second of the server processes (stored readings / their utime+stime from /proc);
//! - CPU of the servers, of the database (every `postgres` process on the machine, so other users of the server
//!   count too) and of the simulators, in % of one core over the window.
//!
//! `cargo build --release -p heating-server -p zone-simulator --bins --examples` then
//! `ZONES=20000 INSTANCES=2 BACKEND=postgres UNITS_PER_PORT=100 SIM_PROCESSES=2 SECONDS=60 \
//!  target/release/examples/fleet_bench`
//! (env `POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`: a database `fleet_bench_<pid>` is
//! created there and dropped at the end; `WARMUP` seconds, default 20; `SERVER_BIN`, `SIM_BIN`: the binaries,
//! default next to this example's directory).

use std::io::{BufRead, BufReader};
use std::num::NonZeroU16;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use heating_core::preferences::Preferences;
use heating_server::domain::{ModbusHost, ZoneName};
use heating_server::storage::{Storage, ZoneFields};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// utime + stime of a process, seconds (0 if it is gone).
fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of every process named `postgres`, by pid.
fn postgres_cpu() -> std::collections::HashMap<u32, f64> {
    let mut out = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            out.insert(pid, cpu_of(pid));
        }
    }
    out
}

/// A child process killed (after SIGTERM) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary(var: &str, name: &str) -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var(var) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(|d| d.parent()).context("no directory above the example")?;
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} not found: build it (cargo build --release -p heating-server -p zone-simulator --bins) or set {var}",
            path.display()
        );
    }
    Ok(path)
}

/// One simulator process serving `zones` zones on ephemeral ports; the (port, unit id) of each, in order.
fn start_simulator(bin: &PathBuf, zones: usize, units: usize, seed: usize) -> anyhow::Result<(Proc, Vec<(u16, u8)>)> {
    let mut child = Command::new(bin)
        .args(["--base-port", "0", "--zones", &zones.to_string(), "--units-per-port", &units.to_string()])
        .args(["--seed", &seed.to_string()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start zone-simulator")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let proc = Proc(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut endpoints = Vec::with_capacity(zones);
    for line in lines.by_ref() {
        let line = line?;
        if line.contains("zone ready") {
            let field =
                |key: &str| line.split(key).nth(1).and_then(|r| r.split_whitespace().next()).map(str::to_string);
            let addr: std::net::SocketAddr = field("addr=").context("no addr")?.parse()?;
            let unit: u8 = field("unit_id=").context("no unit_id")?.parse()?;
            endpoints.push((addr.port(), unit));
        }
        if line.contains("simulator running") {
            break;
        }
    }
    if endpoints.len() != zones {
        bail!("the simulator announced {} zones of {zones}", endpoints.len());
    }
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Ok((proc, endpoints))
}

/// A running server: its process, each poll cycle it logged (bench clock ms at receipt, cycle ms, zones read),
/// and each cycle's phases (bench clock ms, reading ms, storing ms).
struct Server {
    proc: Proc,
    cycles: Arc<Mutex<Vec<(i64, f64, u64)>>>,
    phases: Arc<Mutex<Vec<(i64, f64, f64)>>>,
}

fn field<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    line.split(&format!(" {key}=")).nth(1)?.split_whitespace().next()?.trim_matches('"').parse().ok()
}

fn start_server(bin: &PathBuf, id: &str, url: &str, cwd: &std::path::Path) -> anyhow::Result<Server> {
    let mut child = Command::new(bin)
        .current_dir(cwd)
        .env("RUST_LOG", "info,heating_server::poll_cycle=debug")
        .env("DATABASE_URL", url)
        .env("BIND", "127.0.0.1:0")
        .env("INSTANCE_ID", id)
        .env("POLL_INTERVAL_SECS", "1")
        .env("CONTROL_INTERVAL_SECS", "3600")
        .env("MAINTENANCE_RETENTION_CRON", "off")
        .env("MAINTENANCE_OCCUPANCY_CRON", "off")
        .env("MAINTENANCE_DB_CHECK_CRON", "off")
        .env("MAINTENANCE_ROLLUP_REBUILD_CRON", "off")
        .env_remove("WEATHERAPI_KEY")
        .env_remove("WEATHER_PROVIDER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start heating-server")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let proc = Proc(child);
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let mut ready = false;
    for line in lines.by_ref() {
        let line = line?;
        if line.contains("listening on ") {
            ready = true;
            break;
        }
        seen.push(line);
    }
    if !ready {
        bail!("instance {id} did not start:\n{}", seen.join("\n"));
    }
    let cycles = Arc::new(Mutex::new(Vec::new()));
    let phases = Arc::new(Mutex::new(Vec::new()));
    let sink = cycles.clone();
    let phase_sink = phases.clone();
    let id = id.to_string();
    // `CYCLE_LOG=dir`: every cycle's lines also go to `dir/<instance>.log`, with the time they were seen.
    let mut log = std::env::var("CYCLE_LOG")
        .ok()
        .and_then(|dir| std::fs::File::create(PathBuf::from(dir).join(format!("{id}.log"))).ok());
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Some(f) = log.as_mut().filter(|_| line.contains("poll ")) {
                use std::io::Write;
                let _ = writeln!(f, "{} {line}", now_ms());
            }
            if line.contains("poll phases") {
                if let (Some(read), Some(store)) = (field::<f64>(&line, "read_ms"), field::<f64>(&line, "store_ms")) {
                    phase_sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((now_ms(), read, store));
                }
            } else if line.contains("poll cycle") && line.contains(" ms=") {
                if let (Some(ms), Some(ok)) = (field::<f64>(&line, "ms"), field::<u64>(&line, "ok")) {
                    sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((now_ms(), ms, ok));
                }
            } else if line.contains("WARN") || line.contains("ERROR") {
                eprintln!("[{id}] {line}");
            }
        }
    });
    Ok(Server { proc, cycles, phases })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let zones: usize = env_or("ZONES", 20_000);
    let instances: usize = env_or("INSTANCES", 1);
    let backend: String = env_or("BACKEND", "postgres".to_string());
    let units: usize = env_or("UNITS_PER_PORT", 100);
    let sim_processes: usize = env_or("SIM_PROCESSES", 2).max(1);
    let seconds: u64 = env_or("SECONDS", 60);
    let warmup: u64 = env_or("WARMUP", 20);
    if !(1..=2).contains(&instances) || !(1..=247).contains(&units) || zones == 0 {
        bail!("INSTANCES must be 1 or 2, UNITS_PER_PORT 1..=247, ZONES above 0");
    }
    if backend == "sqlite" && instances != 1 {
        bail!("SQLite is single-instance: BACKEND=sqlite needs INSTANCES=1");
    }
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let server_bin = binary("SERVER_BIN", "heating-server")?;
    let sim_bin = binary("SIM_BIN", "zone-simulator")?;
    let dir = tempfile::tempdir()?;

    // The database.
    let admin_url = env_or("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test".to_string());
    let db_name = format!("fleet_bench_{}", std::process::id());
    let url = match backend.as_str() {
        "postgres" => {
            let options: sqlx::postgres::PgConnectOptions = admin_url.parse()?;
            let mut admin = options.connect().await.context("PostgreSQL unreachable (POSTGRES_URL)")?;
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db_name}"))).execute(&mut admin).await?;
            admin.close().await?;
            options.database(&db_name).to_url_lossy().to_string()
        }
        "sqlite" => format!("sqlite://{}?mode=rwc", dir.path().join("heating.db").display()),
        other => bail!("BACKEND must be postgres or sqlite, got {other:?}"),
    };
    let result =
        run(&url, &backend, zones, instances, units, sim_processes, seconds, warmup, &server_bin, &sim_bin, dir.path())
            .await;
    if backend == "postgres" {
        let options: sqlx::postgres::PgConnectOptions = admin_url.parse()?;
        let mut admin = options.connect().await?;
        let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")))
            .execute(&mut admin)
            .await;
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn run(
    url: &str,
    backend: &str,
    zones: usize,
    instances: usize,
    units: usize,
    sim_processes: usize,
    seconds: u64,
    warmup: u64,
    server_bin: &PathBuf,
    sim_bin: &PathBuf,
    cwd: &std::path::Path,
) -> anyhow::Result<()> {
    // The simulators, zones split evenly.
    let t = Instant::now();
    let mut sims = Vec::new();
    let mut endpoints = Vec::with_capacity(zones);
    for k in 0..sim_processes {
        let n = zones * (k + 1) / sim_processes - zones * k / sim_processes;
        let (proc, eps) = start_simulator(sim_bin, n, units, 42 + k)?;
        sims.push(proc);
        endpoints.extend(eps);
    }
    let ports: std::collections::HashSet<u16> = endpoints.iter().map(|(p, _)| *p).collect();
    eprintln!(
        "{} simulator process(es) serving {zones} zones on {} ports in {:.1?}",
        sims.len(),
        ports.len(),
        t.elapsed()
    );

    // The zones, through the storage layer (migrations run by `connect`).
    let t = Instant::now();
    let storage = Storage::connect(url).await?;
    let host = ModbusHost::parse("127.0.0.1").map_err(|e| anyhow::anyhow!("{e}"))?;
    let chunks: Vec<Vec<(usize, (u16, u8))>> = {
        let all: Vec<_> = endpoints.iter().copied().enumerate().collect();
        let per = all.len().div_ceil(if backend == "postgres" { 8 } else { 1 });
        all.chunks(per.max(1)).map(<[_]>::to_vec).collect()
    };
    let mut tasks = Vec::new();
    for chunk in chunks {
        let storage = storage.clone();
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            for (i, (port, unit)) in chunk {
                let fields = ZoneFields {
                    name: ZoneName::parse(&format!("zone {i:05}")).map_err(|e| anyhow::anyhow!("{e}"))?,
                    preferences: Preferences::default(),
                    modbus_host: host.clone(),
                    modbus_port: NonZeroU16::new(port),
                    modbus_unit_id: unit,
                    device_profile: "heating-sim".into(),
                    rated_power_w: None,
                };
                storage.create_zone(&fields, chrono::Utc::now()).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    storage.close().await;
    eprintln!("{zones} zones registered in {:.1?}", t.elapsed());

    // The servers.
    let ids = ["inst-a", "inst-b"];
    let mut servers = Vec::new();
    for id in &ids[..instances] {
        servers.push(start_server(server_bin, id, url, cwd)?);
    }
    eprintln!("{instances} instance(s) started; warm-up {warmup} s");
    tokio::time::sleep(Duration::from_secs(warmup)).await;

    // The window.
    let from = now_ms();
    let server_cpu0: Vec<f64> = servers.iter().map(|s| cpu_of(s.proc.0.id())).collect();
    let sim_cpu0: f64 = sims.iter().map(|s| cpu_of(s.0.id())).sum();
    let pg0 = postgres_cpu();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let to = now_ms();
    let server_cpu: Vec<f64> = servers.iter().zip(&server_cpu0).map(|(s, c0)| cpu_of(s.proc.0.id()) - c0).collect();
    let sim_cpu: f64 = sims.iter().map(|s| cpu_of(s.0.id())).sum::<f64>() - sim_cpu0;
    let pg1 = postgres_cpu();
    let open_files: Vec<usize> = servers
        .iter()
        .map(|s| std::fs::read_dir(format!("/proc/{}/fd", s.proc.0.id())).map_or(0, Iterator::count))
        .collect();
    let db_cpu: f64 = pg1.iter().map(|(pid, c)| c - pg0.get(pid).copied().unwrap_or(0.0)).sum();
    let window_s = (to - from) as f64 / 1000.0;

    // Per instance (cycles ending in the window): the reading half (what has to fit in the period), the storing
    // half (which overlaps the next cycle's reading) and the whole, from the cycle's start to its readings stored.
    let mut cycle_cols = Vec::new();
    let mut table_cols = Vec::new();
    for (id, s) in ids.iter().zip(&servers) {
        let cycles = s.cycles.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut ms: Vec<f64> =
            cycles.iter().filter(|(at, _, _)| (from..to).contains(at)).map(|(_, ms, _)| *ms).collect();
        ms.sort_by(f64::total_cmp);
        let read: u64 = cycles.iter().filter(|(at, _, _)| (from..to).contains(at)).map(|(_, _, ok)| ok).sum();
        let phases = s.phases.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let in_window: Vec<_> = phases.iter().filter(|(at, _, _)| (from..to).contains(at)).collect();
        let mut reading: Vec<f64> = in_window.iter().map(|p| p.1).collect();
        let mut storing: Vec<f64> = in_window.iter().map(|p| p.2).collect();
        reading.sort_by(f64::total_cmp);
        storing.sort_by(f64::total_cmp);
        cycle_cols.push(format!(
            "{id}: {} cycles, {:.0} zones read/cycle; reading p50/p99/max {:.0}/{:.0}/{:.0} ms, storing p50/p99/max \
             {:.0}/{:.0}/{:.0} ms, start to stored p50/p99/max {:.0}/{:.0}/{:.0} ms",
            ms.len(),
            read as f64 / ms.len().max(1) as f64,
            percentile(&reading, 50.0),
            percentile(&reading, 99.0),
            reading.last().copied().unwrap_or(f64::NAN),
            percentile(&storing, 50.0),
            percentile(&storing, 99.0),
            storing.last().copied().unwrap_or(f64::NAN),
            percentile(&ms, 50.0),
            percentile(&ms, 99.0),
            ms.last().copied().unwrap_or(f64::NAN),
        ));
        let pair = |v: &[f64]| format!("{:.0}/{:.0}", percentile(v, 50.0), percentile(v, 99.0));
        table_cols.push([pair(&reading), pair(&storing), pair(&ms)]);
    }
    drop(servers);
    drop(sims);

    // The readings of the window, per zone: count, first, last, gaps over 2 s.
    let sql = format!(
        "SELECT count(*), min(ts_ms), max(ts_ms), sum(CASE WHEN gap > 2000 THEN 1 ELSE 0 END) FROM (SELECT zone_id, \
         ts_ms, ts_ms - lag(ts_ms) OVER (PARTITION BY zone_id ORDER BY ts_ms) AS gap FROM sensor_readings WHERE \
         ts_ms >= {from} AND ts_ms < {to}) AS w GROUP BY zone_id"
    );
    let rows: Vec<(i64, i64, i64, i64)> = if backend == "postgres" {
        let pool = sqlx::PgPool::connect(url).await?;
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&pool).await?;
        pool.close().await;
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
    } else {
        let pool = sqlx::SqlitePool::connect(url).await?;
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&pool).await?;
        pool.close().await;
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
    };
    let stored: i64 = rows.iter().map(|r| r.0).sum();
    let silent = zones.saturating_sub(rows.len());
    let edge_gaps = rows.iter().filter(|r| r.1 - from > 2000).count() + rows.iter().filter(|r| to - r.2 > 2000).count();
    let gaps: i64 = rows.iter().map(|r| r.3).sum::<i64>() + i64::try_from(edge_gaps + silent).unwrap_or(0);
    let min = if silent > 0 { 0 } else { rows.iter().map(|r| r.0).min().unwrap_or(0) };
    let max = rows.iter().map(|r| r.0).max().unwrap_or(0);
    let server_total: f64 = server_cpu.iter().sum();
    let conns = ports.len();

    println!();
    for c in &cycle_cols {
        println!("{c}");
    }
    println!(
        "window {window_s:.1} s: {stored} readings ({:.0}/s, {:.0} per zone-second), readings per zone {min}..{max}, \
         gaps over 2 s: {gaps}; server CPU {:?} s, database CPU {db_cpu:.1} s, simulator CPU {sim_cpu:.1} s; open \
         files per server {open_files:?}",
        stored as f64 / window_s,
        stored as f64 / window_s / zones as f64 * 1.0,
        server_cpu.iter().map(|c| (c * 10.0).round() / 10.0).collect::<Vec<_>>()
    );
    let column = |i: usize| table_cols.iter().map(|c| c[i].clone()).collect::<Vec<_>>().join(", ");
    println!(
        "| backend | instances | zones | units/port | simulator processes | connections | reading p50/p99 ms | storing p50/p99 ms | start to stored p50/p99 ms | readings/s | readings per zone (min..max) | gaps > 2 s | polls per CPU-s | server CPU % | database CPU % | simulator CPU % |"
    );
    println!(
        "| {backend} | {instances} | {zones} | {units} | {sim_processes} | {conns} | {} | {} | {} | {:.0} | {min}..{max} | {gaps} | {:.0} | {:.0} | {:.0} | {:.0} |",
        column(0),
        column(1),
        column(2),
        stored as f64 / window_s,
        stored as f64 / server_total.max(1e-9),
        server_total / window_s * 100.0,
        db_cpu / window_s * 100.0,
        sim_cpu / window_s * 100.0,
    );
    Ok(())
}
