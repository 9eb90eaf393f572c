//! `SondeWatchdog`: a real scheduler with an Alertmanager notifier keeps
//! an always-firing alert in a real Alertmanager, which is no incident of
//! its own, and which Alertmanager expires by itself once the scheduler
//! is killed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use scheduler::config::NotifierKind;
use serde_json::Value;
use sonde_tests::{Spawn, free_port, wait_for_http};

use crate::notify_alertmanager::{active, start_alertmanager};
use crate::notify_support::{Fixture, alert, entry, eventually, fast, firing};
use crate::notify_trial::{BIN, config};

fn ends_at(alert: &Value) -> DateTime<Utc> {
    alert["endsAt"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_scheduler_keeps_the_watchdog_firing_and_it_expires_after_a_kill() {
    let Some(am) = start_alertmanager().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let notify = format!(
        "replica = \"sched-a\"\n[[notify]]\nkind = \"alertmanager\"\nurl = \"{}\"\nresend_interval = \"1s\"\nmatch = {{ team = \"shop\" }}\n",
        am.url
    );
    let path = config(dir.path(), port, &notify);
    let mut scheduler = Spawn::new(BIN)
        .name("scheduler")
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .start()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_for_http(&format!("{base}/readyz"), Duration::from_secs(20))
        .await
        .unwrap();

    eventually("SondeWatchdog in Alertmanager", || async {
        !active(&am, "SondeWatchdog").await.is_empty()
    })
    .await;
    let shown = active(&am, "SondeWatchdog").await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    let labels = &shown[0]["labels"];
    assert_eq!(labels["severity"], "none");
    assert_eq!(labels["team"], "shop", "the entry's match labels route it");
    assert!(labels.get("scenario").is_none(), "{labels}");
    // Re-sent with the firing alerts: its end keeps moving ahead.
    let first_end = ends_at(&shown[0]);
    eventually("a re-send moving the watchdog's endsAt", || async {
        active(&am, "SondeWatchdog")
            .await
            .first()
            .is_some_and(|a| ends_at(a) > first_end)
    })
    .await;

    // No incident: nothing in the read API, nothing firing in /metrics.
    let alerts: Value = reqwest::get(format!("{base}/api/v1/alerts"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alerts["open"], serde_json::json!([]), "{alerts}");
    assert_eq!(alerts["recent"], serde_json::json!([]), "{alerts}");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let leader = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sonde_scheduler_leader{replica=\"sched-a\"} "))
        .map(|v| v.parse::<f64>().unwrap());
    assert_eq!(leader, Some(1.0), "{metrics}");
    assert!(!metrics.contains("SondeWatchdog"), "{metrics}");
    let firing: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("sonde_alerts_firing{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(firing, 0.0, "the watchdog is not counted firing: {metrics}");
    let page = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("SondeWatchdog"),
        "the status page shows no incident"
    );

    // Killed: no resolve is sent, but the last endsAt is near, so
    // Alertmanager lets it expire, and the dead man's switch pages.
    scheduler.kill().await;
    let killed_at = Utc::now();
    let last = active(&am, "SondeWatchdog").await;
    assert_eq!(last.len(), 1, "{last:?}");
    let end = ends_at(&last[0]);
    assert!(end > killed_at - chrono::Duration::seconds(1), "{end}");
    assert!(
        end <= killed_at + chrono::Duration::seconds(5),
        "four 1s re-send intervals at most: {end}"
    );
    eventually("the watchdog expired in Alertmanager", || async {
        active(&am, "SondeWatchdog").await.is_empty()
    })
    .await;
}

#[tokio::test]
async fn the_watchdog_fires_beside_real_alerts_and_stays_when_they_resolve() {
    let Some(am) = start_alertmanager().await else {
        return;
    };
    let mut f = Fixture::new().await;
    let mut am_entry = entry(NotifierKind::Alertmanager, &am.url);
    am_entry.resend_interval = Some(Duration::from_millis(300));
    f.start(&[am_entry], &fast());
    eventually("SondeWatchdog with nothing else firing", || async {
        !active(&am, "SondeWatchdog").await.is_empty()
    })
    .await;
    assert!(active(&am, "SondeScenarioDown").await.is_empty());

    let a = alert("eu-west-1");
    f.push(&firing(&a)).await;
    eventually("the incident beside the watchdog", || async {
        !active(&am, "SondeScenarioDown").await.is_empty()
    })
    .await;
    f.push(&crate::notify_support::resolved(&a)).await;
    eventually("the incident resolved", || async {
        active(&am, "SondeScenarioDown").await.is_empty()
    })
    .await;
    assert_eq!(active(&am, "SondeWatchdog").await.len(), 1);
    f.stop().await;
}

#[tokio::test]
async fn a_replica_that_does_not_lead_sends_neither_alerts_nor_the_watchdog() {
    let receiver = crate::notify_support::Receiver::start(&[]).await;
    let mut f = Fixture::new().await;
    let leadership = scheduler::leadership::Leadership::sole("sched-b");
    leadership.set_leader(false);
    f.dispatcher = scheduler::alert::notify::Dispatcher::new(leadership.clone());
    let mut am_entry = entry(NotifierKind::Alertmanager, &receiver.url(""));
    am_entry.resend_interval = Some(Duration::from_millis(100));
    f.start(&[am_entry], &fast());
    f.push(&firing(&alert("eu-west-1"))).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.seen().is_empty(), "only the leader sends");

    // It wins the lease: the queued alert and the watchdog go out.
    leadership.set_leader(true);
    eventually("the alert and the watchdog from the new leader", || async {
        let names: Vec<String> = receiver
            .seen()
            .iter()
            .flat_map(|s| s.json().as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
            .collect();
        names.iter().any(|n| n == "SondeWatchdog") && names.iter().any(|n| n == "SondeScenarioDown")
    })
    .await;
    f.stop().await;
}
