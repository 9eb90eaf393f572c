//! `websocket` steps through `probe run --format json` against a real
//! WebSocket server on loopback: the echo passes, a wrong expectation shows
//! expected and actual, a refused upgrade names its status, a silent server
//! times out at the step's deadline, the target guard refuses loopback,
//! and `wss://` trusts the probe's `--ca-file`.

use serde_json::Value;
use sonde_tests::WebSocketServer;

/// Runs one `websocket` step (`keys` are its TOML lines) and returns the
/// step's result.
async fn run_step(keys: &str, extra: &[&str]) -> Value {
    let text = format!("interval = \"1m\"\n[[steps]]\nname = \"ws\"\nkind = \"websocket\"\n{keys}");
    crate::common::probe_run_step(text, extra, &[]).await.0
}

#[tokio::test]
async fn echo_passes_with_message_contains_and_records_the_phases() {
    let server = WebSocketServer::start().await.expect("server");
    let keys = format!(
        "url = \"{}\"\nsend = \"ping from sonde\"\nexpect = ['message contains \"from sonde\"', 'message == \"ping from sonde\"', 'duration < 10s']\n",
        server.url("/echo")
    );
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["kind"], "websocket", "{step}");
    assert_eq!(step["status"], "passed", "{step}");
    assert_eq!(step["assertions"].as_array().map(Vec::len), Some(3));
    let phases = &step["phases"];
    assert!(phases["connect_ms"].is_number(), "{phases}");
    assert!(phases["ttfb_ms"].is_number(), "{phases}");
    assert!(phases["transfer_ms"].is_number(), "{phases}");
    assert_eq!(phases["tls_ms"], Value::Null, "plain ws has no TLS");
}

#[tokio::test]
async fn a_wrong_expectation_fails_with_expected_and_actual() {
    let server = WebSocketServer::start().await.expect("server");
    let keys = format!(
        "url = \"{}\"\nsend = \"hello\"\nexpect = ['message contains \"goodbye\"']\n",
        server.url("/echo")
    );
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["status"], "failed", "{step}");
    assert_eq!(
        step["error"],
        Value::Null,
        "an assertion, not an error: {step}"
    );
    let assertion = &step["assertions"][0];
    assert_eq!(assertion["passed"], false);
    assert!(
        assertion["expected"]
            .as_str()
            .is_some_and(|e| e.contains("goodbye")),
        "{assertion}"
    );
    assert!(
        assertion["actual"]
            .as_str()
            .is_some_and(|a| a.contains("hello")),
        "{assertion}"
    );
}

#[tokio::test]
async fn a_refused_upgrade_fails_with_its_status() {
    let server = WebSocketServer::start().await.expect("server");
    let keys = format!(
        "url = \"{}\"\nexpect = ['message contains \"x\"']\n",
        server.url("/refuse")
    );
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["status"], "failed", "{step}");
    assert_eq!(step["error"]["kind"], "protocol", "{step}");
    let message = step["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("403"), "{message}");
    assert!(message.contains("101"), "{message}");
}

#[tokio::test]
async fn a_silent_server_times_out_at_the_step_deadline() {
    let server = WebSocketServer::start().await.expect("server");
    let keys = format!(
        "url = \"{}\"\nsend = \"anyone?\"\ntimeout = \"500ms\"\nexpect = ['message contains \"x\"']\n",
        server.url("/silent")
    );
    let step = run_step(&keys, &[]).await;
    assert_eq!(step["status"], "failed", "{step}");
    assert_eq!(step["error"]["kind"], "timeout", "{step}");
    assert!(
        step["phases"]["ttfb_ms"].is_number(),
        "the upgrade was done: {step}"
    );
    assert!(
        step["phases"]["transfer_ms"].is_number(),
        "the wait for a message is timed: {step}"
    );
}

#[tokio::test]
async fn the_target_guard_refuses_loopback_unless_allowed() {
    let server = WebSocketServer::start().await.expect("server");
    let keys = format!(
        "url = \"{}\"\nsend = \"hi\"\nexpect = ['message == \"hi\"']\n",
        server.url("/echo")
    );
    let refused = run_step(&keys, &["--target-guard"]).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(refused["error"]["kind"], "target_refused", "{refused}");

    let allowed = run_step(&keys, &["--allow-target", "127.0.0.0/8"]).await;
    assert_eq!(allowed["status"], "passed", "{allowed}");
}

#[tokio::test]
async fn wss_trusts_the_probe_ca_file_and_times_the_handshake() {
    let server = WebSocketServer::start_tls().await.expect("server");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = sonde_tests::write_ca_pem(dir.path()).expect("ca file");
    let keys = format!(
        "url = \"{}\"\nsend = \"over tls\"\nexpect = ['message == \"over tls\"']\n",
        server.url("/echo")
    );
    let ca_arg = ca.display().to_string();
    let trusted = run_step(&keys, &["--ca-file", &ca_arg]).await;
    assert_eq!(trusted["status"], "passed", "{trusted}");
    assert!(trusted["phases"]["tls_ms"].is_number(), "{trusted}");
    assert_eq!(trusted["tls"]["version"], "1.3", "{trusted}");

    let untrusted = run_step(&keys, &[]).await;
    assert_eq!(untrusted["status"], "failed", "{untrusted}");
    assert_eq!(untrusted["error"]["kind"], "tls", "{untrusted}");
}
