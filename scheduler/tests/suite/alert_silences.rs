//! Silences: created and expired through the API with an operator token;
//! a matching alert is recorded with muted events and the region shows
//! `muted`; when the silence ends early the alert is sent after all.

use axum::http::StatusCode;
use serde_json::json;

use crate::alert_kit::{Fleet, firing, summary};

#[tokio::test]
async fn a_silenced_alert_is_recorded_muted_and_sent_when_the_silence_ends() {
    let f = Fleet::new("after = 2\nconfirm = false").await;
    let ops = f.operator().await;
    let (_, probe_token) = f.token("p-eu");
    let body =
        json!({"scenario": "shop", "region": "eu-west-1", "duration": "2h", "comment": "deploy"});

    let r = f
        .send_json("POST", "/api/v1/silences", None, Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = f
        .send_json(
            "POST",
            "/api/v1/silences",
            Some(&probe_token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = f
        .send_json(
            "POST",
            "/api/v1/silences",
            Some(&ops),
            Some(json!({"duration": "2h", "comment": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = f
        .send_json("POST", "/api/v1/silences", Some(&ops), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let silence = r.json();
    assert_eq!(silence["active"], true);
    assert_eq!(silence["created_by"], "ops");
    assert_eq!(silence["ends_at"], "2026-11-24T12:00:00.000Z");
    let id = silence["id"].as_str().unwrap().to_owned();

    f.post(
        "eu-west-1",
        &[f.run("eu-west-1", false, 0), f.run("eu-west-1", false, 30)],
    )
    .await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    assert!(events[0].muted && events[0].event.muted);
    assert_eq!(f.state("eu-west-1").await, "muted");
    let scrape = f.t.scrape(None).await.text();
    assert!(scrape.contains(
        "sonde_scenario_state{scenario=\"shop\",region=\"eu-west-1\",state=\"muted\"} 1.0"
    ));
    assert!(scrape.contains("sonde_scenario_up{scenario=\"shop\",region=\"eu-west-1\"} 0.0"));
    let alerts = f.t.get("/api/v1/alerts").await.json();
    assert_eq!(alerts["open"][0]["muted"], true);

    let list = f.t.get("/api/v1/silences").await.json();
    assert_eq!(list["silences"][0]["id"], id.as_str());

    let path = format!("/api/v1/silences/{id}");
    assert_eq!(
        f.send_json("DELETE", &path, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = f.send_json("DELETE", &path, Some(&ops), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(
        f.send_json("DELETE", &path, Some(&ops), None).await.status,
        StatusCode::NOT_FOUND
    );
    let list = f.t.get("/api/v1/silences").await.json();
    assert_eq!(
        list["silences"][0]["active"], false,
        "recently expired, still listed"
    );

    // The silence ended while the alert fires: now it is sent.
    let events = f.events().await;
    assert_eq!(
        summary(&events),
        [
            firing("shop/region/eu-west-1"),
            firing("shop/region/eu-west-1")
        ]
    );
    assert!(!events[1].muted);
    assert_eq!(f.state("eu-west-1").await, "down");
    f.tick().await;
    assert_eq!(f.events().await.len(), 2);
}

#[tokio::test]
async fn a_label_silence_mutes_only_matching_scenarios() {
    let f = Fleet::new("after = 2\nconfirm = false").await;
    let ops = f.operator().await;
    let body = json!({"labels": {"team": "payments"}, "ends_at": "2026-11-24T11:00:00Z", "comment": "not ours"});
    let r = f
        .send_json("POST", "/api/v1/silences", Some(&ops), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    f.post(
        "eu-west-1",
        &[f.run("eu-west-1", false, 0), f.run("eu-west-1", false, 30)],
    )
    .await;
    let events = f.events().await;
    assert_eq!(events.len(), 1);
    assert!(!events[0].muted, "team=web is not silenced");
}
