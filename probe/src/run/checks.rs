//! Assertions and captures of one step, evaluated on what it observed.

use scenarios::expr::Observation;
use scenarios::model::Step;
use scenarios::wire::{self, AssertionResult, StepResult, StepStatus};

use super::scope::RunScope;

/// Evaluates every assertion (all are reported, not just the first that
/// fails), then, when they all passed, the captures.
pub fn apply(
    step: &Step,
    obs: &Observation<'_>,
    result: &mut StepResult,
    scope: &mut RunScope<'_>,
) {
    let mut passed = true;
    // Redacted before they are cut: a secret cut in half, in an encoded
    // form, could no longer be recognised afterwards.
    let secrets = scope.secrets.values();
    let shown = |text: String| {
        // With nothing to mask and nothing to cut, the text is kept as it
        // is: every assertion of every step passes through here.
        if secrets.is_empty() && text.chars().nth(wire::ACTUAL_MAX_CHARS).is_none() {
            text
        } else {
            wire::truncate_actual(&wire::redact(&text, &secrets))
        }
    };
    for assertion in &step.expect {
        let outcome = assertion.check(obs);
        passed &= outcome.passed;
        result.assertions.push(AssertionResult {
            expr: assertion.source.clone(),
            passed: outcome.passed,
            expected: shown(outcome.expected),
            actual: shown(outcome.actual),
        });
    }
    if !passed {
        result.status = StepStatus::Failed;
        return;
    }
    for capture in &step.capture {
        match capture.query.evaluate(obs) {
            Ok(Some(value)) => {
                scope.captures.insert(capture.name.clone(), value);
                result.captures.push(capture.name.clone());
            }
            Ok(None) => {
                return capture_failed(
                    result,
                    &capture.name,
                    &capture.query.to_string(),
                    "found nothing",
                );
            }
            Err(e) => {
                return capture_failed(
                    result,
                    &capture.name,
                    &capture.query.to_string(),
                    &e.to_string(),
                );
            }
        }
    }
    result.status = StepStatus::Passed;
}

fn capture_failed(result: &mut StepResult, name: &str, query: &str, why: &str) {
    result.status = StepStatus::Failed;
    result.error = Some(wire::StepError {
        kind: wire::ErrorKind::Capture,
        message: format!("capture `{name}` ({query}): {why}"),
    });
}
