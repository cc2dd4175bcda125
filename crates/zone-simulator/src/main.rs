use std::process::ExitCode;

use clap::Parser;
use zone_simulator::config::{Cli, SimulatorConfig};
use zone_simulator::{Simulator, shutdown_signal};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        // A closed stdout must not panic the zone task that logs (the default reports it with a panicking
        // `eprintln!`).
        .log_internal_errors(false)
        .init();
    let cli = Cli::parse();
    let config = match SimulatorConfig::from_cli(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("zone-simulator: {e}");
            return ExitCode::from(2);
        }
    };
    // Each zone needs a listener and one socket per connected master.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!("cannot raise the open-file limit: {e}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zone-simulator: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let simulator = match Simulator::bind(&config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("zone-simulator: {e}");
                return ExitCode::FAILURE;
            }
        };
        let handle = simulator.spawn();
        tracing::info!(
            zones = handle.addrs().len(),
            seed = config.weather.seed,
            time_scale = config.time_scale,
            "simulator running; Ctrl-C to stop"
        );
        shutdown_signal().await;
        tracing::info!("stopping");
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}
