//! The result batches a probe delivers (`POST /api/v1/results`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::run_result::RunResult;

/// Results a probe delivers in one request; delivery is at least once, and
/// the scheduler ingests each result id once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultBatch {
    /// The results, oldest first.
    pub results: Vec<RunResult>,
}

/// The scheduler's answer to a [`ResultBatch`]: every result id lands in
/// exactly one list. The probe drops accepted and duplicate results from its
/// spool and sets rejected ones aside; they would be rejected again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestAck {
    /// Ids stored by this request.
    pub accepted: Vec<Uuid>,
    /// Ids already stored by an earlier delivery.
    pub duplicates: Vec<Uuid>,
    /// Results that will never be stored, with why.
    pub rejected: Vec<Rejected>,
}

/// A result the scheduler refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// The result's id; `null` when the entry was too malformed to have one.
    pub id: Option<Uuid>,
    /// Why, for people, e.g. `unknown scenario "chekout"`.
    pub error: String,
}
