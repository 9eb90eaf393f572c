//! Assignment: one live probe per scenario and region; when the owner goes
//! silent another takes over, and it wins again when it returns. Time is
//! an injected clock, so no test waits.

use std::time::Duration;

use crate::common::TestApp;

fn names(plan: &serde_json::Value) -> Vec<String> {
    plan["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn scenarios_move_when_the_owner_goes_silent_and_move_back() {
    let t = TestApp::new().await;
    let p1 = t.probe_token("p1", "eu-west-1").await;
    let p2 = t.probe_token("p2", "eu-west-1").await;
    t.plan(&p1, "p1", "eu-west-1", &[]).await;
    t.plan(&p2, "p2", "eu-west-1", &[]).await;
    let owner = t
        .app
        .fleet
        .owner("checkout", &Default::default(), "eu-west-1")
        .unwrap();
    let (owner_token, other, other_token) = if owner == "p1" {
        (&p1, "p2", &p2)
    } else {
        (&p2, "p1", &p1)
    };
    let plan = |name: &'static str, token: &String| {
        let token = token.clone();
        let t = &t;
        async move { t.plan(&token, name, "eu-west-1", &[]).await.json() }
    };
    let owner_name: &'static str = if owner == "p1" { "p1" } else { "p2" };
    assert!(names(&plan(owner_name, owner_token).await).contains(&"checkout".to_owned()));
    let before = plan(other, other_token).await;
    assert!(!names(&before).contains(&"checkout".to_owned()));

    // Within probe_silence (90 s) nothing moves.
    t.clock.advance(Duration::from_secs(60));
    assert!(!names(&plan(other, other_token).await).contains(&"checkout".to_owned()));

    // The owner has been silent 100 s: the other probe takes over.
    t.clock.advance(Duration::from_secs(40));
    let during = plan(other, other_token).await;
    assert!(names(&during).contains(&"checkout".to_owned()), "{during}");
    assert!(during["revision"].as_u64() > before["revision"].as_u64());
    let probes = t.get("/api/v1/probes").await.json();
    let silent = probes["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == owner_name)
        .unwrap()
        .clone();
    assert_eq!(silent["up"], false);
    assert_eq!(silent["assigned"], serde_json::json!([]));

    // It returns and wins again; the other probe drops the scenario.
    assert!(names(&plan(owner_name, owner_token).await).contains(&"checkout".to_owned()));
    assert!(!names(&plan(other, other_token).await).contains(&"checkout".to_owned()));
}

#[tokio::test]
async fn a_region_without_a_live_probe_is_visible() {
    let t = TestApp::new().await;
    let p1 = t.probe_token("p1", "eu-west-1").await;
    t.plan(&p1, "p1", "eu-west-1", &[]).await;

    // us-east-1 is named by checkout but has no probe at all.
    let probes = t.get("/api/v1/probes").await.json();
    let us = probes["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "us-east-1")
        .unwrap()
        .clone();
    assert_eq!(us["live_probes"], 0);
    assert_eq!(us["unassigned"], serde_json::json!(["checkout"]));

    t.clock.advance(Duration::from_secs(91));
    assert!(t.app.fleet.refresh_liveness());
    let probes = t.get("/api/v1/probes").await.json();
    let eu = probes["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .unwrap()
        .clone();
    assert_eq!(eu["live_probes"], 0);
    assert_eq!(eu["unassigned"], serde_json::json!(["checkout", "health"]));

    let scrape = t.scrape(None).await.text();
    assert!(
        scrape.contains("sonde_probe_up{probe=\"p1\",region=\"eu-west-1\"} 0"),
        "{scrape}"
    );
    assert!(
        scrape.contains("sonde_region_live_probes{region=\"us-east-1\"} 0"),
        "{scrape}"
    );
    let scenarios = t.get("/api/v1/scenarios").await.json();
    let checkout = &scenarios["scenarios"][0];
    assert_eq!(checkout["name"], "checkout");
    for region in checkout["regions"].as_array().unwrap() {
        assert_eq!(region["state"], "unknown");
        assert_eq!(region["probe"], serde_json::Value::Null);
    }
}

#[tokio::test]
async fn scenarios_without_regions_run_in_every_region_that_had_a_probe() {
    let t = TestApp::new().await;
    let eu = t.probe_token("p-eu", "eu-west-1").await;
    let ap = t.probe_token("p-ap", "ap-southeast-1").await;
    t.plan(&eu, "p-eu", "eu-west-1", &[]).await;
    let plan = t.plan(&ap, "p-ap", "ap-southeast-1", &[]).await.json();
    // checkout names eu-west-1 and us-east-1 only.
    assert_eq!(names(&plan), ["health"]);
    let scenarios = t.get("/api/v1/scenarios").await.json();
    let health = scenarios["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "health")
        .unwrap()
        .clone();
    let regions: Vec<_> = health["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["region"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(regions, ["ap-southeast-1", "eu-west-1"]);
}
