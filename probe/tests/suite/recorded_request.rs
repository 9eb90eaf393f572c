//! The request a result describes is rendered with each secret as `***`,
//! not redacted afterwards: a secret that is also common text masks only
//! its own place, one the URL parser rewrites (a non-ASCII host becomes
//! punycode) is masked all the same, and what the target received is the
//! real value. Checked on a real `probe run` against loopback targets.

use std::process::Command;

use serde_json::Value;
use sonde_tests::{DnsResponder, RunningTarget, TestTarget};

/// `probe run --format FORMAT` on one scenario, with `secrets` in its
/// environment and `args` added; returns exit code, stdout and stderr.
async fn probe_run(
    scenario: String,
    secrets: &[(&str, &str)],
    args: &[String],
    format: &str,
) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("recorded.toml");
    std::fs::write(&file, scenario).expect("write");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_probe"));
    for (name, value) in secrets {
        cmd.env(format!("SONDE_SECRET_{name}"), value);
    }
    cmd.args(["run", "--format", format]).args(args).arg(&file);
    let out = tokio::task::spawn_blocking(move || {
        let out = cmd.output();
        drop(dir);
        out
    })
    .await
    .expect("joined")
    .expect("probe runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first step's recorded URL in `probe run --format json` output.
fn recorded_url(stdout: &str) -> String {
    let result: Value = serde_json::from_str(stdout.trim()).expect("one JSON result");
    result["steps"][0]["http"]["url"]
        .as_str()
        .expect("an http url")
        .to_string()
}

async fn target() -> RunningTarget {
    TestTarget::new()
        .route("/v1/x", 500, "no")
        .redirect("/start", "/landing")
        .route("/landing", 500, "no")
        .start()
        .await
        .expect("target")
}

/// A one-step scenario getting `url`, failing on purpose so that the text
/// report prints the URL too.
fn failing_get(url: &str, extra: &str) -> String {
    format!(
        "interval = \"1m\"\n{extra}\n[[steps]]\nname = \"s\"\nget = \"{url}\"\nfollow_redirects = true\nexpect = [\"status == 200\"]\n"
    )
}

#[tokio::test]
async fn a_short_secret_masks_its_own_place_only() {
    let target = target().await;
    // `1` is in the address and the path as well as in the secret's place.
    let url = target.url("/v1/x?key={{secret.ONE}}&n={{n}}");
    let scenario = failing_get(&url, "[vars]\nn = \"{{secret.ONE}}1\"");
    let expected = target.url("/v1/x?key=***&n=***1");
    for format in ["json", "text"] {
        let (code, stdout, stderr) =
            probe_run(scenario.clone(), &[("ONE", "1")], &[], format).await;
        assert_eq!(code, Some(1), "{stdout}{stderr}");
        if format == "json" {
            assert_eq!(recorded_url(&stdout), expected, "{stdout}");
        } else {
            assert!(stdout.contains(&format!("GET {expected}")), "{stdout}");
        }
    }
    for seen in target.requests_to("/v1/x") {
        assert_eq!(seen.query.as_deref(), Some("key=1&n=11"));
    }
}

#[tokio::test]
async fn a_secret_the_url_parser_rewrites_in_a_host_is_still_masked() {
    const TENANT: &str = "bücher";
    const PUNYCODE: &str = "xn--bcher-kva";
    let target = target().await;
    let dns = DnsResponder::new()
        .a(&format!("{PUNYCODE}.sonde.test"), "127.0.0.1")
        .start()
        .await
        .expect("dns starts");
    let url = format!(
        "http://{{{{secret.TENANT}}}}.sonde.test:{}/start",
        target.port()
    );
    let args = ["--resolver".to_string(), dns.addr().to_string()];
    for format in ["json", "text"] {
        let (code, stdout, stderr) =
            probe_run(failing_get(&url, ""), &[("TENANT", TENANT)], &args, format).await;
        assert_eq!(code, Some(1), "{stdout}{stderr}");
        assert!(!stdout.contains(PUNYCODE), "{format}: {stdout}");
        // Redirected within the origin: the hop keeps the masked host.
        let expected = format!("http://***.sonde.test:{}/landing", target.port());
        if format == "json" {
            assert_eq!(recorded_url(&stdout), expected, "{stdout}");
        } else {
            assert!(stdout.contains(&format!("GET {expected}")), "{stdout}");
        }
    }
    let seen = &target.requests_to("/start")[0];
    assert_eq!(
        seen.header("host"),
        Some(format!("{PUNYCODE}.sonde.test:{}", target.port()).as_str())
    );

    // A name the resolver does not know: the error names the masked host.
    let (code, stdout, stderr) = probe_run(
        failing_get(&url, ""),
        &[("TENANT", "münchen")],
        &args,
        "json",
    )
    .await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(!stdout.contains("xn--mnchen-3ya"), "{stdout}");
    let result: Value = serde_json::from_str(stdout.trim()).expect("one JSON result");
    let error = &result["steps"][0]["error"];
    assert_eq!(error["kind"], "dns", "{stdout}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("***.sonde.test")),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_recorded_url_is_the_one_sent_apart_from_its_secrets() {
    let target = target().await;
    let url = target.url("/v1/x?id={{uuid}}&key={{secret.KEY}}");
    let (code, stdout, stderr) =
        probe_run(failing_get(&url, ""), &[("KEY", "k3y")], &[], "json").await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let seen = &target.requests_to("/v1/x")[0];
    let query = seen.query.as_deref().expect("a query");
    let id = query
        .strip_prefix("id=")
        .and_then(|q| q.strip_suffix("&key=k3y"))
        .expect("id and key sent");
    assert_eq!(
        recorded_url(&stdout),
        target.url(&format!("/v1/x?id={id}&key=***"))
    );
}
