//! The real binary with its `data_dir` on a small tmpfs that fills up:
//! ingest answers 503 (nothing acknowledged that was not committed),
//! `/readyz` says the store cannot be written, `/metrics` shows it, and
//! once space is freed the next write makes it ready again.

use std::collections::BTreeSet;
use std::time::Duration;

use hyper::Method;
use sonde_tests::{SmallDisk, Spawn, TestClient, TestResponse, free_port, wait_for_http};

const BIN: &str = env!("CARGO_BIN_EXE_scheduler");
/// Batches sent at most while waiting for the disk to refuse one.
const MAX_BATCHES: usize = 2_000;

fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

#[tokio::test]
async fn a_full_store_disk_refuses_ingest_and_readiness_until_space_is_freed() {
    let disk = match SmallDisk::mount(2 * 1024 * 1024) {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
    std::fs::write(
        dir.path().join("scenarios/checkout.toml"),
        crate::common::CHECKOUT,
    )
    .unwrap();
    let port = free_port().unwrap();
    let config = dir.path().join("scheduler.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nscenarios_dir = \"scenarios\"\n\
             shutdown_grace = \"5s\"\ningest_rate = 100000\n",
            disk.path().display()
        ),
    )
    .unwrap();
    let created = std::process::Command::new(BIN)
        .args([
            "token",
            "create",
            "--name",
            "p-eu-1",
            "--region",
            "eu-west-1",
        ])
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let token = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    let mut child = Spawn::new(BIN)
        .name("scheduler-disk-full")
        .arg("--config")
        .arg(&config)
        .start()
        .unwrap();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    wait_for_http(&url("/readyz"), Duration::from_secs(20))
        .await
        .unwrap();
    let client = TestClient::new().timeout(Duration::from_secs(10));
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("x-sonde-probe", "p-eu-1"),
        ("x-sonde-region", "eu-west-1"),
    ];
    let post = |body: String| {
        let client = client.clone();
        let url = url("/api/v1/results");
        async move {
            client
                .request(Method::POST, &url, &headers, Some(body.into()))
                .await
                .unwrap()
        }
    };
    let get = |path: &str| {
        let client = client.clone();
        let url = url(path);
        async move { client.get(&url).await.unwrap() }
    };
    let new_batch = || {
        let results: Vec<_> = (0..20)
            .map(|_| {
                crate::common::result(
                    "checkout",
                    "p-eu-1",
                    "eu-west-1",
                    "success",
                    chrono::Utc::now(),
                )
            })
            .collect();
        crate::common::batch(&results)
    };
    let accepted = |r: &TestResponse| -> Vec<String> {
        r.json().unwrap()["accepted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let scrape = get("/metrics").await.text();
    assert_eq!(
        sample(&scrape, "sonde_store_writable"),
        Some(1.0),
        "{scrape}"
    );

    disk.fill().unwrap();
    let mut acknowledged = BTreeSet::new();
    let mut refused = None;
    for _ in 0..MAX_BATCHES {
        let body = new_batch();
        let r = post(body.clone()).await;
        match r.status.as_u16() {
            200 => acknowledged.extend(accepted(&r)),
            503 => {
                refused = Some((body, r));
                break;
            }
            other => panic!("ingest answered {other}: {}", r.text()),
        }
    }
    let (body, r) = refused.expect("the full disk refuses a batch");
    assert!(
        r.text().contains("database or disk is full"),
        "{}",
        r.text()
    );
    let ready = get("/readyz").await;
    assert_eq!(ready.status.as_u16(), 503, "{}", ready.text());
    let ready = ready.json().unwrap();
    assert_eq!(ready["status"], "store_unwritable");
    assert!(
        ready["reason"]
            .as_str()
            .is_some_and(|r| r.contains("database or disk is full")),
        "{ready}"
    );
    let scrape = get("/metrics").await.text();
    assert_eq!(
        sample(&scrape, "sonde_store_writable"),
        Some(0.0),
        "{scrape}"
    );
    assert!(
        sample(
            &scrape,
            "sonde_store_write_failures_total{reason=\"disk_full\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{scrape}"
    );

    // Space freed: the refused batch is taken (nothing of it was kept),
    // and that write makes the store ready again.
    disk.free().unwrap();
    let again = post(body).await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.text());
    assert_eq!(accepted(&again).len(), 20, "{}", again.text());
    acknowledged.extend(accepted(&again));
    let ready = get("/readyz").await;
    assert_eq!(ready.status.as_u16(), 200, "{}", ready.text());
    let scrape = get("/metrics").await.text();
    assert_eq!(
        sample(&scrape, "sonde_store_writable"),
        Some(1.0),
        "{scrape}"
    );

    let status = child.terminate(Duration::from_secs(20)).await.unwrap();
    assert!(status.success(), "{}", child.stderr());
    // Every acknowledged result is in the store.
    let store = rusqlite::Connection::open(disk.path().join("sonde.db")).unwrap();
    let stored: BTreeSet<String> = store
        .prepare("SELECT id FROM results")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|id| {
            uuid::Uuid::from_slice(&id.unwrap())
                .unwrap()
                .hyphenated()
                .to_string()
        })
        .collect();
    let missing: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
}

/// `spool_full` of `probe` in `GET /api/v1/probes`.
async fn spool_full(f: &crate::alert_kit::Fleet, probe: &str) -> serde_json::Value {
    let list = f.t.get("/api/v1/probes").await.json();
    list["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == probe)
        .map(|p| p["spool_full"].clone())
        .unwrap()
}

#[tokio::test]
async fn a_probe_whose_spool_disk_is_full_is_alerted_until_it_says_it_is_fine() {
    use crate::alert_kit::{Fleet, firing, resolved, summary};
    use axum::http::StatusCode;
    use scheduler::alert::Scope;

    let f = Fleet::new("after = 2\nconfirm = false").await;
    let (region, token) = f.token("p-eu");
    let full = [("x-sonde-spool-full", "1")];
    let r = f.t.plan(&token, "p-eu", &region, &full).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("probe/p-eu/spool")]);
    let a = &events[0].event.alert;
    assert_eq!(a.scope, Scope::Probe);
    assert_eq!(a.probe.as_deref(), Some("p-eu"));
    assert_eq!(
        a.summary,
        "probe p-eu in eu-west-1: its spool's disk is full; it drops its oldest undelivered \
         results to keep the newest: free space under its --spool-dir"
    );
    assert_eq!(spool_full(&f, "p-eu").await, true);
    assert_eq!(spool_full(&f, "p-us").await, false);
    f.tick().await;
    assert_eq!(f.events().await.len(), 1, "paged once");

    // Right after a restart the spool is not known yet: the alert stays.
    let tokens = f.tokens.clone();
    let f = Fleet {
        t: f.t.restart().await,
        tokens,
    };
    f.tick().await;
    assert_eq!(f.events().await.len(), 1, "not resolved by the restart");

    // The space freed, the probe says so on its next call: resolved.
    let (region, token) = f.token("p-eu");
    let fine = [("x-sonde-spool-full", "0")];
    let r = f.t.plan(&token, "p-eu", &region, &fine).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [firing("probe/p-eu/spool"), resolved("probe/p-eu/spool")]
    );
    assert_eq!(spool_full(&f, "p-eu").await, false);
}
