//! SLO and latency objectives computed from stored runs with explicit
//! timestamps: budget, burn rates, page and ticket alerts, the detail's
//! `slo` block and the metrics; a missed latency objective is `degraded`
//! with its own alert, distinct from down.

use scheduler::alert::Scope;

use crate::alert_kit::{Fleet, firing, summary};
use crate::common::t0;

/// The value of the sample `series` (name and labels exactly as written).
fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing:\n{scrape}"))
}

fn close(a: &serde_json::Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

#[tokio::test]
async fn burn_rates_page_and_ticket_from_stored_runs() {
    // 99% over 1d: 1% of runs may fail.
    let f = Fleet::new("after = 100\nslo = { availability = 99.0, window = \"1d\" }").await;
    // One run a minute for 100 minutes up to now; the last 10 failed. One
    // good run a day ago: the history covers the SLO window.
    let mut runs: Vec<_> = (0..100)
        .map(|m| {
            let at = t0() - chrono::Duration::minutes(m) - chrono::Duration::seconds(1);
            crate::alert_kit::run_at("eu-west-1", m >= 10, at)
        })
        .collect();
    runs.push(crate::alert_kit::run_at(
        "eu-west-1",
        true,
        t0() - chrono::Duration::days(1) - chrono::Duration::seconds(1),
    ));
    f.record(runs).await;
    scheduler::evaluate::measure(&f.t.app, true).await.unwrap();

    // By hand: 5m 5/5 → 100x; 30m 10/30 → 33.3x; 1h 10/60 → 16.7x;
    // 2h to 1d 10/100 → 10x (3d 10/101); budget over 1d: 1 - 0.1/0.01 = -9.
    let detail = f.t.get("/api/v1/scenarios/shop").await.json();
    let slo = &detail["slo"];
    assert_eq!(slo["availability"], 99.0);
    assert_eq!(slo["window"], "1d");
    assert_eq!(slo["history_s"], 86_400.0);
    assert!(close(&slo["budget_remaining"], -9.0), "{slo}");
    let burns = &slo["burn_rates"];
    assert!(close(&burns["5m"], 100.0), "{slo}");
    assert!(close(&burns["30m"], 10.0 / 30.0 / 0.01), "{slo}");
    assert!(close(&burns["1h"], 10.0 / 60.0 / 0.01), "{slo}");
    for w in ["2h", "6h", "1d"] {
        assert!(close(&burns[w], 10.0), "{w}: {slo}");
    }
    assert!(close(&burns["3d"], 10.0 / 101.0 / 0.01), "{slo}");
    assert_eq!(slo["deploy_ok"], false);

    // eu-west-1 is failing but not down (after = 100): the SLO alerts
    // wait for a regional page, at most 5 minutes; none comes.
    assert_eq!(summary(&f.events().await), []);
    f.t.clock.advance(std::time::Duration::from_secs(300));
    f.touch_all().await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(
        summary(&events),
        [firing("shop/slo/page"), firing("shop/slo/ticket")]
    );
    assert_eq!(events[0].event.alert.scope, Scope::Slo);
    assert_eq!(events[0].event.alert.severity.as_str(), "critical");
    assert_eq!(events[1].event.alert.severity.as_str(), "warning");

    let scrape = f.t.scrape(None).await.text();
    let budget = sample(
        &scrape,
        "sonde_slo_error_budget_remaining_ratio{scenario=\"shop\"}",
    );
    assert!((budget + 9.0).abs() < 1e-9);
    let burn = sample(
        &scrape,
        "sonde_slo_burn_rate{scenario=\"shop\",window=\"5m\"}",
    );
    assert!((burn - 100.0).abs() < 1e-9);
    let firing = sample(
        &scrape,
        "sonde_alerts_firing{scope=\"slo\",severity=\"critical\"}",
    );
    assert_eq!(firing, 1.0);

    // Half an hour later, with good runs since, the short windows cool
    // down: no page any more (5m burns 0), the ticket stays (1d and 2h).
    f.t.clock.advance(std::time::Duration::from_secs(1_500));
    let runs = (0..30)
        .map(|m| crate::alert_kit::run_at("eu-west-1", true, t0() + chrono::Duration::minutes(m)))
        .collect();
    f.record(runs).await;
    f.touch_all().await;
    scheduler::evaluate::measure(&f.t.app, true).await.unwrap();
    let ids: Vec<_> = f
        .events()
        .await
        .iter()
        .map(|e| (e.alert_id.clone(), e.status))
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[2], crate::alert_kit::resolved("shop/slo/page"));
}

#[tokio::test]
async fn slow_runs_make_the_region_degraded_with_a_latency_alert() {
    let f = Fleet::new("latency = \"p95 < 800ms over 10m\"\nconfirm = false").await;
    let mut runs = Vec::new();
    for i in 0..10 {
        let mut r = f.run("eu-west-1", true, i * 30);
        r["duration_ms"] = serde_json::json!(if i < 5 { 200.0 } else { 1_200.0 });
        runs.push(r);
        let mut fast = f.run("us-east-1", true, i * 30);
        fast["duration_ms"] = serde_json::json!(150.0);
        runs.push(fast);
    }
    f.t.clock.advance(std::time::Duration::from_secs(300));
    f.touch_all().await;
    f.record(runs).await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/latency")]);
    let a = &events[0].event.alert;
    assert_eq!(a.scope, Scope::Latency);
    assert_eq!(a.regions, ["eu-west-1"]);
    assert_eq!(
        a.summary,
        "shop is degraded: p95 over 10m above 800ms (eu-west-1 1200ms)"
    );
    assert_eq!(f.state("eu-west-1").await, "degraded");
    assert_eq!(f.state("us-east-1").await, "up");
    let scrape = f.t.scrape(None).await.text();
    assert!(scrape.contains("sonde_scenario_up{scenario=\"shop\",region=\"eu-west-1\"} 1.0"));

    // Ten minutes on, the slow runs are out of the window.
    f.t.clock.advance(std::time::Duration::from_secs(900));
    f.touch_all().await;
    scheduler::evaluate::measure(&f.t.app, true).await.unwrap();
    assert_eq!(f.events().await.len(), 2);
    assert_eq!(f.state("eu-west-1").await, "up");
}

