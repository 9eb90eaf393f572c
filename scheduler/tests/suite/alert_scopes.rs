//! Scopes: two of three regions down make one global alert (the regional
//! ones are recorded, grouped, not sent); a region whose probes all went
//! silent turns `unknown` and raises one region alert, never a scenario
//! alert; a single silent probe among live ones raises a probe alert.

use std::time::Duration;

use scheduler::alert::Scope;

use crate::alert_kit::{Fleet, firing, resolved, summary};

#[tokio::test]
async fn two_regions_down_make_one_global_alert_and_no_regional_pages() {
    let f = Fleet::new("after = 2\nrecover_after = 1\nglobal_regions = 2\nconfirm = false").await;
    f.record(vec![
        f.run("us-east-1", true, 0),
        f.run("ap-southeast-1", true, 0),
        f.run("eu-west-1", false, 0),
        f.run("us-east-1", false, 1),
    ])
    .await;
    f.record(vec![
        f.run("eu-west-1", false, 30),
        f.run("us-east-1", false, 31),
    ])
    .await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/global")]);
    let global = &events[0].event.alert;
    assert_eq!(global.scope, Scope::Global);
    assert_eq!(global.regions, ["us-east-1", "eu-west-1"]);
    assert_eq!(global.step.as_deref(), Some("home"));
    assert_eq!(
        global.summary,
        "shop is down in 2 regions (us-east-1, eu-west-1): step home expected 200, got 500"
    );
    // The regional alerts are recorded, grouped under it.
    let alerts = f.t.get("/api/v1/alerts").await.json();
    let open = alerts["open"].as_array().unwrap();
    assert_eq!(open.len(), 3, "{alerts}");
    for a in open.iter().filter(|a| a["scope"] == "region") {
        assert_eq!(a["grouped"], true);
        assert_eq!(a["timeline"][0]["kind"], "grouped");
    }
    assert_eq!(f.state("eu-west-1").await, "down");
    assert_eq!(f.state("ap-southeast-1").await, "up");

    // A third region joins: the global alert covers it and receivers hear
    // that it spread, under the same alert id.
    f.record(vec![
        f.run("ap-southeast-1", false, 40),
        f.run("ap-southeast-1", false, 50),
    ])
    .await;
    let events = f.events().await;
    assert_eq!(
        summary(&events),
        [firing("shop/global"), firing("shop/global")]
    );
    assert_eq!(
        events[1].event.alert.regions,
        ["us-east-1", "eu-west-1", "ap-southeast-1"]
    );

    // Two recover: the incident goes on in the last region, under the
    // same global alert; nothing is sent for shrinking, nothing regional.
    f.record(vec![
        f.run("us-east-1", true, 60),
        f.run("ap-southeast-1", true, 61),
    ])
    .await;
    f.tick().await;
    assert_eq!(f.events().await.len(), 2);
    let alerts = f.t.get("/api/v1/alerts").await.json();
    let global = alerts["open"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "shop/global")
        .unwrap();
    assert_eq!(global["regions"], serde_json::json!(["eu-west-1"]));
    assert_eq!(
        global["summary"],
        "shop is down in 1 region (eu-west-1): step home expected 200, got 500"
    );

    // The last one recovers: one resolve, for the page that was sent.
    f.record(vec![f.run("eu-west-1", true, 62)]).await;
    assert_eq!(
        summary(&f.events().await),
        [
            firing("shop/global"),
            firing("shop/global"),
            resolved("shop/global")
        ]
    );
    // The grouped alerts that were never sent resolve silently.
    let alerts = f.t.get("/api/v1/alerts").await.json();
    let recent: Vec<_> = alerts["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    for id in [
        "shop/region/us-east-1",
        "shop/region/eu-west-1",
        "shop/global",
    ] {
        assert!(recent.contains(&id.to_owned()), "{id}: {alerts}");
    }
    assert_eq!(alerts["open"], serde_json::json!([]));
}

#[tokio::test]
async fn a_region_without_live_probes_is_unknown_with_one_region_alert() {
    let f = Fleet::new("after = 2\nconfirm = false").await;
    for region in crate::alert_kit::REGIONS {
        f.post(region, &[f.run(region, true, 0)]).await;
    }
    // ap-southeast-1's only probe goes silent for longer than probe_silence
    // (90 s); the others keep calling.
    f.t.clock.advance(Duration::from_secs(100));
    f.plan("p-us").await;
    f.plan("p-eu").await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("region/ap-southeast-1")]);
    let a = &events[0].event.alert;
    assert_eq!(a.scope, Scope::Probe);
    assert_eq!(a.scenario, None);
    assert_eq!(a.probe, None);
    assert_eq!(a.regions, ["ap-southeast-1"]);
    assert_eq!(a.severity.as_str(), "warning");
    assert_eq!(f.state("ap-southeast-1").await, "unknown");
    assert_eq!(f.state("us-east-1").await, "up");
    let scrape = f.t.scrape(None).await.text();
    assert!(!scrape.contains("sonde_scenario_up{scenario=\"shop\",region=\"ap-southeast-1\"}"));

    // Still silent a while later: nothing new, and no scenario alert.
    f.t.clock.advance(Duration::from_secs(60));
    f.plan("p-us").await;
    f.plan("p-eu").await;
    f.tick().await;
    assert_eq!(f.events().await.len(), 1);

    // It comes back: resolved.
    f.plan("p-ap").await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [
            firing("region/ap-southeast-1"),
            resolved("region/ap-southeast-1")
        ]
    );
    assert_eq!(f.state("ap-southeast-1").await, "up");
}

