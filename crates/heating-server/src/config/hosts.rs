//! Which `Host` names the server answers to (against DNS rebinding).

/// Host settings (flattened into [`super::Config`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HostSettings {}
