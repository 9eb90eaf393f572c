//! The `demo-shop` binary, run through the harness: it prints where it
//! listens, logs JSON, takes its password from the environment, answers
//! `health`, and stops cleanly on SIGTERM.

use std::time::Duration;

use serde_json::json;
use sonde_tests::{Spawn, TestClient, binary_path, free_port_refused, wait_for_http};

const DEADLINE: Duration = Duration::from_secs(5);

fn shop_binary() -> &'static str {
    env!("CARGO_BIN_EXE_demo-shop")
}

#[test]
fn harness_finds_the_built_binary() {
    let found = binary_path("demo-shop").unwrap();
    assert!(found.is_file());
    let missing = binary_path("no-such-binary").unwrap_err();
    assert!(missing.to_string().contains("no-such-binary"));
}

#[tokio::test]
async fn binary_serves_takes_its_password_from_env_and_stops_on_sigterm() {
    let state = tempfile::tempdir().unwrap();
    let any = "127.0.0.1:0";
    let mut shop = Spawn::new(shop_binary())
        .args(["--http", any, "--https", any, "--dns", any, "--state-dir"])
        .arg(state.path())
        .env("SHOP_PASSWORD", "s3cret")
        .env_remove("SHOP_HTTP")
        .start()
        .unwrap();
    shop.wait_for_stdout("demo-shop ready", DEADLINE)
        .await
        .unwrap();
    let base = sonde_tests::shop::printed_http_base(&mut shop, DEADLINE)
        .await
        .unwrap();
    wait_for_http(&format!("{base}/healthz"), DEADLINE)
        .await
        .unwrap();
    assert!(state.path().join("demo-ca.pem").is_file());

    let client = TestClient::new();
    let login = |password: &'static str| {
        let client = client.clone();
        let url = format!("{base}/api/login");
        async move {
            let body = json!({"username": "synthetic", "password": password});
            client
                .post_json(&url, &[], &body)
                .await
                .unwrap()
                .status
                .as_u16()
        }
    };
    assert_eq!(login("s3cret").await, 200);
    assert_eq!(login("demo").await, 401);

    let health = tokio::process::Command::new(shop_binary())
        .args(["health", &format!("{base}/healthz")])
        .status()
        .await
        .unwrap();
    assert!(health.success());
    let refused = format!("http://127.0.0.1:{}/healthz", free_port_refused().unwrap());
    let unhealthy = tokio::process::Command::new(shop_binary())
        .args(["health", &refused])
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert_eq!(unhealthy.code(), Some(1));

    let status = shop.terminate(DEADLINE).await.unwrap();
    assert!(status.success(), "{status}");
    let logs = shop.stderr();
    let served = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["message"] == "Request served.")
        .expect("JSON access logs on stderr");
    assert_eq!(served["fields"]["path"], "/healthz");
    assert!(!logs.contains("s3cret"), "the password is never logged");
}
