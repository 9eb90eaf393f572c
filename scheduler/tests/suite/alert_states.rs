//! The per-region state machine through the real ingest path: flapping
//! never fires, two failures fire one regional alert carrying the facts
//! on-call needs, `recover_after` good runs resolve it with its duration;
//! the API, the alert list and the metrics agree.

use scheduler::alert::{AlertStatus, Scope};

use crate::alert_kit::{Fleet, firing, resolved, summary};
use crate::common::t0;

#[tokio::test]
async fn a_flapping_region_never_fires() {
    let f = Fleet::new("after = 2\nrecover_after = 1").await;
    let runs: Vec<_> = (0..12)
        .map(|i| f.run("eu-west-1", i % 2 == 1, i * 30))
        .collect();
    for run in runs {
        f.post("eu-west-1", &[run]).await;
    }
    f.tick().await;
    assert!(f.events().await.is_empty());
    assert_eq!(f.state("eu-west-1").await, "up");
}

#[tokio::test]
async fn two_failures_fire_one_regional_alert_and_recovery_resolves_it() {
    let f = Fleet::new("after = 2\nrecover_after = 2\nconfirm = false").await;
    f.post(
        "eu-west-1",
        &[f.run("eu-west-1", true, 0), f.run("eu-west-1", false, 30)],
    )
    .await;
    assert!(f.events().await.is_empty(), "one failure is not down");
    f.post("eu-west-1", &[f.run("eu-west-1", false, 60)]).await;
    f.post("eu-west-1", &[f.run("eu-west-1", false, 90)]).await;
    // Late and older than the newest: ignored.
    f.post("eu-west-1", &[f.run("eu-west-1", true, 10)]).await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    let event = &events[0].event;
    assert!(!event.muted);
    let a = &event.alert;
    assert_eq!(a.scope, Scope::Region);
    assert_eq!(a.scenario.as_deref(), Some("shop"));
    assert_eq!(a.regions, ["eu-west-1"]);
    assert_eq!(a.severity.as_str(), "critical");
    assert_eq!(a.step.as_deref(), Some("home"));
    assert_eq!(a.expected.as_deref(), Some("200"));
    assert_eq!(a.actual.as_deref(), Some("500"));
    assert_eq!(
        a.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(
        a.runbook.as_deref(),
        Some("https://runbooks.example.com/shop")
    );
    assert_eq!(
        a.url.as_deref(),
        Some("http://127.0.0.1:9470/api/v1/scenarios/shop")
    );
    assert_eq!(a.labels["team"], "web");
    assert_eq!(a.started_at, t0());
    assert_eq!(
        a.summary,
        "shop is down in eu-west-1: step home expected 200, got 500"
    );

    // The API and the metrics say the same.
    assert_eq!(f.state("eu-west-1").await, "down");
    assert_eq!(f.state("us-east-1").await, "unknown", "no run there yet");
    let detail = f.t.get("/api/v1/scenarios/shop").await.json();
    assert_eq!(detail["alerts"][0]["id"], "shop/region/eu-west-1");
    let alerts = f.t.get("/api/v1/alerts").await.json();
    assert_eq!(alerts["open"][0]["id"], "shop/region/eu-west-1");
    assert_eq!(alerts["open"][0]["status"], "firing");
    assert_eq!(alerts["open"][0]["timeline"][0]["kind"], "fired");
    let scrape = f.t.scrape(None).await.text();
    for line in [
        "sonde_scenario_up{scenario=\"shop\",region=\"eu-west-1\"} 0.0",
        "sonde_scenario_state{scenario=\"shop\",region=\"eu-west-1\",state=\"down\"} 1.0",
        "sonde_scenario_state{scenario=\"shop\",region=\"eu-west-1\",state=\"up\"} 0.0",
        "sonde_scenario_state{scenario=\"shop\",region=\"us-east-1\",state=\"unknown\"} 1.0",
        "sonde_alerts_firing{scope=\"region\",severity=\"critical\"} 1.0",
        "sonde_alerts_firing{scope=\"global\",severity=\"critical\"} 0.0",
    ] {
        assert!(
            scrape.lines().any(|l| l == line),
            "{line} missing:\n{scrape}"
        );
    }
    assert!(
        !scrape.contains("sonde_scenario_up{scenario=\"shop\",region=\"us-east-1\"}"),
        "no sample while unknown"
    );

    // More failures change nothing; one good run is not enough (2 needed).
    f.post("eu-west-1", &[f.run("eu-west-1", false, 120)]).await;
    f.t.clock.advance(std::time::Duration::from_secs(75));
    f.post("eu-west-1", &[f.run("eu-west-1", true, 150)]).await;
    assert_eq!(f.events().await.len(), 1);
    f.post("eu-west-1", &[f.run("eu-west-1", true, 180)]).await;
    let events = f.events().await;
    assert_eq!(
        summary(&events),
        [
            firing("shop/region/eu-west-1"),
            resolved("shop/region/eu-west-1")
        ]
    );
    let done = &events[1].event.alert;
    assert_eq!(events[1].status, AlertStatus::Resolved);
    assert_eq!(done.ended_at, Some(t0() + chrono::Duration::seconds(75)));
    assert_eq!(done.duration_s, Some(75.0));
    assert_eq!(done.step.as_deref(), Some("home"), "the facts stay");
    assert_eq!(f.state("eu-west-1").await, "up");
    let alerts = f.t.get("/api/v1/alerts").await.json();
    assert_eq!(alerts["open"], serde_json::json!([]));
    let kinds: Vec<_> = alerts["recent"][0]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["fired", "resolved"]);
    f.tick().await;
    assert_eq!(f.events().await.len(), 2, "nothing more");
}

#[tokio::test]
async fn alert_links_use_the_public_url() {
    let f = Fleet::with("after = 1\nconfirm = false", |c| {
        c.public_url = Some("https://sonde.example.com".into());
    })
    .await;
    f.post("eu-west-1", &[f.run("eu-west-1", false, 0)]).await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    assert_eq!(
        events[0].event.alert.url.as_deref(),
        Some("https://sonde.example.com/api/v1/scenarios/shop")
    );
}

#[tokio::test]
async fn trace_url_links_the_failing_run_from_the_alert_and_the_page() {
    let f = Fleet::with("after = 2\nrecover_after = 2\nconfirm = false", |c| {
        c.trace_url = Some("https://jaeger.example.com/trace/{trace_id}".into());
    })
    .await;
    f.post("eu-west-1", &[f.run("eu-west-1", false, 0)]).await;
    f.post("eu-west-1", &[f.run("eu-west-1", false, 30)]).await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    let link = "https://jaeger.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4736";
    assert_eq!(events[0].event.alert.trace_url.as_deref(), Some(link));
    let page = f.t.get("/scenarios/shop").await.text();
    assert!(
        page.contains(&format!(
            "<a href=\"{link}\"><code>4bf92f3577b34da6a3ce929d0e0e4736</code></a>"
        )),
        "{page}"
    );
}

#[tokio::test]
async fn without_trace_url_the_trace_id_is_plain_text() {
    let f = Fleet::new("after = 2\nrecover_after = 2\nconfirm = false").await;
    f.post("eu-west-1", &[f.run("eu-west-1", false, 0)]).await;
    f.post("eu-west-1", &[f.run("eu-west-1", false, 30)]).await;
    f.tick().await;
    assert_eq!(f.events().await[0].event.alert.trace_url, None);
    let page = f.t.get("/scenarios/shop").await.text();
    assert!(
        page.contains("trace <code>4bf92f3577b34da6a3ce929d0e0e4736</code>"),
        "{page}"
    );
}
