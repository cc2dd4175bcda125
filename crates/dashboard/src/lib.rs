//! Static dashboard assets, embedded into the server binary.
//!
//! Placeholder: the dashboard itself comes with its own issue. The crate exists so the server can depend on
//! its name from the start.
