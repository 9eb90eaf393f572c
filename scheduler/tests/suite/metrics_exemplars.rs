//! `trace_id` exemplars on the duration histograms: in the OpenMetrics
//! form each bucket names the newest run it counted (by end time, so a
//! result delivered late does not take over), rebuilt from the store after
//! a restart; the classic form has none and still passes promtool.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};

use crate::common::{TestApp, batch, result, t0};
use crate::metrics::promtool_check;

const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0";
const TRACE_FIRST: &str = "0af7651916cd43dd8448eb211c80319c";
const TRACE_NEWEST: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACE_LATE: &str = "b7ad6b7169203331b7ad6b7169203331";

/// Runs of 120.5 ms (bucket 0.25) whose `home` step took 80.25 ms
/// (bucket 0.1); the newest started a minute in.
async fn feed(t: &TestApp) {
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let run = |trace_id: &str, s| {
        let mut r = result(
            "checkout",
            "p-eu-1",
            "eu-west-1",
            "success",
            t0() + chrono::Duration::seconds(s),
        );
        r["trace_id"] = serde_json::json!(trace_id);
        r
    };
    let results = [
        run(TRACE_FIRST, 0),
        run(TRACE_NEWEST, 60),
        run(TRACE_LATE, 10),
    ];
    let r = t
        .post_results(&token, "p-eu-1", "eu-west-1", batch(&results))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// End of the newest run, Unix seconds: started 4 ms after its slot, 120.5
/// ms long (rounded to the millisecond).
fn newest_end() -> f64 {
    let started: DateTime<Utc> =
        t0() + chrono::Duration::seconds(60) + chrono::Duration::milliseconds(4);
    (started.timestamp_millis() + 121) as f64 / 1_000.0
}

/// The exemplar `(trace_id, value, timestamp)` of the sample line starting
/// with `series ` (name and labels exactly as written).
fn exemplar(text: &str, series: &str) -> Option<(String, f64, f64)> {
    let line = text
        .lines()
        .find(|l| l.strip_prefix(series).is_some_and(|r| r.starts_with(' ')))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    let (_, ex) = line.split_once(" # ")?;
    let rest = ex.strip_prefix("{trace_id=\"")?;
    let (trace_id, rest) = rest.split_once("\"} ")?;
    let mut numbers = rest.split(' ').map(|n| n.parse::<f64>().unwrap());
    Some((trace_id.to_string(), numbers.next()?, numbers.next()?))
}

const RUN_BUCKET: &str = "sonde_scenario_duration_seconds_bucket{le=\"0.25\",scenario=\"checkout\",region=\"eu-west-1\"}";
const RUN_BUCKET_EMPTY: &str =
    "sonde_scenario_duration_seconds_bucket{le=\"0.1\",scenario=\"checkout\",region=\"eu-west-1\"}";
const STEP_BUCKET: &str = "sonde_step_duration_seconds_bucket{le=\"0.1\",scenario=\"checkout\",region=\"eu-west-1\",step=\"home\"}";

fn assert_exemplars(text: &str) {
    let (trace, value, at) = exemplar(text, RUN_BUCKET).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(trace, TRACE_NEWEST, "{text}");
    assert_eq!(value, 0.1205);
    assert!((at - newest_end()).abs() < 1e-6, "{at} vs {}", newest_end());
    let (trace, value, _) = exemplar(text, STEP_BUCKET).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(trace, TRACE_NEWEST, "{text}");
    assert_eq!(value, 0.08025);
    assert_eq!(exemplar(text, RUN_BUCKET_EMPTY), None, "{text}");
}

#[tokio::test]
async fn openmetrics_buckets_carry_the_newest_runs_trace_id_also_after_a_restart() {
    let t = TestApp::new().await;
    feed(&t).await;
    assert_exemplars(&t.scrape(Some(OPENMETRICS)).await.text());

    let t = t.restart().await;
    assert_exemplars(&t.scrape(Some(OPENMETRICS)).await.text());
}

#[tokio::test]
async fn the_classic_form_has_no_exemplars_and_passes_promtool() {
    let t = TestApp::new().await;
    feed(&t).await;
    let classic = t.scrape(None).await.text();
    assert!(classic.contains(&format!("{RUN_BUCKET} 3")), "{classic}");
    assert!(!classic.contains("# {trace_id="), "{classic}");
    promtool_check(&classic);
}
