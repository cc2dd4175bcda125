//! Which zones this instance acts on when several instances share one PostgreSQL database (`crate::jobs::leases`
//! keeps them), and the fence a device write passes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::storage::ZoneId;

/// A zone lease this instance holds (several instances on one PostgreSQL database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The fencing token: a write is sent only while the database says this epoch is still ours.
    pub epoch: i64,
    /// Not polled before (server clock): a zone just taken over waits until its previous owner's last reading is
    /// more than half an interval old, so no zone is read twice in one interval.
    pub poll_after: Option<DateTime<Utc>>,
}

/// Which zones this instance acts on: all (one instance: SQLite, or leases off), or those it holds a lease of.
#[derive(Debug, Default)]
pub struct Leases {
    /// `None`: this instance is the only one and acts on every zone.
    pub(super) held: Option<HashMap<ZoneId, Lease>>,
    /// Writes need at least this much of their lease left (database clock), so they end before it can expire.
    pub write_margin: std::time::Duration,
}

/// May this instance write to a zone's device, and under which lease?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fence {
    /// The only instance.
    Sole,
    /// Under this lease (instance id, epoch), still to be checked against the database.
    Held { instance: String, epoch: i64, margin: std::time::Duration },
    /// Another instance holds the zone (or nobody does).
    Elsewhere,
}
