//! How a CI report reads one step: passed, skipped, failed on an
//! assertion, or unable to run. JUnit and TAP tell these apart.

use scenarios::wire::{AssertionResult, ErrorKind, StepResult, StepStatus};

/// The CI reading of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// Not run because an earlier step failed.
    Skipped,
    /// The step got its answer but a check on it did not hold: an
    /// assertion (`kind` `assertion`) or a capture that found nothing.
    Failure {
        kind: String,
        message: String,
    },
    /// The step could not be carried out (connect refused, timeout, target
    /// refused, …); `kind` is the result's error kind.
    Error {
        kind: String,
        message: String,
    },
}

/// Why a skipped step did not run.
pub const SKIP_REASON: &str = "earlier step failed";

impl Verdict {
    pub fn of(step: &StepResult) -> Verdict {
        match step.status {
            StepStatus::Passed => Verdict::Passed,
            StepStatus::Skipped => Verdict::Skipped,
            StepStatus::Failed => match &step.error {
                // A capture that found nothing fails the run as an
                // assertion does (outcome `failure`), so CI counts it so.
                Some(e) if e.kind == ErrorKind::Capture => Verdict::Failure {
                    kind: e.kind.as_str().to_owned(),
                    message: e.message.clone(),
                },
                Some(e) => Verdict::Error {
                    kind: e.kind.as_str().to_owned(),
                    message: e.message.clone(),
                },
                None => Verdict::Failure {
                    kind: "assertion".to_owned(),
                    message: assertion_summary(&failed_assertions(step)),
                },
            },
        }
    }
}

/// The assertions of a step that did not hold, in the scenario's order.
pub fn failed_assertions(step: &StepResult) -> Vec<&AssertionResult> {
    step.assertions.iter().filter(|a| !a.passed).collect()
}

/// One line for the first failed assertion, e.g. ``status == 200`: expected
/// 200, actual 503 (and 1 more)`.
fn assertion_summary(failed: &[&AssertionResult]) -> String {
    let Some(first) = failed.first() else {
        return "step failed".to_owned();
    };
    let mut line = format!(
        "`{}`: expected {}, actual {}",
        first.expr, first.expected, first.actual
    );
    if failed.len() > 1 {
        line.push_str(&format!(" (and {} more)", failed.len() - 1));
    }
    line
}
