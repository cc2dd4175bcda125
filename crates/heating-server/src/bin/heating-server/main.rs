//! `heating-server`: parse the configuration, set up logging, build the app, serve until Ctrl-C or SIGTERM; or,
//! with `demo`, the whole system in one process ([`demo`]).

use std::process::ExitCode;

mod cli;
mod demo;
mod probe;
mod token;
mod vacuum;

use anyhow::Context;
use cli::{Cli, Command};
use tracing_subscriber::EnvFilter;
use zone_simulator::shutdown_signal;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::load() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("heating-server: {e:#}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A closed stderr (the terminal or log pipe gone) must not panic the task that logs: the default reports
        // the failed write with `eprintln!`, which panics on that same closed stream and would stop a job loop.
        .log_internal_errors(false)
        .init();
    tracing::debug!(config = ?cli.config, "configuration");
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("heating-server: error: {}", report(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out a cause whose text the line already ends with (sqlx repeats
/// the database's message as its own source).
fn report(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    let demo = match cli.command {
        Some(Command::Token(args)) => return token::run(config, args).await,
        Some(Command::Probe(args)) => return probe::run(config, args).await,
        Some(Command::Vacuum) => return vacuum::run(config).await,
        Some(Command::Demo(args)) => Some(args),
        None => None,
    };
    let bind = config.bind;
    // Before binding: a server that would be open to the network without authentication never listens.
    config.auth.check_exposure(bind).map_err(anyhow::Error::msg)?;
    let listener = heating_server::server::bind(bind).with_context(|| format!("could not listen on {bind}"))?;
    match demo {
        None => heating_server::build(config).await?.run(listener, shutdown_signal()).await,
        Some(args) => demo::run(config, args, listener, shutdown_signal()).await,
    }
}
