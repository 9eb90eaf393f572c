//! Several schedulers: a failing one (5xx, unreachable, timed out) hands
//! plan and delivery to the next at once and for good; a 4xx does not
//! fail over; the next one's plan is asked for without the old one's
//! ETag; the URLs are checked at start, from flags or the comma-separated
//! variable.

use std::time::Duration;

use probe::agent::{
    Deliverer, DeliveryOptions, Identity, Metrics, PlanPoller, PollOptions, SchedulerClient,
    Schedulers, Spool,
};
use sonde_tests::{RunningTarget, Spawn, TestTarget, free_addr, hang_after_accept, wait_for_http};

use crate::agent_support::{
    FakeScheduler, InProcessAgent, Reply, plan, planned, result, sample, source,
    unreachable_scheduler,
};

const WITHIN: Duration = Duration::from_secs(30);

async fn target() -> RunningTarget {
    TestTarget::new()
        .route("/health", 200, "ok")
        .start()
        .await
        .expect("target")
}

async fn scrape(agent: &InProcessAgent) -> String {
    reqwest::get(format!("http://{}/metrics", agent.addr))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body")
}

fn up(scrape: &str, scheduler: &FakeScheduler) -> Option<f64> {
    sample(
        scrape,
        "sonde_agent_scheduler_up",
        &format!("scheduler=\"{}\"", scheduler.url()),
    )
}

