//! The store on both backends (a real SQLite file, a real PostgreSQL
//! database): concurrent writers keep each id once, retention deletes by
//! start time, migrations are recorded and a newer schema is refused, a
//! region keeps its recent runs; on-demand runs are answered once and
//! expire; each replica keeps its latest catalog report.

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
    the_leader_lease_changes_hands_only_once_it_runs_out,
    a_fence_refuses_the_write_of_a_replaced_leader,
    results_queued_for_the_leader_come_back_once_in_order,
    an_on_demand_run_is_stored_answered_once_and_expires,
    a_test_run_keeps_its_scenario_and_is_read_back_by_id,
    each_replica_keeps_its_latest_catalog_report,
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
                versions, "12",
                "results, alerts, notifiers, confirmations, recent runs, retries, maintenance, audit, viewer tokens, leader lease, on-demand runs and replicas, compressed results"
            );
            assert_eq!(kit.sql("PRAGMA journal_mode"), "wal");
        }
        // The same tables from the start, then the leader lease, then
        // on-demand runs and replicas.
        Backend::Postgres => assert_eq!(versions, "3"),
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

fn fence(replica: &str, epoch: i64) -> scheduler::leadership::Fence {
    scheduler::leadership::Fence {
        replica: replica.into(),
        epoch,
    }
}

async fn the_leader_lease_changes_hands_only_once_it_runs_out(kit: TestStore) {
    let store = kit.open(0).await.unwrap();
    let claim = |replica: &'static str, ttl_ms: i64, now_ms: i64| {
        let store = store.clone();
        async move {
            store
                .write(move |tx| tx.claim_lease(replica, ttl_ms, now_ms))
                .await
                .unwrap()
        }
    };
    // PostgreSQL judges expiry on its own clock, SQLite on the caller's:
    // "now" is the real time, so both backends agree.
    let now = || chrono::Utc::now().timestamp_millis();
    let a = claim("sched-a", 60_000, now()).await;
    assert_eq!((a.holder.as_str(), a.epoch), ("sched-a", 1));
    let b = claim("sched-b", 60_000, now()).await;
    assert_eq!(
        (b.holder.as_str(), b.epoch),
        ("sched-a", 1),
        "a held lease is not taken"
    );
    let renewed = claim("sched-a", 60_000, now()).await;
    assert_eq!(renewed.epoch, 1, "renewal keeps the epoch");
    assert!(renewed.expires_at >= a.expires_at);
    // Released at a clean shutdown: the next claim takes it at once.
    store
        .write(move |tx| tx.release_lease("sched-a", 1, now()))
        .await
        .unwrap();
    let b = claim("sched-b", 300, now()).await;
    assert_eq!((b.holder.as_str(), b.epoch), ("sched-b", 2));
    // Not renewed: it runs out and the other takes it at the next epoch.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let a = claim("sched-a", 60_000, now()).await;
    assert_eq!((a.holder.as_str(), a.epoch), ("sched-a", 3));
    let stored = store.read(|tx| tx.current_lease()).await.unwrap();
    assert_eq!(stored, Some(a));
    store.close().await;
}

async fn a_fence_refuses_the_write_of_a_replaced_leader(kit: TestStore) {
    let store = kit.open(0).await.unwrap();
    let now = || chrono::Utc::now().timestamp_millis();
    store
        .write(move |tx| tx.claim_lease("sched-a", 200, now()))
        .await
        .unwrap();
    let held = store
        .write(move |tx| {
            tx.check_fence(&fence("sched-a", 1), now())?;
            tx.record_audit(&audit_entry("by the leader"))
        })
        .await;
    assert!(held.is_ok(), "{held:?}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    store
        .write(move |tx| tx.claim_lease("sched-b", 60_000, now()))
        .await
        .unwrap();
    // The old leader, back from a pause, still believes in epoch 1.
    let stale = store
        .write(move |tx| {
            tx.check_fence(&fence("sched-a", 1), now())?;
            tx.record_audit(&audit_entry("by a replaced leader"))
        })
        .await;
    assert!(matches!(stale, Err(StoreError::Fenced(_))), "{stale:?}");
    let err = stale.unwrap_err().to_string();
    assert!(err.contains("sched-a") && err.contains("epoch 1"), "{err}");
    // Nothing of the refused job was written.
    let written = store
        .read(|tx| tx.audit_since(0, 10))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.target)
        .collect::<Vec<_>>();
    assert_eq!(written, ["by the leader"]);
    let new_leader = store
        .write(move |tx| tx.check_fence(&fence("sched-b", 2), now()))
        .await;
    assert!(new_leader.is_ok(), "{new_leader:?}");
    store.close().await;
}

fn audit_entry(target: &str) -> scheduler::store::audit::AuditEntry {
    scheduler::store::audit::AuditEntry {
        at: crate::common::t0(),
        actor: "test".into(),
        action: "silence.create".into(),
        target: target.into(),
        detail: None,
    }
}

