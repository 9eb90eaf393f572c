//! A maintenance window over a real outage of the demo shop: the built
//! scheduler and probes on loopback, the shop answering 503 in one region,
//! a webhook receiver and (when installed) a real Alertmanager. Nothing is
//! paged; the alert is recorded muted with the window's name; the region
//! shows `maintenance`; the SLO budget is untouched.

use std::time::Duration;

use serde_json::Value;
use sonde_tests::fleet::{FleetOptions, eventually};

use crate::alerting::{LONG, REGIONS, am_alerts, fault, pages, region_shows, world_extra};
use crate::one_fleet::one_fleet_at_a_time;

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_inside_a_maintenance_window_pages_nobody_and_spares_the_budget() {
    let _one_fleet = one_fleet_at_a_time().await;
    let start = chrono::Utc::now() - chrono::Duration::minutes(1);
    let window = format!(
        "\n[[maintenance]]\nname = \"shop-db-upgrade\"\nstart = \"{}\"\nduration = \"1h\"\n\
         scenarios = [\"home\"]\nregions = [\"eu-west-1\"]\n",
        scenarios::wire::time::format(&start)
    );
    let alert = "after = 2\nglobal_regions = 2\nslo = { availability = 99.0, window = \"1d\" }\n";
    let world = world_extra(alert, &window, FleetOptions::one_probe_per_region(&REGIONS)).await;
    // The window is open from the start: eu-west-1 shows it while up.
    eventually("the fleet running", LONG, || async {
        let s = world.fleet.get_json("/api/v1/scenarios/home").await.ok()?;
        let states: Vec<String> = s["regions"]
            .as_array()?
            .iter()
            .map(|r| {
                format!(
                    "{}={}",
                    r["region"].as_str().unwrap_or(""),
                    r["state"].as_str().unwrap_or("")
                )
            })
            .collect();
        (states == ["us-east-1=up", "eu-west-1=maintenance", "ap-southeast-1=up"]).then_some(())
    })
    .await;

    fault(&world, "eu-west-1", false).await;
    let open = eventually("the outage recorded as a muted alert", LONG, || async {
        let alerts = world.fleet.get_json("/api/v1/alerts").await.ok()?;
        let open = alerts["open"].as_array()?.clone();
        let a = open
            .into_iter()
            .find(|a| a["id"] == "home/region/eu-west-1")?;
        (a["muted"] == true).then_some(a)
    })
    .await;
    let muted = open["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "muted")
        .cloned()
        .unwrap_or_else(|| panic!("{open}"));
    assert!(
        muted["detail"]
            .as_str()
            .is_some_and(|d| d.contains("maintenance window `shop-db-upgrade`")),
        "{muted}"
    );
    region_shows(&world, "eu-west-1", "maintenance").await;

    // A few more failing runs, then: not one page, anywhere.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let sent: Vec<(String, Value)> = pages(&world);
    assert!(sent.is_empty(), "paged during maintenance: {sent:?}");
    if let Some(alerts) = am_alerts(&world).await {
        assert!(
            alerts.iter().all(|a| a["labels"]["scenario"] != "home"),
            "in Alertmanager: {alerts:?}"
        );
    }
    let s = world
        .fleet
        .get_json("/api/v1/scenarios/home")
        .await
        .unwrap();
    assert_eq!(s["slo"]["budget_remaining"], 1.0, "{}", s["slo"]);
    let windows = world.fleet.get_json("/api/v1/maintenance").await.unwrap();
    assert_eq!(windows["maintenance"][0]["source"], "config", "{windows}");
    assert_eq!(windows["maintenance"][0]["active"], true, "{windows}");
}
