//! A fleet whose scheduler's store disk fills up: the scheduler turns
//! unready and refuses results (503), the probe keeps them spooled, and
//! once space is freed every result the probe ran reaches the store.

use std::time::Duration;

use sonde_tests::fleet::{Fleet, FleetOptions, eventually, simple_scenario};
use sonde_tests::{SmallDisk, TestTarget};

use crate::one_fleet::one_fleet_at_a_time;

const LONG: Duration = Duration::from_secs(60);
const REGION: &str = "eu-west-1";

async fn sum(fleet: &Fleet, url: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let scrape = fleet.scrape(url).await.ok()?;
    Some(scrape.sum(name, labels).unwrap_or(0.0))
}

/// Runs of `health` the scheduler stored (its metrics count stored results).
async fn stored(fleet: &Fleet) -> Option<f64> {
    sum(
        fleet,
        &fleet.url("/metrics"),
        "sonde_scenario_runs_total",
        &[("scenario", "health")],
    )
    .await
}

async fn readyz(fleet: &Fleet) -> Option<(u16, serde_json::Value)> {
    let r = sonde_tests::TestClient::new()
        .timeout(Duration::from_secs(5))
        .get(&fleet.url("/readyz"))
        .await
        .ok()?;
    Some((r.status.as_u16(), r.json().ok()?))
}

fn copy_files(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_store_disk_loses_no_result_the_probe_ran() {
    let _one_fleet = one_fleet_at_a_time().await;
    let target = TestTarget::new()
        .route("/health", 200, "ok")
        .start()
        .await
        .expect("target");
    let scenario = simple_scenario("health", &target.url("/health"), "1s", &[REGION]);
    let mut fleet = Fleet::start(
        FleetOptions::one_probe_per_region(&[REGION]),
        &[("health.toml", scenario.clone())],
    )
    .await
    .expect("fleet starts");
    let metrics = fleet.url("/metrics");
    let probe_metrics = fleet.probes[0].metrics_url();
    eventually("runs stored", LONG, || async {
        (stored(&fleet).await? >= 2.0).then_some(())
    })
    .await;

    // The store moves onto a small disk, which then fills up.
    fleet.stop_scheduler().await.expect("scheduler stops");
    let data = fleet.dir.path().join("data");
    let saved = fleet.dir.path().join("data-saved");
    copy_files(&data, &saved);
    let disk = match SmallDisk::mount_on(&data, 4 * 1024 * 1024) {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    copy_files(&saved, &data);
    fleet.start_scheduler().await.expect("scheduler starts");
    disk.fill().expect("fill");

    let unready = eventually("the store unwritable", LONG, || async {
        let (status, body) = readyz(&fleet).await?;
        (status == 503 && body["status"] == "store_unwritable").then_some(body)
    })
    .await;
    assert!(
        unready["reason"]
            .as_str()
            .is_some_and(|r| r.contains("database or disk is full")),
        "{unready}"
    );
    eventually("the probe keeps refused results spooled", LONG, || async {
        let refused = sum(
            &fleet,
            &probe_metrics,
            "sonde_agent_delivery_failures_total",
            &[("reason", "server_error")],
        )
        .await?;
        let spooled = sum(&fleet, &probe_metrics, "sonde_agent_spool_results", &[]).await?;
        (refused >= 1.0 && spooled >= 2.0).then_some(())
    })
    .await;
    assert_eq!(
        sum(&fleet, &metrics, "sonde_store_writable", &[]).await,
        Some(0.0)
    );

    disk.free().expect("free");
    eventually("ready again", LONG, || async {
        (readyz(&fleet).await?.0 == 200).then_some(())
    })
    .await;
    assert_eq!(
        sum(&fleet, &metrics, "sonde_store_writable", &[]).await,
        Some(1.0)
    );

    // Runs stop (no probe serves the region any more); once the spool is
    // empty, the store has every run the probe made.
    let moved = scenario.replace("regions = [", "regions = [\"nowhere\"] #");
    fleet
        .write_scenario("health.toml", &moved)
        .expect("scenario rewritten");
    let (ran, kept) = eventually("the spool drained and the runs settled", LONG, || async {
        let ran = || {
            sum(
                &fleet,
                &probe_metrics,
                "sonde_agent_runs_total",
                &[("scenario", "health")],
            )
        };
        let spooled = sum(&fleet, &probe_metrics, "sonde_agent_spool_results", &[]).await?;
        let first = ran().await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let second = ran().await?;
        (spooled == 0.0 && first == second).then_some((second, stored(&fleet).await?))
    })
    .await;
    assert_eq!(kept, ran, "every run the probe made is stored");
    drop(disk);
}
