//! One run of one scenario in one region.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::step::{StepResult, StepStatus};
use super::time;

/// One run of one scenario in one region: what a probe reports to the
/// scheduler and what `probe run --format json` prints (one per line).
///
/// Secret values never appear in it (see [`RunResult::redact`]). Unknown
/// fields are ignored when reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Unique id of the run, a UUIDv7 (ids sort by creation time); the
    /// scheduler ingests each id exactly once.
    pub id: Uuid,
    /// Name of the scenario, e.g. `checkout`.
    pub scenario: String,
    /// Version of the scenario definition that ran (`sha256:…`, see
    /// [`scenario_version`](super::scenario_version)).
    pub version: String,
    /// Name of the probe that ran it (`--name`; the host name under `probe run`).
    pub probe: String,
    /// Region of the probe, e.g. `eu-west-1` (`local` under `probe run`
    /// without `--region`).
    pub region: String,
    /// When the schedule wanted the run; for an on-demand run, when the
    /// probe took the request.
    #[serde(with = "time")]
    pub scheduled_at: DateTime<Utc>,
    /// When the run started; `started_at - scheduled_at` is the lateness.
    #[serde(with = "time")]
    pub started_at: DateTime<Utc>,
    /// Wall time of the whole run in milliseconds, at least the sum of its
    /// steps' durations.
    pub duration_ms: f64,
    /// How the run ended.
    pub outcome: Outcome,
    /// W3C trace id sent in every request's `traceparent`: 32 lowercase
    /// hex digits.
    pub trace_id: String,
    /// Id of the on-demand [`RunRequest`](super::RunRequest) this run
    /// answers; `null` for a scheduled run (and when absent).
    #[serde(default)]
    pub run_request: Option<Uuid>,
    /// Which attempt this is: 1 for the scheduled run, 2, 3, … for the
    /// retries `[alert] retry` makes after a failure (1 when absent).
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// Id of the first attempt when this is a retry; `null` on the first
    /// attempt (and when absent).
    #[serde(default)]
    pub retry_of: Option<Uuid>,
    /// Every step of the scenario in order, skipped ones included.
    pub steps: Vec<StepResult>,
}

fn first_attempt() -> u32 {
    1
}

impl RunResult {
    /// When the run ended, Unix milliseconds: `started_at` plus its
    /// duration (the time of its `trace_id` exemplars).
    pub fn ended_ms(&self) -> i64 {
        self.started_at
            .timestamp_millis()
            .saturating_add(self.duration_ms.round() as i64)
    }

    /// The step that ended the run: the first one with status `failed`.
    pub fn failed_step(&self) -> Option<&StepResult> {
        self.steps
            .iter()
            .find(|step| step.status == StepStatus::Failed)
    }
}

/// How a run ended; the `outcome` label of `sonde_scenario_runs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step passed.
    Success,
    /// A step got its answer but an assertion on it failed (or a capture
    /// found nothing).
    Failure,
    /// A deadline passed: a step's timeout or the scenario's.
    Timeout,
    /// A step could not be carried out: DNS, connect, TLS, body too large,
    /// redirect loop, target refused by the guard, …
    Error,
}

impl Outcome {
    /// Every outcome, in the order above (to pre-register metric labels).
    pub const ALL: [Outcome; 4] = [
        Outcome::Success,
        Outcome::Failure,
        Outcome::Timeout,
        Outcome::Error,
    ];

    /// The wire and metric label form: `success`, `failure`, `timeout`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Timeout => "timeout",
            Outcome::Error => "error",
        }
    }

    /// Whether the run passed.
    pub fn is_success(self) -> bool {
        self == Outcome::Success
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_without_attempt_fields_is_a_first_attempt() {
        let json = r#"{"id":"0193a6f2-6c1e-7b3a-9f1e-2d4c5b6a7e8f","scenario":"s",
            "version":"sha256:0","probe":"p","region":"r",
            "scheduled_at":"2026-11-24T10:00:00.000Z","started_at":"2026-11-24T10:00:00.000Z",
            "duration_ms":1.0,"outcome":"success","trace_id":"0","steps":[]}"#;
        let result: RunResult = serde_json::from_str(json).expect("an older result parses");
        assert_eq!(result.attempt, 1);
        assert_eq!(result.retry_of, None);
    }

    #[test]
    fn outcome_as_str_matches_serde() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_string(&outcome).expect("serializes");
            assert_eq!(json, format!("\"{}\"", outcome.as_str()));
        }
    }
}
