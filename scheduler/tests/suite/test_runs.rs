//! Fleet test runs through the router: `POST /api/v1/runs` with a scenario
//! file outside the catalog. The scenario rides each region's plan with
//! its request, a fake probe answers, and the answer has run now's shape;
//! the scenario never shows in the catalog, the read API, the results or
//! the metrics.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::alert_kit::{Fleet, probe_of};
use crate::common::{Reply, batch, result, t0};

const GATE: &str = r#"name = "pr_journey"
interval = "1m"

[[steps]]
name = "home"
get = "http://127.0.0.1:9/"
expect = ["status == 200"]
"#;

async fn test_run(
    f: &Fleet,
    query: &str,
    token: Option<&str>,
    content_type: &str,
    body: impl Into<Body>,
) -> Reply {
    let mut req = Request::post(format!("/api/v1/runs{query}"))
        .header("content-type", content_type)
        .header(
            "content-disposition",
            "attachment; filename=\"pr_journey.toml\"",
        );
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    f.t.send(req.body(body.into()).unwrap()).await
}

/// Waits for the test run in `probe`'s plan and answers it; returns the
/// result sent and the ingest's acknowledgement.
async fn answer(f: &Fleet, region: &str, outcome: &str) -> (serde_json::Value, serde_json::Value) {
    let probe = probe_of(region);
    let mut changes = f.t.app.fleet.subscribe();
    let request = loop {
        let plan = f.plan(probe).await;
        if let Some(r) = plan["run_now"].as_array().and_then(|a| a.first()) {
            break r.clone();
        }
        changes.changed().await.unwrap();
    };
    assert_eq!(request["scenario"], "pr_journey");
    // The scenario travels with the request: the catalog does not have it.
    assert_eq!(request["inline"]["name"], "pr_journey");
    assert_eq!(request["inline"]["source"], GATE);
    assert_eq!(request["inline"]["path"], "pr_journey.toml");
    let mut run = result("pr_journey", probe, region, outcome, t0());
    run["run_request"] = request["id"].clone();
    let (_, token) = f.token(probe);
    let reply =
        f.t.post_results(&token, probe, region, batch(&[run.clone()]))
            .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    (run, reply.json())
}

#[tokio::test]
async fn a_test_run_answers_per_region_and_stays_out_of_the_catalog() {
    let f = Arc::new(Fleet::new("").await);
    let ops = f.operator().await;

    let call = tokio::spawn({
        let (f, ops) = (Arc::clone(&f), ops.clone());
        async move {
            let query = "?regions=eu-west-1,us-east-1&wait=30s";
            test_run(&f, query, Some(&ops), "application/toml", GATE).await
        }
    });
    let (eu_run, ack) = answer(&f, "eu-west-1", "success").await;
    assert_eq!(ack["accepted"], serde_json::json!([eu_run["id"]]));
    answer(&f, "us-east-1", "success").await;
    let reply = call.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["scenario"], "pr_journey");
    assert_eq!(body["results"]["eu-west-1"]["outcome"], "success");
    assert_eq!(body["results"]["us-east-1"]["probe"], "p-us");
    assert_eq!(body["results"]["us-east-1"]["steps"][0]["name"], "home");
    assert_eq!(body["missing"], serde_json::json!([]));

    // A probe sending the result again hears it is a duplicate, not an
    // unknown scenario.
    let (_, token) = f.token("p-eu");
    let again =
        f.t.post_results(
            &token,
            "p-eu",
            "eu-west-1",
            batch(std::slice::from_ref(&eu_run)),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(
        again.json()["duplicates"],
        serde_json::json!([eu_run["id"]])
    );

    // Nothing of it entered the catalog, the history or the metrics.
    assert_eq!(f.t.stored_results().await, 0);
    let list = f.t.get("/api/v1/scenarios").await.text();
    assert!(!list.contains("pr_journey"), "{list}");
    assert_eq!(
        f.t.get("/api/v1/scenarios/pr_journey").await.status,
        StatusCode::NOT_FOUND
    );
    let metrics = f.t.scrape(None).await.text();
    assert!(!metrics.contains("pr_journey"), "{metrics}");
    let page = f.t.get("/").await.text();
    assert!(!page.contains("pr_journey"), "the status page lists it");

    // Who ran what is in the audit log.
    let audit = f.send_json("GET", "/api/v1/audit", Some(&ops), None).await;
    let entries = audit.json()["entries"].clone();
    let entry = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "test_run")
        .unwrap_or_else(|| panic!("no test_run entry in {entries}"))
        .clone();
    assert_eq!(entry["target"], "pr_journey");
    assert_eq!(entry["actor"], "ops");
}

