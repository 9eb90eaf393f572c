//! `grpc` steps through `probe run --format json` against a real gRPC
//! health service on loopback: the server and a named service serving
//! pass, `NOT_SERVING` fails with expected and actual unless expected, an
//! unknown service and a server without the health service fail naming the
//! gRPC code, a plain HTTP server and an HTTP/1.1-only one fail clearly,
//! a server that never answers is cut at the step's deadline, the target
//! guard refuses loopback, and `https://` trusts the probe's `--ca-file`.

use serde_json::Value;
use sonde_tests::{GrpcServer, TestTarget, hang_after_accept};
use tonic_health::ServingStatus;

/// Runs one `grpc` step (`keys` are its TOML lines) and returns the step's
/// result.
async fn run_step(keys: &str, extra: &[&str]) -> Value {
    let text = format!("interval = \"1m\"\n[[steps]]\nname = \"health\"\nkind = \"grpc\"\n{keys}");
    crate::common::probe_run_step(text, extra, &[]).await.0
}

fn error_message(step: &Value) -> &str {
    step["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_server_serving_passes_by_default_and_records_the_phases() {
    let server = GrpcServer::start().await.expect("server");
    let keys = format!("address = \"{}\"\n", server.address());
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["kind"], "grpc", "{step}");
    assert_eq!(step["status"], "passed", "{step}");
    let assertion = &step["assertions"][0];
    assert_eq!(assertion["expr"], r#"status == "SERVING""#, "{step}");
    assert_eq!(assertion["actual"], r#""SERVING""#, "{step}");
    let phases = &step["phases"];
    assert!(phases["connect_ms"].is_number(), "{phases}");
    assert!(phases["ttfb_ms"].is_number(), "{phases}");
    assert_eq!(phases["tls_ms"], Value::Null, "plain HTTP/2 has no TLS");
}

#[tokio::test]
async fn a_named_service_serving_passes_with_other_expectations() {
    let server = GrpcServer::start().await.expect("server");
    server.set("shop.Inventory", ServingStatus::Serving).await;
    let keys = format!(
        "address = \"{}\"\nservice = \"shop.Inventory\"\nexpect = ['duration < 10s']\n",
        server.address()
    );
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["status"], "passed", "{step}");
    let exprs: Vec<&str> = step["assertions"]
        .as_array()
        .expect("assertions")
        .iter()
        .filter_map(|a| a["expr"].as_str())
        .collect();
    assert_eq!(
        exprs,
        [r#"status == "SERVING""#, "duration < 10s"],
        "{step}"
    );
}

#[tokio::test]
async fn not_serving_fails_with_expected_and_actual() {
    let server = GrpcServer::start().await.expect("server");
    server
        .set("shop.Inventory", ServingStatus::NotServing)
        .await;
    let keys = format!(
        "address = \"{}\"\nservice = \"shop.Inventory\"\n",
        server.address()
    );
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["status"], "failed", "{step}");
    assert_eq!(
        step["error"],
        Value::Null,
        "an assertion, not an error: {step}"
    );
    let assertion = &step["assertions"][0];
    assert_eq!(assertion["passed"], false, "{assertion}");
    assert_eq!(assertion["expected"], r#""SERVING""#, "{assertion}");
    assert_eq!(assertion["actual"], r#""NOT_SERVING""#, "{assertion}");
}

#[tokio::test]
async fn expecting_not_serving_passes_against_a_service_that_is_not() {
    let server = GrpcServer::start().await.expect("server");
    server.set("", ServingStatus::NotServing).await;
    let keys = format!(
        "address = \"{}\"\nexpect = ['status == \"NOT_SERVING\"']\n",
        server.address()
    );
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["status"], "passed", "{step}");
    assert_eq!(
        step["assertions"].as_array().map(Vec::len),
        Some(1),
        "no default SERVING check when status is asserted: {step}"
    );
}

#[tokio::test]
async fn an_unknown_service_fails_naming_not_found() {
    let server = GrpcServer::start().await.expect("server");
    let keys = format!(
        "address = \"{}\"\nservice = \"shop.Nowhere\"\n",
        server.address()
    );
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["status"], "failed", "{step}");
    assert_eq!(step["error"]["kind"], "protocol", "{step}");
    let message = error_message(&step);
    assert!(message.contains("NOT_FOUND"), "{message}");
}

#[tokio::test]
async fn a_server_without_the_health_service_fails_naming_unimplemented() {
    let server = GrpcServer::without_health().await.expect("server");
    let keys = format!("address = \"{}\"\n", server.address());
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["status"], "failed", "{step}");
    assert_eq!(step["error"]["kind"], "protocol", "{step}");
    let message = error_message(&step);
    assert!(message.contains("UNIMPLEMENTED"), "{message}");
}

