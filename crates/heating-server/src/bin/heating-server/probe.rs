//! `heating-server probe --host H --port P [--unit U] --profile NAME`: commissioning. Reads every point of a
//! device profile once from a device and prints a table — point, where the profile says it is, the raw registers,
//! the decoded value or why there is none — so an installer sees at once whether a profile fits, before registering
//! a zone. Profiles: the built-ins and `DEVICE_PROFILES_DIR`; `--file` probes a profile file not installed yet. No
//! database is opened. Exit status 1 when a required point (air temperature, target) has no value or the device
//! does not answer.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use device_profile::{PointKind, Profile};
use heating_server::Config;
use heating_server::profiles::ProfileRegistry;
use zone_client::{Endpoint, ProbeReport};

/// Options of `heating-server probe`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// The device's host name or IP address.
    #[arg(long)]
    pub host: String,
    /// Its Modbus TCP port.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Its unit id (default: the profile's `unit_id`, else 1).
    #[arg(long)]
    pub unit: Option<u8>,
    /// A profile name: a built-in or one of DEVICE_PROFILES_DIR.
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    pub profile: Option<String>,
    /// A profile file to check before installing it.
    #[arg(long)]
    pub file: Option<PathBuf>,
}

pub async fn run(config: Config, args: ProbeArgs) -> anyhow::Result<()> {
    let profile: Arc<Profile> = match (&args.file, &args.profile) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
            Arc::new(Profile::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?)
        }
        (None, Some(name)) => {
            let registry = ProfileRegistry::load(config.profiles.device_profiles_dir.as_deref())?;
            registry
                .get(name)
                .ok_or_else(|| {
                    anyhow::anyhow!("--profile: unknown device profile {name:?} (known: {})", registry.names())
                })?
                .profile
                .clone()
        }
        (None, None) => anyhow::bail!("--profile or --file is required"),
    };
    let unit_id = args.unit.or(profile.unit_id).unwrap_or(1);
    let endpoint = Endpoint { host: args.host.clone(), port: args.port, unit_id };
    let shown = endpoint.to_string();
    let report = zone_client::probe(endpoint, profile, config.link_config(), chrono::Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    print!("{}", table(&shown, &report));
    let failed: Vec<String> = report
        .points
        .iter()
        .filter(|p| matches!(p.point, PointKind::AirTemperature | PointKind::Target) && p.value.is_err())
        .map(|p| p.point.to_string())
        .collect();
    if failed.is_empty() { Ok(()) } else { anyhow::bail!("required point(s) without a value: {}", failed.join(", ")) }
}

/// The report as an aligned text table.
fn table(endpoint: &str, report: &ProbeReport) -> String {
    let rows: Vec<[String; 4]> = report
        .points
        .iter()
        .map(|p| {
            [
                p.point.to_string(),
                format!("{} {} {}", p.table, p.address, p.data_type),
                p.raw.as_ref().map_or_else(|| "-".into(), ToString::to_string),
                match &p.value {
                    Ok(v) => format!("{v}"),
                    Err(e) => format!("error: {e}"),
                },
            ]
        })
        .collect();
    let head = ["point", "location", "raw", "value"].map(String::from);
    let widths: Vec<usize> =
        (0..3).map(|i| rows.iter().chain([&head]).map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = format!("profile {} at {endpoint}\n", report.profile);
    for row in [&head].into_iter().chain(rows.iter()) {
        out += &format!(
            "{:w0$}  {:w1$}  {:w2$}  {}\n",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    out += if report.fits() { "every point fits\n" } else { "some points do not fit\n" };
    out
}
