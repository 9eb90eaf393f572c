//! Maintenance windows through the real engine and API: an outage inside a
//! window is recorded muted with the window's name and never paged, the
//! region shows `maintenance`, its runs stay out of the SLO; a region
//! outside the window pages; a window of scheduler.toml cannot be deleted
//! through the API; deleting a window while the outage goes on pages it;
//! a recurring window opens and closes at its cron times.

use axum::http::StatusCode;
use chrono::TimeZone;
use scheduler::Clock as _;
use scheduler::maintenance::{Source, Spec};
use serde_json::json;

use crate::alert_kit::{Fleet, firing, run_at, summary};

fn timeline_kinds(alert: &serde_json::Value) -> Vec<(String, String)> {
    alert["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn weekly_deploy() -> scheduler::maintenance::Window {
    Spec {
        name: "weekly-deploy".into(),
        start: None,
        cron: Some("0 22 * * TUE".into()),
        timezone: Some("Europe/Berlin".into()),
        duration: "30m".into(),
        scenarios: None,
        match_labels: [("team".to_owned(), "web".to_owned())].into(),
        regions: None,
        exclude_from_slo: Some(false),
    }
    .build("config/weekly-deploy".into(), Source::Config)
    .unwrap()
}

#[tokio::test]
async fn an_outage_in_a_window_is_muted_with_its_name_and_kept_out_of_the_slo() {
    let alert = "after = 1\nrecover_after = 1\nconfirm = false\nslo = { availability = 99.0, window = \"1d\" }";
    let f = Fleet::with(alert, |c| c.maintenance = vec![weekly_deploy()]).await;
    let ops = f.operator().await;
    let now = f.t.clock.now();
    let start = scenarios::wire::time::format(&now);
    let body = json!({"name": "db-upgrade", "start": start, "duration": "2h",
                      "scenarios": ["shop"], "regions": ["eu-west-1"]});
    let r = f
        .send_json("POST", "/api/v1/maintenance", None, Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = f
        .send_json(
            "POST",
            "/api/v1/maintenance",
            Some(&ops),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let window = r.json();
    assert_eq!(window["active"], true);
    assert_eq!(window["source"], "api");
    assert_eq!(window["created_by"], "ops");
    assert_eq!(window["exclude_from_slo"], true);
    let id = window["id"].as_str().unwrap().to_owned();
    let r = f
        .send_json("POST", "/api/v1/maintenance", Some(&ops), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "one name, one window");
    let bad = json!({"name": "x", "duration": "2h"});
    let r = f
        .send_json("POST", "/api/v1/maintenance", Some(&ops), Some(bad))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("exactly one of `start`"), "{}", r.text());

    let list = f.t.get("/api/v1/maintenance").await.json();
    let names: Vec<&str> = list["maintenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["weekly-deploy", "db-upgrade"]);

    // The outage: every run fails in eu-west-1, inside the window.
    for i in 0..5 {
        f.post("eu-west-1", &[f.run("eu-west-1", false, i * 30)])
            .await;
    }
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    assert!(events[0].event.muted, "recorded, not sent");
    assert_eq!(f.state("eu-west-1").await, "maintenance");
    let alerts = f.t.get("/api/v1/alerts").await.json();
    let open = &alerts["open"][0];
    assert_eq!(open["muted"], true);
    let muted = timeline_kinds(open)
        .into_iter()
        .find(|(k, _)| k == "muted")
        .unwrap_or_else(|| panic!("{open}"));
    assert!(
        muted.1.contains("maintenance window `db-upgrade`"),
        "{muted:?}"
    );
    let scrape = f.t.get("/metrics").await.text();
    assert!(
        scrape.contains(
            r#"sonde_scenario_state{scenario="shop",region="eu-west-1",state="maintenance"} 1"#
        ),
        "{scrape}"
    );
    let page = f.t.get("/").await.text();
    assert!(page.contains("data-state=\"maintenance\""));
    assert!(page.contains("data-window=\"db-upgrade\""));

    // Its failures do not burn the budget.
    scheduler::evaluate::measure(&f.t.app, true).await.unwrap();
    let detail = f.t.get("/api/v1/scenarios/shop").await.json();
    assert_eq!(detail["slo"]["budget_remaining"], 1.0, "{}", detail["slo"]);

    // A region outside the window pages as ever.
    f.post("us-east-1", &[f.run("us-east-1", false, 150)]).await;
    let events = f.events().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].alert_id, "shop/region/us-east-1");
    assert!(!events[1].event.muted);

    // The file's windows stay; the API's go, and the outage then pages.
    let r = f
        .send_json(
            "DELETE",
            "/api/v1/maintenance/config%2Fweekly-deploy",
            Some(&ops),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let r = f
        .send_json(
            "DELETE",
            &format!("/api/v1/maintenance/{id}"),
            Some(&ops),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    // Both regions are down outside any window now: one global page.
    let events = f.events().await;
    let last = events.last().unwrap();
    assert_eq!(last.alert_id, "shop/global");
    assert!(!last.event.muted, "the outage outlived its window: page");
    assert_eq!(last.event.alert.regions, ["us-east-1", "eu-west-1"]);
    assert_eq!(f.state("eu-west-1").await, "down");
}

/// Europe/Berlin: Tuesday 22:00 is 21:00 UTC in winter, 20:00 UTC from
/// 28 March 2027.
#[tokio::test]
async fn a_recurring_window_opens_and_closes_at_its_cron_times_across_dst() {
    let alert = "after = 1\nrecover_after = 1\nconfirm = false";
    let f = Fleet::with(alert, |c| c.maintenance = vec![weekly_deploy()]).await;
    let at = |d: u32, h: u32, m: u32| {
        chrono::Utc
            .with_ymd_and_hms(2027, 3, d, h, m, 0)
            .single()
            .unwrap()
    };
    let cases = [
        (at(23, 20, 59), "down"),
        (at(23, 21, 0), "maintenance"),
        (at(23, 21, 29), "maintenance"),
        (at(23, 21, 30), "down"),
        (at(30, 19, 59), "down"),
        (at(30, 20, 0), "maintenance"),
        (at(30, 20, 30), "down"),
        (at(30, 21, 0), "down"),
    ];
    for (now, want) in cases {
        f.t.clock.set(now);
        f.touch_all().await;
        f.post(
            "eu-west-1",
            &[run_at(
                "eu-west-1",
                false,
                now - chrono::Duration::seconds(1),
            )],
        )
        .await;
        f.tick().await;
        assert_eq!(f.state("eu-west-1").await, want, "at {now}");
    }
}
