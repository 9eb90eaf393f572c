//! `GET /api/v1/reports/alerts`: after a page, a flap and a silenced
//! failure, the report counts what on-call lived through.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::alert_kit::Fleet;

#[tokio::test]
async fn the_report_counts_pages_flaps_muted_alerts_and_time_to_resolve() {
    let f = Fleet::new("after = 1\nrecover_after = 1\nconfirm = false").await;
    let step = |secs: u64| {
        f.t.clock.advance(Duration::from_secs(secs));
    };
    // Down for a minute, back, down again five minutes later for two.
    f.post("eu-west-1", &[f.run("eu-west-1", false, 0)]).await;
    step(60);
    f.post("eu-west-1", &[f.run("eu-west-1", true, 60)]).await;
    step(300);
    f.post("eu-west-1", &[f.run("eu-west-1", false, 360)]).await;
    step(120);
    f.post("eu-west-1", &[f.run("eu-west-1", true, 480)]).await;
    // A failure under a silence fires muted.
    let ops = f.operator().await;
    let silence =
        json!({"scenario": "shop", "region": "us-east-1", "duration": "1h", "comment": "deploy"});
    let r = f
        .send_json("POST", "/api/v1/silences", Some(&ops), Some(silence))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    f.post("us-east-1", &[f.run("us-east-1", false, 490)]).await;
    step(10);
    f.touch_all().await;
    f.tick().await;

    let r = f.t.get("/api/v1/reports/alerts?since=1d").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let report = r.json();
    let shop = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scenario"] == "shop")
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    assert_eq!(shop["alerts"], 3, "{shop}");
    assert_eq!(shop["pages"], 2, "{shop}");
    assert_eq!(shop["muted"], 1, "{shop}");
    assert_eq!(shop["flaps"], 1, "{shop}");
    assert_eq!(shop["mean_time_to_resolve_s"], 90.0, "{shop}");
    // 60 s, then 120 s, then the muted one's 10 s so far.
    assert_eq!(shop["firing_s"], 190.0, "{shop}");
    assert_eq!(shop["suppressed"], 0);
    assert_eq!(report["flap_gap_s"], 1800.0);

    let r = f.t.get("/api/v1/reports/alerts?since=forever").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("invalid `since`"), "{}", r.text());
}
