//! Confirmation: a region turning down asks a live probe of every other
//! region to run the scenario now, and the regional alert is sent when
//! their answers are in, carrying "up from there". An answer that fails
//! too counts in its region, which can make the alert global; then the
//! regional one is never sent. No answer in time: sent without one.

use scheduler::alert::Confirmation;

use crate::alert_kit::{Fleet, firing, resolved, summary};

/// The confirmation run in `probe`'s plan, answered with `ok` at t0 + `secs`.
pub(crate) async fn answer(f: &Fleet, probe: &str, region: &str, ok: bool, secs: i64) {
    let plan = f.plan(probe).await;
    let request = &plan["run_now"][0];
    assert_eq!(request["scenario"], "shop", "{plan}");
    assert_eq!(request["reason"], "confirmation", "{plan}");
    let mut run = f.run(region, ok, secs);
    run["run_request"] = request["id"].clone();
    f.post(region, &[run]).await;
}

async fn timeline(f: &Fleet, id: &str) -> Vec<(String, serde_json::Value)> {
    let alerts = f.t.get("/api/v1/alerts").await.json();
    let all = alerts["open"]
        .as_array()
        .unwrap()
        .iter()
        .chain(alerts["recent"].as_array().into_iter().flatten());
    let alert = all.clone().find(|a| a["id"] == id).unwrap().clone();
    alert["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["detail"].clone()))
        .collect()
}

#[tokio::test]
async fn a_regional_failure_is_sent_once_the_other_regions_confirm_it() {
    let f = Fleet::new("after = 2\nconfirm = true").await;
    f.post("us-east-1", &[f.run("us-east-1", true, 0)]).await;
    f.post(
        "eu-west-1",
        &[f.run("eu-west-1", false, 0), f.run("eu-west-1", false, 30)],
    )
    .await;
    assert_eq!(summary(&f.events().await), [], "held for the confirmations");

    answer(&f, "p-us", "us-east-1", true, 40).await;
    assert_eq!(summary(&f.events().await), [], "one region still to answer");
    assert_eq!(f.plan("p-us").await["run_now"], serde_json::json!([]));
    answer(&f, "p-ap", "ap-southeast-1", true, 41).await;

    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    let up_from_us = Some(Confirmation {
        region: "us-east-1".into(),
        outcome: scenarios::wire::Outcome::Success,
    });
    assert_eq!(events[0].event.alert.confirmation, up_from_us);

    let kinds: Vec<_> = timeline(&f, "shop/region/eu-west-1").await;
    let names: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "held",
            "confirm_requested",
            "confirm_requested",
            "confirmed",
            "confirmed",
            "fired"
        ]
    );
    assert_eq!(
        kinds[1].1,
        "asked probe p-us in us-east-1 to run the scenario now"
    );
    assert_eq!(kinds[3].1, "up from us-east-1: the failure looks regional");

    f.post("eu-west-1", &[f.run("eu-west-1", true, 60)]).await;
    let events = f.events().await;
    assert_eq!(
        summary(&events),
        [
            firing("shop/region/eu-west-1"),
            resolved("shop/region/eu-west-1")
        ]
    );
    assert_eq!(events[1].event.alert.confirmation, up_from_us);
}

#[tokio::test]
async fn a_confirmation_that_fails_too_makes_it_global_and_the_regional_alert_is_never_sent() {
    let f = Fleet::new("after = 2\nglobal_regions = 2\nconfirm = true").await;
    f.post("us-east-1", &[f.run("us-east-1", true, 0)]).await;
    f.post("ap-southeast-1", &[f.run("ap-southeast-1", false, 10)])
        .await;
    f.post(
        "eu-west-1",
        &[f.run("eu-west-1", false, 0), f.run("eu-west-1", false, 30)],
    )
    .await;
    answer(&f, "p-us", "us-east-1", true, 40).await;
    assert_eq!(summary(&f.events().await), []);
    // ap-southeast-1's answer is its second failure: it is down too.
    answer(&f, "p-ap", "ap-southeast-1", false, 41).await;
    assert_eq!(summary(&f.events().await), [firing("shop/global")]);

    // Nothing more while both stay down, then one resolve for the page.
    f.tick().await;
    f.post("eu-west-1", &[f.run("eu-west-1", true, 60)]).await;
    f.post("ap-southeast-1", &[f.run("ap-southeast-1", true, 70)])
        .await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [firing("shop/global"), resolved("shop/global")]
    );
    let kinds = timeline(&f, "shop/region/eu-west-1").await;
    assert!(
        kinds.iter().any(|(k, _)| k == "grouped") && !kinds.iter().any(|(k, _)| k == "fired"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn without_answers_in_time_it_is_sent_after_the_confirmation_wait() {
    // `shop` runs every 30s with a 30s timeout: answers are awaited 40s.
    let f = Fleet::new("after = 2\nconfirm = true").await;
    f.post(
        "eu-west-1",
        &[f.run("eu-west-1", false, 0), f.run("eu-west-1", false, 30)],
    )
    .await;
    f.t.clock.advance(std::time::Duration::from_secs(39));
    f.touch_all().await;
    f.tick().await;
    assert_eq!(summary(&f.events().await), []);
    f.t.clock.advance(std::time::Duration::from_secs(2));
    f.touch_all().await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    assert_eq!(events[0].event.alert.confirmation, None);
}

#[tokio::test]
async fn another_region_failing_holds_it_for_at_most_one_period() {
    let f = Fleet::new("after = 3\nglobal_regions = 2\nconfirm = false").await;
    f.post("ap-southeast-1", &[f.run("ap-southeast-1", false, 5)])
        .await;
    f.post(
        "eu-west-1",
        &[
            f.run("eu-west-1", false, 0),
            f.run("eu-west-1", false, 30),
            f.run("eu-west-1", false, 60),
        ],
    )
    .await;
    f.tick().await;
    assert_eq!(summary(&f.events().await), [], "ap-southeast-1 may follow");
    let kinds = timeline(&f, "shop/region/eu-west-1").await;
    assert_eq!(
        kinds[0],
        (
            "held".to_owned(),
            serde_json::json!(
                "ap-southeast-1 also failing: waiting for a global alert before sending"
            )
        )
    );
    // One period (30s) later it has not followed: the regional page goes.
    f.t.clock.advance(std::time::Duration::from_secs(30));
    f.touch_all().await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [firing("shop/region/eu-west-1")]
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
    let kinds = timeline(&f, "shop/region/eu-west-1").await;
    let names: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["fired", "confirm_unavailable"], "{kinds:?}");
    assert_eq!(
        summary(&f.events().await),
        [firing("shop/region/eu-west-1")]
    );
}
