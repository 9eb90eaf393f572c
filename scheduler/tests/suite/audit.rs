//! `GET /api/v1/audit`: every write an operator makes is recorded with the
//! token's name, the time, the action and its target; only operators may
//! read it; `scheduler token` records as `command line`.

use axum::http::StatusCode;
use serde_json::json;

use crate::alert_kit::Fleet;

#[tokio::test]
async fn every_write_is_recorded_with_who_did_it() {
    let f = Fleet::new("after = 1\nconfirm = false").await;
    let ops = f.operator().await;
    let silence = json!({"scenario": "shop", "duration": "1h", "comment": "CDN change CHG-1"});
    let r = f
        .send_json("POST", "/api/v1/silences", Some(&ops), Some(silence))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let silence_id = r.json()["id"].as_str().unwrap().to_owned();
    let r = f
        .send_json(
            "DELETE",
            &format!("/api/v1/silences/{silence_id}"),
            Some(&ops),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let start = scenarios::wire::time::format(&(crate::common::t0() + chrono::Duration::hours(1)));
    let window = json!({"name": "db", "start": start, "duration": "1h"});
    let r = f
        .send_json("POST", "/api/v1/maintenance", Some(&ops), Some(window))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    let r = f.send_json("GET", "/api/v1/audit", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let (_, probe_token) = f.token("p-eu");
    let r = f
        .send_json("GET", "/api/v1/audit", Some(&probe_token), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = f.send_json("GET", "/api/v1/audit", Some(&ops), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let entries = r.json()["entries"].as_array().unwrap().clone();
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen.len(), 3, "{entries:?}");
    assert_eq!(seen[0].1, "maintenance.create", "newest first");
    assert_eq!(seen[1], ("ops", "silence.expire", silence_id.as_str()));
    assert_eq!(seen[2], ("ops", "silence.create", silence_id.as_str()));
    assert_eq!(entries[2]["detail"], "CDN change CHG-1");
    assert!(entries[0]["at"].as_str().is_some());
}
