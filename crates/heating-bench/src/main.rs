use clap::Parser;
use heating_bench::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Scenario(args) => heating_bench::report::run_scenarios(&args),
        Command::Timing(args) => heating_bench::report::timing(&args),
        Command::Prices(args) => heating_bench::prices::write(&args),
    }
}
