//! Run now through the router: the request rides the plan of each
//! region's probe; the answer waits for the results (a fake probe sends
//! them) and is 200, 422, 504 or 404 as docs/api.md says.

use std::sync::Arc;

use axum::http::StatusCode;

use crate::alert_kit::Fleet;

/// Answers the run-now request in `probe`'s plan with a result.
async fn answer(f: &Fleet, probe: &str, region: &str, ok: bool) {
    let mut changes = f.t.app.fleet.subscribe();
    let request = loop {
        let plan = f.plan(probe).await;
        if let Some(r) = plan["run_now"].as_array().and_then(|a| a.first()) {
            break r.clone();
        }
        changes.changed().await.unwrap();
    };
    assert_eq!(request["reason"], "run_now");
    let mut result = f.run(region, ok, 5);
    result["run_request"] = request["id"].clone();
    f.post(region, &[result]).await;
}

async fn run_now(f: &Arc<Fleet>, query: &str, token: Option<String>) -> crate::common::Reply {
    let path = format!("/api/v1/scenarios/shop/run{query}");
    f.send_json("POST", &path, token.as_deref(), None).await
}

#[tokio::test]
async fn every_region_passed_is_200_and_one_failed_is_422() {
    let f = Arc::new(Fleet::new("").await);
    let ops = f.operator().await;

    let call = tokio::spawn({
        let (f, ops) = (Arc::clone(&f), ops.clone());
        async move { run_now(&f, "?regions=eu-west-1,us-east-1&wait=30s", Some(ops)).await }
    });
    answer(&f, "p-eu", "eu-west-1", true).await;
    answer(&f, "p-us", "us-east-1", true).await;
    let reply = call.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["scenario"], "shop");
    assert_eq!(body["results"]["eu-west-1"]["outcome"], "success");
    assert_eq!(body["results"]["us-east-1"]["probe"], "p-us");
    assert_eq!(body["missing"], serde_json::json!([]));

    let call = tokio::spawn({
        let (f, ops) = (Arc::clone(&f), ops.clone());
        async move { run_now(&f, "?regions=eu-west-1", Some(ops)).await }
    });
    answer(&f, "p-eu", "eu-west-1", false).await;
    let reply = call.await.unwrap();
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    assert_eq!(reply.json()["results"]["eu-west-1"]["outcome"], "failure");
}

#[tokio::test(start_paused = true)]
async fn no_result_in_time_or_no_live_probe_is_504() {
    let f = Arc::new(Fleet::new("").await);
    let ops = f.operator().await;
    // The token cache re-reads the store only for lookups that began after
    // its last read; on a paused clock, move past it.
    tokio::time::advance(std::time::Duration::from_millis(1)).await;
    // ap-southeast-1 has no live probe any more; the others never answer.
    f.t.clock.advance(std::time::Duration::from_secs(100));
    f.plan("p-eu").await;
    f.plan("p-us").await;
    let reply = run_now(&f, "?wait=2s", Some(ops.clone())).await;
    assert_eq!(
        reply.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        reply.text()
    );
    let body = reply.json();
    assert_eq!(
        body["missing"],
        serde_json::json!(["ap-southeast-1", "eu-west-1", "us-east-1"])
    );

    // Only the dead region: answered at once, no waiting.
    let reply = run_now(&f, "?regions=ap-southeast-1&wait=120s", Some(ops)).await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test]
async fn unknown_scenarios_bad_queries_and_missing_tokens() {
    let f = Arc::new(Fleet::new("").await);
    let ops = f.operator().await;
    let r = f
        .send_json("POST", "/api/v1/scenarios/nope/run", Some(&ops), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(run_now(&f, "", None).await.status, StatusCode::UNAUTHORIZED);
    let (_, probe_token) = f.token("p-eu");
    assert_eq!(
        run_now(&f, "", Some(probe_token)).await.status,
        StatusCode::FORBIDDEN
    );
    for query in ["?wait=10m", "?wait=soon", "?regions=mars-1"] {
        let r = run_now(&f, query, Some(ops.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text());
    }
}
