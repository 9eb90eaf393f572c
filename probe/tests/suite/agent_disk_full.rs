//! The real `probe agent` with its spool on a small tmpfs that fills up
//! while the scheduler is down: the newest results are kept by dropping
//! the oldest (counted as `disk_full`), `/readyz` says why it is not ready,
//! the scheduler is told, and once it is back it gets the newest results.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use sonde_tests::{SmallDisk, Spawn, TestTarget, free_addr, wait_for_http};
use uuid::Uuid;

use crate::agent_support::{FakeScheduler, Reply, plan, planned, sample, source};

/// Spooled result ids, oldest first (UUIDv7 file names sort by time).
fn spooled(spool: &Path) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = std::fs::read_dir(spool.join("results"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".json")
                        .and_then(|s| Uuid::parse_str(s).ok())
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Polls `check` every 200 ms for at most `deadline`; panics with `what`.
async fn eventually<F, Fut>(what: &str, deadline: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let waiting = async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(deadline, waiting)
        .await
        .unwrap_or_else(|_| panic!("{what} not within {deadline:?}"));
}

#[tokio::test]
async fn a_full_spool_disk_keeps_the_newest_results_and_says_so() {
    let disk = match SmallDisk::mount(512 * 1024) {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let target = TestTarget::new()
        .route("/health", 200, "ok")
        .start()
        .await
        .expect("target");
    let fake = FakeScheduler::start().await;
    fake.set_plan(plan(
        1,
        vec![planned(
            "full",
            &source("full", "1s", &target.url("/health")),
        )],
    ));
    // The scheduler is down: nothing leaves the spool.
    fake.script(vec![Reply::Status(503); 10_000]);
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "disk-token\n").expect("token");
    let spool = disk.path().join("spool");
    let listen = free_addr().expect("port");
    let mut agent = Spawn::new(env!("CARGO_BIN_EXE_probe"))
        .name("probe-agent-disk-full")
        .arg("agent")
        .args(["--scheduler", fake.url().as_str()])
        .args(["--region", "eu-test-1", "--name", "p-full"])
        .arg("--token-file")
        .arg(&token)
        .arg("--spool-dir")
        .arg(&spool)
        .args(["--listen", &listen.to_string()])
        .args(["--allow-target", "127.0.0.0/8", "--grace", "2s"])
        .env("RUST_LOG", "info")
        .start()
        .expect("agent starts");
    let base = format!("http://{listen}");
    wait_for_http(&format!("{base}/readyz"), Duration::from_secs(15))
        .await
        .expect("ready");
    eventually("four results spooled", Duration::from_secs(30), || async {
        spooled(&spool).len() >= 4
    })
    .await;
    let before_full = spooled(&spool);

    disk.fill().expect("fill the disk");
    eventually(
        "two results dropped for the full disk",
        Duration::from_secs(30),
        || async {
            let (_, scrape) = get(&format!("{base}/metrics")).await;
            sample(&scrape, "sonde_agent_dropped_total", "reason=\"disk_full\"")
                .is_some_and(|n| n >= 2.0)
        },
    )
    .await;
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).expect("JSON readiness");
    assert_eq!(ready["status"], "spool_unwritable", "{body}");
    assert!(
        ready["reason"]
            .as_str()
            .is_some_and(|r| r.contains("disk is full")),
        "{body}"
    );
    let (_, scrape) = get(&format!("{base}/metrics")).await;
    assert_eq!(
        sample(&scrape, "sonde_agent_spool_disk_full", ""),
        Some(1.0),
        "{scrape}"
    );
    let kept = spooled(&spool);
    let dropped: Vec<Uuid> = before_full
        .iter()
        .filter(|id| !kept.contains(id))
        .copied()
        .collect();
    assert!(
        !dropped.is_empty(),
        "the oldest make room: {before_full:?} {kept:?}"
    );
    assert!(
        kept.iter().any(|id| !before_full.contains(id)),
        "results newer than the full disk are kept: {kept:?}"
    );
    assert!(
        dropped.iter().all(|d| kept.iter().all(|k| d < k)),
        "only the oldest are dropped: {dropped:?} {kept:?}"
    );
    let log = agent.stderr();
    assert!(
        log.contains("dropped the oldest results to keep the newest"),
        "{log}"
    );

    // The scheduler is told on every call.
    fake.wait_until(
        "a call saying the spool is full",
        Duration::from_secs(40),
        |f| {
            f.posts().iter().any(|p| {
                p.headers
                    .get("x-sonde-spool-full")
                    .is_some_and(|v| v == "1")
            })
        },
    )
    .await;

    // The scheduler comes back: what it gets are the newest results (newer
    // than any dropped, some from after the disk filled); the oldest,
    // dropped for the full disk, never arrive.
    fake.clear_script();
    let last_before_full = *before_full.last().expect("spooled before the fill");
    fake.wait_until(
        "a result from after the fill delivered",
        Duration::from_secs(90),
        |f| f.stored().keys().any(|id| *id > last_before_full),
    )
    .await;
    let stored: BTreeSet<Uuid> = fake.stored().keys().copied().collect();
    let newest_dropped = dropped.iter().max().expect("dropped");
    assert!(
        stored.iter().all(|id| id > newest_dropped),
        "only results newer than the dropped ones arrive: {stored:?} {dropped:?}"
    );
    eventually("ready again", Duration::from_secs(30), || async {
        get(&format!("{base}/readyz")).await.0 == 200
    })
    .await;
    let (_, scrape) = get(&format!("{base}/metrics")).await;
    assert_eq!(
        sample(&scrape, "sonde_agent_spool_disk_full", ""),
        Some(0.0),
        "{scrape}"
    );
    let status = agent
        .terminate(Duration::from_secs(20))
        .await
        .expect("exits");
    assert!(status.success(), "exit {status:?}\n{}", agent.stderr());
}
