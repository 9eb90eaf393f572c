//! Results from a probe whose clock runs ahead (`max_clock_skew`): they
//! are rejected with reason `clock_skew`, so they can neither end an open
//! alert nor make later real runs look older than them; the rest of the
//! batch is stored, and the probe gets an alert naming the skew until its
//! results are in time again.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::TimeZone;
use scheduler::alert::Scope;

use crate::alert_kit::{Fleet, firing, resolved, run_at, summary};
use crate::common::{TestApp, batch, result, t0};

const MINUTE: Duration = Duration::from_secs(60);

fn one_minute(c: &mut scheduler::Config) {
    c.max_clock_skew = MINUTE;
}

#[tokio::test]
async fn a_result_an_hour_ahead_is_rejected_and_the_rest_of_the_batch_stored() {
    let t = TestApp::with(one_minute).await;
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let good = result("checkout", "p-eu-1", "eu-west-1", "success", t0());
    // Within the limit: a probe's clock may be a little ahead.
    let near = result(
        "checkout",
        "p-eu-1",
        "eu-west-1",
        "success",
        t0() + MINUTE / 2,
    );
    let hour = chrono::Duration::hours(1);
    let ahead = result("checkout", "p-eu-1", "eu-west-1", "failure", t0() + hour);
    let r = t
        .post_results(
            &token,
            "p-eu-1",
            "eu-west-1",
            batch(&[good.clone(), ahead.clone(), near.clone()]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ack = r.json();
    assert_eq!(ack["accepted"], serde_json::json!([good["id"], near["id"]]));
    assert_eq!(
        ack["rejected"],
        serde_json::json!([{
            "id": ahead["id"],
            "reason": "clock_skew",
            "error": "started_at 2026-11-24T11:00:00.004Z is 1h 0m ahead of the scheduler's clock \
                      (max_clock_skew 1m): check the probe's clock",
        }])
    );
    assert_eq!(t.stored_results().await, 2);

    // Every rejection names its reason, and the counter counts by it.
    let unknown = result("chekout", "p-eu-1", "eu-west-1", "success", t0());
    let r = t
        .post_results(&token, "p-eu-1", "eu-west-1", batch(&[unknown]))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["rejected"][0]["reason"], "unknown_scenario");
    let scrape = t.scrape(None).await.text();
    for line in [
        "sonde_ingest_results_total{outcome=\"accepted\"} 2",
        "sonde_ingest_results_total{outcome=\"rejected\",reason=\"clock_skew\"} 1",
        "sonde_ingest_results_total{outcome=\"rejected\",reason=\"unknown_scenario\"} 1",
        "sonde_ingest_results_total{outcome=\"rejected\",reason=\"identity\"} 0",
    ] {
        assert!(
            scrape.lines().any(|l| l == line),
            "{line} missing:\n{scrape}"
        );
    }
}

#[tokio::test]
async fn a_result_from_2099_neither_ends_an_open_alert_nor_hides_later_runs() {
    let f = Fleet::with("after = 2\nrecover_after = 1\nconfirm = false", one_minute).await;
    let step = Duration::from_secs(30);
    f.post("eu-west-1", &[f.run("eu-west-1", false, 0)]).await;
    f.t.clock.advance(step);
    f.post("eu-west-1", &[f.run("eu-west-1", false, 30)]).await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [firing("shop/region/eu-west-1")]
    );

    // A success "from 2099", with the probe's own valid token.
    let future = chrono::Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap();
    let (_, token) = f.token("p-eu");
    let r =
        f.t.post_results(
            &token,
            "p-eu",
            "eu-west-1",
            batch(&[run_at("eu-west-1", true, future)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let rejected = &r.json()["rejected"][0];
    assert_eq!(rejected["reason"], "clock_skew");
    let error = rejected["error"].as_str().unwrap();
    assert!(error.contains("is 72y ahead"), "{error}");
    f.tick().await;
    assert_eq!(f.state("eu-west-1").await, "down", "the alert stays open");
    let alerts = f.t.get("/api/v1/alerts").await.json();
    assert_eq!(alerts["open"][0]["id"], "shop/region/eu-west-1");

    // Across a restart, real runs still count: one success resolves it
    // and two failures open a fresh incident.
    let tokens = f.tokens.clone();
    let f = Fleet {
        t: f.t.restart().await,
        tokens,
    };
    f.touch_all().await;
    f.t.clock.advance(step);
    f.post("eu-west-1", &[f.run("eu-west-1", true, 60)]).await;
    assert_eq!(f.state("eu-west-1").await, "up");
    f.t.clock.advance(step);
    f.post("eu-west-1", &[f.run("eu-west-1", false, 90)]).await;
    f.t.clock.advance(step);
    f.post("eu-west-1", &[f.run("eu-west-1", false, 120)]).await;
    f.tick().await;
    let shop: Vec<_> = summary(&f.events().await)
        .into_iter()
        .filter(|(id, _)| id.starts_with("shop/"))
        .collect();
    assert_eq!(
        shop,
        [
            firing("shop/region/eu-west-1"),
            resolved("shop/region/eu-west-1"),
            firing("shop/region/eu-west-1"),
        ]
    );
    assert_eq!(f.state("eu-west-1").await, "down");
}

#[tokio::test]
async fn a_probe_whose_clock_runs_ahead_is_alerted_until_its_results_are_in_time() {
    let f = Fleet::with("after = 2\nconfirm = false", one_minute).await;
    let (_, token) = f.token("p-eu");
    let ahead = run_at("eu-west-1", true, t0() + chrono::Duration::hours(1));
    let r =
        f.t.post_results(&token, "p-eu", "eu-west-1", batch(&[ahead]))
            .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("probe/p-eu/clock")]);
    let a = &events[0].event.alert;
    assert_eq!(a.scope, Scope::Probe);
    assert_eq!(a.probe.as_deref(), Some("p-eu"));
    assert_eq!(a.regions, ["eu-west-1"]);
    assert_eq!(
        a.summary,
        "probe p-eu in eu-west-1 sends results 1h 0m ahead of the scheduler's clock \
         (max_clock_skew 1m); they are rejected: fix its clock (NTP)"
    );
    let alerts = f.t.get("/api/v1/alerts").await.json();
    assert_eq!(alerts["open"][0]["id"], "probe/p-eu/clock");
    assert_eq!(clock_ahead_s(&f, "p-eu").await, serde_json::json!(3600.004));
    assert_eq!(clock_ahead_s(&f, "p-us").await, serde_json::Value::Null);
    f.tick().await;
    assert_eq!(f.events().await.len(), 1, "paged once");

    // Right after a restart the clock is not known yet: the alert stays.
    let tokens = f.tokens.clone();
    let f = Fleet {
        t: f.t.restart().await,
        tokens,
    };
    f.touch_all().await;
    f.tick().await;
    assert_eq!(f.events().await.len(), 1, "not resolved by the restart");

    // Its clock fixed, the probe's next result is accepted: resolved.
    f.post("eu-west-1", &[f.run("eu-west-1", true, 0)]).await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [firing("probe/p-eu/clock"), resolved("probe/p-eu/clock")]
    );
    assert_eq!(clock_ahead_s(&f, "p-eu").await, serde_json::Value::Null);
}

/// `clock_ahead_s` of `probe` in `GET /api/v1/probes`.
async fn clock_ahead_s(f: &Fleet, probe: &str) -> serde_json::Value {
    let list = f.t.get("/api/v1/probes").await.json();
    list["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == probe)
        .map(|p| p["clock_ahead_s"].clone())
        .unwrap()
}

#[tokio::test]
async fn the_clock_alert_of_a_probe_that_stops_reporting_gives_way_to_its_region_alert() {
    let f = Fleet::with("after = 2\nconfirm = false", one_minute).await;
    let (_, token) = f.token("p-eu");
    let ahead = run_at("eu-west-1", true, t0() + chrono::Duration::hours(2));
    f.t.post_results(&token, "p-eu", "eu-west-1", batch(&[ahead]))
        .await;
    f.tick().await;
    assert_eq!(summary(&f.events().await), [firing("probe/p-eu/clock")]);

    // p-eu, the only probe of its region, goes quiet; the others call.
    f.t.clock.advance(Duration::from_secs(120));
    for probe in ["p-us", "p-ap"] {
        f.plan(probe).await;
    }
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [
            firing("probe/p-eu/clock"),
            resolved("probe/p-eu/clock"),
            firing("region/eu-west-1"),
        ]
    );
}