#[tokio::test]
async fn a_silent_probe_among_live_ones_raises_a_probe_alert() {
    let f = Fleet::new("").await;
    let spare = f.t.probe_token("p-eu-2", "eu-west-1").await;
    f.t.plan(&spare, "p-eu-2", "eu-west-1", &[]).await;
    f.t.clock.advance(Duration::from_secs(100));
    f.touch_all().await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("probe/p-eu-2")]);
    let a = &events[0].event.alert;
    assert_eq!(
        (a.scope, a.probe.as_deref()),
        (Scope::Probe, Some("p-eu-2"))
    );
    assert_eq!(a.regions, ["eu-west-1"]);
    assert_eq!(a.severity.as_str(), "warning");
    f.t.plan(&spare, "p-eu-2", "eu-west-1", &[]).await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [firing("probe/p-eu-2"), resolved("probe/p-eu-2")]
    );
}

#[tokio::test]
async fn right_after_a_restart_silent_looking_probes_do_not_page() {
    let f = Fleet::new("").await;
    let t = f.t;
    // The scheduler was down for ten minutes: every probe looks silent.
    t.clock.advance(Duration::from_secs(600));
    let t = t.restart().await;
    scheduler::evaluate::tick(&t.app).await.unwrap();
    assert!(crate::alert_kit::events(&t).await.is_empty());
}

#[tokio::test]
async fn a_firing_region_whose_probes_go_silent_turns_unknown_not_down() {
    let f = Fleet::new("after = 1\nconfirm = false").await;
    f.post("ap-southeast-1", &[f.run("ap-southeast-1", false, 0)])
        .await;
    assert_eq!(
        summary(&f.events().await),
        [firing("shop/region/ap-southeast-1")]
    );
    // Its only probe goes silent: the region alert comes first, then the
    // scenario alert's resolve, which says why.
    f.t.clock.advance(Duration::from_secs(100));
    f.plan("p-us").await;
    f.plan("p-eu").await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [
            firing("shop/region/ap-southeast-1"),
            firing("region/ap-southeast-1"),
            resolved("shop/region/ap-southeast-1")
        ]
    );
    assert_eq!(f.state("ap-southeast-1").await, "unknown");
    let alerts = f.t.get("/api/v1/alerts").await.json();
    let ended = alerts["recent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "shop/region/ap-southeast-1")
        .unwrap();
    let last = ended["timeline"].as_array().unwrap().last().unwrap();
    assert_eq!(last["kind"], "resolved");
    assert_eq!(
        last["detail"],
        "no live probe in ap-southeast-1: the state there is unknown (see the region alert)"
    );
}

#[tokio::test]
async fn a_region_that_no_probe_ever_reported_from_raises_one_region_alert() {
    let f = Fleet::new("after = 2\nconfirm = false").await;
    let typo = crate::alert_kit::shop("").replace(
        r#"regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]"#,
        r#"regions = ["us-east-1", "eu-west1"]"#,
    );
    f.t.write_scenario(
        "typo.toml",
        &typo.replace("name = \"shop\"", "name = \"typo\""),
    );
    f.t.app.catalog.reload().await.unwrap();
    assert!(f.t.app.catalog.current().get("typo").is_some());
    // Right after a start probes may not have called yet: nothing.
    f.tick().await;
    assert_eq!(summary(&f.events().await), []);

    f.t.clock.advance(Duration::from_secs(100));
    f.touch_all().await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("region/eu-west1")]);
    let a = &events[0].event.alert;
    assert_eq!(a.scope, Scope::Probe);
    assert_eq!(a.scenario, None);
    assert_eq!(
        a.summary,
        "no probe has ever reported in eu-west1, which typo names: it runs nowhere there \
         (a misspelt region, or its probes are not deployed yet)"
    );

    // Fixing the file resolves it.
    f.t.write_scenario(
        "typo.toml",
        &typo
            .replace("name = \"shop\"", "name = \"typo\"")
            .replace("eu-west1", "eu-west-1"),
    );
    f.t.app.catalog.reload().await.unwrap();
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [firing("region/eu-west1"), resolved("region/eu-west1")]
    );
}
