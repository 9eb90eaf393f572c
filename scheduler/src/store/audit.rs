//! The audit log: who changed what, kept like results.

use serde::Serialize;

use super::StoreError;

/// One write someone made (a token, a silence, a maintenance window, a run
/// now, a test notification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    #[serde(with = "scenarios::wire::time")]
    pub at: chrono::DateTime<chrono::Utc>,
    /// The operator token's name, or `command line` for `scheduler token`.
    pub actor: String,
    /// `token.create`, `token.revoke`, `silence.create`, `silence.expire`,
    /// `maintenance.create`, `maintenance.delete`, `run_now`,
    /// `notify.test`.
    pub action: String,
    /// What it acted on: a token's name, a silence's or window's id, a
    /// scenario, a notifier.
    pub target: String,
    /// A word on it (a silence's comment, the regions run).
    pub detail: Option<String>,
}

/// The `audit` table.
pub trait Audit {
    /// Records one entry.
    ///
    /// # Errors
    /// Database errors.
    fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Entries at or after `since_ms`, newest first, at most `limit`.
    ///
    /// # Errors
    /// Database errors.
    fn audit_since(&self, since_ms: i64, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;

    /// Deletes entries older than `cutoff_ms`; returns how many.
    ///
    /// # Errors
    /// Database errors.
    fn delete_audit_before(&self, cutoff_ms: i64) -> Result<usize, StoreError>;
}
