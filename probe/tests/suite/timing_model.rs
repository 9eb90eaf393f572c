//! The timing model: a step with network phases lasts exactly what its
//! phases add up to (rendering before them and checking after are not the
//! target's time), phases are laid back to back, and a run lasts at least
//! its steps.

use std::time::Duration;

use probe::run::RunTrigger;
use scenarios::wire::{RunResult, StepStatus};
use sonde_tests::TestTarget;

use crate::common::{runner, scenario};

/// Every step that has phases reports their sum as its duration.
fn assert_model(result: &RunResult) {
    let mut steps_total = 0.0;
    for step in &result.steps {
        if step.status == StepStatus::Skipped {
            assert_eq!(step.duration_ms, None, "a skipped step has no duration");
            continue;
        }
        let took = step.duration_ms.expect("a step that ran has a duration");
        steps_total += took;
        if let Some(phases) = &step.phases {
            assert_eq!(
                took,
                phases.total_ms(),
                "step `{}`: duration is its phases' sum: {phases:?}",
                step.name
            );
        }
    }
    assert!(
        result.duration_ms >= steps_total,
        "the run ({} ms) lasts at least its steps ({steps_total} ms)",
        result.duration_ms
    );
}

#[tokio::test]
async fn a_step_lasts_what_its_phases_add_up_to_and_checks_are_not_counted() {
    // A 2 MB body that a regex check scans after the transfer: its time
    // is the probe's, and must not show in the step.
    let target = TestTarget::new()
        .route_with_latency("/slow", 200, Duration::from_millis(120))
        .big_body("/big", 2_000_000)
        .redirect("/old", "/slow")
        .start()
        .await
        .expect("target starts");
    let text = format!(
        r#"
name = "timing"
interval = "1m"
timeout = "20s"

[[steps]]
name = "slow"
get = "{slow}"
expect = ["status == 200", "duration >= 120ms"]

[[steps]]
name = "redirected"
get = "{old}"
follow_redirects = true
expect = ["status == 200", "redirects == 1", "duration >= 120ms"]

[[steps]]
name = "big"
get = "{big}"
expect = ['body matches "(x|y)+z"']

[[steps]]
name = "tcp"
kind = "tcp"
address = "{addr}"
"#,
        slow = target.url("/slow"),
        old = target.url("/old"),
        big = target.url("/big"),
        addr = target.addr(),
    );
    let scenario = scenario(&text);
    let result = runner("local", &[]).run(&scenario, RunTrigger::now()).await;
    assert_model(&result);
    let status: Vec<_> = result.steps.iter().map(|s| s.status).collect();
    assert_eq!(
        status,
        [
            StepStatus::Passed,
            StepStatus::Passed,
            StepStatus::Failed,
            StepStatus::Skipped
        ],
        "{result:#?}"
    );
    // The delay is in the wait for the first byte, not spread elsewhere.
    let slow = result.steps[0].phases.expect("phases");
    assert!(slow.ttfb_ms.is_some_and(|t| t >= 120.0), "{slow:?}");
    // Two hops' phases: both waits are in the step.
    let redirected = result.steps[1].duration_ms.expect("ran");
    assert!(redirected >= 120.0, "{redirected}");
}

#[tokio::test]
async fn tcp_and_failed_steps_follow_the_same_model() {
    let target = TestTarget::new()
        .route("/", 200, "ok")
        .hang("/hang")
        .start()
        .await
        .expect("target starts");
    let text = format!(
        r#"
name = "timing-failed"
interval = "1m"

[[steps]]
name = "tcp"
kind = "tcp"
address = "{addr}"

[[steps]]
name = "hung"
get = "{hang}"
timeout = "300ms"
"#,
        addr = target.addr(),
        hang = target.url("/hang"),
    );
    let scenario = scenario(&text);
    let result = runner("local", &[]).run(&scenario, RunTrigger::now()).await;
    assert_model(&result);
    assert_eq!(result.steps[0].status, StepStatus::Passed);
    let hung = &result.steps[1];
    assert_eq!(hung.status, StepStatus::Failed);
    // Cut at the deadline, in the phase it was waiting in.
    let phases = hung.phases.expect("phases up to the cut");
    assert!(phases.ttfb_ms.is_some_and(|t| t >= 300.0), "{phases:?}");
}
