//! Traces over OTLP/HTTP as a tracing backend sees them: the real `probe`
//! binary against a loopback target that records what it received and a
//! collector that decodes the protobuf with the OpenTelemetry definitions.

use std::collections::BTreeSet;
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use scenarios::wire::{Outcome, RunResult};
use sonde_tests::otlp::AttrValue;
use sonde_tests::{
    OtlpReceiver, ReceivedSpan, Spawn, TestTarget, free_addr, hang_after_accept, wait_for_http,
};

use crate::agent_support::{FakeScheduler, plan, planned, sample, source};

const SECRET: &str = "hunter2-otlp-key";

/// `probe run --format json FILES… ARGS…` in `dir`, with the test secrets.
async fn probe_run(dir: &std::path::Path, files: &[&str], args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_probe"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("SONDE_SECRET_API_KEY", SECRET)
        .env("SONDE_SECRET_OTLP_KEY", "collector-key")
        .arg("run")
        .args(["--format", "json"])
        .args(files)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("probe runs")
}

fn results(out: &std::process::Output) -> Vec<RunResult> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a run result per line"))
        .collect()
}

fn text(span: &ReceivedSpan, key: &str) -> String {
    span.attr(key)
        .and_then(|v| v.text().map(str::to_owned))
        .unwrap_or_else(|| panic!("`{key}` missing on {}", span.all_text()))
}

fn is_error(span: &ReceivedSpan) -> bool {
    span.span
        .status
        .as_ref()
        .is_some_and(|s| s.code == StatusCode::Error as i32)
}

fn children<'a>(spans: &'a [ReceivedSpan], parent: &ReceivedSpan) -> Vec<&'a ReceivedSpan> {
    let id = parent.span_id();
    spans.iter().filter(|s| s.parent_id() == id).collect()
}

