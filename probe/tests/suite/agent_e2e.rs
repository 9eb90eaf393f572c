//! The real `probe agent` binary against a fake scheduler and a test
//! target: it follows the plan, exposes its metrics, delivers its results,
//! and on SIGTERM drains and exits 0 with nothing left in the spool.

use std::time::Duration;

use scenarios::wire::Outcome;
use sonde_tests::{Spawn, TestTarget, free_addr, wait_for_http};

use crate::agent_support::{FakeScheduler, files_in, plan, planned, sample, source};

#[tokio::test]
async fn the_agent_follows_its_plan_delivers_and_drains_on_sigterm() {
    let target = TestTarget::new()
        .route("/health", 200, "ok")
        .start()
        .await
        .expect("target");
    let fake = FakeScheduler::start().await;
    fake.set_plan(plan(
        1,
        vec![planned("e2e", &source("e2e", "1s", &target.url("/health")))],
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "  e2e-token\n").expect("token");
    let spool = dir.path().join("spool");
    let listen = free_addr().expect("port");

    let mut agent = Spawn::new(env!("CARGO_BIN_EXE_probe"))
        .name("probe-agent")
        .arg("agent")
        .args([
            "--scheduler",
            fake.url().as_str(),
            "--region",
            "eu-test-1",
            "--name",
            "p-e2e",
        ])
        .arg("--token-file")
        .arg(&token)
        .arg("--spool-dir")
        .arg(&spool)
        .args([
            "--listen",
            &listen.to_string(),
            "--allow-target",
            "127.0.0.0/8",
            "--grace",
            "5s",
        ])
        .env("RUST_LOG", "info")
        .start()
        .expect("agent starts");

    wait_for_http(&format!("http://{listen}/readyz"), Duration::from_secs(15))
        .await
        .expect("ready");
    fake.wait_until("three results delivered", Duration::from_secs(30), |f| {
        f.stored().len() >= 3
    })
    .await;

    let metrics_url = format!("http://{listen}/metrics");
    let classic = reqwest::get(&metrics_url).await.expect("scrape");
    let content_type = classic
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let scrape = classic.text().await.expect("body");
    let runs = sample(
        &scrape,
        "sonde_agent_runs_total",
        "scenario=\"e2e\",outcome=\"success\"",
    );
    assert!(runs.is_some_and(|n| n >= 1.0), "{scrape}");
    assert!(
        sample(&scrape, "sonde_agent_delivered_total", "").is_some_and(|n| n >= 1.0),
        "{scrape}"
    );
    assert_eq!(sample(&scrape, "sonde_agent_plan_version", ""), Some(1.0));
    for name in ["sonde_agent_spool_results", "sonde_agent_spool_bytes"] {
        assert!(
            sample(&scrape, name, "").is_some(),
            "{name} missing:\n{scrape}"
        );
    }
    for (name, reason) in [
        ("sonde_agent_delivery_failures_total", "unreachable"),
        ("sonde_agent_dropped_total", "corrupt"),
    ] {
        assert!(
            sample(&scrape, name, &format!("reason=\"{reason}\"")).is_some(),
            "{name} missing:\n{scrape}"
        );
    }
    let open = reqwest::Client::new()
        .get(&metrics_url)
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .expect("scrape");
    let content_type = open
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let open = open.text().await.expect("body");
    assert!(open.ends_with("# EOF\n"));

    let stored = fake.stored();
    // Run durations: each bucket's exemplar names a delivered run; the
    // classic form carries none.
    let exemplars: Vec<&str> = open
        .lines()
        .filter(|l| l.starts_with("sonde_agent_run_duration_seconds_bucket{"))
        .filter_map(|l| l.split_once(" # {trace_id=\"")?.1.split_once('"'))
        .map(|(trace_id, _)| trace_id)
        .collect();
    assert!(!exemplars.is_empty(), "{open}");
    for trace_id in exemplars {
        assert!(
            stored.values().any(|r| r.trace_id == trace_id),
            "{trace_id} is no delivered run's trace id: {stored:?}"
        );
    }
    assert!(
        sample(
            &scrape,
            "sonde_agent_run_duration_seconds_count",
            "scenario=\"e2e\",outcome=\"success\""
        )
        .is_some_and(|n| n >= 1.0),
        "{scrape}"
    );
    assert!(!scrape.contains("# {trace_id="), "{scrape}");
    assert!(
        stored
            .values()
            .all(|r| r.scenario == "e2e" && r.probe == "p-e2e" && r.region == "eu-test-1")
    );
    assert!(
        stored.values().all(|r| r.outcome == Outcome::Success),
        "{stored:?}"
    );
    let post = &fake.posts()[0];
    assert_eq!(
        post.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer e2e-token")
    );
    assert!(
        target
            .requests_to("/health")
            .iter()
            .all(|r| r.header("x-sonde-region") == Some("eu-test-1"))
    );

    let status = agent
        .terminate(Duration::from_secs(20))
        .await
        .expect("exits within the grace");
    assert!(status.success(), "exit {status:?}\n{}", agent.stderr());
    assert_eq!(
        files_in(&spool.join("results")),
        0,
        "nothing left undelivered"
    );
    let log = agent.stderr();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let json: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let message = json["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(char::is_uppercase) && message.ends_with('.'),
            "log style: {line}"
        );
    }
    assert!(log.contains("Every result delivered."), "{log}");
}

#[tokio::test]
async fn a_missing_token_file_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = free_addr().expect("port");
    let mut agent = Spawn::new(env!("CARGO_BIN_EXE_probe"))
        .name("probe-agent-bad")
        .arg("agent")
        .args([
            "--scheduler",
            "http://127.0.0.1:9",
            "--region",
            "eu-test-1",
            "--name",
            "p",
        ])
        .arg("--token-file")
        .arg(dir.path().join("missing"))
        .arg("--spool-dir")
        .arg(dir.path().join("spool"))
        .args(["--listen", &listen.to_string()])
        .start()
        .expect("starts");
    let status = agent.wait(Duration::from_secs(10)).await.expect("exits");
    assert_eq!(status.code(), Some(2), "{}", agent.stderr());
    assert!(agent.stderr().contains("token-file"), "{}", agent.stderr());
}
