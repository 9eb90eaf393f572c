//! Latency anomalies (`[alert] anomaly`): a week of replayed history
//! stored through the real ingest path with the test clock, measured as
//! the scheduler does every `MEASURE_EVERY`; the alerts in the outbox and
//! the baseline on /metrics.

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use scheduler::alert::Scope;
use scheduler::store::outbox::EventRow;

use crate::alert_kit::{Fleet, firing, resolved, run_at, summary};
use crate::common::t0;

const REGION: &str = "eu-west-1";
/// One run every 5 minutes: 2016 in a week.
const STEP: Duration = Duration::from_secs(300);
const RUNS_A_WEEK: u32 = 7 * 288;

/// The usual latency at `at`: busy hours (9 to 17 UTC) 50% slower, with
/// up to ±15 ms of noise and a 2× spike every 97th run.
fn usual(at: DateTime<Utc>, i: u32) -> f64 {
    let busy = (9..17).contains(&at.hour());
    let base = if busy { 150.0 } else { 100.0 };
    let noise = f64::from(i.wrapping_mul(7_919) % 31) - 15.0;
    let spike = if i.is_multiple_of(97) { 2.0 } else { 1.0 };
    (base + noise) * spike
}

fn run(at: DateTime<Utc>, duration_ms: f64) -> serde_json::Value {
    let mut v = run_at(REGION, true, at);
    v["duration_ms"] = serde_json::json!(duration_ms);
    v
}

fn anomaly_events(events: &[EventRow]) -> Vec<EventRow> {
    events
        .iter()
        .filter(|e| e.event.alert.scope == Scope::Anomaly)
        .cloned()
        .collect()
}

struct Replay {
    f: Fleet,
    /// The next run's number and start.
    i: u32,
    at: DateTime<Utc>,
}

impl Replay {
    async fn new() -> Replay {
        let f = Fleet::new("anomaly = { sensitivity = 3.0, min_runs = 50 }").await;
        let at = t0();
        f.t.clock.set(at);
        Replay { f, i: 0, at }
    }

    /// Stores the next `n` runs with durations from `duration` (given the
    /// usual one) and moves the clock to the last.
    async fn feed(&mut self, n: u32, duration: impl Fn(f64) -> f64) {
        let mut runs = Vec::new();
        for _ in 0..n {
            runs.push(run(self.at, duration(usual(self.at, self.i))));
            self.f.t.clock.set(self.at + chrono::Duration::seconds(1));
            self.i += 1;
            self.at += chrono::Duration::from_std(STEP).unwrap();
        }
        self.f.record(runs).await;
    }

    async fn measure(&self) {
        self.f.touch_all().await;
        scheduler::evaluate::measure(&self.f.t.app, true)
            .await
            .unwrap();
    }

    /// A week of usual latency, measured once the history is long enough.
    async fn week(&mut self) {
        self.feed(RUNS_A_WEEK, |d| d).await;
        self.measure().await;
    }

    /// One run at a time, measured after each: how many until `done`.
    async fn runs_until(
        &mut self,
        most: u32,
        duration: impl Fn(f64) -> f64 + Copy,
        done: impl Fn(&[EventRow]) -> bool,
    ) -> Option<u32> {
        for n in 1..=most {
            self.feed(1, duration).await;
            self.measure().await;
            if done(&anomaly_events(&self.f.events().await)) {
                return Some(n);
            }
        }
        None
    }
}

#[tokio::test]
async fn a_week_of_noisy_latency_with_a_daily_pattern_never_alerts() {
    let mut r = Replay::new().await;
    // Measured every hour of the week, as the history grows.
    for _ in 0..7 * 24 {
        r.feed(12, |d| d).await;
        r.measure().await;
    }
    assert_eq!(summary(&anomaly_events(&r.f.events().await)), []);
}

#[tokio::test]
async fn a_threefold_step_alerts_within_five_runs_and_resolves_when_latency_returns() {
    let mut r = Replay::new().await;
    r.week().await;
    assert_eq!(summary(&anomaly_events(&r.f.events().await)), []);

    let slow = |d: f64| d * 3.0;
    let n = r.runs_until(5, slow, |e| !e.is_empty()).await;
    assert!(n.is_some(), "no anomaly alert after 5 slow runs");
    let events = anomaly_events(&r.f.events().await);
    let id = format!("shop/anomaly/{REGION}");
    assert_eq!(summary(&events), [firing(&id)]);
    let alert = &events[0].event.alert;
    assert_eq!(alert.severity.as_str(), "warning");
    assert_eq!(alert.regions, [REGION]);
    assert!(
        alert.summary.contains("vs baseline") && alert.summary.contains("p50 of last"),
        "{}",
        alert.summary
    );

    // Still slow for a while: one alert, the baseline does not follow.
    r.feed(30, slow).await;
    r.measure().await;
    assert_eq!(summary(&anomaly_events(&r.f.events().await)), [firing(&id)]);

    let back = r.runs_until(5, |d| d, |e| e.len() == 2).await;
    assert_eq!(back, Some(3), "resolves after three usual runs");
    assert_eq!(
        summary(&anomaly_events(&r.f.events().await)),
        [firing(&id), resolved(&id)]
    );
}

