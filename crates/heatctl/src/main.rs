//! `heatctl`: a command-line client of the heating server's REST API. See `heatctl --help` and the README.
//!
//! Modules: [`cli`] (the command line), [`settings`] (server and token from flags, environment, config file),
//! [`client`] (HTTP and the mapping of refusals to [`error::Kind`]s, i.e. exit codes), [`format`] (tables,
//! durations), and the commands in [`zones`], [`status`], [`control`] and [`history`].

mod cli;
mod client;
mod control;
mod error;
mod format;
mod history;
mod settings;
mod status;
mod zones;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use serde_json::Value;

use cli::{Cli, Command, ZoneCommand};
use client::Client;
use error::{Failure, Kind, Result};

/// How a command's result is printed.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub colour: bool,
}

impl Output {
    /// Prints the API's JSON (pretty) for `--json`; returns whether it did.
    pub fn json(self, value: &Value) -> bool {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
        }
        self.json
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "heatctl", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&Failure::other(format!("cannot start: {e}"))),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &Failure) -> ExitCode {
    let prefix = if e.kind == Kind::Usage { "heatctl: usage error" } else { "heatctl: error" };
    eprintln!("{prefix}: {}", e.message);
    e.kind.exit_code()
}

async fn run(cli: Cli) -> Result<()> {
    let g = cli.global;
    let settings = settings::resolve(g.server, g.token.as_deref(), g.config)?;
    let client = Client::new(settings, g.timeout)?;
    let out = Output { json: g.json, colour: format::colour_wanted(g.no_color) };
    match cli.command {
        Command::Zones => zones::list(&client, out).await,
        Command::Status => status::show(&client, out).await,
        Command::Set(args) => control::set(&client, out, &args).await,
        Command::Release { zone } => control::release(&client, out, &zone).await,
        Command::History(args) => history::show(&client, out, &args).await,
        Command::Commands { zone, limit } => control::commands(&client, out, &zone, limit).await,
        Command::Zone(ZoneCommand::Add(args)) => zones::add(&client, out, args).await,
        Command::Zone(ZoneCommand::Rm { zone, cascade }) => zones::remove(&client, out, &zone, cascade).await,
        Command::Whoami => whoami(&client, out).await,
        Command::Completions { .. } => Ok(()),
    }
}

async fn whoami(client: &Client, out: Output) -> Result<()> {
    let me = client.get("/auth/whoami", &[]).await?;
    if out.json(&me) {
        return Ok(());
    }
    let name = format::text(&me["name"]);
    let role = format::text(&me["role"]);
    let server = client.server();
    if me["auth"].as_bool() == Some(false) {
        println!("{name} ({role}) at {server}: local mode, the server requires no token");
    } else {
        println!("{name} ({role}) at {server}");
    }
    Ok(())
}
