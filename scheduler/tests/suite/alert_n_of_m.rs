//! `after = "N of M"` through the real ingest path and engine: a region
//! failing every other run is paged once, where the consecutive form
//! never pages it; the runs a region has seen survive a restart; the API
//! shows both forms alike.

use scheduler::alert::AlertStatus;

use crate::alert_kit::{Fleet, firing, resolved, summary};

const REGION: &str = "eu-west-1";

/// Posts one run per letter of `pattern` (`p` passed, `f` failed), 30 s
/// apart from `from` seconds, each in its own batch as a probe sends them.
async fn post_pattern(f: &Fleet, pattern: &str, from: i64) -> i64 {
    let mut at = from;
    for c in pattern.chars().filter(|c| !c.is_whitespace()) {
        f.post(REGION, &[f.run(REGION, c == 'p', at)]).await;
        at += 30;
    }
    at
}

/// `[alert]` lines, the runs, the events they open, the region's state.
type Case = (
    &'static str,
    &'static str,
    Vec<(String, AlertStatus)>,
    &'static str,
);

#[tokio::test(start_paused = true)]
async fn n_of_m_pages_a_region_failing_every_other_run_once() {
    let region_alert = "shop/region/eu-west-1";
    let table: [Case; 6] = [
        (
            "after = \"3 of 5\"",
            "fpfpf pfpfp fpfpf",
            vec![firing(region_alert)],
            "down",
        ),
        ("after = 3", "fpfpf pfpfp fpfpf", vec![], "up"),
        // Two failures among any five runs are not three.
        ("after = \"3 of 5\"", "ffppp ffppp ffppp", vec![], "up"),
        // Three good runs in a row (the default after "3 of 5") resolve it.
        (
            "after = \"3 of 5\"",
            "fpfpf pfp ppp",
            vec![firing(region_alert), resolved(region_alert)],
            "up",
        ),
        // One good run resolves it; the next page needs three new failures.
        (
            "after = \"3 of 5\"\nrecover_after = 1",
            "fpfpf pfpfp f",
            vec![
                firing(region_alert),
                resolved(region_alert),
                firing(region_alert),
            ],
            "down",
        ),
        // recover_after "N of M" counts good runs among the last M.
        (
            "after = 2\nrecover_after = \"3 of 5\"",
            "ff pfpfp",
            vec![firing(region_alert), resolved(region_alert)],
            "up",
        ),
    ];
    for (alert, pattern, want, state) in table {
        let f = Fleet::new(&format!("{alert}\nconfirm = false")).await;
        post_pattern(&f, pattern, 0).await;
        f.tick().await;
        assert_eq!(summary(&f.events().await), want, "{alert}: {pattern}");
        assert_eq!(f.state(REGION).await, state, "{alert}: {pattern}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_recent_runs_survive_a_restart() {
    let f = Fleet::new("after = \"3 of 5\"\nconfirm = false").await;
    let at = post_pattern(&f, "fpfp", 0).await;
    f.tick().await;
    assert!(f.events().await.is_empty(), "two failures of four");
    let tokens = f.tokens.clone();

    let t = f.t.restart().await;
    let f = Fleet { t, tokens };
    f.touch_all().await;
    // The third failure among the last five, two of them from before.
    post_pattern(&f, "f", at).await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [firing("shop/region/eu-west-1")]
    );
    assert_eq!(f.state(REGION).await, "down");
}

#[tokio::test]
async fn the_api_shows_both_forms_as_failures_of() {
    let f = Fleet::new("after = \"3 of 5\"").await;
    let shop = f.t.get("/api/v1/scenarios/shop").await.json();
    assert_eq!(
        (&shop["alert"]["after"], &shop["alert"]["recover_after"]),
        (
            &serde_json::json!({"failures": 3, "of": 5}),
            &serde_json::json!({"failures": 3, "of": 3})
        ),
        "recover_after defaults to 3 in a row"
    );
    let f = Fleet::new("after = 4\nrecover_after = \"2 of 3\"").await;
    let shop = f.t.get("/api/v1/scenarios/shop").await.json();
    assert_eq!(
        (&shop["alert"]["after"], &shop["alert"]["recover_after"]),
        (
            &serde_json::json!({"failures": 4, "of": 4}),
            &serde_json::json!({"failures": 2, "of": 3})
        )
    );
}
