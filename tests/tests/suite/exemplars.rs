//! From a duration to its run: a real Prometheus with exemplar storage
//! scrapes the scheduler and a probe agent while a scenario runs against
//! the demo shop, and every `trace_id` exemplar it returns for the duration
//! histograms is the trace id of a run the scheduler stored, with that
//! run's duration, in a bucket that holds it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use sonde_tests::fleet::{Fleet, FleetOptions, eventually, simple_scenario};
use sonde_tests::shop::{self, ShopOptions};
use sonde_tests::{ChildGuard, Spawn, TestClient, free_port};

use crate::one_fleet::one_fleet_at_a_time;

const LONG: Duration = Duration::from_secs(60);
const SCENARIO: &str = "exemplars";

/// `prometheus` on PATH (Debian's package).
fn prometheus() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("prometheus"))
                .find(|p| p.is_file())
        })
        .expect("Debian's prometheus is required for this test (apt-get install prometheus)")
}

/// Prometheus with exemplar storage, scraping the fleet's scheduler and
/// its first probe every second.
fn start_prometheus(fleet: &Fleet) -> (ChildGuard, u16) {
    let dir = fleet.dir.path().join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{ scrape_interval: 1s }}\nscrape_configs:\n\
             \x20 - job_name: sonde-scheduler\n    static_configs: [{{ targets: [\"127.0.0.1:{}\"] }}]\n\
             \x20 - job_name: sonde-probe\n    static_configs: [{{ targets: [\"127.0.0.1:{}\"] }}]\n",
            fleet.scheduler_port, fleet.probes[0].port
        ),
    )
    .unwrap();
    let port = free_port().unwrap();
    let guard = Spawn::new(prometheus())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg("--enable-feature=exemplar-storage")
        .log_dir(fleet.logs())
        .start()
        .expect("prometheus starts");
    (guard, port)
}

/// One exemplar as Prometheus returns it.
#[derive(Debug)]
struct Exemplar {
    trace_id: String,
    value: f64,
    /// The bucket's upper bound.
    le: f64,
}

/// `/api/v1/query_exemplars` for the bucket series of `family`, over the
/// last hour.
async fn exemplars(port: u16, family: &str) -> Option<Vec<Exemplar>> {
    let now = chrono::Utc::now().timestamp();
    let url = format!(
        "http://127.0.0.1:{port}/api/v1/query_exemplars?query={family}_bucket&start={}&end={}",
        now - 3600,
        now + 60
    );
    let body: Value = TestClient::new().get(&url).await.ok()?.json().ok()?;
    assert_eq!(body["status"], "success", "{body}");
    let mut out = Vec::new();
    for series in body["data"].as_array()? {
        assert_eq!(series["seriesLabels"]["scenario"], SCENARIO, "{series}");
        let le = match series["seriesLabels"]["le"].as_str()? {
            "+Inf" => f64::INFINITY,
            le => le.parse().ok()?,
        };
        for e in series["exemplars"].as_array()? {
            out.push(Exemplar {
                trace_id: e["labels"]["trace_id"].as_str()?.to_owned(),
                value: e["value"].as_str()?.parse().ok()?,
                le,
            });
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Stored runs of the scenario by trace id: their durations in seconds.
async fn stored_runs(fleet: &Fleet) -> Option<HashMap<String, f64>> {
    let runs = fleet
        .get_json(&format!("/api/v1/scenarios/{SCENARIO}/runs?limit=500"))
        .await
        .ok()?;
    runs["runs"]
        .as_array()?
        .iter()
        .map(|r| {
            let trace_id = r["trace_id"].as_str()?.to_owned();
            Some((trace_id, r["duration_ms"].as_f64()? / 1_000.0))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_exemplars_of_the_duration_histograms_are_stored_runs() {
    let _one_fleet = one_fleet_at_a_time().await;
    let shop_dir = tempfile::tempdir().unwrap();
    let shop = shop::start(ShopOptions::for_tests(shop_dir.path()))
        .await
        .unwrap();
    let files = [(
        "exemplars.toml",
        simple_scenario(SCENARIO, &shop.http_url("/healthz"), "1s", &["eu-west-1"]),
    )];
    let fleet = Fleet::start(FleetOptions::one_probe_per_region(&["eu-west-1"]), &files)
        .await
        .expect("fleet starts");
    let (_prometheus, port) = start_prometheus(&fleet);

    for family in [
        "sonde_scenario_duration_seconds",
        "sonde_step_duration_seconds",
        "sonde_agent_run_duration_seconds",
    ] {
        let found = eventually(&format!("{family} exemplars in Prometheus"), LONG, || {
            exemplars(port, family)
        })
        .await;
        // The probe counts a run before it delivers it: read the runs after.
        let runs = eventually(
            &format!("every {family} exemplar's run stored"),
            LONG,
            || async {
                let runs = stored_runs(&fleet).await?;
                found
                    .iter()
                    .all(|e| runs.contains_key(&e.trace_id))
                    .then_some(runs)
            },
        )
        .await;
        for e in &found {
            assert!(e.value <= e.le, "{family}: {e:?} outside its bucket");
            let seconds = runs[&e.trace_id];
            if family == "sonde_step_duration_seconds" {
                assert!(
                    e.value <= seconds,
                    "{e:?}: a step longer than its run ({seconds} s)"
                );
            } else {
                assert!(
                    (e.value - seconds).abs() < 1e-9,
                    "{family}: {e:?}, but the run took {seconds} s"
                );
            }
        }
    }
}
