//! The probe protocol through the router: authentication, plans with
//! ETags and long polls, and ingest.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::common::{TestApp, batch, result, t0};

#[tokio::test]
async fn no_token_wrong_token_and_revoked_token_get_401_and_nothing_is_stored() {
    let t = TestApp::new().await;
    let body = batch(&[result("checkout", "p-eu-1", "eu-west-1", "success", t0())]);
    let req = Request::post("/api/v1/results")
        .header("x-sonde-probe", "p-eu-1")
        .header("x-sonde-region", "eu-west-1")
        .body(Body::from(body.clone()))
        .unwrap();
    let r = t.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("missing token")
    );

    let wrong = scheduler::auth::generate_token().unwrap();
    let r = t
        .post_results(&wrong, "p-eu-1", "eu-west-1", body.clone())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = t.plan(&wrong, "p-eu-1", "eu-west-1", &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    t.app
        .store
        .write(|tx| tx.revoke_tokens("p-eu-1", 1))
        .await
        .unwrap();
    // Revocations take effect within the token cache's refresh (2 s).
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(3)).await;
    tokio::time::resume();
    let r = t.post_results(&token, "p-eu-1", "eu-west-1", body).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.stored_results().await, 0);
}

#[tokio::test]
async fn a_token_used_for_another_probe_or_region_gets_403_and_nothing_is_stored() {
    let t = TestApp::new().await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let body = batch(&[result("checkout", "p-eu-1", "us-east-1", "success", t0())]);
    let r = t.post_results(&token, "p-eu-1", "us-east-1", body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("belongs to probe `p-eu-1` in `eu-west-1`")
    );
    let r = t.plan(&token, "p-eu-2", "eu-west-1", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(t.stored_results().await, 0);
    // Neither registered a probe.
    assert_eq!(
        t.get("/api/v1/probes").await.json()["probes"],
        serde_json::json!([])
    );

    let operator = t.operator_token("alice").await;
    let r = t.plan(&operator, "alice", "eu-west-1", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("operator token")
    );
}

#[tokio::test]
async fn config_probe_entries_authenticate() {
    let token = scheduler::auth::generate_token().unwrap();
    let hash = scheduler::auth::token_sha256(&token);
    let t = TestApp::with(|c| {
        c.probes.push(scheduler::config::ProbeEntry {
            name: "p-us-1".into(),
            region: "us-east-1".into(),
            token_sha256: hash,
        });
    })
    .await;
    let r = t.plan(&token, "p-us-1", "us-east-1", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = t.plan(&token, "p-us-1", "eu-west-1", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn missing_identity_headers_are_a_bad_request() {
    let t = TestApp::new().await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let req = Request::get("/api/v1/plan")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let r = t.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("X-Sonde-Probe")
    );
}

#[tokio::test]
async fn plan_registers_the_probe_and_answers_304_while_unchanged() {
    let t = TestApp::new().await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let r = t
        .plan(
            &token,
            "p-eu-1",
            "eu-west-1",
            &[("x-sonde-spool", "12"), ("user-agent", "sonde-probe/0.1.0")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let etag = r.header("etag").unwrap().to_owned();
    let plan = r.json();
    assert_eq!(plan["probe"], "p-eu-1");
    assert_eq!(plan["region"], "eu-west-1");
    assert_eq!(plan["revision"], 1);
    let names: Vec<_> = plan["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["checkout", "health"]);
    let checkout = &plan["scenarios"][0];
    assert_eq!(checkout["path"], "checkout.toml");
    assert_eq!(checkout["source"], crate::common::CHECKOUT);
    let planned: scenarios::wire::PlannedScenario =
        serde_json::from_value(checkout.clone()).unwrap();
    assert_eq!(planned.computed_version(), planned.version);

    let r = t
        .plan(&token, "p-eu-1", "eu-west-1", &[("if-none-match", &etag)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert!(r.body.is_empty());

    let probes = t.get("/api/v1/probes").await.json();
    let p = &probes["probes"][0];
    assert_eq!(p["name"], "p-eu-1");
    assert_eq!(p["version"], "0.1.0");
    assert_eq!(p["spool_depth"], 12);
    assert_eq!(p["up"], true);
    assert_eq!(p["assigned"], serde_json::json!(["checkout", "health"]));
}

#[tokio::test]
async fn a_long_poll_wakes_when_the_catalog_changes() {
    let t = TestApp::new().await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let first = t.plan(&token, "p-eu-1", "eu-west-1", &[]).await;
    let etag = first.header("etag").unwrap().to_owned();
    let app = std::sync::Arc::clone(&t.app);
    let poll = {
        let req = crate::common::probe_headers(
            Request::get("/api/v1/plan?wait=30s"),
            &token,
            "p-eu-1",
            "eu-west-1",
        )
        .header("if-none-match", &etag)
        .body(Body::empty())
        .unwrap();
        let router = scheduler::api::router(app);
        tokio::spawn(async move {
            use tower::ServiceExt;
            crate::common::Reply::read(router.oneshot(req).await.unwrap()).await
        })
    };
    // The request is waiting: nothing changed yet.
    tokio::task::yield_now().await;
    assert!(!poll.is_finished());
    t.write_scenario(
        "checkout.toml",
        &crate::common::CHECKOUT.replace("30s", "20s"),
    );
    assert!(t.app.catalog.reload().await.unwrap());
    let r = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("long poll woke")
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.json()["revision"], 2);
}

#[tokio::test]
async fn a_long_poll_with_no_change_ends_with_304_at_its_deadline() {
    let t = TestApp::new().await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let etag = t
        .plan(&token, "p-eu-1", "eu-west-1", &[])
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let r = t
        .plan(
            &token,
            "p-eu-1",
            "eu-west-1",
            &[("uri", "/api/v1/plan?wait=200ms"), ("if-none-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let r = t
        .plan(
            &token,
            "p-eu-1",
            "eu-west-1",
            &[("uri", "/api/v1/plan?wait=soon")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn run_now_requests_ride_the_plan_until_answered() {
    let t = TestApp::new().await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    t.plan(&token, "p-eu-1", "eu-west-1", &[]).await;
    let request = scenarios::wire::RunRequest {
        id: uuid::Uuid::now_v7(),
        scenario: "checkout".into(),
        requested_at: t0(),
        reason: scenarios::wire::RunReason::RunNow,
        inline: None,
    };
    t.app
        .fleet
        .request_run("p-eu-1", request.clone())
        .await
        .expect("stored");
    let plan = t.plan(&token, "p-eu-1", "eu-west-1", &[]).await.json();
    assert_eq!(plan["run_now"][0]["id"], request.id.to_string());
    assert_eq!(plan["revision"], 2);
    let mut answer = result("checkout", "p-eu-1", "eu-west-1", "success", t0());
    answer["run_request"] = serde_json::json!(request.id);
    let r = t
        .post_results(&token, "p-eu-1", "eu-west-1", batch(&[answer]))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let plan = t.plan(&token, "p-eu-1", "eu-west-1", &[]).await.json();
    assert_eq!(plan["run_now"], serde_json::json!([]));
    assert_eq!(plan["revision"], 3);
}

#[tokio::test]
async fn ingest_is_idempotent_by_result_id() {
    let t = TestApp::new().await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let results: Vec<_> = (0..5)
        .map(|i| {
            result(
                "checkout",
                "p-eu-1",
                "eu-west-1",
                "success",
                t0() + chrono::Duration::seconds(i),
            )
        })
        .collect();
    let body = batch(&results);
    let first = t
        .post_results(&token, "p-eu-1", "eu-west-1", body.clone())
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let ack = first.json();
    assert_eq!(ack["accepted"].as_array().unwrap().len(), 5);
    assert_eq!(ack["duplicates"], serde_json::json!([]));
    assert_eq!(t.stored_results().await, 5);

    let again = t.post_results(&token, "p-eu-1", "eu-west-1", body).await;
    assert_eq!(again.status, StatusCode::OK);
    let ack = again.json();
    assert_eq!(ack["accepted"], serde_json::json!([]));
    assert_eq!(ack["duplicates"].as_array().unwrap().len(), 5);
    assert_eq!(t.stored_results().await, 5);
}

#[tokio::test]
async fn malformed_json_is_400_with_its_place() {
    let t = TestApp::new().await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let r = t
        .post_results(
            &token,
            "p-eu-1",
            "eu-west-1",
            "{\"results\": [\n  {\"id\": }\n]}",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let error = r.json()["error"].as_str().unwrap().to_owned();
    assert!(error.contains("line 2 column"), "{error}");
    assert_eq!(t.stored_results().await, 0);
}

#[tokio::test]
async fn an_oversized_batch_is_413() {
    let t = TestApp::with(|c| c.max_batch_bytes = 2048).await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let results: Vec<_> = (0..5)
        .map(|_| result("checkout", "p-eu-1", "eu-west-1", "success", t0()))
        .collect();
    let r = t
        .post_results(&token, "p-eu-1", "eu-west-1", batch(&results))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("max_batch_bytes")
    );
    // Declared up front: refused before the body is read.
    let body = batch(&results);
    let req = crate::common::probe_headers(
        Request::post("/api/v1/results"),
        &token,
        "p-eu-1",
        "eu-west-1",
    )
    .header("content-length", body.len())
    .body(Body::from(body))
    .unwrap();
    assert_eq!(t.send(req).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(t.stored_results().await, 0);
}

#[tokio::test]
async fn retries_must_name_their_first_attempt() {
    let t = TestApp::new().await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let first = result("checkout", "p-eu-1", "eu-west-1", "failure", t0());
    let mut retry = result("checkout", "p-eu-1", "eu-west-1", "success", t0());
    retry["attempt"] = 2.into();
    retry["retry_of"] = first["id"].clone();
    let mut orphan = result("checkout", "p-eu-1", "eu-west-1", "success", t0());
    orphan["attempt"] = 2.into();
    let mut zeroth = result("checkout", "p-eu-1", "eu-west-1", "success", t0());
    zeroth["attempt"] = 0.into();
    let r = t
        .post_results(
            &token,
            "p-eu-1",
            "eu-west-1",
            batch(&[first.clone(), retry.clone(), orphan.clone(), zeroth.clone()]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let ack = r.json();
    assert_eq!(
        ack["accepted"],
        serde_json::json!([first["id"], retry["id"]])
    );
    let rejected: Vec<_> = ack["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(rejected, [orphan["id"].clone(), zeroth["id"].clone()]);
    assert!(
        ack["rejected"][0]["error"]
            .as_str()
            .unwrap()
            .contains("`retry_of`"),
        "{ack}"
    );
}

#[tokio::test]
async fn unknown_scenarios_are_rejected_while_the_rest_is_stored() {
    let t = TestApp::new().await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let good = result("checkout", "p-eu-1", "eu-west-1", "success", t0());
    let unknown = result("chekout", "p-eu-1", "eu-west-1", "success", t0());
    let foreign = result("checkout", "p-eu-2", "eu-west-1", "success", t0());
    let broken = serde_json::json!({"id": uuid::Uuid::now_v7(), "scenario": "checkout"});
    let r = t
        .post_results(
            &token,
            "p-eu-1",
            "eu-west-1",
            batch(&[good.clone(), unknown.clone(), foreign, broken.clone()]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let ack = r.json();
    assert_eq!(ack["accepted"], serde_json::json!([good["id"]]));
    let rejected = ack["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 3);
    assert_eq!(rejected[0]["id"], unknown["id"]);
    assert_eq!(rejected[0]["error"], "unknown scenario `chekout`");
    let reasons: Vec<_> = rejected.iter().map(|r| r["reason"].clone()).collect();
    assert_eq!(reasons, ["unknown_scenario", "identity", "malformed"]);
    assert!(
        rejected[1]["error"]
            .as_str()
            .unwrap()
            .contains("probe `p-eu-2`")
    );
    assert_eq!(rejected[2]["id"], broken["id"]);
    assert!(
        rejected[2]["error"]
            .as_str()
            .unwrap()
            .contains("missing field")
    );
    assert_eq!(t.stored_results().await, 1);

    // A batch with nothing acceptable is 422 with the same body shape.
    let r = t
        .post_results(&token, "p-eu-1", "eu-west-1", batch(&[unknown]))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json()["rejected"][0]["error"],
        "unknown scenario `chekout`"
    );
    assert_eq!(t.stored_results().await, 1);

    let scrape = t.scrape(None).await.text();
    assert!(
        scrape.contains("sonde_ingest_results_total{outcome=\"accepted\"} 1"),
        "{scrape}"
    );
    // By reason: the unknown scenario twice, the foreign probe, the broken entry.
    for line in [
        "sonde_ingest_results_total{outcome=\"rejected\",reason=\"unknown_scenario\"} 2",
        "sonde_ingest_results_total{outcome=\"rejected\",reason=\"identity\"} 1",
        "sonde_ingest_results_total{outcome=\"rejected\",reason=\"malformed\"} 1",
    ] {
        assert!(scrape.contains(line), "{line} missing:\n{scrape}");
    }
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let t = TestApp::with(|c| {
        c.ingest_rate = 1;
        c.ingest_burst = 2;
    })
    .await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let two: Vec<_> = (0..2)
        .map(|_| result("checkout", "p-eu-1", "eu-west-1", "success", t0()))
        .collect();
    let r = t
        .post_results(&token, "p-eu-1", "eu-west-1", batch(&two))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let one = [result("checkout", "p-eu-1", "eu-west-1", "success", t0())];
    let r = t
        .post_results(&token, "p-eu-1", "eu-west-1", batch(&one))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("1 results per second")
    );
    assert_eq!(t.stored_results().await, 2);
    // Another probe has its own allowance.
    let other = t.probe_token("p-eu-2", "eu-west-1").await;
    let one = [result("checkout", "p-eu-2", "eu-west-1", "success", t0())];
    assert_eq!(
        t.post_results(&other, "p-eu-2", "eu-west-1", batch(&one))
            .await
            .status,
        StatusCode::OK
    );
}
