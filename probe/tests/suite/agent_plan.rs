//! Following the plan: compiling it (invalid scenarios skipped), polling
//! with ETags, caching it on disk, and an agent that starts from the cache
//! while the scheduler is unreachable and still runs its scenarios.

use std::sync::Arc;
use std::time::Duration;

use probe::agent::{
    CompiledPlan, Identity, Metrics, PlanPoller, PollOptions, SchedulerClient, Schedulers, Spool,
    load_cache, save_cache,
};
use scenarios::wire::{Outcome, RunReason, RunRequest};
use sonde_tests::{TestTarget, wait_for_http};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::agent_support::{
    FakeScheduler, InProcessAgent, plan, planned, result, sample, source, unreachable_scheduler,
};

fn identity() -> Identity {
    Identity {
        name: "p-test".into(),
        region: "eu-test-1".into(),
        token: "s3cret-token".into(),
    }
}

#[test]
fn invalid_and_damaged_scenarios_are_left_out_and_unchanged_ones_reused() {
    let good = planned("good", &source("good", "1m", "http://127.0.0.1:9/"));
    let invalid = planned(
        "invalid",
        "interval = \"1m\"\n[[steps]]\nname = \"x\"\nget = \"http://h/\"\nexpcet = []\n",
    );
    let mut damaged = planned("damaged", &source("damaged", "1m", "http://127.0.0.1:9/"));
    damaged.version = "sha256:0000".into();
    let wire = plan(1, vec![good, invalid, damaged]);
    let first = CompiledPlan::compile(&wire, None);
    assert_eq!(first.scenarios.keys().collect::<Vec<_>>(), vec!["good"]);
    let second = CompiledPlan::compile(&wire, Some(&first));
    assert!(
        Arc::ptr_eq(&first.scenarios["good"], &second.scenarios["good"]),
        "not compiled again"
    );
}

#[test]
fn the_cache_round_trips_without_on_demand_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(load_cache(dir.path()).is_none());
    let mut wire = plan(
        7,
        vec![planned(
            "good",
            &source("good", "1m", "http://127.0.0.1:9/"),
        )],
    );
    wire.run_now.push(RunRequest {
        id: uuid::Uuid::now_v7(),
        scenario: "good".into(),
        requested_at: chrono::Utc::now(),
        reason: RunReason::Confirmation,
        inline: None,
    });
    save_cache(dir.path(), Some("\"r7\""), &wire).expect("save");
    let cached = load_cache(dir.path()).expect("cached");
    assert_eq!(cached.etag.as_deref(), Some("\"r7\""));
    assert_eq!(cached.plan.scenarios, wire.scenarios);
    assert!(cached.plan.run_now.is_empty());
    std::fs::write(dir.path().join("plan.json"), b"{\"etag\": nul").expect("damage");
    assert!(
        load_cache(dir.path()).is_none(),
        "a damaged cache is ignored, not fatal"
    );
}

#[tokio::test]
async fn the_poller_sends_etags_and_the_spool_depth_and_caches_each_new_plan() {
    let fake = FakeScheduler::start().await;
    fake.set_plan(plan(
        1,
        vec![planned("a", &source("a", "1m", "http://127.0.0.1:9/"))],
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Metrics::new();
    let spool = Arc::new(Spool::open(dir.path(), 1 << 20, metrics.clone()).expect("spool"));
    spool.put(&result("a")).expect("put");
    spool.put(&result("a")).expect("put");
    let client = SchedulerClient::new(&fake.url(), &identity(), None).expect("client");
    let (tx, mut rx) = watch::channel(None);
    let options = PollOptions {
        wait: Duration::from_secs(1),
        min_interval: Duration::from_millis(20),
    };
    let schedulers = Schedulers::new(vec![client], metrics.clone());
    let poller = PlanPoller::new(schedulers, spool, dir.path(), metrics.clone(), tx, options);
    let stop = CancellationToken::new();
    let task = tokio::spawn(poller.run(stop.clone()));

    let within = Duration::from_secs(10);
    assert!(
        has_revision(&mut rx, 1, within).await,
        "first plan published"
    );
    fake.wait_until("a conditional plan request", within, |f| {
        f.plan_requests()
            .iter()
            .any(|h| h.get("if-none-match").is_some_and(|v| v == "\"r1\""))
    })
    .await;
    let first = &fake.plan_requests()[0];
    assert_eq!(
        first.get("x-sonde-spool").and_then(|v| v.to_str().ok()),
        Some("2")
    );
    assert_eq!(
        first.get("authorization").and_then(|v| v.to_str().ok()),
        Some("Bearer s3cret-token")
    );

    fake.set_plan(plan(
        2,
        vec![planned("b", &source("b", "1m", "http://127.0.0.1:9/"))],
    ));
    assert!(
        has_revision(&mut rx, 2, within).await,
        "changed plan published"
    );
    // The cache is written once the plan is in use, not before.
    let cached = tokio::time::timeout(within, async {
        loop {
            match load_cache(dir.path()) {
                Some(c) if c.plan.revision == 2 => break c,
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
    .await
    .expect("the changed plan is cached");
    assert_eq!(cached.plan.scenarios[0].name, "b");
    assert_eq!(
        sample(&metrics.encode(), "sonde_agent_plan_version", ""),
        Some(2.0)
    );
    stop.cancel();
    task.await.expect("poller stops");
}

#[tokio::test]
async fn a_cached_plan_keeps_running_while_the_scheduler_is_unreachable() {
    let target = TestTarget::new()
        .route("/ok", 200, "fine")
        .start()
        .await
        .expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let wire = plan(
        4,
        vec![planned(
            "cached",
            &source("cached", "1s", &target.url("/ok")),
        )],
    );
    save_cache(dir.path(), Some("\"r4\""), &wire).expect("cache");

    let agent =
        InProcessAgent::start(unreachable_scheduler(), dir.path(), Duration::from_secs(2)).await;
    let addr = agent.addr;

    wait_for_http(&format!("http://{addr}/readyz"), Duration::from_secs(5))
        .await
        .expect("ready from the cache");
    let seen = target
        .wait_for_requests("/ok", 2, Duration::from_secs(15))
        .await;
    assert!(
        seen.len() >= 2,
        "scenario ran from the cached plan: {} runs",
        seen.len()
    );
    assert_eq!(seen[0].header("x-sonde-region"), Some("eu-test-1"));
    let scrape = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    assert_eq!(
        sample(&scrape, "sonde_agent_plan_version", ""),
        Some(4.0),
        "{scrape}"
    );

    agent.stop(Duration::from_secs(15)).await;
    let spool = Spool::open(dir.path(), 1 << 20, Metrics::new()).expect("spool");
    let kept = spool.oldest(100);
    assert!(
        kept.len() >= 2,
        "results wait in the spool for the scheduler"
    );
    assert!(
        kept.iter().all(|r| r.scenario == "cached"
            && r.probe == "p-test"
            && r.outcome == Outcome::Success)
    );
}

async fn has_revision(
    rx: &mut watch::Receiver<Option<Arc<CompiledPlan>>>,
    revision: u64,
    within: Duration,
) -> bool {
    let waiting = async {
        rx.wait_for(|p| p.as_ref().is_some_and(|p| p.revision == revision))
            .await
            .is_ok()
    };
    tokio::time::timeout(within, waiting).await.unwrap_or(false)
}
