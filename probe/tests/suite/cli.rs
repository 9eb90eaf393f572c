//! The `probe` command line as a user runs it: exit codes, diagnostics on
//! stderr, reports on stdout, secrets redacted in every format.

use std::process::Command;

use sonde_tests::TestTarget;

fn probe() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_probe"));
    cmd.env("NO_COLOR", "1");
    cmd
}

fn examples() -> String {
    format!("{}/../scenarios/examples", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn validate_accepts_the_examples_directory() {
    let out = probe()
        .args(["validate", &examples()])
        .output()
        .expect("probe runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("checkout"));
}

#[test]
fn validate_reports_a_misspelt_field_where_it_is_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("checkout.toml");
    let mut text = String::from("interval = \"1m\"\n");
    text.push_str(&"# padding\n".repeat(17));
    text.push_str("[[steps]]\nname = \"home\"\nget = \"http://127.0.0.1:9480/\"\n");
    text.push_str("expcet = [\"status == 200\"]\n");
    std::fs::write(&file, text).expect("write");
    let out = probe()
        .current_dir(dir.path())
        .args(["validate", "checkout.toml"])
        .output()
        .expect("probe runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: unknown field `expcet`"), "{stderr}");
    assert!(stderr.contains("--> checkout.toml:22:1"), "{stderr}");
    assert!(stderr.contains("did you mean `expect`?"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour when stderr is not a terminal"
    );
}

#[test]
fn run_refuses_to_run_anything_when_one_file_is_invalid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.toml");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &good,
        "interval = \"1m\"\n[[steps]]\nname = \"a\"\nget = \"http://127.0.0.1:1/\"\n",
    )
    .expect("write");
    std::fs::write(
        &bad,
        "interval = \"1m\"\n[[steps]]\nname = \"a\"\nget = \"/\"\n",
    )
    .expect("write");
    let out = probe()
        .args(["run"])
        .arg(&good)
        .arg(&bad)
        .output()
        .expect("probe runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing ran");
}

#[tokio::test]
async fn run_exits_0_on_pass_and_1_on_failure_with_json_lines_in_order() {
    let target = TestTarget::new()
        .route("/ok", 200, "fine")
        .route("/down", 503, "down")
        .start()
        .await
        .expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, path: &str| {
        let file = dir.path().join(name);
        let text = format!(
            "interval = \"1m\"\n[[steps]]\nname = \"s\"\nget = \"{}\"\nexpect = [\"status == 200\"]\n",
            target.url(path)
        );
        std::fs::write(&file, text).expect("write");
        file
    };
    let (ok, down) = (write("ok.toml", "/ok"), write("down.toml", "/down"));
    let out = tokio::task::spawn_blocking(move || {
        probe()
            .args(["run", "--format", "json"])
            .arg(&ok)
            .arg(&down)
            .output()
    })
    .await
    .expect("joined")
    .expect("probe runs");
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["scenario"].as_str(), lines[0]["outcome"].as_str()),
        (Some("ok"), Some("success"))
    );
    assert_eq!(
        (lines[1]["scenario"].as_str(), lines[1]["outcome"].as_str()),
        (Some("down"), Some("failure"))
    );
    assert_eq!(lines[1]["steps"][0]["assertions"][0]["actual"], "503");
}

#[tokio::test]
async fn run_redacts_secrets_in_every_format() {
    let target = TestTarget::new()
        .route("/echo", 200, "token=sup3r-s3cret")
        .start()
        .await
        .expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("leak.toml");
    let text = format!(
        "interval = \"1m\"\n[[steps]]\nname = \"s\"\nget = \"{}\"\nheaders = {{ X-Key = \"{{{{secret.API_KEY}}}}\" }}\nexpect = ['body == \"x\"']\n",
        target.url("/echo")
    );
    std::fs::write(&file, text).expect("write");
    for format in ["text", "json", "junit", "tap"] {
        let file = file.clone();
        let out = tokio::task::spawn_blocking(move || {
            probe()
                .env("SONDE_SECRET_API_KEY", "sup3r-s3cret")
                .args(["run", "--format", format])
                .arg(&file)
                .output()
        })
        .await
        .expect("joined")
        .expect("probe runs");
        assert_eq!(out.status.code(), Some(1));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains("sup3r-s3cret"), "{format}: {all}");
        assert!(all.contains("***"), "{format}: {all}");
    }
    assert_eq!(target.requests()[0].header("x-key"), Some("sup3r-s3cret"));
}

/// `probe health` with `SONDE_PROBE_LISTEN` set, off the test's runtime
/// (which serves the targets).
async fn health_with(listen: String) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        probe()
            .arg("health")
            .env("SONDE_PROBE_LISTEN", listen)
            .output()
    })
    .await
    .expect("joined")
    .expect("probe runs")
}

#[tokio::test]
async fn health_asks_the_agents_listen_address_from_the_environment() {
    let ready = TestTarget::new()
        .route("/readyz", 200, "ready")
        .start()
        .await
        .expect("target");
    let port = url::Url::parse(&ready.url("/"))
        .expect("url")
        .port()
        .expect("port");
    // As a container sets it: every interface; asked on loopback.
    let out = health_with(format!("0.0.0.0:{port}")).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ready.requests_to("/readyz").len(), 1);

    let not_ready = TestTarget::new()
        .route("/readyz", 503, "draining")
        .start()
        .await
        .expect("target");
    let port = url::Url::parse(&not_ready.url("/"))
        .expect("url")
        .port()
        .expect("port");
    let out = health_with(format!("127.0.0.1:{port}")).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{port}/readyz answered 503")),
        "{stderr}"
    );

    let out = health_with("port 9471".into()).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SONDE_PROBE_LISTEN `port 9471` is not an address"),
        "{stderr}"
    );
}

