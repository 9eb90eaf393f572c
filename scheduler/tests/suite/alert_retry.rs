//! `[alert] retry`: every attempt is stored and listed in the runs API,
//! but only an attempt's last result counts for alerting and the SLO.

use crate::alert_kit::{Fleet, firing, shop, summary};

const REGION: &str = "eu-west-1";

/// The kit's fleet with `shop` given a 10 s timeout, so that retries fit
/// in its 30 s interval, and the `[alert]` lines `alert`.
async fn fleet(alert: &str) -> Fleet {
    let f = Fleet::new("").await;
    let source = shop(alert).replace(
        "interval = \"30s\"",
        "interval = \"30s\"\ntimeout = \"10s\"",
    );
    f.t.write_scenario("shop.toml", &source);
    f.t.app.catalog.reload().await.unwrap();
    let shop = f.t.app.catalog.current().get("shop").cloned();
    assert!(
        shop.is_some_and(|s| s.scenario.alert.retry.is_some()),
        "shop must validate with its retry"
    );
    f
}

/// `run` as retry `attempt` of the run `first`.
fn retry_of(
    mut run: serde_json::Value,
    first: &serde_json::Value,
    attempt: u32,
) -> serde_json::Value {
    run["attempt"] = attempt.into();
    run["retry_of"] = first["id"].clone();
    run
}

#[tokio::test]
async fn a_failure_that_passes_on_retry_never_pages_and_both_attempts_are_listed() {
    let f = fleet("after = 1\nconfirm = false\nretry = { attempts = 1, delay = \"5s\" }").await;
    let first = f.run(REGION, false, 0);
    f.post(REGION, std::slice::from_ref(&first)).await;
    f.tick().await;
    assert!(f.events().await.is_empty(), "a retry will follow");
    f.post(REGION, &[retry_of(f.run(REGION, true, 6), &first, 2)])
        .await;
    f.tick().await;
    assert!(f.events().await.is_empty(), "the retry passed");
    assert_eq!(f.state(REGION).await, "up");

    let runs =
        f.t.get(&format!("/api/v1/scenarios/shop/runs?region={REGION}"))
            .await
            .json();
    let listed: Vec<_> = runs["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            (
                r["outcome"].clone(),
                r["attempt"].clone(),
                r["retry_of"].clone(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("success".into(), 2.into(), first["id"].clone()),
            ("failure".into(), 1.into(), serde_json::Value::Null),
        ],
        "newest first, every attempt"
    );
}

#[tokio::test]
async fn a_failed_last_attempt_pages_once() {
    let f = fleet("after = 1\nconfirm = false\nretry = { attempts = 1, delay = \"5s\" }").await;
    let first = f.run(REGION, false, 0);
    f.post(REGION, std::slice::from_ref(&first)).await;
    f.post(REGION, &[retry_of(f.run(REGION, false, 6), &first, 2)])
        .await;
    f.tick().await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [firing("shop/region/eu-west-1")]
    );
    assert_eq!(f.state(REGION).await, "down");
}

#[tokio::test]
async fn the_slo_counts_only_last_attempts() {
    let f = fleet(
        "after = 100\nretry = { attempts = 2, delay = \"5s\" }\nslo = { availability = 99.0, window = \"1d\" }",
    )
    .await;
    let at = |secs: i64| -1200 + secs;
    // Recovered on its third attempt: one good run.
    let recovered = f.run(REGION, false, at(0));
    let recovered_2 = retry_of(f.run(REGION, false, at(6)), &recovered, 2);
    let recovered_3 = retry_of(f.run(REGION, true, at(12)), &recovered, 3);
    // Failed all three: one failed run.
    let down = f.run(REGION, false, at(600));
    let down_2 = retry_of(f.run(REGION, false, at(606)), &down, 2);
    let down_3 = retry_of(f.run(REGION, false, at(612)), &down, 3);
    f.record(vec![
        recovered,
        recovered_2,
        recovered_3,
        down,
        down_2,
        down_3,
    ])
    .await;
    scheduler::evaluate::measure(&f.t.app, true).await.unwrap();

    let detail = f.t.get("/api/v1/scenarios/shop").await.json();
    // One failed run of two: 50% failed against a 1% budget, a 50x burn,
    // spent over the 20 minutes of history so far.
    let slo = &detail["slo"];
    let burn = slo["burn_rates"]["1d"].as_f64().expect("burn");
    assert!((burn - 0.5 / 0.01).abs() < 1e-9, "{slo}");
    let history = slo["history_s"].as_f64().expect("history");
    let budget = slo["budget_remaining"].as_f64().expect("budget");
    assert!(
        (budget - (1.0 - burn * history / 86_400.0)).abs() < 1e-9,
        "{slo}"
    );
}
