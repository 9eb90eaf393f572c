//! The agent retrying a real run: a target that fails once and then
//! passes gives two delivered results, the failure and its passing retry.

use std::time::Duration;

use scenarios::wire::Outcome;

use crate::agent_support::{FakeScheduler, InProcessAgent, plan, planned, source};
use crate::common::failing_once;

#[tokio::test]
async fn a_failure_then_a_passing_retry_are_both_delivered() {
    let addr = failing_once().await;
    // `timeout` is a header key: it goes before the first step.
    let text = source("flaky", "5s", &format!("http://{addr}/")).replacen(
        "interval = \"5s\"\n",
        "interval = \"5s\"\ntimeout = \"500ms\"\n",
        1,
    ) + "[alert]\nretry = { attempts = 2, delay = \"100ms\" }\n";
    let fake = FakeScheduler::start().await;
    fake.set_plan(plan(1, vec![planned("flaky", &text)]));
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = InProcessAgent::start(fake.url(), dir.path(), Duration::from_secs(5)).await;
    fake.wait_until("two results delivered", Duration::from_secs(30), |f| {
        f.stored().len() >= 2
    })
    .await;
    agent.stop(Duration::from_secs(15)).await;

    // Stored by id, a UUIDv7: in the order the runs ended.
    let stored: Vec<_> = fake.stored().into_values().collect();
    let (first, retry) = (&stored[0], &stored[1]);
    assert_eq!(
        (first.outcome, first.attempt, first.retry_of),
        (Outcome::Failure, 1, None)
    );
    assert_eq!(
        (retry.outcome, retry.attempt, retry.retry_of),
        (Outcome::Success, 2, Some(first.id)),
        "{stored:?}"
    );
    assert_eq!(retry.probe, first.probe, "retried on the same probe");
    assert!(
        stored[2..].iter().all(|r| r.attempt == 1),
        "a passing run is not retried: {stored:?}"
    );
}
