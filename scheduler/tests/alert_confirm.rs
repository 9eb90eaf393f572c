//! Confirmation: a region turning down pages at once and asks a live
//! probe of another region to run the scenario now; its result lands in
//! the alert, its timeline and the later resolve.

#![allow(clippy::unwrap_used)]

mod alert_kit;
mod common;

use alert_kit::{Fleet, firing, resolved, summary};
use scheduler::alert::Confirmation;

#[tokio::test]
async fn a_regional_failure_is_confirmed_from_another_region() {
    let f = Fleet::new("after = 2\nconfirm = true").await;
    f.post("us-east-1", &[f.run("us-east-1", true, 0)]).await;
    f.post(
        "eu-west-1",
        &[f.run("eu-west-1", false, 0), f.run("eu-west-1", false, 30)],
    )
    .await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    assert_eq!(
        events[0].event.alert.confirmation, None,
        "paged without waiting"
    );

    // The up region's probe gets a confirmation run in its plan.
    let plan = f.plan("p-us").await;
    let request = &plan["run_now"][0];
    assert_eq!(request["scenario"], "shop");
    assert_eq!(request["reason"], "confirmation");
    assert_eq!(f.plan("p-ap").await["run_now"], serde_json::json!([]));
    let mut answer = f.run("us-east-1", true, 40);
    answer["run_request"] = request["id"].clone();
    f.post("us-east-1", &[answer]).await;
    assert_eq!(f.plan("p-us").await["run_now"], serde_json::json!([]));

    let alerts = f.t.get("/api/v1/alerts").await.json();
    let open = &alerts["open"][0];
    assert_eq!(
        open["confirmation"],
        serde_json::json!({"region": "us-east-1", "outcome": "success"})
    );
    let timeline: Vec<_> = open["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["detail"].clone()))
        .collect();
    assert_eq!(timeline[0].0, "fired");
    assert_eq!(timeline[1].0, "confirm_requested");
    assert_eq!(
        timeline[1].1,
        "asked probe p-us in us-east-1 to run the scenario now"
    );
    assert_eq!(timeline[2].0, "confirmed");
    assert_eq!(
        timeline[2].1,
        "up from us-east-1: the failure looks regional"
    );

    f.post("eu-west-1", &[f.run("eu-west-1", true, 60)]).await;
    let events = f.events().await;
    assert_eq!(
        summary(&events),
        [
            firing("shop/region/eu-west-1"),
            resolved("shop/region/eu-west-1")
        ]
    );
    assert_eq!(
        events[1].event.alert.confirmation,
        Some(Confirmation {
            region: "us-east-1".into(),
            outcome: "success".into()
        })
    );
}

#[tokio::test]
async fn without_another_live_region_the_timeline_says_so() {
    let f = Fleet::new("after = 2\nconfirm = true").await;
    f.t.clock.advance(std::time::Duration::from_secs(100));
    f.plan("p-eu").await;
    f.post(
        "eu-west-1",
        &[f.run("eu-west-1", false, 0), f.run("eu-west-1", false, 30)],
    )
    .await;
    let alerts = f.t.get("/api/v1/alerts").await.json();
    let open = alerts["open"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "shop/region/eu-west-1")
        .unwrap()
        .clone();
    assert_eq!(open["timeline"][1]["kind"], "confirm_unavailable", "{open}");
}
