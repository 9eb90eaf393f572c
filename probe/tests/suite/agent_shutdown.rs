//! Shutdown of an agent in this process: a run that ends within the grace
//! is spooled; one still going when the grace is over is cancelled and its
//! result dropped, and the agent still stops cleanly.

use std::time::Duration;

use probe::agent::{Metrics, Spool, save_cache};
use sonde_tests::{Reply, TestTarget};

use crate::agent_support::{InProcessAgent, plan, planned, source, unreachable_scheduler};

fn spooled(dir: &std::path::Path) -> Vec<String> {
    let spool = Spool::open(dir, 1 << 20, Metrics::new()).expect("spool");
    spool.oldest(100).into_iter().map(|r| r.scenario).collect()
}

#[tokio::test]
async fn a_run_in_flight_that_ends_within_the_grace_is_spooled() {
    let target = TestTarget::new()
        .reply(
            "/slow",
            Reply::new(200)
                .body("late")
                .latency(Duration::from_millis(800)),
        )
        .start()
        .await
        .expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let wire = plan(
        1,
        vec![planned("slow", &source("slow", "2s", &target.url("/slow")))],
    );
    save_cache(dir.path(), None, &wire).expect("cache");
    let agent =
        InProcessAgent::start(unreachable_scheduler(), dir.path(), Duration::from_secs(5)).await;
    let seen = target
        .wait_for_requests("/slow", 1, Duration::from_secs(10))
        .await;
    assert!(!seen.is_empty(), "a run started");
    // Stop while that run waits for its answer.
    agent.stop(Duration::from_secs(15)).await;
    let runs = target.requests_to("/slow").len();
    let kept = spooled(dir.path());
    assert_eq!(
        kept.len(),
        runs,
        "every run, the one in flight too, is spooled"
    );
}

#[tokio::test]
async fn a_run_still_going_when_the_grace_is_over_is_cancelled_and_dropped() {
    let target = TestTarget::new()
        .hang("/hang")
        .start()
        .await
        .expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let wire = plan(
        1,
        vec![planned("hang", &source("hang", "2s", &target.url("/hang")))],
    );
    save_cache(dir.path(), None, &wire).expect("cache");
    let agent = InProcessAgent::start(
        unreachable_scheduler(),
        dir.path(),
        Duration::from_millis(300),
    )
    .await;
    let seen = target
        .wait_for_requests("/hang", 1, Duration::from_secs(10))
        .await;
    assert_eq!(seen.len(), 1, "the run started");
    let started = tokio::time::Instant::now();
    agent.stop(Duration::from_secs(10)).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        spooled(dir.path()).is_empty(),
        "the cancelled run's result is dropped"
    );
}
