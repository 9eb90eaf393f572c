//! Ingest under concurrency, killed mid-flight: batches posted at once
//! by several probes share the store's commits, and every result the
//! scheduler acknowledged is in the SQLite file when the process is
//! SIGKILLed while other batches are still in flight.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use hyper::Method;
use sonde_tests::{TestClient, wait_for_http};

use crate::binary::Fleet;

/// Probes posting at once.
const PROBES: usize = 8;
/// Results in each batch.
const BATCH: usize = 40;
/// Acknowledged results after which the scheduler is killed.
const KILL_AFTER: usize = 2_000;
/// Batches a probe posts at most (bounds the load if the kill is late).
const MAX_BATCHES: usize = 200;

#[tokio::test]
async fn ingest_acknowledges_concurrent_batches_only_once_committed() {
    let f = Fleet::new("ingest_rate = 1000000\ningest_burst = 1000000\n");
    let mut tokens = Vec::new();
    for p in 0..PROBES {
        let name = format!("p-{p}");
        let out = f.cli(&["token", "create", "--name", &name, "--region", "eu-west-1"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokens.push((
            name,
            String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        ));
    }
    let mut child = f.serve();
    wait_for_http(&f.url("/readyz"), Duration::from_secs(20))
        .await
        .unwrap();

    let acked = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let posters: Vec<_> = tokens
        .into_iter()
        .map(|(probe, token)| {
            let (url, acked, killed) = (f.url("/api/v1/results"), acked.clone(), killed.clone());
            tokio::spawn(
                async move { post_until_killed(&url, &probe, &token, &acked, &killed).await },
            )
        })
        .collect();
    while acked.load(Ordering::Relaxed) < KILL_AFTER && !posters.iter().all(|p| p.is_finished()) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    killed.store(true, Ordering::Relaxed);
    child.kill().await;

    let mut sent = HashSet::new();
    let mut acknowledged = Vec::new();
    for p in posters {
        let (s, a) = p.await.unwrap();
        sent.extend(s);
        acknowledged.extend(a);
    }
    assert!(
        acknowledged.len() >= KILL_AFTER,
        "only {} results acknowledged before the kill",
        acknowledged.len()
    );
    let db = rusqlite::Connection::open(f.dir.path().join("data/sonde.db")).unwrap();
    let mut stored = HashSet::new();
    let mut stmt = db.prepare("SELECT id FROM results").unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(row) = rows.next().unwrap() {
        let id: Vec<u8> = row.get(0).unwrap();
        stored.insert(uuid::Uuid::from_slice(&id).unwrap());
    }
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged results are not in the store after SIGKILL, e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        lost.first()
    );
    // Nothing stored that no probe sent.
    assert!(stored.iter().all(|id| sent.contains(id)));
}

/// Posts batches until `killed`; every id sent, and those acknowledged
/// (accepted or duplicate) by a 200.
async fn post_until_killed(
    url: &str,
    probe: &str,
    token: &str,
    acked: &AtomicUsize,
    killed: &AtomicBool,
) -> (Vec<uuid::Uuid>, Vec<uuid::Uuid>) {
    let client = TestClient::new().timeout(Duration::from_secs(20));
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("x-sonde-probe", probe),
        ("x-sonde-region", "eu-west-1"),
    ];
    let (mut sent, mut acknowledged) = (Vec::new(), Vec::new());
    for _ in 0..MAX_BATCHES {
        if killed.load(Ordering::Relaxed) {
            break;
        }
        let results: Vec<_> = (0..BATCH)
            .map(|_| {
                crate::common::result(
                    "checkout",
                    probe,
                    "eu-west-1",
                    "success",
                    chrono::Utc::now(),
                )
            })
            .collect();
        sent.extend(results.iter().map(|r| id_of(&r["id"])));
        let body = crate::common::batch(&results);
        let Ok(answer) = client
            .request(Method::POST, url, &headers, Some(body.into()))
            .await
        else {
            // The connection broke: the scheduler was killed.
            break;
        };
        assert_eq!(answer.status, 200, "{}", answer.text());
        let ack = answer.json().unwrap();
        for key in ["accepted", "duplicates"] {
            let ids = ack[key].as_array().unwrap();
            acknowledged.extend(ids.iter().map(id_of));
        }
        acked.fetch_add(BATCH, Ordering::Relaxed);
    }
    (sent, acknowledged)
}

fn id_of(v: &serde_json::Value) -> uuid::Uuid {
    v.as_str().unwrap().parse().unwrap()
}