#[test]
fn validate_reports_a_dependency_cycle_across_files_at_the_entry_that_closes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let step = "[[steps]]\nname = \"a\"\nget = \"http://127.0.0.1:1/\"\n";
    // `shop` depends on a scenario that is not among the files: allowed.
    let a = format!("interval = \"1m\"\ndepends_on = [\"b\", \"shop\"]\n{step}");
    let b = format!("interval = \"1m\"\n\ndepends_on = [\"a\"]\n{step}");
    std::fs::write(dir.path().join("a.toml"), a).expect("write");
    std::fs::write(dir.path().join("b.toml"), b).expect("write");
    let out = probe()
        .current_dir(dir.path())
        .args(["validate", "a.toml", "b.toml"])
        .output()
        .expect("probe runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: dependency cycle: a → b → a"),
        "{stderr}"
    );
    assert!(stderr.contains("--> b.toml:3:15"), "{stderr}");
    assert!(
        !stderr.contains("a.toml:"),
        "a.toml is fine alone: {stderr}"
    );
    assert!(
        !stderr.contains("shop"),
        "unknown names are no error here: {stderr}"
    );

    let alone = probe()
        .current_dir(dir.path())
        .args(["validate", "a.toml"])
        .output()
        .expect("probe runs");
    assert_eq!(
        alone.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&alone.stderr)
    );
}

/// `probe run --format FORMAT` on one retrying scenario: exit code and stdout.
async fn run_retrying_as(
    url: String,
    attempts: u32,
    format: &'static str,
) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("flaky.toml");
    let text = format!(
        "interval = \"1m\"\ntimeout = \"5s\"\n[[steps]]\nname = \"s\"\nget = \"{url}\"\nexpect = [\"status == 200\"]\n[alert]\nretry = {{ attempts = {attempts}, delay = \"100ms\" }}\n"
    );
    std::fs::write(&file, text).expect("write");
    let out = tokio::task::spawn_blocking(move || {
        probe()
            .args(["run", "--format", format])
            .arg(&file)
            .output()
    })
    .await
    .expect("joined")
    .expect("probe runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `probe run --format json` on one retrying scenario: its JSON lines.
async fn run_retrying(url: String, attempts: u32) -> (Option<i32>, Vec<serde_json::Value>) {
    let (code, stdout) = run_retrying_as(url, attempts, "json").await;
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    (code, lines)
}

#[tokio::test]
async fn the_text_report_shows_each_attempt() {
    let addr = crate::common::failing_once().await;
    let (code, stdout) = run_retrying_as(format!("http://{addr}/"), 1, "text").await;
    let heads: Vec<_> = stdout
        .lines()
        .filter(|l| l.starts_with("flaky ["))
        .collect();
    assert_eq!(heads.len(), 2, "{stdout}");
    assert!(
        heads[0].contains("FAILURE") && !heads[0].contains("attempt"),
        "{stdout}"
    );
    assert!(
        heads[1].contains("SUCCESS") && heads[1].contains(", attempt 2 "),
        "{stdout}"
    );
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn the_ci_formats_report_the_attempt_that_decides() {
    for format in ["junit", "tap"] {
        let addr = crate::common::failing_once().await;
        let (code, stdout) = run_retrying_as(format!("http://{addr}/"), 1, format).await;
        assert_eq!(code, Some(0), "{format}: {stdout}");
        match format {
            "junit" => {
                assert_eq!(stdout.matches("<testsuite ").count(), 1, "{stdout}");
                assert!(stdout.contains(r#"tests="1" failures="0""#), "{stdout}");
                assert!(
                    stdout.contains(r#"<property name="attempt" value="2"/>"#),
                    "{stdout}"
                );
            }
            _ => assert!(
                stdout.starts_with("TAP version 13\n1..1\nok 1 - flaky › s\n"),
                "{stdout}"
            ),
        }
    }
}

#[tokio::test]
async fn run_retries_a_failure_and_passes_when_the_retry_passes() {
    let addr = crate::common::failing_once().await;
    let (code, lines) = run_retrying(format!("http://{addr}/"), 2).await;
    assert_eq!(
        lines.len(),
        2,
        "the failure and the passing retry: {lines:?}"
    );
    assert_eq!(
        (
            lines[0]["outcome"].as_str(),
            &lines[0]["attempt"],
            &lines[0]["retry_of"]
        ),
        (
            Some("failure"),
            &serde_json::json!(1),
            &serde_json::Value::Null
        )
    );
    assert_eq!(
        (lines[1]["outcome"].as_str(), &lines[1]["attempt"]),
        (Some("success"), &serde_json::json!(2))
    );
    assert_eq!(lines[1]["retry_of"], lines[0]["id"]);
    assert_ne!(lines[1]["id"], lines[0]["id"]);
    assert_eq!(code, Some(0), "the last attempt decides");
}

#[tokio::test]
async fn run_stops_retrying_after_the_last_attempt() {
    let target = TestTarget::new()
        .route("/down", 503, "down")
        .start()
        .await
        .expect("target");
    let (code, lines) = run_retrying(target.url("/down"), 2).await;
    let attempts: Vec<_> = lines.iter().map(|l| l["attempt"].clone()).collect();
    assert_eq!(
        attempts,
        [1, 2, 3].map(|n| serde_json::json!(n)),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| l["outcome"] == "failure"));
    assert!(lines[1..].iter().all(|l| l["retry_of"] == lines[0]["id"]));
    assert_eq!(code, Some(1));
}
