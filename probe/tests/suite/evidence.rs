//! What `probe run --format json` keeps of the response a failed HTTP step
//! saw: status line, masked headers, the redacted start of the body.

use serde_json::Value;
use sonde_tests::{Reply, TestTarget};

const SECRET: &str = "sup3r-s3cret-value";

/// Runs one step against `url` expecting `expect`, and returns its result.
async fn run_step(url: String, expect: &str, extra: &[&str]) -> Value {
    run_step_with(url, expect, "", extra).await
}

/// `run_step` with more keys in the step (`keys`, TOML lines).
async fn run_step_with(url: String, expect: &str, keys: &str, extra: &[&str]) -> Value {
    let text = format!(
        "interval = \"1m\"\n[[steps]]\nname = \"s\"\nget = \"{url}\"\nmax_body_bytes = 134217728\nexpect = ['{expect}']\n{keys}"
    );
    let env = [("SONDE_SECRET_API_KEY", SECRET)];
    let (step, stdout) = crate::common::probe_run_step(text, extra, &env).await;
    assert!(!stdout.contains(SECRET), "{stdout}");
    step
}

#[tokio::test]
async fn a_failed_step_keeps_status_line_headers_body_and_address() {
    let reply = Reply::new(503)
        .header("x-request-id", "abc-123")
        .header("set-cookie", "sid=0123456789; Path=/; HttpOnly")
        .header("x-auth-token", "tok-987")
        .body("the database is down");
    let target = TestTarget::new()
        .reply("/down", reply)
        .start()
        .await
        .expect("target");
    let step = run_step(target.url("/down"), "status == 200", &[]).await;
    let evidence = &step["evidence"];
    assert_eq!(evidence["status_line"], "HTTP/1.1 503 Service Unavailable");
    assert_eq!(evidence["body"], "the database is down");
    assert_eq!(evidence["body_bytes"], 20);
    assert_eq!(evidence["body_truncated"], false);
    assert_eq!(evidence["remote_addr"], target.addr().to_string());
    assert_eq!(evidence["screenshot"], Value::Null);
    let headers = evidence["headers"].as_array().expect("headers");
    let header = |name: &str| {
        headers
            .iter()
            .find(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|h| h[1].clone())
    };
    assert_eq!(header("x-request-id"), Some(Value::from("abc-123")));
    assert_eq!(header("set-cookie"), Some(Value::from("sid=***")));
    assert_eq!(header("x-auth-token"), Some(Value::from("***")));
}

#[tokio::test]
async fn a_passing_step_has_no_evidence() {
    let target = TestTarget::new()
        .route("/ok", 200, "fine")
        .start()
        .await
        .expect("target");
    let step = run_step(target.url("/ok"), "status == 200", &[]).await;
    assert_eq!(step["status"], "passed");
    assert_eq!(step["evidence"], Value::Null);
}

#[tokio::test]
async fn a_64_mib_body_is_cut_at_the_cap() {
    let body = vec![b'x'; 64 << 20];
    let reply = Reply::new(500)
        .header("content-type", "text/plain")
        .body(body);
    let target = TestTarget::new()
        .reply("/big", reply)
        .start()
        .await
        .expect("target");
    let step = run_step(target.url("/big"), "status == 200", &[]).await;
    let evidence = &step["evidence"];
    assert_eq!(evidence["body_bytes"], 64 << 20);
    assert_eq!(evidence["body_truncated"], true);
    assert_eq!(evidence["body"].as_str().map(str::len), Some(4096));
}

#[tokio::test]
async fn evidence_bytes_sets_the_cap() {
    let target = TestTarget::new()
        .route("/down", 503, "0123456789abcdef")
        .start()
        .await
        .expect("target");
    let step = run_step(
        target.url("/down"),
        "status == 200",
        &["--evidence-bytes", "10"],
    )
    .await;
    assert_eq!(step["evidence"]["body"], "0123456789");
    assert_eq!(step["evidence"]["body_truncated"], true);
    assert_eq!(step["evidence"]["body_bytes"], 16);
}

#[tokio::test]
async fn a_secret_in_the_body_is_redacted_in_every_form_and_across_the_cut() {
    let body = format!(
        "plain={SECRET} url={} b64={}",
        SECRET.replace('-', "%2D"),
        base64_of(SECRET)
    );
    let target = TestTarget::new()
        .route("/echo", 500, &body)
        .route("/edge", 500, &format!("{}{SECRET}", "x".repeat(8)))
        .start()
        .await
        .expect("target");
    let step = run_step(target.url("/echo"), "status == 200", &[]).await;
    let shown = step["evidence"]["body"].as_str().expect("body").to_string();
    assert_eq!(shown, "plain=*** url=*** b64=***");
    // The cap falls inside the secret: what is left must not be its start.
    let step = run_step(
        target.url("/edge"),
        "status == 200",
        &["--evidence-bytes", "12"],
    )
    .await;
    let shown = step["evidence"]["body"].as_str().expect("body");
    assert!(!shown.contains("sup3"), "{shown}");
    assert!(shown.starts_with("xxxxxxxx*"), "{shown}");
}

#[tokio::test]
async fn a_binary_body_is_described_not_copied() {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(2048, 0);
    let reply = Reply::new(500)
        .header("content-type", "image/png")
        .body(png);
    let target = TestTarget::new()
        .reply("/img", reply)
        .start()
        .await
        .expect("target");
    let step = run_step(target.url("/img"), "status == 200", &[]).await;
    assert_eq!(step["evidence"]["body"], "<binary: 2,048 bytes, image/png>");
    assert_eq!(step["evidence"]["body_bytes"], 2048);
}

#[tokio::test]
async fn a_refused_connection_has_no_evidence() {
    let port = sonde_tests::free_port_refused().expect("port");
    let step = run_step(format!("http://127.0.0.1:{port}/"), "status == 200", &[]).await;
    assert_eq!(step["evidence"], Value::Null);
}

#[tokio::test]
async fn a_server_that_never_answers_leaves_its_address_and_no_response() {
    let target = TestTarget::new()
        .hang("/hang")
        .start()
        .await
        .expect("target starts");
    let step = run_step_with(
        target.url("/hang"),
        "status == 200",
        "timeout = \"1s\"\n",
        &[],
    )
    .await;
    assert_eq!(step["error"]["kind"], "timeout", "{step}");
    let evidence = &step["evidence"];
    let addr = evidence["remote_addr"].as_str().expect("remote address");
    assert!(
        target.url("/").contains(addr),
        "{addr} vs {}",
        target.url("/")
    );
    assert_eq!(evidence["status_line"], Value::Null, "{evidence}");
    assert_eq!(evidence["body"], Value::Null, "{evidence}");
    assert_eq!(evidence["headers"], serde_json::json!([]), "{evidence}");
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn a_body_cut_by_the_deadline_keeps_the_status_line_and_headers() {
    let target = TestTarget::new()
        .trickle("/trickle")
        .start()
        .await
        .expect("target starts");
    let step = run_step_with(
        target.url("/trickle"),
        "status == 200",
        "timeout = \"1500ms\"\n",
        &[],
    )
    .await;
    assert_eq!(step["error"]["kind"], "timeout", "{step}");
    let evidence = &step["evidence"];
    assert!(
        evidence["status_line"]
            .as_str()
            .is_some_and(|s| s.starts_with("HTTP/1.1 200")),
        "{evidence}"
    );
    assert!(
        evidence["headers"]
            .as_array()
            .is_some_and(|h| !h.is_empty()),
        "{evidence}"
    );
    assert!(evidence["remote_addr"].is_string(), "{evidence}");
}
