//! Device profile settings.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--device-profiles-dir` | `DEVICE_PROFILES_DIR` | unset: the built-in profiles and those posted through the API only |

use std::path::PathBuf;

/// Where operators keep their own device profiles (flattened into [`super::Config`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProfileSettings {
    /// A folder of device profiles: every `*.toml` in it is loaded and validated at start (an invalid one, or one
    /// named like a built-in profile, stops the start with the file and the field named).
    #[arg(long, env = "DEVICE_PROFILES_DIR")]
    pub device_profiles_dir: Option<PathBuf>,
}
