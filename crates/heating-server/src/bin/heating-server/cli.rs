//! The command line: the server's flags ([`Config`]), and optionally the `demo` subcommand.

use clap::Parser;
use heating_server::Config;

use crate::demo::DemoArgs;
use crate::probe::ProbeArgs;
use crate::token::TokenArgs;

/// The command line: server options, and optionally a subcommand.
#[derive(Debug, Parser)]
#[command(name = "heating-server", version, about = "Central server of the heating platform.")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to run.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// The whole system in one process: five simulated zones, the server on a fresh SQLite file, zones
    /// registered, on a shared simulated clock (60× by default).
    Demo(DemoArgs),
    /// API tokens: `token create --name NAME --role viewer|operator|admin [--expires-days N]`, `token list`,
    /// `token revoke NAME_OR_ID`. Uses DATABASE_URL.
    Token(TokenArgs),
    /// Commissioning: read every point of a device profile once from a device (`--host H --port P [--unit U]
    /// --profile NAME`, or `--file PATH`) and print raw and decoded values. Exit status 1 if a required point fails.
    Probe(ProbeArgs),
    /// SQLite: switch a database file made by an older version to incremental auto-vacuum (one `VACUUM`, which
    /// rewrites the file; run it with the server stopped), so that retention gives freed space back to the file
    /// system. Uses DATABASE_URL.
    Vacuum,
}

impl Cli {
    /// Reads `.env` (if present) into the environment, then flags and environment variables. Exits with a usage
    /// message on invalid flags, like any clap program; a malformed `.env` is an error.
    pub fn load() -> anyhow::Result<Self> {
        if let Err(e) = dotenvy::dotenv()
            && !e.not_found()
        {
            return Err(anyhow::anyhow!("could not read .env: {e}"));
        }
        let mut cli = Self::parse();
        cli.config.normalize();
        Ok(cli)
    }
}