/// Polls the agent's metrics until `check` holds, at most [`WITHIN`].
async fn metrics_until(agent: &InProcessAgent, what: &str, check: impl Fn(&str) -> bool) -> String {
    let end = tokio::time::Instant::now() + WITHIN;
    loop {
        let text = scrape(agent).await;
        if check(&text) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "{what} not within {WITHIN:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_scheduler_answering_503_hands_plan_and_delivery_to_the_next_for_good() {
    let target = target().await;
    let text = source("svc", "1s", &target.url("/health"));
    let first = FakeScheduler::start().await;
    first.set_plan(plan(1, vec![planned("svc", &text)]));
    first.refuse_plan(Some(503));
    let second = FakeScheduler::start().await;
    second.set_plan(plan(1, vec![planned("svc", &text)]));
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = InProcessAgent::start_with(
        vec![first.url(), second.url()],
        dir.path(),
        Duration::from_secs(5),
    )
    .await;

    second
        .wait_until("three results at the second scheduler", WITHIN, |f| {
            f.stored().len() >= 3
        })
        .await;
    let text = scrape(&agent).await;
    agent.stop(Duration::from_secs(15)).await;

    assert_eq!(
        first.plan_requests().len(),
        1,
        "one failed request, then the second scheduler for good"
    );
    assert!(first.posts().is_empty(), "no result went to the first");
    assert_eq!(up(&text, &first), Some(0.0), "{text}");
    assert_eq!(up(&text, &second), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "sonde_agent_scheduler_failovers_total", ""),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn a_batch_refused_with_502_is_delivered_to_the_next_scheduler_at_once() {
    let target = target().await;
    let text = source("svc", "1s", &target.url("/health"));
    let first = FakeScheduler::start().await;
    first.set_plan(plan(1, vec![planned("svc", &text)]));
    first.script([Reply::Status(502)]);
    let second = FakeScheduler::start().await;
    second.set_plan(plan(1, vec![planned("svc", &text)]));
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = InProcessAgent::start_with(
        vec![first.url(), second.url()],
        dir.path(),
        Duration::from_secs(5),
    )
    .await;

    first
        .wait_until("a refused batch", WITHIN, |f| !f.posts().is_empty())
        .await;
    let refused = first.posts()[0].clone();
    second
        .wait_until("the refused batch at the second scheduler", WITHIN, |f| {
            refused.ids.iter().all(|id| f.stored().contains_key(id))
        })
        .await;
    // The plan follows delivery to the second scheduler.
    second
        .wait_until("a plan request at the second scheduler", WITHIN, |f| {
            !f.plan_requests().is_empty()
        })
        .await;
    let text = scrape(&agent).await;
    agent.stop(Duration::from_secs(15)).await;
    assert_eq!(first.posts().len(), 1, "no second post to the first");
    assert_eq!(
        sample(
            &text,
            "sonde_agent_delivery_failures_total",
            "reason=\"server_error\""
        ),
        Some(1.0),
        "{text}"
    );
}

fn clients(urls: &[url::Url]) -> Vec<SchedulerClient> {
    let identity = Identity {
        name: "p-test".into(),
        region: "eu-test-1".into(),
        token: "s3cret-token".into(),
    };
    urls.iter()
        .map(|url| SchedulerClient::new(url, &identity, None).expect("client"))
        .collect()
}

#[tokio::test]
async fn a_plan_request_that_times_out_moves_to_the_next_scheduler() {
    let hanging = hang_after_accept().await.expect("hanging listener");
    let fake = FakeScheduler::start().await;
    fake.set_plan(plan(3, Vec::new()));
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Metrics::new();
    let spool =
        std::sync::Arc::new(Spool::open(dir.path(), 1 << 20, metrics.clone()).expect("spool"));
    let hanging_url = url::Url::parse(&hanging.url("/")).expect("url");
    let schedulers = Schedulers::new(clients(&[hanging_url, fake.url()]), metrics.clone());
    let (tx, mut rx) = tokio::sync::watch::channel(None);
    // A 1 s long-poll gives up after the client's slack on top of it.
    let options = PollOptions {
        wait: Duration::from_secs(1),
        min_interval: Duration::from_millis(20),
    };
    let poller = PlanPoller::new(schedulers, spool, dir.path(), metrics.clone(), tx, options);
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(poller.run(stop.clone()));
    let published = tokio::time::timeout(WITHIN, rx.wait_for(|p| p.is_some())).await;
    stop.cancel();
    let _ = task.await;
    assert!(
        matches!(published, Ok(Ok(_))),
        "a plan from the second scheduler"
    );
    assert_eq!(
        sample(
            &metrics.encode(),
            "sonde_agent_scheduler_failovers_total",
            ""
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn the_last_delivery_at_shutdown_tries_the_next_scheduler() {
    let fake = FakeScheduler::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Metrics::new();
    let spool =
        std::sync::Arc::new(Spool::open(dir.path(), 1 << 20, metrics.clone()).expect("spool"));
    for _ in 0..3 {
        spool.put(&result("svc")).expect("put");
    }
    let clients = clients(&[unreachable_scheduler(), fake.url()]);
    let mut deliverer = Deliverer::new(
        Schedulers::new(clients, metrics.clone()),
        spool.clone(),
        metrics,
        DeliveryOptions::default(),
    );
    let flushed = deliverer
        .flush(tokio::time::Instant::now() + Duration::from_secs(10))
        .await;
    assert!(flushed, "{} left in the spool", spool.len());
    assert_eq!(fake.stored().len(), 3);
}

#[tokio::test]
async fn refused_credentials_do_not_fail_over() {
    let target = target().await;
    let text = source("svc", "1s", &target.url("/health"));
    let first = FakeScheduler::start().await;
    first.set_plan(plan(1, vec![planned("svc", &text)]));
    first.script(std::iter::repeat_n(Reply::Status(401), 50));
    let second = FakeScheduler::start().await;
    second.set_plan(plan(1, vec![planned("svc", &text)]));
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = InProcessAgent::start_with(
        vec![first.url(), second.url()],
        dir.path(),
        Duration::from_secs(5),
    )
    .await;

    first
        .wait_until("three refused batches", WITHIN, |f| {
            f.posts().iter().filter(|p| p.status == 401).count() >= 3
        })
        .await;
    let text = scrape(&agent).await;
    agent.stop(Duration::from_secs(15)).await;
    assert!(second.posts().is_empty(), "nothing delivered elsewhere");
    assert!(second.plan_requests().is_empty(), "no plan asked elsewhere");
    assert!(first.stored().is_empty());
    assert_eq!(
        sample(&text, "sonde_agent_scheduler_failovers_total", ""),
        Some(0.0),
        "{text}"
    );
    assert_eq!(up(&text, &first), Some(1.0), "it answers: {text}");
    assert!(
        sample(
            &text,
            "sonde_agent_delivery_failures_total",
            "reason=\"rejected\""
        )
        .is_some_and(|n| n >= 3.0),
        "{text}"
    );
    assert!(
        sample(&text, "sonde_agent_spool_results", "").is_some_and(|n| n >= 1.0),
        "refused results stay spooled: {text}"
    );
}

#[tokio::test]
async fn a_refused_plan_request_does_not_fail_over() {
    let first = FakeScheduler::start().await;
    first.refuse_plan(Some(403));
    let second = FakeScheduler::start().await;
    second.set_plan(plan(1, Vec::new()));
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = InProcessAgent::start_with(
        vec![first.url(), second.url()],
        dir.path(),
        Duration::from_secs(5),
    )
    .await;
    first
        .wait_until("three refused plan requests", WITHIN, |f| {
            f.plan_requests().len() >= 3
        })
        .await;
    agent.stop(Duration::from_secs(15)).await;
    assert!(second.plan_requests().is_empty(), "no plan asked elsewhere");
}

#[tokio::test]
async fn the_next_scheduler_is_asked_for_its_plan_without_the_old_etag_even_an_older_revision() {
    let first = FakeScheduler::start().await;
    first.set_plan(plan(
        5,
        vec![planned("a", &source("a", "1h", "http://127.0.0.1:9/"))],
    ));
    let second = FakeScheduler::start().await;
    second.set_plan(plan(
        2,
        vec![planned("b", &source("b", "1h", "http://127.0.0.1:9/"))],
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = InProcessAgent::start_with(
        vec![first.url(), second.url()],
        dir.path(),
        Duration::from_secs(5),
    )
    .await;
    metrics_until(&agent, "the first scheduler's plan", |t| {
        sample(t, "sonde_agent_plan_version", "") == Some(5.0)
    })
    .await;
    first
        .wait_until("a conditional request", WITHIN, |f| {
            f.plan_requests()
                .iter()
                .any(|h| h.get("if-none-match").is_some())
        })
        .await;
    first.refuse_plan(Some(500));

    let text = metrics_until(&agent, "the second scheduler's plan", |t| {
        sample(t, "sonde_agent_plan_version", "") == Some(2.0)
    })
    .await;
    agent.stop(Duration::from_secs(15)).await;
    let asked = second.plan_requests();
    assert!(
        asked[0].get("if-none-match").is_none(),
        "the first request to the second scheduler is unconditional: {asked:?}"
    );
    assert_eq!(up(&text, &second), Some(1.0), "{text}");
    assert_eq!(up(&text, &first), Some(0.0), "{text}");
}

#[tokio::test]
async fn the_agent_binary_takes_comma_separated_schedulers_from_the_environment() {
    let target = target().await;
    let fake = FakeScheduler::start().await;
    fake.set_plan(plan(
        1,
        vec![planned("env", &source("env", "1s", &target.url("/health")))],
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "env-token\n").expect("token");
    let listen = free_addr().expect("port");
    // An unreachable one first, then a duplicate of it: it is tried once.
    let down = unreachable_scheduler();
    let schedulers = format!("{down},{},{down}", fake.url());
    let _agent = Spawn::new(env!("CARGO_BIN_EXE_probe"))
        .name("probe-agent")
        .arg("agent")
        .args(["--region", "eu-test-1", "--name", "p-env"])
        .arg("--token-file")
        .arg(&token)
        .arg("--spool-dir")
        .arg(dir.path().join("spool"))
        .args([
            "--listen",
            &listen.to_string(),
            "--allow-target",
            "127.0.0.0/8",
        ])
        .env("SONDE_PROBE_SCHEDULER", &schedulers)
        .start()
        .expect("agent starts");
    wait_for_http(&format!("http://{listen}/readyz"), WITHIN)
        .await
        .expect("ready with the second scheduler's plan");
    fake.wait_until("a result delivered", WITHIN, |f| !f.stored().is_empty())
        .await;
    let text = reqwest::get(format!("http://{listen}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let series = text
        .lines()
        .filter(|l| l.starts_with("sonde_agent_scheduler_up{"))
        .count();
    assert_eq!(series, 2, "one series per distinct scheduler:\n{text}");
}

fn start_with_schedulers(flags: &[&str], env: Option<&str>) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "t\n").expect("token");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_probe"));
    cmd.arg("agent")
        .args(flags)
        .args(["--name", "p", "--listen", "127.0.0.1:0"])
        .arg("--token-file")
        .arg(&token)
        .arg("--spool-dir")
        .arg(dir.path().join("spool"))
        .env_remove("SONDE_PROBE_SCHEDULER");
    if let Some(value) = env {
        cmd.env("SONDE_PROBE_SCHEDULER", value);
    }
    cmd.output().expect("probe runs")
}

#[test]
fn a_bad_scheduler_url_in_the_list_stops_the_start_naming_it() {
    for (flags, env, bad) in [
        (
            vec![
                "--scheduler",
                "http://127.0.0.1:9470",
                "--scheduler",
                "localhost:9470",
            ],
            None,
            "localhost:9470",
        ),
        (
            Vec::new(),
            Some("http://127.0.0.1:9470,ftp://sonde.example.com"),
            "ftp://sonde.example.com",
        ),
        (
            Vec::new(),
            Some("http://127.0.0.1:9470,,http://127.0.0.2:9470"),
            "empty scheduler URL",
        ),
    ] {
        let out = start_with_schedulers(&flags, env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?} {env:?}: {stderr}");
        assert!(stderr.contains(bad), "{flags:?} {env:?}: {stderr}");
        assert!(stderr.contains("expected"), "{stderr}");
    }
}
