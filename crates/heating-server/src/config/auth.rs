//! Access settings: whether API tokens are required, and what a caller without one may do.

/// Access settings (flattened into [`super::Config`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuthSettings {}
