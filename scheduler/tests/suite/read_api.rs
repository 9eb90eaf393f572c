//! The read API: scenarios with per-region summaries, one scenario, its
//! runs, and JSON errors.

use axum::http::StatusCode;

use crate::common::{TestApp, batch, result, t0};

async fn feed(t: &TestApp) -> Vec<serde_json::Value> {
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    t.plan(&token, "p-eu-1", "eu-west-1", &[]).await;
    let results: Vec<_> = (0..10)
        .map(|i| {
            let outcome = if i == 9 { "failure" } else { "success" };
            let mut r = result(
                "checkout",
                "p-eu-1",
                "eu-west-1",
                outcome,
                t0() - chrono::Duration::minutes(10 - i),
            );
            r["duration_ms"] = serde_json::json!(100.0 * (i + 1) as f64);
            r
        })
        .collect();
    assert_eq!(
        t.post_results(&token, "p-eu-1", "eu-west-1", batch(&results))
            .await
            .status,
        StatusCode::OK
    );
    results
}

#[tokio::test]
async fn scenarios_have_per_region_state_ratio_and_percentiles() {
    let t = TestApp::new().await;
    feed(&t).await;
    let list = t.get("/api/v1/scenarios").await.json();
    assert_eq!(list["window"], "1h");
    let checkout = &list["scenarios"][0];
    assert_eq!(checkout["name"], "checkout");
    assert_eq!(checkout["schedule"], "30s");
    let eu = checkout["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .unwrap();
    // The alert engine's state: one failed run is not `down` yet (after = 2).
    assert_eq!(eu["state"], "up");
    assert_eq!(eu["probe"], "p-eu-1");
    assert_eq!(eu["last_outcome"], "failure");
    assert_eq!(eu["last_probe"], "p-eu-1");
    assert_eq!(eu["last_run_at"], "2026-11-24T09:59:00.004Z");
    assert_eq!(eu["runs"], 10);
    assert_eq!(eu["success_ratio"], 0.9);
    assert_eq!(
        eu["duration_ms"],
        serde_json::json!({"p50": 500.0, "p95": 1000.0, "p99": 1000.0})
    );
    let us = checkout["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "us-east-1")
        .unwrap();
    assert_eq!(us["state"], "unknown");
    assert_eq!(us["runs"], 0);
    assert_eq!(us["success_ratio"], serde_json::Value::Null);

    // A 5-minute window sees the last five runs only.
    let list = t.get("/api/v1/scenarios?window=5m").await.json();
    let eu = &list["scenarios"][0]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .unwrap()
        .clone();
    assert_eq!(eu["runs"], 5);
    assert_eq!(
        t.get("/api/v1/scenarios?window=later").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn one_scenario_and_its_runs_newest_first() {
    let t = TestApp::new().await;
    let results = feed(&t).await;
    let one = t.get("/api/v1/scenarios/checkout").await.json();
    assert_eq!(one["name"], "checkout");
    assert_eq!(
        one["configured_regions"],
        serde_json::json!(["eu-west-1", "us-east-1"])
    );
    assert_eq!(
        one["steps"][1],
        serde_json::json!({"name": "certificate", "kind": "tls"})
    );
    assert_eq!(
        one["alert"]["after"],
        serde_json::json!({"failures": 2, "of": 2})
    );
    assert!(one["version"].as_str().unwrap().starts_with("sha256:"));
    assert!(one["anomaly"].is_null(), "no `[alert] anomaly`: {one}");

    let runs = t
        .get("/api/v1/scenarios/checkout/runs?region=eu-west-1&limit=3")
        .await
        .json();
    let ids: Vec<_> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(
        ids,
        [
            results[9]["id"].clone(),
            results[8]["id"].clone(),
            results[7]["id"].clone()
        ]
    );
    assert_eq!(runs["runs"][0]["steps"][0]["name"], "home");
    let all = t.get("/api/v1/scenarios/checkout/runs").await.json();
    assert_eq!(all["runs"].as_array().unwrap().len(), 10);
    let none = t
        .get("/api/v1/scenarios/checkout/runs?region=us-east-1")
        .await
        .json();
    assert_eq!(none["runs"], serde_json::json!([]));
}

#[tokio::test]
async fn errors_are_json_with_fitting_statuses() {
    let t = TestApp::new().await;
    let r = t.get("/api/v1/scenarios/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "unknown scenario `nope`"})
    );
    assert_eq!(
        t.get("/api/v1/scenarios/nope/runs").await.status,
        StatusCode::NOT_FOUND
    );
    let r = t.get("/api/v1/scenarios/checkout/runs?limit=501").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("1 to 500"));
    let r = t.get("/api/v1/nothing-here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["error"].is_string());
}

#[tokio::test]
async fn health_endpoints() {
    let t = TestApp::new().await;
    assert_eq!(t.get("/livez").await.status, StatusCode::OK);
    assert_eq!(t.get("/readyz").await.status, StatusCode::OK);
    t.shutdown.cancel();
    assert_eq!(
        t.get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(t.get("/livez").await.status, StatusCode::OK);
}
