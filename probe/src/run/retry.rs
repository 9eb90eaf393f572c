//! `[alert] retry`: whether a finished run is run again, and as which
//! attempt. The agent and `probe run` both ask here, so they agree.

use std::time::Duration;

use scenarios::model::Scenario;
use scenarios::wire::RunResult;

use super::RunTrigger;

/// The attempt that follows `result` and the delay before it, when the
/// scenario retries failures: only after a failed scheduled run (an
/// on-demand run answers its request once), and at most
/// `retry.attempts` times after the first.
pub fn next_attempt(scenario: &Scenario, result: &RunResult) -> Option<(RunTrigger, Duration)> {
    let policy = scenario.alert.retry?;
    if result.outcome.is_success() || result.run_request.is_some() {
        return None;
    }
    if !policy.will_retry(result.attempt) {
        return None;
    }
    // Planned for when the failed attempt ended plus the delay: the
    // lateness of a retry then reads like any run's.
    let took = Duration::try_from_secs_f64(result.duration_ms / 1_000.0).unwrap_or_default();
    let ended = result.started_at + chrono::Duration::from_std(took).unwrap_or_default();
    let due = ended + chrono::Duration::from_std(policy.delay).unwrap_or_default();
    let trigger = RunTrigger {
        attempt: result.attempt + 1,
        retry_of: Some(result.retry_of.unwrap_or(result.id)),
        ..RunTrigger::scheduled(due)
    };
    Some((trigger, policy.delay))
}
