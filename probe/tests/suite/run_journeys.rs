//! The runner against real servers on loopback: the checkout journey on the
//! demo shop, failures reported with expected vs actual, secrets redacted,
//! the headers every request carries, cookies, redirects and deadlines.
use std::time::Duration;

use probe::run::RunTrigger;
use scenarios::wire::{ACTUAL_MAX_CHARS, ErrorKind, Outcome, StepStatus};
use sonde_tests::shop::{self, ShopOptions};
use sonde_tests::{Reply, TestClient, TestTarget};

use crate::common::{example, runner, scenario};

async fn start_shop() -> (shop::RunningShop, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = shop::start(ShopOptions::for_tests(dir.path()))
        .await
        .expect("shop starts");
    (shop, dir)
}

#[tokio::test]
async fn checkout_journey_passes_with_the_token_carried_between_steps() {
    let (shop, _dir) = start_shop().await;
    let journey = example("checkout.toml", &shop.http_url(""));
    let result = runner("eu-west-1", &[("SHOP_PASSWORD", "demo")])
        .run(&journey, RunTrigger::now())
        .await;
    assert_eq!(
        result.outcome,
        Outcome::Success,
        "{}",
        probe::report::text(&result)
    );
    assert_eq!(result.steps.len(), 5);
    assert!(result.steps.iter().all(|s| s.status == StepStatus::Passed));
    assert_eq!(result.steps[1].captures, vec!["token".to_string()]);
    let step_sum: f64 = result.steps.iter().filter_map(|s| s.duration_ms).sum();
    assert!(
        result.duration_ms >= step_sum,
        "run {} < steps {step_sum}",
        result.duration_ms
    );
    // A fresh connection on the first step; later steps reuse it.
    let first = result.steps[0].phases.as_ref().expect("phases");
    assert!(first.connect_ms.is_some() && first.dns_ms.is_none() && first.tls_ms.is_none());
    let second = result.steps[1].phases.as_ref().expect("phases");
    assert!(
        second.connect_ms.is_none(),
        "the second step reuses the connection"
    );
}

#[tokio::test]
async fn a_regional_fault_fails_its_step_with_expected_and_actual_and_skips_the_rest() {
    let (shop, _dir) = start_shop().await;
    let client = TestClient::new();
    let fault = serde_json::json!({"region": "eu-west-1", "path": "/api/products", "status": 503});
    client
        .post_json(&shop.http_url("/_faults"), &[], &fault)
        .await
        .expect("fault set");
    let journey = example("checkout.toml", &shop.http_url(""));

    let eu = runner("eu-west-1", &[("SHOP_PASSWORD", "demo")])
        .run(&journey, RunTrigger::now())
        .await;
    assert_eq!(eu.outcome, Outcome::Failure);
    let statuses: Vec<StepStatus> = eu.steps.iter().map(|s| s.status).collect();
    use StepStatus::*;
    assert_eq!(statuses, vec![Passed, Passed, Failed, Skipped, Skipped]);
    let failed = &eu.steps[2].assertions[0];
    assert_eq!(
        (failed.expected.as_str(), failed.actual.as_str()),
        ("200", "503")
    );
    assert!(probe::report::text(&eu).contains("expected: 200"));

    let us = runner("us-east-1", &[("SHOP_PASSWORD", "demo")])
        .run(&journey, RunTrigger::now())
        .await;
    assert_eq!(
        us.outcome,
        Outcome::Success,
        "the fault is for eu-west-1 only"
    );
}

#[tokio::test]
async fn secrets_never_appear_in_results_even_in_a_failed_assertion() {
    let target = TestTarget::new()
        .route("/leak", 200, "the key is hunter2-secret")
        .start()
        .await
        .expect("target");
    let journey = scenario(&format!(
        "interval = \"1m\"\n[[steps]]\nname = \"leak\"\nget = \"{}?k={{{{secret.KEY}}}}\"\nexpect = ['body == \"nothing\"']\n",
        target.url("/leak")
    ));
    let result = runner("local", &[("KEY", "hunter2-secret")])
        .run(&journey, RunTrigger::now())
        .await;
    assert_eq!(result.outcome, Outcome::Failure);
    let json = serde_json::to_string(&result).expect("serializes");
    let text = probe::report::text(&result);
    for out in [&json, &text] {
        assert!(!out.contains("hunter2"), "secret leaked: {out}");
        assert!(out.contains("***"), "redaction marker missing: {out}");
    }
    // The target did receive the real value.
    assert!(
        target.requests()[0]
            .query
            .as_deref()
            .unwrap_or("")
            .contains("hunter2-secret")
    );
}

#[tokio::test]
async fn a_failed_assertion_reports_a_long_actual_cut_and_a_short_one_whole() {
    let long = "x".repeat(ACTUAL_MAX_CHARS + 50);
    let target = TestTarget::new()
        .route("/long", 200, &long)
        .route("/short", 200, "ok")
        .start()
        .await
        .expect("target");
    let r = runner("local", &[]);
    let actual_of = |path: &str| {
        scenario(&format!(
            "interval = \"1m\"\n[[steps]]\nname = \"s\"\nget = \"{}\"\nexpect = ['body == \"nope\"']\n",
            target.url(path)
        ))
    };
    let result = r.run(&actual_of("/long"), RunTrigger::now()).await;
    let cut = &result.steps[0].assertions[0];
    assert!(!cut.passed);
    assert!(cut.actual.ends_with('…'), "{}", cut.actual);
    assert!(
        cut.actual.chars().count() <= ACTUAL_MAX_CHARS + 3,
        "{}",
        cut.actual
    );
    assert!(!cut.actual.contains(&long));
    let result = r.run(&actual_of("/short"), RunTrigger::now()).await;
    let whole = &result.steps[0].assertions[0];
    assert!(!whole.passed);
    assert!(
        whole.actual.contains("ok") && !whole.actual.contains('…'),
        "{}",
        whole.actual
    );
    assert!(whole.expected.contains("nope"), "{}", whole.expected);
}

