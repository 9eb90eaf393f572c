//! How a run began, and the one place a [`RunResult`] is put together: the
//! runner's for a run that finished, the agent's for one it had to cut.

use std::time::Duration;

use chrono::{DateTime, Utc};
use scenarios::model::Scenario;
use scenarios::wire::{Outcome, RunResult, StepResult};
use uuid::Uuid;

use super::{RunTrigger, ms, new_trace_id};

/// Why and when a run began, and the trace id its requests carry.
#[derive(Debug, Clone)]
pub struct RunStart {
    pub trigger: RunTrigger,
    pub started_at: DateTime<Utc>,
    pub trace_id: String,
}

impl RunStart {
    /// A run beginning now, on the system's wall clock: a result reports
    /// when the run really started.
    #[expect(
        clippy::disallowed_methods,
        reason = "a result reports the real time its run started"
    )]
    pub fn now(trigger: RunTrigger) -> Self {
        Self::at(trigger, Utc::now())
    }

    /// A run that began at `started_at`, with a new trace id.
    pub fn at(trigger: RunTrigger, started_at: DateTime<Utc>) -> Self {
        Self {
            trigger,
            started_at,
            trace_id: new_trace_id(),
        }
    }

    /// The run's result under a new id (a UUIDv7, so made when the run
    /// ends): `scenario` run by `probe` in `region`, taking `took`.
    pub fn result(
        self,
        scenario: &Scenario,
        probe: &str,
        region: &str,
        took: Duration,
        outcome: Outcome,
        steps: Vec<StepResult>,
    ) -> RunResult {
        RunResult {
            id: Uuid::now_v7(),
            scenario: scenario.name.clone(),
            version: scenario.version.clone(),
            probe: probe.to_string(),
            region: region.to_string(),
            scheduled_at: self.trigger.scheduled_at,
            started_at: self.started_at,
            duration_ms: ms(took),
            outcome,
            trace_id: self.trace_id,
            run_request: self.trigger.request,
            attempt: self.trigger.attempt,
            retry_of: self.trigger.retry_of,
            steps,
        }
    }
}
