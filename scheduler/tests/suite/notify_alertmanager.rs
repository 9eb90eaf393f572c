//! A real Alertmanager (Debian `prometheus-alertmanager`) receives a
//! firing alert with our labels, keeps it while it is re-sent, and drops
//! it from its active alerts on the resolve.

use std::time::Duration;

use scheduler::config::NotifierKind;
use serde_json::Value;
use sonde_tests::{ChildGuard, Spawn, free_port, wait_for_http};

use crate::notify_support::{Fixture, alert, entry, eventually, fast, firing, resolved};

const BINARY: &str = "prometheus-alertmanager";
/// One receiver with no integrations: alerts are held, never sent on.
const CONFIG: &str = "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n";

pub struct Alertmanager {
    pub url: String,
    _dir: tempfile::TempDir,
    _child: ChildGuard,
}

/// Starts Alertmanager on a free loopback port; `None` when not installed.
pub async fn start_alertmanager() -> Option<Alertmanager> {
    let installed = std::process::Command::new(BINARY)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("note: `{BINARY}` is not installed (Debian `prometheus-alertmanager`); skipped");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(&config, CONFIG).unwrap();
    let port = free_port().unwrap();
    let child = Spawn::new(BINARY)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .start()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    wait_for_http(&format!("{url}/-/ready"), Duration::from_secs(20))
        .await
        .unwrap();
    Some(Alertmanager {
        url,
        _dir: dir,
        _child: child,
    })
}

/// Active alerts named `alertname`.
pub async fn active(am: &Alertmanager, alertname: &str) -> Vec<Value> {
    let url = format!(
        "{}/api/v2/alerts?active=true&filter=alertname%3D%22{alertname}%22",
        am.url
    );
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let alerts: Vec<Value> = serde_json::from_str(&body).unwrap();
    alerts
        .into_iter()
        .filter(|a| a["status"]["state"] == "active")
        .collect()
}

#[tokio::test]
async fn firing_shows_in_alertmanager_and_the_resolve_clears_it() {
    let Some(am) = start_alertmanager().await else {
        return;
    };
    let mut f = Fixture::new().await;
    let mut am_entry = entry(NotifierKind::Alertmanager, &am.url);
    am_entry.resend_interval = Some(Duration::from_millis(300));
    f.start(&[am_entry], &fast());

    let a = alert("eu-west-1");
    f.push(&firing(&a)).await;
    eventually("the alert in Alertmanager", || async {
        !active(&am, "SondeScenarioDown").await.is_empty()
    })
    .await;
    let shown = active(&am, "SondeScenarioDown").await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    let got = &shown[0];
    let labels = &got["labels"];
    assert_eq!(labels["scenario"], "checkout");
    assert_eq!(labels["region"], "eu-west-1");
    assert_eq!(labels["scope"], "region");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["team"], "shop");
    let annotations = &got["annotations"];
    assert!(
        annotations["summary"]
            .as_str()
            .unwrap()
            .contains("down in eu-west-1")
    );
    let description = annotations["description"].as_str().unwrap();
    assert!(description.contains("Step: checkout"), "{description}");
    assert!(
        description.contains("expected 200, got 503"),
        "{description}"
    );
    assert!(description.contains("Trace id: 4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(
        annotations["trace_url"],
        "https://jaeger.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(
        annotations["runbook_url"],
        "https://runbooks.example.com/checkout"
    );
    assert_eq!(
        got["generatorURL"],
        "http://127.0.0.1:9470/api/v1/scenarios/checkout"
    );

    // Re-sent while firing: Alertmanager sees `endsAt` move forward.
    let first_end = got["endsAt"].as_str().unwrap().to_owned();
    eventually("a re-send moving endsAt", || async {
        let now = active(&am, "SondeScenarioDown").await;
        now.first()
            .and_then(|a| a["endsAt"].as_str())
            .is_some_and(|end| end > first_end.as_str())
    })
    .await;

    f.push(&resolved(&a)).await;
    eventually("the alert resolved in Alertmanager", || async {
        active(&am, "SondeScenarioDown").await.is_empty()
    })
    .await;
    f.stop().await;
}