#[tokio::test]
async fn every_request_carries_traceparent_region_and_user_agent() {
    let target = TestTarget::new()
        .route("/", 200, "ok")
        .start()
        .await
        .expect("target");
    let journey = scenario(&format!(
        "interval = \"1m\"\n[[steps]]\nname = \"home\"\nget = \"{}\"\n",
        target.url("/")
    ));
    let result = runner("ap-southeast-1", &[])
        .run(&journey, RunTrigger::now())
        .await;
    let seen = &target.requests()[0];
    assert_eq!(seen.header("x-sonde-region"), Some("ap-southeast-1"));
    assert!(
        seen.header("user-agent")
            .is_some_and(|ua| ua.starts_with("sonde-probe/"))
    );
    let tp = seen.header("traceparent").expect("traceparent");
    assert!(tp.starts_with(&format!("00-{}-", result.trace_id)), "{tp}");
}

#[tokio::test]
async fn cookies_last_for_one_run_only() {
    let target = TestTarget::new()
        .reply(
            "/set",
            Reply::new(200).header("Set-Cookie", "session=abc; Path=/"),
        )
        .route("/use", 200, "ok")
        .start()
        .await
        .expect("target");
    let journey = scenario(&format!(
        "interval = \"1m\"\n[[steps]]\nname = \"set\"\nget = \"{}\"\nexpect = ['cookie \"session\" == \"abc\"']\n[[steps]]\nname = \"use\"\nget = \"{}\"\n",
        target.url("/set"),
        target.url("/use")
    ));
    let r = runner("local", &[]);
    for _ in 0..2 {
        let result = r.run(&journey, RunTrigger::now()).await;
        assert_eq!(
            result.outcome,
            Outcome::Success,
            "{}",
            probe::report::text(&result)
        );
    }
    let sets = target.requests_to("/set");
    assert!(
        sets.iter().all(|s| s.header("cookie").is_none()),
        "a cookie leaked into the next run"
    );
    let uses = target.requests_to("/use");
    assert_eq!(uses.len(), 2);
    assert!(
        uses.iter()
            .all(|s| s.header("cookie") == Some("session=abc"))
    );
}

#[tokio::test]
async fn redirects_are_followed_when_asked_and_a_loop_is_an_error() {
    let target = TestTarget::new()
        .redirect("/old", "/new")
        .route("/new", 200, "moved here")
        .redirect_loop("/loop")
        .start()
        .await
        .expect("target");
    let follow = scenario(&format!(
        "interval = \"1m\"\n[[steps]]\nname = \"old\"\nget = \"{}\"\nfollow_redirects = true\nexpect = [\"status == 200\", \"redirects == 1\"]\n",
        target.url("/old")
    ));
    let result = runner("local", &[]).run(&follow, RunTrigger::now()).await;
    assert_eq!(
        result.outcome,
        Outcome::Success,
        "{}",
        probe::report::text(&result)
    );

    let no_follow = scenario(&format!(
        "interval = \"1m\"\n[[steps]]\nname = \"old\"\nget = \"{}\"\nexpect = [\"status == 302\"]\n",
        target.url("/old")
    ));
    assert_eq!(
        runner("local", &[])
            .run(&no_follow, RunTrigger::now())
            .await
            .outcome,
        Outcome::Success
    );

    let looping = scenario(&format!(
        "interval = \"1m\"\n[[steps]]\nname = \"loop\"\nget = \"{}\"\nfollow_redirects = true\n",
        target.url("/loop")
    ));
    let result = runner("local", &[]).run(&looping, RunTrigger::now()).await;
    let error = result.steps[0].error.as_ref().expect("an error");
    assert!(
        matches!(
            error.kind,
            ErrorKind::RedirectLoop | ErrorKind::TooManyRedirects
        ),
        "{error:?}"
    );
    assert_eq!(result.outcome, Outcome::Error);
}

#[tokio::test]
async fn a_hanging_target_is_cut_by_the_step_deadline() {
    let target = TestTarget::new()
        .hang("/hang")
        .start()
        .await
        .expect("target");
    let journey = scenario(&format!(
        "interval = \"1m\"\n[[steps]]\nname = \"hang\"\nget = \"{}\"\ntimeout = \"1s\"\n[[steps]]\nname = \"after\"\nget = \"{}\"\n",
        target.url("/hang"),
        target.url("/hang")
    ));
    let started = std::time::Instant::now();
    let result = runner("local", &[]).run(&journey, RunTrigger::now()).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(result.outcome, Outcome::Timeout);
    assert_eq!(
        result.steps[0].error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Timeout)
    );
    assert_eq!(result.steps[1].status, StepStatus::Skipped);
}