#[tokio::test]
async fn a_run_is_one_trace_whose_client_spans_are_the_parents_the_target_saw() {
    let target = TestTarget::new()
        .route("/home", 200, "welcome")
        .route("/search", 200, "results")
        .redirect("/cart", "/cart/view")
        .route("/cart/view", 200, "cart")
        .start()
        .await
        .expect("target");
    let collector = OtlpReceiver::start().await.expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("shop.toml"),
        format!(
            "name = \"shop\"\ninterval = \"1m\"\n\
             [[steps]]\nname = \"home\"\nget = \"{home}\"\n\
             [[steps]]\nname = \"search\"\nget = \"{search}?q=tea&key={{{{secret.API_KEY}}}}\"\n\
             [[steps]]\nname = \"cart\"\nget = \"{cart}\"\nfollow_redirects = true\n",
            home = target.url("/home"),
            search = target.url("/search"),
            cart = target.url("/cart"),
        ),
    )
    .expect("write");
    let out = probe_run(
        dir.path(),
        &["shop.toml"],
        &[
            "--region",
            "eu-test-1",
            "--otlp-endpoint",
            &collector.endpoint(),
            "--otlp-header",
            "x-api-key={{secret.OTLP_KEY}}",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = &results(&out)[0];
    assert_eq!(run.outcome, Outcome::Success);

    let spans = collector.spans();
    let traces: BTreeSet<String> = spans.iter().map(ReceivedSpan::trace_id).collect();
    assert_eq!(traces, BTreeSet::from([run.trace_id.clone()]), "one trace");
    let roots: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.parent_id().is_empty()).collect();
    assert_eq!(roots.len(), 1);
    let root = roots[0];
    assert_eq!(root.span.name, "scenario shop");
    for (key, value) in [
        ("sonde.scenario", "shop"),
        ("sonde.region", "eu-test-1"),
        ("sonde.probe", run.probe.as_str()),
        ("sonde.outcome", "success"),
    ] {
        assert_eq!(text(root, key), value, "{key}");
    }
    assert!(!is_error(root));
    assert_eq!(
        root.resource_attr("service.name"),
        Some(AttrValue::Text("sonde-probe".into()))
    );
    // The result shows its start to the millisecond.
    let started = u64::try_from(run.started_at.timestamp_millis()).expect("ms");
    assert_eq!(root.span.start_time_unix_nano / 1_000_000, started);

    let steps = children(&spans, root);
    let names: Vec<&str> = steps.iter().map(|s| s.span.name.as_str()).collect();
    assert_eq!(names, ["home", "search", "cart"]);
    let mut clients = Vec::new();
    for step in &steps {
        assert!(step.span.start_time_unix_nano >= root.span.start_time_unix_nano);
        assert!(step.span.end_time_unix_nano <= root.span.end_time_unix_nano);
        for client in children(&spans, step) {
            assert_eq!(client.span.kind, SpanKind::Client as i32);
            assert!(client.span.start_time_unix_nano >= step.span.start_time_unix_nano);
            assert!(client.span.end_time_unix_nano <= step.span.end_time_unix_nano);
            clients.push((step.span.name.clone(), client));
        }
    }
    // The redirect is a request of its own.
    assert_eq!(clients.len(), 4);
    assert_eq!(spans.len(), 1 + 3 + 4, "nothing else in the trace");

    // Every request the target saw names its client span as the parent.
    let seen = target.requests();
    assert_eq!(seen.len(), 4);
    for request in &seen {
        let tp = request.header("traceparent").expect("traceparent");
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts[1], run.trace_id, "{tp}");
        let (_, client) = clients
            .iter()
            .find(|(_, c)| c.span_id() == parts[2])
            .unwrap_or_else(|| panic!("no client span {} for {}", parts[2], request.path));
        let url = text(client, "url.full");
        assert!(url.contains(&request.path), "{url} for {}", request.path);
        assert_eq!(text(client, "http.request.method"), "GET");
        assert_eq!(text(client, "server.address"), "127.0.0.1");
        assert_eq!(
            client.attr("server.port"),
            Some(AttrValue::Int(i64::from(target.port())))
        );
    }
    // The last request of each step shows the URL its result shows.
    for (step, result) in steps.iter().zip(&run.steps) {
        let last = children(&spans, step).pop().expect("a request");
        let shown = &result.http.as_ref().expect("http").url;
        assert_eq!(&text(last, "url.full"), shown);
    }
    let (_, search) = clients.iter().find(|(s, _)| s == "search").expect("search");
    assert_eq!(
        text(search, "url.full"),
        format!("{}?q=tea&key=***", target.url("/search"))
    );
    let cart: Vec<i64> = clients
        .iter()
        .filter(|(s, _)| s == "cart")
        .filter_map(|(_, c)| match c.attr("http.response.status_code") {
            Some(AttrValue::Int(code)) => Some(code),
            _ => None,
        })
        .collect();
    assert_eq!(cart, [302, 200]);
    let (_, home) = &clients[0];
    let phases: Vec<&str> = home.span.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        phases,
        ["connect", "ttfb", "transfer"],
        "plain HTTP to an IP"
    );
    for span in &spans {
        assert!(!span.all_text().contains(SECRET), "{}", span.all_text());
    }
    let headers = collector.request_headers();
    assert!(
        headers
            .iter()
            .all(|h| h.get("x-api-key").and_then(|v| v.to_str().ok()) == Some("collector-key")),
        "{headers:?}"
    );
}

