//! What the probe must never give away, checked on real processes and
//! loopback targets: credentials do not follow a redirect to another
//! origin (unless the step says `forward_headers = true`).

use std::process::Command;

use sonde_tests::{RunningTarget, TestTarget};

const TOKEN: &str = "t0ken-sup3r-s3cret";

/// Runs `probe run` on one scenario whose step sends credentials to
/// `start` and follows redirects; `extra` goes into the step.
async fn run_with_credentials(start: &str, extra: &str) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("login.toml");
    let text = format!(
        "interval = \"1m\"\n[[steps]]\nname = \"login\"\nget = \"{start}\"\nfollow_redirects = true\n{extra}\n\
         headers = {{ Authorization = \"Bearer {{{{secret.API_TOKEN}}}}\", Cookie = \"session=abc\", \
         X-Api-Key = \"{{{{secret.API_TOKEN}}}}\", X-Plain = \"hello\" }}\nexpect = [\"status == 200\"]\n"
    );
    std::fs::write(&file, text).expect("write");
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_probe"))
            .env("SONDE_SECRET_API_TOKEN", TOKEN)
            .args(["run", "--format", "json"])
            .arg(&file)
            .output();
        drop(dir);
        out
    })
    .await
    .expect("joined")
    .expect("probe runs")
}

async fn targets() -> (RunningTarget, RunningTarget) {
    let other = TestTarget::new()
        .route("/landing", 200, "ok")
        .start()
        .await
        .expect("other origin");
    let own = TestTarget::new()
        .redirect("/away", &other.url("/landing"))
        .redirect("/stay", "/landing")
        .route("/landing", 200, "ok")
        .start()
        .await
        .expect("own origin");
    (own, other)
}

#[tokio::test]
async fn credentials_stay_with_their_origin_across_redirects() {
    let (own, other) = targets().await;

    // Redirected to another origin (another port): credentials dropped.
    let out = run_with_credentials(&own.url("/away"), "").await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = &own.requests_to("/away")[0];
    assert_eq!(
        first.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let hop = &other.requests_to("/landing")[0];
    for name in ["authorization", "cookie", "x-api-key"] {
        assert_eq!(hop.header(name), None, "{name} followed the redirect");
    }
    assert_eq!(hop.header("x-plain"), Some("hello"), "other headers go on");

    // Within the same origin: kept.
    let out = run_with_credentials(&own.url("/stay"), "").await;
    assert_eq!(out.status.code(), Some(0));
    let hop = &own.requests_to("/landing")[0];
    assert_eq!(
        hop.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(hop.header("cookie"), Some("session=abc"));

    // The step opts out.
    let out = run_with_credentials(&own.url("/away"), "forward_headers = true").await;
    assert_eq!(out.status.code(), Some(0));
    let hop = &other.requests_to("/landing")[1];
    assert_eq!(
        hop.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(hop.header("x-api-key"), Some(TOKEN));
    assert_eq!(hop.header("cookie"), Some("session=abc"));
}

/// A secret with a space, a quote and an accent, sent in a query and
/// echoed back JSON-escaped and base64'd: no form of it reaches the
/// report.
#[tokio::test]
async fn a_secret_never_comes_back_in_an_encoded_form() {
    use base64::Engine;
    const SECRET: &str = "sp ace\"quoté";
    let echo = format!(
        "{{\"echo\":{},\"basic\":\"{}\"}}",
        serde_json::to_string(SECRET).expect("json"),
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{SECRET}"))
    );
    let target = TestTarget::new()
        .route("/echo", 500, &echo)
        .start()
        .await
        .expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("leak.toml");
    std::fs::write(
        &file,
        format!(
            "interval = \"1m\"\n[[steps]]\nname = \"s\"\nget = \"{}?key={{{{secret.KEY}}}}\"\nexpect = [\"status == 200\", 'body contains \"nothing\"']\n",
            target.url("/echo")
        ),
    )
    .expect("write");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_probe"))
            .env("SONDE_SECRET_KEY", SECRET)
            .args(["run", "--format", "json"])
            .arg(&file)
            .output()
    })
    .await
    .expect("joined")
    .expect("probe runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for form in [
        "sp ace",
        "sp%20ace",
        "quot%C3%A9",
        "ace\\\"quot",
        "YWxpY2U6",
    ] {
        assert!(!all.contains(form), "{form} in {all}");
    }
    assert!(all.contains("key=***"), "{all}");
}
