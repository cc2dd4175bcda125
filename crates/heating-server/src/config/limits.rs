//! Connection and request limits of the HTTP server: what a slow or greedy client may hold.

/// Connection and request limits (flattened into [`super::Config`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LimitSettings {}
