//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;
use reqwest::Url;

use crate::error::EXIT_CODES_HELP;
use crate::format::parse_duration;
use crate::settings::parse_server;

const AFTER_HELP: &str = "\
Configuration: --server/HEATCTL_SERVER and --token/HEATCTL_TOKEN, else the config file (--config/HEATCTL_CONFIG, \
else $XDG_CONFIG_HOME/heatctl/config.toml, else ~/.config/heatctl/config.toml) with the keys `server` and `token`. \
A config file holding a token must not be readable by others (chmod 600). Without a token the server must be in \
local mode (loopback, authentication off).

Zones are named by name (exact, else ignoring case) or by id. Durations: 30m, 2h, 1d, 1h30m (s, m, h, d, w).";

/// Command-line client of the heating server's REST API.
#[derive(Debug, Parser)]
#[command(name = "heatctl", version, about, after_help = format!("{AFTER_HELP}\n\n{EXIT_CODES_HELP}"))]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
pub struct Global {
    /// The server's URL [default: http://127.0.0.1:8000, or `server` in the config file].
    #[arg(long, env = "HEATCTL_SERVER", value_parser = parse_server, global = true)]
    pub server: Option<Url>,
    /// API token (`hst_...`), sent as `Authorization: Bearer`. Prefer HEATCTL_TOKEN or the config file: a flag is
    /// visible to other users in the process list.
    #[arg(long, env = "HEATCTL_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// The config file to read instead of the default one.
    #[arg(long, env = "HEATCTL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Print the API's JSON instead of a table (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    /// No colour, even on a terminal (also: NO_COLOR set).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Give up on a request after this long.
    #[arg(long, default_value = "30s", value_parser = parse_duration, global = true)]
    pub timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the zones: id, name, device, strategy, comfort and setback temperatures.
    Zones,
    /// Live status of every zone (air, target and why, occupancy, heater, health, last seen) and outdoors.
    Status,
    /// Set a zone's target now and hold it against automatic control.
    Set(SetArgs),
    /// Cancel a zone's manual hold: automatic control takes over at its next run.
    Release {
        /// Zone name or id.
        zone: String,
    },
    /// A zone's readings over a time range, aggregated into buckets (min/avg/max), and the energy used.
    History(HistoryArgs),
    /// A zone's recent target-temperature commands, newest first.
    Commands {
        /// Zone name or id.
        zone: String,
        /// How many commands to show (1 to 1000).
        #[arg(long, short = 'n', default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
    },
    /// Add or remove a zone (admin).
    #[command(subcommand)]
    Zone(ZoneCommand),
    /// Who the server takes this token for: name, role, and whether it requires tokens.
    Whoami,
    /// Print a shell completion script: `heatctl completions bash > ~/.local/share/bash-completion/completions/heatctl`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: Shell,
    },
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// Zone name or id.
    pub zone: String,
    /// Target temperature, °C (5 to 35, and within the zone's min_temp..max_temp).
    pub target: f64,
    /// Hold the target this long (e.g. 30m, 2h, 1d; at most 7d). Without it the hold lasts until the zone's
    /// occupancy changes.
    #[arg(long, value_parser = parse_duration)]
    pub hold: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Zone name or id.
    pub zone: String,
    /// Start: a duration before now (server clock), e.g. 24h, or an RFC 3339 time [default: 24h before --until].
    #[arg(long)]
    pub since: Option<String>,
    /// End: a duration before now (server clock), or an RFC 3339 time [default: now].
    #[arg(long)]
    pub until: Option<String>,
    /// Most buckets, 1 to 2000 [server default: 500].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=2000))]
    pub points: Option<u16>,
    /// CSV with a header line instead of a table.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
}

#[derive(Debug, Subcommand)]
pub enum ZoneCommand {
    /// Register a zone, with its Modbus device if it has one.
    Add(ZoneAddArgs),
    /// Delete a zone. Refused while it has readings or commands, unless --cascade.
    Rm {
        /// Zone name or id.
        zone: String,
        /// Also delete the zone's readings and commands.
        #[arg(long)]
        cascade: bool,
    },
}

#[derive(Debug, Args)]
pub struct ZoneAddArgs {
    /// Unique display name.
    pub name: String,
    /// Modbus TCP host of the zone's device [server default: localhost].
    #[arg(long)]
    pub host: Option<String>,
    /// Modbus TCP port of the zone's device; without it the zone has no device.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Modbus unit id [server default: 1].
    #[arg(long)]
    pub unit: Option<u8>,
    /// A preference, KEY=VALUE; VALUE is read as JSON when it parses (22.5, true, ["mon-fri 08:00-17:00"]),
    /// else as a string. Repeatable: --pref occupied_temp=22 --pref control_strategy=predictive.
    #[arg(long = "pref", value_name = "KEY=VALUE", value_parser = parse_pref)]
    pub prefs: Vec<(String, serde_json::Value)>,
}

/// `key=value`, the value as JSON when it parses, else a string.
fn parse_pref(raw: &str) -> Result<(String, serde_json::Value), String> {
    let (key, value) = raw.split_once('=').ok_or_else(|| format!("{raw:?} is not KEY=VALUE"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("{raw:?} has no key"));
    }
    let value = serde_json::from_str(value.trim()).unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
    Ok((key.to_string(), value))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn prefs() {
        assert_eq!(parse_pref("occupied_temp=22.5").unwrap(), ("occupied_temp".into(), json!(22.5)));
        assert_eq!(parse_pref("control_strategy=predictive").unwrap().1, json!("predictive"));
        assert_eq!(
            parse_pref("occupancy_schedule=[\"mon-fri 08:00-17:00\"]").unwrap().1,
            json!(["mon-fri 08:00-17:00"])
        );
        assert!(parse_pref("nokey").is_err());
        assert!(parse_pref("=1").is_err());
    }

    #[test]
    fn help_lists_exit_codes_and_hides_the_token() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:") && help.contains("HEATCTL_TOKEN"), "{help}");
    }
}
