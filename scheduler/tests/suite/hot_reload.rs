//! Catalog hot reload with the real file watcher: edit, break, fix and
//! delete a scenario file; the catalog API, the plan and the metrics show
//! each state, and a broken file keeps its last good version scheduled.

use std::time::Duration;

use axum::http::StatusCode;
use tokio_util::task::TaskTracker;

use crate::common::{CHECKOUT, TestApp, batch, result, t0};

/// Waits (at most 10 s) for the watcher to publish a catalog newer than
/// `generation`, and returns the new generation.
async fn next_catalog(t: &TestApp, generation: u64) -> u64 {
    let mut rx = t.app.catalog.subscribe();
    let wait = async {
        loop {
            let g = rx.borrow_and_update().generation;
            if g > generation {
                return g;
            }
            rx.changed().await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the watcher reloaded the catalog")
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within 10 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn file<'a>(catalog: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    catalog["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
}

fn planned_version(plan: &serde_json::Value, name: &str) -> Option<String> {
    plan["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .map(|s| s["version"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_break_fix_and_delete_a_scenario_file() {
    let t = TestApp::new().await;
    let tasks = TaskTracker::new();
    t.app.spawn_background(&tasks).unwrap();
    let token = t.probe_token("p-eu-1", "eu-west-1").await;
    let plan = || async { t.plan(&token, "p-eu-1", "eu-west-1", &[]).await.json() };
    let v1 = planned_version(&plan().await, "checkout").unwrap();
    let ok = [result("checkout", "p-eu-1", "eu-west-1", "success", t0())];
    assert_eq!(
        t.post_results(&token, "p-eu-1", "eu-west-1", batch(&ok))
            .await
            .status,
        StatusCode::OK
    );
    let mut generation = t.app.catalog.current().generation;

    // Edit: a new version is served.
    t.write_scenario(
        "checkout.toml",
        &CHECKOUT.replace("interval = \"30s\"", "interval = \"20s\""),
    );
    generation = next_catalog(&t, generation).await;
    let catalog = t.get("/api/v1/catalog").await.json();
    let v2 = file(&catalog, "checkout.toml").unwrap()["version"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(v1, v2);
    assert_eq!(planned_version(&plan().await, "checkout"), Some(v2.clone()));

    // Break: reported, and the last good version keeps running.
    t.write_scenario(
        "checkout.toml",
        &CHECKOUT.replace(
            "expect = [\"status == 200\"]",
            "expcet = [\"status == 200\"]",
        ),
    );
    generation = next_catalog(&t, generation).await;
    let catalog = t.get("/api/v1/catalog").await.json();
    let broken = file(&catalog, "checkout.toml").unwrap();
    assert_eq!(broken["status"], "invalid");
    assert_eq!(broken["serving_last_good"], true);
    assert_eq!(broken["version"], v2.as_str());
    let diagnostics = broken["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("unknown field `expcet`"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("--> checkout.toml:8:1"),
        "{diagnostics}"
    );
    assert_eq!(catalog["invalid_files"], 1);
    assert_eq!(planned_version(&plan().await, "checkout"), Some(v2.clone()));
    assert!(
        t.scrape(None)
            .await
            .text()
            .contains("sonde_catalog_invalid_files 1")
    );
    assert_eq!(
        t.get("/api/v1/scenarios/checkout").await.json()["version"],
        v2.as_str()
    );

    // Fix: valid again, the new version is served.
    t.write_scenario("checkout.toml", CHECKOUT);
    generation = next_catalog(&t, generation).await;
    let catalog = t.get("/api/v1/catalog").await.json();
    assert_eq!(file(&catalog, "checkout.toml").unwrap()["status"], "valid");
    assert_eq!(catalog["invalid_files"], 0);
    assert_eq!(planned_version(&plan().await, "checkout"), Some(v1));
    assert!(
        t.scrape(None)
            .await
            .text()
            .contains("sonde_catalog_invalid_files 0")
    );

    // Delete: no longer scheduled, its series dropped.
    assert!(
        t.scrape(None)
            .await
            .text()
            .contains("sonde_scenario_success{scenario=\"checkout\"")
    );
    std::fs::remove_file(t.scenarios_dir().join("checkout.toml")).unwrap();
    next_catalog(&t, generation).await;
    let catalog = t.get("/api/v1/catalog").await.json();
    assert!(file(&catalog, "checkout.toml").is_none());
    assert_eq!(planned_version(&plan().await, "checkout"), None);
    assert_eq!(
        t.get("/api/v1/scenarios/checkout").await.status,
        StatusCode::NOT_FOUND
    );
    eventually("checkout's series dropped", || async {
        !t.scrape(None)
            .await
            .text()
            .contains("scenario=\"checkout\"")
    })
    .await;
    t.shutdown.cancel();
    tasks.close();
    tasks.wait().await;
}

#[tokio::test]
async fn a_duplicate_name_is_an_error_naming_both_files() {
    let t = TestApp::new().await;
    t.write_scenario("zz-copy.toml", &crate::common::HEALTH.replace("15s", "20s"));
    assert!(t.app.catalog.reload().await.unwrap());
    let catalog = t.get("/api/v1/catalog").await.json();
    let copy = file(&catalog, "zz-copy.toml").unwrap();
    assert_eq!(copy["status"], "invalid");
    assert_eq!(copy["scenario"], serde_json::Value::Null);
    let diagnostics = copy["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("duplicate scenario name `health`"),
        "{diagnostics}"
    );
    assert!(diagnostics.contains("health.toml"), "{diagnostics}");
    assert_eq!(file(&catalog, "health.toml").unwrap()["status"], "valid");
}

#[tokio::test]
async fn a_file_broken_from_the_start_serves_nothing() {
    let t = TestApp::new().await;
    t.write_scenario("new.toml", "name = \"new\"\ninterval = \"fast\"\n");
    assert!(t.app.catalog.reload().await.unwrap());
    // A reload that finds nothing new publishes nothing.
    assert!(!t.app.catalog.reload().await.unwrap());
    let catalog = t.get("/api/v1/catalog").await.json();
    let new = file(&catalog, "new.toml").unwrap();
    assert_eq!(new["status"], "invalid");
    assert_eq!(new["serving_last_good"], false);
    assert_eq!(catalog["scenarios"], 2);
}