#[tokio::test]
async fn a_plain_http_server_fails_saying_it_is_not_grpc() {
    let target = TestTarget::new()
        .route("/", 200, "a web page")
        .start()
        .await
        .expect("target");
    let keys = format!("address = \"http://{}\"\n", target.addr());
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["status"], "failed", "{step}");
    assert_eq!(step["error"]["kind"], "protocol", "{step}");
    let message = error_message(&step);
    assert!(
        message.contains("grpc-status") && message.contains("404"),
        "names the missing gRPC status and the HTTP answer: {message}"
    );
}

#[tokio::test]
async fn an_http1_only_server_fails_saying_http2_broke() {
    // Answers the HTTP/2 preface as an HTTP/1.1 request, as such servers do.
    let addr = crate::common::failing_once().await;
    let keys = format!("address = \"http://{addr}\"\n");
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["status"], "failed", "{step}");
    assert_eq!(step["error"]["kind"], "protocol", "{step}");
    let message = error_message(&step);
    assert!(
        message.contains("HTTP/2 connection failed"),
        "says the HTTP/2 connection failed: {message}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_at_the_step_deadline() {
    let hanging = hang_after_accept().await.expect("listener");
    let keys = format!(
        "address = \"http://{}\"\ntimeout = \"500ms\"\n",
        hanging.addr()
    );
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["status"], "failed", "{step}");
    assert_eq!(step["error"]["kind"], "timeout", "{step}");
    assert!(error_message(&step).contains("gRPC health check"), "{step}");
    assert!(step["phases"]["connect_ms"].is_number(), "{step}");
    assert!(step["phases"]["ttfb_ms"].is_number(), "{step}");
}

#[tokio::test]
async fn the_target_guard_refuses_loopback_unless_allowed() {
    let server = GrpcServer::start().await.expect("server");
    let keys = format!("address = \"{}\"\n", server.address());
    let refused = run_step(&keys, &["--target-guard"]).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(refused["error"]["kind"], "target_refused", "{refused}");

    let allowed = run_step(&keys, &["--allow-target", "127.0.0.0/8"]).await;
    assert_eq!(allowed["status"], "passed", "{allowed}");
}

#[tokio::test]
async fn https_trusts_the_probe_ca_file_and_times_the_handshake() {
    let server = GrpcServer::start_tls().await.expect("server");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = sonde_tests::write_ca_pem(dir.path()).expect("ca file");
    let keys = format!("address = \"{}\"\n", server.address());
    let ca_arg = ca.display().to_string();
    let trusted = run_step(&keys, &["--ca-file", &ca_arg]).await;
    assert_eq!(trusted["status"], "passed", "{trusted}");
    assert!(trusted["phases"]["tls_ms"].is_number(), "{trusted}");
    assert_eq!(trusted["tls"]["version"], "1.3", "{trusted}");

    let untrusted = run_step(&keys, &[]).await;
    assert_eq!(untrusted["status"], "failed", "{untrusted}");
    assert_eq!(untrusted["error"]["kind"], "tls", "{untrusted}");
}
