//! On-demand runs (run now, confirmation runs) as every replica sees them:
//! a request is stored before any probe hears of it, and the result that
//! answers it is stored beside it, so the replica a probe polls puts it in
//! that probe's plan and the replica a caller waits on hears the answer,
//! whichever replica took either call.

use scenarios::wire::{RunRequest, RunResult};
use uuid::Uuid;

use super::StoreError;

/// One stored request and, once a result answered it, that result.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequestRow {
    /// The probe asked to run it.
    pub probe: String,
    pub request: RunRequest,
    pub answer: Option<RunResult>,
}

impl RunRequestRow {
    /// A stored row from its columns: the request and answer as JSON text.
    ///
    /// # Errors
    /// Text that does not parse.
    pub fn from_json(
        probe: String,
        request: &str,
        answer: Option<&str>,
    ) -> Result<RunRequestRow, StoreError> {
        let corrupt =
            |what: &str, e: serde_json::Error| StoreError::Corrupt(format!("{what}: {e}"));
        let request =
            serde_json::from_str(request).map_err(|e| corrupt("stored run request", e))?;
        let answer = answer
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt("stored answer to a run request", e))?;
        Ok(RunRequestRow {
            probe,
            request,
            answer,
        })
    }
}

/// The `run_requests` table.
pub trait RunRequests {
    /// Stores a request for `probe` (once per id).
    ///
    /// # Errors
    /// Database errors.
    fn save_run_request(&self, probe: &str, request: &RunRequest) -> Result<(), StoreError>;

    /// Records `answer` (its JSON text as stored) as the answer to request
    /// `id`; the first answer stays.
    ///
    /// # Errors
    /// Database errors.
    fn answer_run_request(&self, id: Uuid, answer_json: &str) -> Result<(), StoreError>;

    /// Request `id` with its answer, if it is stored.
    ///
    /// # Errors
    /// Database errors, or a stored row that does not parse.
    fn run_request(&self, id: Uuid) -> Result<Option<RunRequestRow>, StoreError>;

    /// Every request made at or after `since_ms` (Unix ms), oldest first.
    ///
    /// # Errors
    /// Database errors, or a stored row that does not parse.
    fn run_requests_since(&self, since_ms: i64) -> Result<Vec<RunRequestRow>, StoreError>;

    /// Forgets requests made before `cutoff_ms`; says how many.
    ///
    /// # Errors
    /// Database errors.
    fn delete_run_requests_before(&self, cutoff_ms: i64) -> Result<usize, StoreError>;
}