#[tokio::test]
async fn a_single_outlier_never_alerts() {
    let mut r = Replay::new().await;
    r.week().await;
    r.feed(1, |d| d * 10.0).await;
    r.measure().await;
    let none = r.runs_until(10, |d| d, |e| !e.is_empty()).await;
    assert_eq!(none, None);
}

#[tokio::test]
async fn failures_are_not_latency_anomalies() {
    let mut r = Replay::new().await;
    r.week().await;
    // Failed runs, however slow, are the regional alerts' business.
    let failed: Vec<_> = (0..5)
        .map(|k| {
            let at = r.at + chrono::Duration::minutes(5 * k);
            let mut v = run_at(REGION, false, at);
            v["duration_ms"] = serde_json::json!(30_000.0);
            v
        })
        .collect();
    r.f.t.clock.set(r.at + chrono::Duration::minutes(21));
    r.f.record(failed).await;
    r.measure().await;
    assert_eq!(summary(&anomaly_events(&r.f.events().await)), []);
}

#[tokio::test]
async fn the_baseline_is_on_metrics_and_the_status_page() {
    let mut r = Replay::new().await;
    let scrape = r.f.t.scrape(None).await.text();
    assert!(
        !scrape.contains("sonde_scenario_latency_baseline_seconds{"),
        "no baseline before any history:\n{scrape}"
    );
    r.week().await;
    let scrape = r.f.t.scrape(None).await.text();
    let series =
        format!("sonde_scenario_latency_baseline_seconds{{scenario=\"shop\",region=\"{REGION}\"}}");
    let value: f64 = scrape
        .lines()
        .find_map(|l| {
            l.strip_prefix(series.as_str())?
                .strip_prefix(' ')?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{series} missing:\n{scrape}"));
    // A third of the day is busy (150 ms), the rest 100 ms: the median of
    // the week is a quiet hour's.
    assert!((0.085..0.116).contains(&value), "{value}");
    assert!(
        scrape.contains("sonde_alerts_firing{scope=\"anomaly\",severity=\"warning\"} 0"),
        "{scrape}"
    );
    // The status page draws it under the region's latency line.
    let page = r.f.t.get("/scenarios/shop").await.text();
    assert!(
        page.contains("stroke-dasharray") && page.contains("eu-west-1 usual latency"),
        "{page}"
    );
    assert!(!page.contains("us-east-1 usual latency"), "{page}");
    // Regions without history have no baseline yet.
    assert!(
        !scrape.contains(
            "sonde_scenario_latency_baseline_seconds{scenario=\"shop\",region=\"us-east-1\"}"
        ),
        "{scrape}"
    );
}

#[tokio::test]
async fn the_scenario_api_shows_each_regions_baseline_and_verdict() {
    let mut r = Replay::new().await;
    let detail = r.f.t.get("/api/v1/scenarios/shop").await.json();
    let anomaly = &detail["anomaly"];
    assert_eq!(anomaly["sensitivity"], 3.0, "{detail}");
    assert_eq!(anomaly["min_runs"], 50, "{detail}");
    assert!(
        anomaly["regions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["verdict"].is_null()),
        "nothing judged before any history: {anomaly}"
    );

    r.week().await;
    let detail = r.f.t.get("/api/v1/scenarios/shop").await.json();
    let region = |d: &serde_json::Value| {
        d["anomaly"]["regions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["region"] == REGION)
            .unwrap_or_else(|| panic!("{REGION} missing: {d}"))["verdict"]
            .clone()
    };
    let v = region(&detail);
    let baseline = v["baseline_ms"].as_f64().unwrap();
    let upper = v["upper_ms"].as_f64().unwrap();
    assert!((85.0..116.0).contains(&baseline), "{v}");
    assert!(
        upper > baseline && v["spread_ms"].as_f64().unwrap() > 0.0,
        "{v}"
    );
    assert_eq!(v["firing"], false, "{v}");
    assert_eq!(v["anomalous"], 0, "{v}");

    r.runs_until(5, |d| d * 3.0, |e| !e.is_empty()).await;
    let v = region(&r.f.t.get("/api/v1/scenarios/shop").await.json());
    assert_eq!(v["firing"], true, "{v}");
    assert!(v["anomalous"].as_u64().unwrap() >= 3, "{v}");
    assert!(
        v["recent_p50_ms"].as_f64().unwrap() > v["upper_ms"].as_f64().unwrap(),
        "{v}"
    );
}