#[tokio::test]
async fn failed_steps_and_their_runs_have_error_status_without_the_secret() {
    let target = TestTarget::new()
        .route("/home", 200, "welcome")
        .route("/login", 500, &format!("boom {SECRET}"))
        .start()
        .await
        .expect("target");
    let refused = sonde_tests::free_port_refused().expect("port");
    let collector = OtlpReceiver::start().await.expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("login.toml"),
        format!(
            "name = \"login\"\ninterval = \"1m\"\n\
             [[steps]]\nname = \"home\"\nget = \"{}\"\n\
             [[steps]]\nname = \"login\"\nget = \"{}?token={{{{secret.API_KEY}}}}\"\n\
             expect = [\"status == 200\", 'body contains \"ok\"']\n\
             [[steps]]\nname = \"account\"\nget = \"{}\"\n",
            target.url("/home"),
            target.url("/login"),
            target.url("/home"),
        ),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("down.toml"),
        format!(
            "name = \"down\"\ninterval = \"1m\"\n[[steps]]\nname = \"ping\"\n\
             get = \"http://127.0.0.1:{refused}/?key={{{{secret.API_KEY}}}}\"\n"
        ),
    )
    .expect("write");
    let out = probe_run(
        dir.path(),
        &["login.toml", "down.toml"],
        &["--otlp-endpoint", &collector.endpoint()],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let runs = results(&out);
    let spans = collector.spans();
    let traces: BTreeSet<String> = spans.iter().map(ReceivedSpan::trace_id).collect();
    assert_eq!(
        traces,
        runs.iter().map(|r| r.trace_id.clone()).collect(),
        "one trace per run"
    );
    let in_trace = |r: &RunResult| -> Vec<ReceivedSpan> {
        spans
            .iter()
            .filter(|s| s.trace_id() == r.trace_id)
            .cloned()
            .collect()
    };

    let login = in_trace(&runs[0]);
    let root = login
        .iter()
        .find(|s| s.parent_id().is_empty())
        .expect("root");
    assert_eq!(text(root, "sonde.outcome"), "failure");
    assert!(is_error(root), "{}", root.all_text());
    let steps = children(&login, root);
    let names: Vec<&str> = steps.iter().map(|s| s.span.name.as_str()).collect();
    assert_eq!(names, ["home", "login"], "a skipped step never ran");
    assert!(!is_error(steps[0]));
    assert!(is_error(steps[1]));
    let message = &steps[1].span.status.as_ref().expect("status").message;
    assert!(message.contains("status == 200"), "{message}");
    let client = children(&login, steps[1])[0];
    assert_eq!(
        client.attr("http.response.status_code"),
        Some(AttrValue::Int(500))
    );
    assert!(
        is_error(client),
        "a 5xx answer is an error of the client span"
    );

    let down = in_trace(&runs[1]);
    let root = down
        .iter()
        .find(|s| s.parent_id().is_empty())
        .expect("root");
    assert_eq!(text(root, "sonde.outcome"), "error");
    let step = children(&down, root)[0];
    assert!(is_error(step));
    let client = children(&down, step)[0];
    assert!(is_error(client));
    assert_eq!(client.attr("http.response.status_code"), None);
    assert!(
        !client
            .span
            .status
            .as_ref()
            .expect("status")
            .message
            .is_empty()
    );

    for span in &spans {
        assert!(!span.all_text().contains(SECRET), "{}", span.all_text());
    }
}

#[tokio::test]
async fn sampling_keeps_every_failure_and_the_given_share_of_successes() {
    let target = TestTarget::new()
        .route("/ok", 200, "ok")
        .route("/bad", 503, "down")
        .start()
        .await
        .expect("target");
    let collector = OtlpReceiver::start().await.expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, path) in [("pass", "/ok"), ("fail", "/bad")] {
        std::fs::write(
            dir.path().join(format!("{name}.toml")),
            source(name, "1m", &target.url(path)),
        )
        .expect("write");
    }
    let out = probe_run(
        dir.path(),
        &["pass.toml", "fail.toml"],
        &[
            "--otlp-endpoint",
            &collector.endpoint(),
            "--otlp-sample-success",
            "0",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let runs = results(&out);
    let traces: BTreeSet<String> = collector
        .spans()
        .iter()
        .map(ReceivedSpan::trace_id)
        .collect();
    assert_eq!(traces, BTreeSet::from([runs[1].trace_id.clone()]));

    let bad = probe_run(
        dir.path(),
        &["pass.toml"],
        &[
            "--otlp-endpoint",
            &collector.endpoint(),
            "--otlp-sample-success",
            "1.5",
        ],
    )
    .await;
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("--otlp-sample-success"), "{stderr}");
    assert!(stderr.contains("from 0 to 1"), "{stderr}");

    let unknown = probe_run(
        dir.path(),
        &["pass.toml"],
        &[
            "--otlp-endpoint",
            &collector.endpoint(),
            "--otlp-header",
            "x-api-key={{secret.NOT_SET}}",
        ],
    )
    .await;
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("--otlp-header `x-api-key`: secret `NOT_SET` is not set"),
        "{stderr}"
    );
}

