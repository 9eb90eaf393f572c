//! Results waiting for the leader's alert engine: a replica that does not
//! lead stores what probes send it and queues it here, in the same
//! transaction; the leader evaluates the queue in order and clears it in
//! the transaction that applies it, so a result is evaluated once whichever
//! replica received it.

use scenarios::wire::RunResult;

use super::StoreError;

/// The `pending_evaluation` table.
pub trait PendingEvaluation {
    /// Queues stored results (by id) for evaluation.
    ///
    /// # Errors
    /// Database errors.
    fn queue_for_evaluation(&self, ids: &[uuid::Uuid], now_ms: i64) -> Result<(), StoreError>;

    /// The oldest queued results, at most `limit`, in the order queued
    /// (then started). A queued id whose result is gone (retention) is
    /// skipped, and dropped from the queue by [`Self::evaluated`].
    ///
    /// # Errors
    /// Database errors, or a stored result that does not parse.
    fn pending_results(&self, limit: usize) -> Result<Vec<RunResult>, StoreError>;

    /// Takes evaluated results off the queue (and ids whose result is gone).
    ///
    /// # Errors
    /// Database errors.
    fn evaluated(&self, ids: &[uuid::Uuid]) -> Result<(), StoreError>;

    /// How many results wait.
    ///
    /// # Errors
    /// Database errors.
    fn pending_count(&self) -> Result<i64, StoreError>;
}
