//! `icmp` steps through `probe run --format json`, echoing 127.0.0.1: on a
//! host that allows datagram ICMP sockets (`net.ipv4.ping_group_range`) or
//! raw ones (CAP_NET_RAW) the echoes pass `loss == 0%` and `rtt < 1s` and a
//! wrong expectation reports expected and actual; elsewhere the step fails
//! with the `icmp_unavailable` error naming the sysctl. Which of the two
//! was checked is decided at run time and printed.

use serde_json::Value;

/// Runs one `icmp` step (`keys` are its TOML lines) and returns the
/// step's result.
async fn run_step(keys: &str, extra: &[&str]) -> Value {
    let text = format!("interval = \"1m\"\n[[steps]]\nname = \"ping\"\nkind = \"icmp\"\n{keys}");
    crate::common::probe_run_step(text, extra, &[]).await.0
}

/// False when ICMP works here; true when the step is the clear
/// `icmp_unavailable` error.
fn unavailable(step: &Value) -> bool {
    if step["error"]["kind"] != "icmp_unavailable" {
        return false;
    }
    let message = step["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("net.ipv4.ping_group_range"), "{message}");
    assert!(message.contains("CAP_NET_RAW"), "{message}");
    eprintln!("ICMP unavailable here: checked the icmp_unavailable error");
    true
}

#[tokio::test]
async fn echoes_to_loopback_pass_loss_and_rtt() {
    let step = run_step(
        "host = \"127.0.0.1\"\ncount = 3\ninterval = \"50ms\"\nexpect = [\"loss == 0%\", \"rtt < 1s\", \"loss < 20%\"]\n",
        &[],
    )
    .await;
    assert_eq!(step["kind"], "icmp", "{step}");
    if unavailable(&step) {
        return;
    }
    eprintln!("ICMP available here: checked the echoes");
    assert_eq!(step["status"], "passed", "{step}");
    assert_eq!(step["assertions"][0]["actual"], "0%", "{step}");
    assert!(step["phases"]["transfer_ms"].is_number(), "{step}");
    assert_eq!(
        step["phases"]["dns_ms"],
        Value::Null,
        "an IP literal: {step}"
    );
}

#[tokio::test]
async fn a_wrong_expectation_fails_with_expected_and_actual() {
    let step = run_step(
        "host = \"127.0.0.1\"\ncount = 2\ninterval = \"50ms\"\nexpect = [\"loss == 100%\", \"rtt < 0ms\"]\n",
        &[],
    )
    .await;
    if unavailable(&step) {
        return;
    }
    assert_eq!(step["status"], "failed", "{step}");
    let loss = &step["assertions"][0];
    assert_eq!(loss["passed"], false, "{step}");
    assert_eq!(loss["expected"], "100%", "{step}");
    assert_eq!(loss["actual"], "0%", "{step}");
    let rtt = &step["assertions"][1];
    assert_eq!(rtt["passed"], false, "{step}");
    assert_eq!(rtt["expected"], "< 0ms", "{step}");
    assert!(
        rtt["actual"]
            .as_str()
            .is_some_and(|a| a.ends_with("ms") || a.ends_with('s')),
        "{step}"
    );
}

#[tokio::test]
async fn the_target_guard_refuses_loopback_before_any_echo() {
    let step = run_step(
        "host = \"127.0.0.1\"\ncount = 1\nexpect = [\"loss == 0%\"]\n",
        &["--target-guard"],
    )
    .await;
    assert_eq!(step["status"], "failed", "{step}");
    assert_eq!(step["error"]["kind"], "target_refused", "{step}");
    assert_eq!(
        step["phases"]["transfer_ms"],
        Value::Null,
        "no echo sent: {step}"
    );
}