#[tokio::test]
async fn probe_run_reports_normally_when_the_collector_never_answers() {
    let target = TestTarget::new()
        .route("/ok", 200, "ok")
        .start()
        .await
        .expect("target");
    let silent = hang_after_accept().await.expect("listener");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("pass.toml"),
        source("pass", "1m", &target.url("/ok")),
    )
    .expect("write");
    let out = probe_run(
        dir.path(),
        &["pass.toml"],
        &["--otlp-endpoint", &silent.url("")],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(results(&out)[0].outcome, Outcome::Success);
    assert!(
        stderr.contains("3 trace spans not exported"),
        "root, step and request span are counted: {stderr}"
    );
}

#[tokio::test]
async fn an_agent_keeps_its_schedule_while_the_collector_never_answers() {
    let target = TestTarget::new()
        .route("/health", 200, "ok")
        .start()
        .await
        .expect("target");
    let silent = hang_after_accept().await.expect("listener");
    let fake = FakeScheduler::start().await;
    fake.set_plan(plan(
        1,
        vec![planned(
            "beat",
            &source("beat", "1s", &target.url("/health")),
        )],
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "otlp-token\n").expect("token");
    let listen = free_addr().expect("port");
    let _agent = Spawn::new(env!("CARGO_BIN_EXE_probe"))
        .name("probe-agent-otlp")
        .arg("agent")
        .args(["--scheduler", fake.url().as_str(), "--name", "p-otlp"])
        .arg("--token-file")
        .arg(&token)
        .arg("--spool-dir")
        .arg(dir.path().join("spool"))
        .args(["--listen", &listen.to_string()])
        .args(["--allow-target", "127.0.0.0/8"])
        .args(["--otlp-endpoint", &silent.url("")])
        .start()
        .expect("agent starts");
    wait_for_http(&format!("http://{listen}/readyz"), Duration::from_secs(15))
        .await
        .expect("ready");
    let metrics_url = format!("http://{listen}/metrics");
    // One export waits out its timeout; spans keep being dropped meanwhile.
    let dropped = sonde_tests::fleet::eventually(
        "spans dropped for the silent collector",
        Duration::from_secs(60),
        || async {
            let scrape = reqwest::get(&metrics_url).await.ok()?.text().await.ok()?;
            sample(&scrape, "sonde_agent_trace_spans_dropped_total", "").filter(|n| *n > 0.0)
        },
    )
    .await;
    assert!(dropped >= 3.0, "a whole run's spans: {dropped}");
    // Runs went on at their one-second interval while exports hung.
    fake.wait_until("eight runs delivered", Duration::from_secs(60), |f| {
        f.stored().len() >= 8
    })
    .await;
    let scrape = reqwest::get(&metrics_url)
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    assert_eq!(
        sample(&scrape, "sonde_agent_trace_spans_exported_total", ""),
        Some(0.0)
    );
    // A run held by its export would still be going at the next slot.
    assert_eq!(
        sample(
            &scrape,
            "sonde_agent_skipped_runs_total",
            "scenario=\"beat\",reason=\"overlap\""
        )
        .unwrap_or(0.0),
        0.0,
        "{scrape}"
    );
    let stored = fake.stored();
    assert!(
        stored.values().all(|r| r.outcome == Outcome::Success),
        "{stored:?}"
    );
    // A run that waited for an export would include its 5 s timeout.
    let slowest = stored
        .values()
        .map(|r| r.duration_ms)
        .fold(0.0_f64, f64::max);
    assert!(
        slowest < 5_000.0,
        "a run waited for the collector: {slowest} ms"
    );
}