#[tokio::test]
async fn a_failing_region_is_422_naming_it() {
    let f = Arc::new(Fleet::new("").await);
    let ops = f.operator().await;
    let call = tokio::spawn({
        let (f, ops) = (Arc::clone(&f), ops.clone());
        async move {
            let query = "?regions=eu-west-1,us-east-1";
            test_run(&f, query, Some(&ops), "application/toml", GATE).await
        }
    });
    answer(&f, "eu-west-1", "success").await;
    answer(&f, "us-east-1", "failure").await;
    let reply = call.await.unwrap();
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    let body = reply.json();
    assert_eq!(body["results"]["us-east-1"]["outcome"], "failure");
    assert_eq!(body["results"]["eu-west-1"]["outcome"], "success");
    // A failed test run raises no alert.
    f.tick().await;
    assert!(f.events().await.is_empty());
}

#[tokio::test]
async fn a_file_that_does_not_validate_is_400_with_its_line_and_column() {
    let f = Fleet::new("").await;
    let ops = f.operator().await;
    let broken = "name = \"pr_journey\"\n\n[[steps]]\nname = \"home\"\nget = 42\n";
    let reply = test_run(&f, "", Some(&ops), "application/toml", broken).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    let body = reply.json();
    assert!(
        body["error"].as_str().unwrap().contains("pr_journey.toml"),
        "{body}"
    );
    let diagnostics = body["diagnostics"].as_str().unwrap();
    assert!(diagnostics.contains("pr_journey.toml:5:7"), "{diagnostics}");

    let not_toml = "name = \"gate\n";
    let reply = test_run(&f, "", Some(&ops), "application/toml", not_toml).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    let diagnostics = reply.json()["diagnostics"].as_str().unwrap().to_owned();
    assert!(diagnostics.contains("pr_journey.toml:1:"), "{diagnostics}");

    let huge = format!("{GATE}# {}\n", "x".repeat(scenarios::load::MAX_FILE_BYTES));
    let reply = test_run(&f, "", Some(&ops), "application/toml", huge).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text()
    );

    let reply = test_run(&f, "", Some(&ops), "application/json", GATE).await;
    assert_eq!(
        reply.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        reply.text()
    );
    assert_eq!(f.t.stored_results().await, 0);
}

#[tokio::test]
async fn tokens_and_regions_are_checked() {
    let f = Fleet::new("").await;
    let ops = f.operator().await;
    let toml = "application/toml";
    let reply = test_run(&f, "", None, toml, GATE).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let (_, probe_token) = f.token("p-eu");
    let reply = test_run(&f, "", Some(&probe_token), toml, GATE).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = test_run(&f, "?regions=mars-1", Some(&ops), toml, GATE).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.text().contains("mars-1"), "{}", reply.text());
    let reply = test_run(&f, "?wait=10m", Some(&ops), toml, GATE).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(start_paused = true)]
async fn a_region_without_a_live_probe_is_missing_and_504() {
    let f = Arc::new(Fleet::new("").await);
    let ops = f.operator().await;
    tokio::time::advance(std::time::Duration::from_millis(1)).await;
    // Only p-eu stays live.
    f.t.clock.advance(std::time::Duration::from_secs(100));
    f.plan("p-eu").await;
    let reply = test_run(
        &f,
        "?regions=ap-southeast-1&wait=120s",
        Some(&ops),
        "application/toml",
        GATE,
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        reply.text()
    );
    assert_eq!(
        reply.json()["missing"],
        serde_json::json!(["ap-southeast-1"])
    );
}
