//! Registered probes: who they are and when they were last seen.

use super::StoreError;

/// A probe as stored. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRow {
    pub name: String,
    pub region: String,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The probe's software version, when it told.
    pub version: Option<String>,
    /// Results waiting in its spool, when it told (`X-Sonde-Spool`).
    pub spool_depth: Option<i64>,
    /// Content hash of the plan it was last given.
    pub plan_hash: Option<String>,
    /// Grows with each change of its plan.
    pub plan_revision: i64,
}

/// The `probes` table.
pub trait Probes {
    /// Inserts or updates a probe; `first_seen` is kept and `last_seen`
    /// never goes back.
    ///
    /// # Errors
    /// Database errors.
    fn upsert_probe(&self, p: &ProbeRow) -> Result<(), StoreError>;

    /// Every registered probe, by name.
    ///
    /// # Errors
    /// Database errors.
    fn probes(&self) -> Result<Vec<ProbeRow>, StoreError>;
}