async fn results_queued_for_the_leader_come_back_once_in_order(kit: TestStore) {
    let store = kit.open(0).await.unwrap();
    let t = crate::common::t0();
    let rows = [
        row(t + chrono::Duration::seconds(2)),
        row(t),
        row(t + chrono::Duration::seconds(1)),
    ];
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
    let (first, rest) = (ids[..2].to_vec(), ids[2..].to_vec());
    store
        .write(move |tx| {
            tx.insert_results(&mut rows.iter(), 0)?;
            tx.queue_for_evaluation(&first, 10)?;
            tx.queue_for_evaluation(&rest, 20)?;
            // Queued twice (a retried ingest): still once.
            tx.queue_for_evaluation(&rest, 30)
        })
        .await
        .unwrap();
    let pending = store.read(|tx| tx.pending_results(10)).await.unwrap();
    let got: Vec<uuid::Uuid> = pending.iter().map(|r| r.id).collect();
    // By the time queued, then by start within one batch.
    assert_eq!(got, [ids[1], ids[0], ids[2]]);
    assert_eq!(store.read(|tx| tx.pending_count()).await.unwrap(), 3);
    let done = vec![ids[1], ids[0]];
    store.write(move |tx| tx.evaluated(&done)).await.unwrap();
    let left = store.read(|tx| tx.pending_results(10)).await.unwrap();
    assert_eq!(left.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[2]]);
    store.close().await;
}

async fn an_on_demand_run_is_stored_answered_once_and_expires(kit: TestStore) {
    use scenarios::wire::{RunReason, RunRequest};
    let store = kit.open(0).await.unwrap();
    let t = crate::common::t0();
    let request = |at| RunRequest {
        id: uuid::Uuid::now_v7(),
        scenario: "checkout".into(),
        requested_at: at,
        reason: RunReason::RunNow,
        inline: None,
    };
    let (old, new) = (request(t), request(t + chrono::Duration::minutes(5)));
    let (o, n) = (old.clone(), new.clone());
    store
        .write(move |tx| {
            tx.save_run_request("p1", &o)?;
            tx.save_run_request("p2", &n)?;
            // Saved again (a retried call): still once.
            tx.save_run_request("p2", &n)
        })
        .await
        .unwrap();
    let mut answer = crate::common::result("checkout", "p2", "eu-west-1", "success", t);
    answer["run_request"] = serde_json::json!(new.id);
    let first = answer.to_string();
    answer["outcome"] = serde_json::json!("failure");
    let second = answer.to_string();
    let id = new.id;
    store
        .write(move |tx| {
            tx.answer_run_request(id, &first)?;
            // A second answer to the same request does not replace the first.
            tx.answer_run_request(id, &second)
        })
        .await
        .unwrap();
    let since = t.timestamp_millis();
    let rows = store
        .read(move |tx| tx.run_requests_since(since))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0].probe.as_str(), &rows[0].request), ("p1", &old));
    assert!(rows[0].answer.is_none());
    assert_eq!((rows[1].probe.as_str(), &rows[1].request), ("p2", &new));
    let answered = rows[1].answer.as_ref().expect("answered");
    assert_eq!(answered.outcome, scenarios::wire::Outcome::Success);
    let later = (t + chrono::Duration::minutes(1)).timestamp_millis();
    assert_eq!(
        store
            .read(move |tx| tx.run_requests_since(later))
            .await
            .unwrap()
            .len(),
        1
    );
    let deleted = store
        .write(move |tx| tx.delete_run_requests_before(later))
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(
        store
            .read(move |tx| tx.run_requests_since(0))
            .await
            .unwrap()
            .len(),
        1
    );
    store.close().await;
}

async fn each_replica_keeps_its_latest_catalog_report(kit: TestStore) {
    use scheduler::store::replicas::ReplicaRow;
    let store = kit.open(0).await.unwrap();
    let report = |name: &str, version: &str, at| ReplicaRow {
        name: name.into(),
        catalog_version: version.into(),
        catalog_errors: 0,
        seen_at: at,
    };
    let (a1, b, a2) = (
        report("a", "sha256:1", 10),
        report("b", "sha256:1", 20),
        report("a", "sha256:2", 30),
    );
    let expected = vec![a2.clone(), b.clone()];
    store
        .write(move |tx| {
            tx.report_replica(&a1)?;
            tx.report_replica(&b)?;
            tx.report_replica(&a2)
        })
        .await
        .unwrap();
    assert_eq!(store.read(|tx| tx.replicas()).await.unwrap(), expected);
    store.close().await;
}

async fn a_test_run_keeps_its_scenario_and_is_read_back_by_id(kit: TestStore) {
    use scenarios::wire::{PlannedScenario, RunReason, RunRequest};
    let store = kit.open(0).await.unwrap();
    let source =
        "name = \"pr_journey\"\n[[steps]]\nname = \"home\"\nget = \"http://127.0.0.1:9/\"\n";
    let request = RunRequest {
        id: uuid::Uuid::now_v7(),
        scenario: "pr_journey".into(),
        requested_at: crate::common::t0(),
        reason: RunReason::RunNow,
        inline: Some(PlannedScenario {
            name: "pr_journey".into(),
            path: "pr_journey.toml".into(),
            version: "sha256:00".into(),
            source: source.into(),
            files: Default::default(),
        }),
    };
    let saved = request.clone();
    store
        .write(move |tx| tx.save_run_request("p1", &saved))
        .await
        .unwrap();
    let id = request.id;
    let row = store.read(move |tx| tx.run_request(id)).await.unwrap();
    let row = row.expect("stored");
    // Another replica hands the scenario out from the row alone.
    assert_eq!((row.probe.as_str(), &row.request), ("p1", &request));
    assert!(row.answer.is_none());
    let other = uuid::Uuid::now_v7();
    assert!(
        store
            .read(move |tx| tx.run_request(other))
            .await
            .unwrap()
            .is_none()
    );
    store.close().await;
}
