//! `/metrics`: the contract's series after ingest, the same numbers after a
//! restart (rebuilt from the store), content negotiation, and the classic
//! form checked by `promtool check metrics`.

use std::io::Write;
use std::process::{Command, Stdio};

use axum::http::StatusCode;

use crate::common::{TestApp, batch, result, t0};

/// The value of the sample `series` (name and labels exactly as written).
fn value(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        rest.strip_prefix(' ')?.split(' ').next()?.parse().ok()
    })
}

async fn feed(t: &TestApp) {
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let at = |s| t0() + chrono::Duration::seconds(s);
    let results = [
        result("checkout", "p-eu-1", "eu-west-1", "success", at(0)),
        result("checkout", "p-eu-1", "eu-west-1", "failure", at(30)),
        result("checkout", "p-eu-1", "eu-west-1", "success", at(60)),
        // Older than the newest, delivered late: counted, not "last".
        result("checkout", "p-eu-1", "eu-west-1", "failure", at(10)),
    ];
    let r = t
        .post_results(&token, "p-eu-1", "eu-west-1", batch(&results))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    t.plan(&token, "p-eu-1", "eu-west-1", &[]).await;
}

const SUCCESS: &str = "sonde_scenario_success{scenario=\"checkout\",region=\"eu-west-1\"}";
const RUNS_OK: &str =
    "sonde_scenario_runs_total{scenario=\"checkout\",region=\"eu-west-1\",outcome=\"success\"}";
const RUNS_FAIL: &str =
    "sonde_scenario_runs_total{scenario=\"checkout\",region=\"eu-west-1\",outcome=\"failure\"}";
const DURATION_COUNT: &str =
    "sonde_scenario_duration_seconds_count{scenario=\"checkout\",region=\"eu-west-1\"}";
const STEP_COUNT: &str =
    "sonde_step_duration_seconds_count{scenario=\"checkout\",region=\"eu-west-1\",step=\"home\"}";
const TTFB: &str = "sonde_step_phase_seconds{scenario=\"checkout\",region=\"eu-west-1\",step=\"home\",phase=\"ttfb\"}";
const CERT: &str = "sonde_tls_cert_expiry_timestamp_seconds{scenario=\"checkout\",region=\"eu-west-1\",step=\"certificate\"}";

fn assert_result_series(scrape: &str) {
    assert_eq!(value(scrape, SUCCESS), Some(1.0), "{scrape}");
    assert_eq!(value(scrape, RUNS_OK), Some(2.0), "{scrape}");
    assert_eq!(value(scrape, RUNS_FAIL), Some(2.0), "{scrape}");
    assert_eq!(value(scrape, DURATION_COUNT), Some(4.0), "{scrape}");
    assert_eq!(value(scrape, STEP_COUNT), Some(4.0), "{scrape}");
    assert_eq!(value(scrape, TTFB), Some(0.07), "{scrape}");
    assert_eq!(value(scrape, CERT), Some(1_798_761_600.0), "{scrape}");
}

#[tokio::test]
async fn a_scrape_after_ingest_has_the_contract_series_and_survives_a_restart() {
    let t = TestApp::new().await;
    feed(&t).await;
    let r = t.scrape(None).await;
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let classic = r.text();
    assert_result_series(&classic);
    for name in [
        "sonde_probe_up{probe=\"p-eu-1\",region=\"eu-west-1\"} 1",
        "sonde_probe_last_seen_timestamp_seconds{probe=\"p-eu-1\",region=\"eu-west-1\"}",
        "sonde_catalog_invalid_files 0",
        "sonde_ingest_results_total{outcome=\"accepted\"} 4",
        "sonde_ingest_results_total{outcome=\"duplicate\"} 0",
        "# TYPE sonde_scenario_runs_total counter",
        "# TYPE sonde_scenario_duration_seconds histogram",
    ] {
        assert!(classic.contains(name), "{name} missing in\n{classic}");
    }
    assert!(!classic.contains("# EOF"));

    let t = t.restart().await;
    let classic = t.scrape(None).await.text();
    assert_result_series(&classic);
}

#[tokio::test]
async fn openmetrics_when_asked_for() {
    let t = TestApp::new().await;
    feed(&t).await;
    let r = t
        .scrape(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        ))
        .await;
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.text();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("# TYPE sonde_scenario_runs counter"),
        "{text}"
    );
    assert_eq!(value(&text, RUNS_OK), Some(2.0));
}

#[tokio::test]
async fn step_names_with_quotes_are_escaped_and_unknown_steps_get_no_series() {
    let t = TestApp::new().await;
    let scenario = "name = \"quoted\"\ninterval = \"1m\"\n[[steps]]\nname = 'say \"hi\" \\ bye'\nget = \"http://127.0.0.1:9/\"\n";
    t.write_scenario("quoted.toml", scenario);
    t.app.catalog.reload().await.unwrap();
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let mut r = result("quoted", "p-eu-1", "eu-west-1", "success", t0());
    r["steps"][0]["name"] = serde_json::json!("say \"hi\" \\ bye");
    r["steps"][1]["name"] = serde_json::json!("not in the scenario");
    assert_eq!(
        t.post_results(&token, "p-eu-1", "eu-west-1", batch(&[r]))
            .await
            .status,
        StatusCode::OK
    );
    let text = t.scrape(None).await.text();
    assert!(text.contains(r#"step="say \"hi\" \\ bye""#), "{text}");
    assert!(!text.contains("not in the scenario"), "{text}");
    promtool_check(&text);
}

#[tokio::test]
async fn the_classic_form_passes_promtool() {
    let t = TestApp::new().await;
    feed(&t).await;
    promtool_check(&t.scrape(None).await.text());
}

pub(crate) fn promtool_check(text: &str) {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        println!(
            "note: promtool is not installed (apt-get install prometheus); skipping its check"
        );
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- input ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
