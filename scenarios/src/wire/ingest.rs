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
    /// Why, for programs; absent from schedulers older than the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectReason>,
    /// Why, for people, e.g. `unknown scenario "chekout"`.
    pub error: String,
}

/// Why a result was rejected: a bounded set, also the `reason` label of
/// `sonde_ingest_results_total{outcome="rejected"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not a valid run result (a missing field, a negative duration, …).
    Malformed,
    /// Its `probe` or `region` is not the token's.
    Identity,
    /// Its scenario is not in the catalog.
    UnknownScenario,
    /// More steps than a scenario may have.
    TooLarge,
    /// Its `started_at` is further ahead of the scheduler's clock than
    /// `max_clock_skew`.
    ClockSkew,
    /// A reason this version does not know, from a newer scheduler: acks
    /// still parse (schedulers are upgraded before probes).
    #[serde(other)]
    Other,
}

impl RejectReason {
    /// Every reason a scheduler gives, in label order.
    pub const ALL: [RejectReason; 5] = [
        RejectReason::Malformed,
        RejectReason::Identity,
        RejectReason::UnknownScenario,
        RejectReason::TooLarge,
        RejectReason::ClockSkew,
    ];

    /// The wire and label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::Identity => "identity",
            RejectReason::UnknownScenario => "unknown_scenario",
            RejectReason::TooLarge => "too_large",
            RejectReason::ClockSkew => "clock_skew",
            RejectReason::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_as_str_matches_serde() {
        for reason in RejectReason::ALL.into_iter().chain([RejectReason::Other]) {
            let json = serde_json::to_string(&reason).expect("serializes");
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
    }

    #[test]
    fn acks_without_a_reason_or_with_a_newer_one_parse() {
        let old = r#"{"accepted":[],"duplicates":[],"rejected":[{"id":null,"error":"bad"}]}"#;
        let ack: IngestAck = serde_json::from_str(old).expect("an old scheduler's ack parses");
        assert_eq!(ack.rejected[0].reason, None);
        let newer = r#"{"accepted":[],"duplicates":[],
            "rejected":[{"id":null,"reason":"quota","error":"over quota"}]}"#;
        let ack: IngestAck = serde_json::from_str(newer).expect("a newer scheduler's ack parses");
        assert_eq!(ack.rejected[0].reason, Some(RejectReason::Other));
        assert_eq!(ack.rejected[0].error, "over quota");
    }

    #[test]
    fn a_rejection_without_a_reason_is_written_without_the_field() {
        let r = Rejected {
            id: None,
            reason: None,
            error: "bad".into(),
        };
        let json = serde_json::to_value(&r).expect("serializes");
        assert!(json.get("reason").is_none(), "{json}");
    }
}
