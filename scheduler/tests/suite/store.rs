//! The store on both backends (a real SQLite file, a real PostgreSQL
//! database): concurrent writers keep each id once, retention deletes by
//! start time, migrations are recorded and a newer schema is refused, a
//! region keeps its recent runs.

use chrono::Duration;
use scenarios::wire::RunResult;
use scheduler::store::results::ResultRow;
use scheduler::store::{StoreError, retention};

use crate::store_kit::{Backend, TestStore, on_both_backends};

on_both_backends!(
    concurrent_overlapping_batches_store_each_id_once,
    retention_deletes_results_that_started_before_the_cutoff,
    migrations_are_recorded_and_a_newer_store_is_refused,
    a_region_state_keeps_its_recent_runs_and_an_older_row_has_none,
    an_event_goes_through_a_notifier_queue_once,
);

fn row(at: chrono::DateTime<chrono::Utc>) -> ResultRow {
    let json = crate::common::result("checkout", "p1", "eu-west-1", "success", at);
    let result: RunResult = serde_json::from_value(json.clone()).unwrap();
    ResultRow::from_raw(&result, &json.to_string())
}

async fn concurrent_overlapping_batches_store_each_id_once(kit: TestStore) {
    let store = kit.open(0).await.unwrap();
    let rows: Vec<ResultRow> = (0..300)
        .map(|i| row(crate::common::t0() + Duration::seconds(i)))
        .collect();
    // 30 writers, each sending 100 rows that overlap its neighbours'.
    let handles: Vec<_> = (0..30)
        .map(|w| {
            let store = store.clone();
            let batch: Vec<ResultRow> = rows
                .iter()
                .cycle()
                .skip(w * 10)
                .take(100)
                .cloned()
                .collect();
            tokio::spawn(async move {
                store
                    .write(move |tx| tx.insert_results(&mut batch.iter(), 0))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut inserted = 0;
    for h in handles {
        inserted += h.await.unwrap().iter().filter(|new| **new).count();
    }
    assert_eq!(inserted, 300);
    assert_eq!(store.read(|tx| tx.count_results()).await.unwrap(), 300);
    store.close().await;
    assert!(matches!(
        store.write(|_| Ok(())).await,
        Err(StoreError::Closed)
    ));
}

async fn retention_deletes_results_that_started_before_the_cutoff(kit: TestStore) {
    let store = kit.open(0).await.unwrap();
    let old: Vec<ResultRow> = (0..7)
        .map(|i| row(crate::common::t0() - Duration::days(40) + Duration::seconds(i)))
        .collect();
    let new: Vec<ResultRow> = (0..3)
        .map(|i| row(crate::common::t0() + Duration::seconds(i)))
        .collect();
    store
        .write(move |tx| tx.insert_results(&mut old.iter().chain(&new), 0))
        .await
        .unwrap();
    let cutoff = (crate::common::t0() - Duration::days(30)).timestamp_millis();
    assert_eq!(retention::delete_before(&store, cutoff).await.unwrap(), 7);
    assert_eq!(store.read(|tx| tx.count_results()).await.unwrap(), 3);
    store.close().await;
}

async fn migrations_are_recorded_and_a_newer_store_is_refused(kit: TestStore) {
    let store = kit.open(0).await.unwrap();
    store.close().await;
    let store = kit.open(0).await.unwrap();
    store.close().await;
    // The database itself, as the store left it.
    let versions = kit.sql("SELECT COUNT(*) FROM schema_version");
    match kit.backend {
        Backend::Sqlite => {
            assert_eq!(
                versions, "9",
                "results, alerts, notifiers, confirmations, recent runs, retries, maintenance, audit, viewer tokens"
            );
            assert_eq!(kit.sql("PRAGMA journal_mode"), "wal");
        }
        // The same tables from the start.
        Backend::Postgres => assert_eq!(versions, "1"),
    }
    kit.sql("INSERT INTO schema_version VALUES (99, 0)");
    let err = kit.open(0).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, .. }),
        "{err}"
    );
}

async fn a_region_state_keeps_its_recent_runs_and_an_older_row_has_none(kit: TestStore) {
    use scheduler::alert::{Health, RecentRuns, RegionHealth};

    let store = kit.open(0).await.unwrap();
    let health = || RegionHealth {
        health: Health::Up,
        fails: 1,
        recent: RecentRuns::from_letters("pfpf"),
        ..RegionHealth::default()
    };
    let (kept, old) = (health(), health());
    store
        .write(move |tx| {
            tx.save_health("kept", "eu-west-1", &kept, 0)?;
            tx.save_health("old", "eu-west-1", &old, 0)
        })
        .await
        .unwrap();
    store.close().await;
    // A row written before the column existed.
    kit.sql("UPDATE alert_state SET recent_runs = NULL WHERE scenario = 'old'");

    let store = kit.open(0).await.unwrap();
    let mut rows = store.read(|tx| tx.load_health()).await.unwrap();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let recent: Vec<(&str, String)> = rows
        .iter()
        .map(|(scenario, _, h)| (scenario.as_str(), h.recent.to_letters()))
        .collect();
    assert_eq!(recent, [("kept", "pfpf".into()), ("old", String::new())]);
    store.close().await;
}

async fn an_event_goes_through_a_notifier_queue_once(kit: TestStore) {
    use crate::notify_support::{alert, firing, resolved};
    use scheduler::store::notify_queue::Record;

    let store = kit.open(0).await.unwrap();
    let page = alert("eu-west-1");
    let (fired, ended) = (firing(&page), resolved(&page));
    let ids = store
        .write(move |tx| {
            tx.init_cursor("webhook-a", 1_000, 0)?;
            Ok((
                tx.insert_event(&fired, 1_000)?,
                tx.insert_event(&ended, 1_001)?,
            ))
        })
        .await
        .unwrap();
    assert!(ids.0 < ids.1, "ids grow in commit order");
    assert!(store.read(|tx| tx.has_new("webhook-a")).await.unwrap());
    let read = store
        .write(|tx| tx.enqueue("webhook-a", &|_| true, 2_000))
        .await
        .unwrap();
    assert_eq!(read, 2);
    assert!(!store.read(|tx| tx.has_new("webhook-a")).await.unwrap());
    // One per alert at a time: the resolve waits for its firing.
    let due = store
        .read(|tx| tx.due("webhook-a", 2_000, 10))
        .await
        .unwrap();
    assert_eq!(due.iter().map(|q| q.event_id).collect::<Vec<_>>(), [ids.0]);
    assert_eq!(store.read(|tx| tx.waiting("webhook-a")).await.unwrap(), 2);
    let first = ids.0;
    store
        .write(move |tx| tx.record("webhook-a", first, &Record::Sent, 2_100))
        .await
        .unwrap();
    let due = store
        .read(|tx| tx.due("webhook-a", 2_100, 10))
        .await
        .unwrap();
    assert_eq!(due.iter().map(|q| q.event_id).collect::<Vec<_>>(), [ids.1]);
    let second = ids.1;
    store
        .write(move |tx| {
            let retry = Record::Retry {
                next_at: 5_000,
                error: "503".into(),
            };
            tx.record("webhook-a", second, &retry, 2_200)
        })
        .await
        .unwrap();
    assert_eq!(
        store.read(|tx| tx.next_due("webhook-a")).await.unwrap(),
        Some(5_000)
    );
    assert!(
        store
            .read(|tx| tx.due("webhook-a", 2_300, 10))
            .await
            .unwrap()
            .is_empty()
    );
    let due = store
        .read(|tx| tx.due("webhook-a", 5_000, 10))
        .await
        .unwrap();
    assert_eq!(due[0].attempts, 1);
    let delivered = store
        .write(|tx| tx.delivered("webhook-a", 0))
        .await
        .unwrap();
    assert!(delivered.is_empty(), "its resolve is still pending");
    store.close().await;
}