#[tokio::test]
async fn three_minutes_of_history_neither_page_nor_overspend() {
    // A fresh fleet: 3 minutes of runs, every 10 s, one in six failed,
    // against 99.9% over 30d. Every window holds those 3 minutes and
    // burns 166.7x, far above the page (14.4x) and ticket (3x) factors.
    let f = Fleet::new("after = 100\nslo = { availability = 99.9, window = \"30d\" }").await;
    let runs = (0..18)
        .map(|i| {
            let at = t0() - chrono::Duration::seconds(10 * i + 1);
            crate::alert_kit::run_at("eu-west-1", i % 6 != 0, at)
        })
        .collect();
    f.record(runs).await;
    scheduler::evaluate::measure(&f.t.app, true).await.unwrap();

    let slo = f.t.get("/api/v1/scenarios/shop").await.json()["slo"].clone();
    assert!(close(&slo["burn_rates"]["1h"], 3.0 / 18.0 / 0.001), "{slo}");
    assert!(close(&slo["burn_rates"]["5m"], 3.0 / 18.0 / 0.001), "{slo}");
    // The oldest run started 171 s ago (less its 4 ms of scheduling).
    assert!(close(&slo["history_s"], 170.996), "{slo}");
    // Spent so far: 166.7x for 171 s of 30 days, about 1.1% of the budget.
    let left = 1.0 - 3.0 / 18.0 / 0.001 * 170.996 / (30.0 * 86_400.0);
    assert!(close(&slo["budget_remaining"], left), "{slo}");
    assert_eq!(slo["deploy_ok"], true);
    assert_eq!(f.events().await.len(), 0, "3 minutes cover no long window");
    let scrape = f.t.scrape(None).await.text();
    let budget = sample(
        &scrape,
        "sonde_slo_error_budget_remaining_ratio{scenario=\"shop\"}",
    );
    assert!((budget - left).abs() < 1e-9, "{budget}");
    // The status page says the same, as configured and over the history.
    let page = f.t.get("/scenarios/shop").await.text();
    assert!(page.contains("Objective 99.9% over 30d"), "{page}");
    assert!(
        page.contains("98.9% of the budget left over the 2m 51s of history so far"),
        "{page}"
    );
}

#[tokio::test]
async fn an_slo_burn_waits_for_the_regional_page_and_rides_on_it() {
    // 99.9% over 30d; the region is down after 3 failed runs.
    let f = Fleet::new(
        "after = 3\nrecover_after = 1\nconfirm = false\n\
         slo = { availability = 99.9, window = \"30d\" }",
    )
    .await;
    let at = |secs: i64| t0() - chrono::Duration::seconds(secs);
    // Two hours of good runs, one a minute, then two failures.
    let mut runs: Vec<_> = (0..120)
        .map(|m| crate::alert_kit::run_at("eu-west-1", true, at(180 + 60 * m + 1)))
        .collect();
    runs.push(crate::alert_kit::run_at("eu-west-1", false, at(121)));
    runs.push(crate::alert_kit::run_at("eu-west-1", false, at(61)));
    f.record(runs).await;
    scheduler::evaluate::measure(&f.t.app, true).await.unwrap();
    // 1h burns 2/59 ÷ 0.001 = 33.9x, 5m 2/4 → 500x: a page-worthy burn,
    // but the region is failing, not down yet: the SLO page waits.
    let open = f.t.app.alerts.open();
    let page = open.iter().find(|a| a.alert.id == "shop/slo/page");
    assert!(page.is_some_and(|a| !a.notified), "{open:?}");
    assert_eq!(summary(&f.events().await), []);

    // The third failure takes the region down: one page, the regional
    // one, with the burn; the SLO page is grouped under it.
    f.record(vec![crate::alert_kit::run_at("eu-west-1", false, at(1))])
        .await;
    scheduler::evaluate::measure(&f.t.app, true).await.unwrap();
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    // 1h: 3 of 60 failed → 50x; 5m: 3 of 5 → 600x.
    let text = &events[0].event.alert.summary;
    assert!(
        text.contains("; error budget: 1h 50.0x, 5m 600.0x, 9"),
        "{text}"
    );
    assert!(text.contains("of history so far"), "{text}");
    let open = f.t.app.alerts.open();
    let page = open.iter().find(|a| a.alert.id == "shop/slo/page");
    assert!(page.is_some_and(|a| a.grouped && !a.notified), "{open:?}");
    let detail = f.t.get("/api/v1/scenarios/shop").await.json();
    assert_eq!(detail["slo"]["deploy_ok"], false);

    // The region recovers while the 5m window still burns: the regional
    // alert resolves and the SLO page, on its own now, is sent.
    f.t.clock.advance(std::time::Duration::from_secs(60));
    f.touch_all().await;
    f.record(vec![crate::alert_kit::run_at(
        "eu-west-1",
        true,
        t0() + chrono::Duration::seconds(59),
    )])
    .await;
    let events = f.events().await;
    assert_eq!(
        summary(&events),
        [
            firing("shop/region/eu-west-1"),
            crate::alert_kit::resolved("shop/region/eu-west-1"),
            firing("shop/slo/page"),
        ]
    );
}
