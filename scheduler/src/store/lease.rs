//! The leader lease (`crate::leadership`): one row naming the replica
//! that leads, until when, and at which epoch; and the fence every write
//! of the leader checks in its own transaction.

use super::StoreError;
use crate::leadership::Fence;

/// The lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The replica holding it (or last holding it, once expired).
    pub holder: String,
    /// Raised by one each time the lease changes hands.
    pub epoch: i64,
    /// Unix ms on the database's clock (SQLite: the caller's).
    pub expires_at: i64,
}

/// The `leader_lease` table.
///
/// Times: PostgreSQL judges expiry on its own clock, the one every replica
/// shares; SQLite (one process per file) on `now_ms`, the caller's.
pub trait Leases {
    /// Takes or renews the lease for `replica` for `ttl_ms`: renewed at the
    /// same epoch while it holds it, taken at the next epoch when nobody
    /// holds it or it has expired, else left alone. Answers the lease as it
    /// stands afterwards, whoever holds it.
    ///
    /// # Errors
    /// Database errors.
    fn claim_lease(&self, replica: &str, ttl_ms: i64, now_ms: i64) -> Result<Lease, StoreError>;

    /// Ends the lease now if `replica` holds it at `epoch` (a clean
    /// shutdown), so the next claim of another replica takes it.
    ///
    /// # Errors
    /// Database errors.
    fn release_lease(&self, replica: &str, epoch: i64, now_ms: i64) -> Result<(), StoreError>;

    /// The fence: succeeds when the lease is held by `fence.replica` at
    /// `fence.epoch` and has not expired. On PostgreSQL it also locks the
    /// lease row against changes until this transaction ends, so no other
    /// replica takes over between the check and the COMMIT.
    ///
    /// # Errors
    /// [`StoreError::Fenced`] when it is not; database errors.
    fn check_fence(&self, fence: &Fence, now_ms: i64) -> Result<(), StoreError>;

    /// The lease as stored, if any replica ever held it.
    ///
    /// # Errors
    /// Database errors.
    fn current_lease(&self) -> Result<Option<Lease>, StoreError>;
}

/// The error of a write whose fence no longer holds.
pub fn fenced(fence: &Fence) -> StoreError {
    StoreError::Fenced(format!(
        "replica `{}` no longer holds the leader lease at epoch {}",
        fence.replica, fence.epoch
    ))
}
