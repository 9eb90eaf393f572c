//! The signed generic webhook: the body of docs/alerting.md, Standard
//! Webhooks headers that verify, mutes recorded but not sent, routing by labels.

use scheduler::alert::notify::SigningKey;
use scheduler::config::{NotifierKind, WebhookSecret};

use crate::notify_support::{Fixture, Receiver, alert, entry, eventually, fast, firing, resolved};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn webhook(url: &str) -> scheduler::config::NotifyEntry {
    let mut e = entry(NotifierKind::Webhook, url);
    e.secret = Some(WebhookSecret::parse(SECRET).unwrap());
    e
}

#[tokio::test]
async fn receiver_verifies_the_signature_and_sees_the_design_body() {
    let receiver = Receiver::start(&[]).await;
    let mut f = Fixture::new().await;
    f.start(&[webhook(&receiver.url("/sonde"))], &fast());
    let a = alert("eu-west-1");
    let fired = f.push(&firing(&a)).await;
    let seen = receiver.wait_for(1).await;
    let req = &seen[0];

    // Recompute the signature as a receiver would.
    let id = req.header("webhook-id");
    let timestamp: i64 = req.header("webhook-timestamp").parse().unwrap();
    assert_eq!(id, format!("msg_{fired}"));
    assert!((timestamp - chrono::Utc::now().timestamp()).abs() < 60);
    let key = SigningKey::try_new(SECRET).unwrap();
    let signature = req.header("webhook-signature");
    assert!(signature.starts_with("v1,"), "{signature}");
    assert!(key.verify(&id, timestamp, &req.body, &signature));
    assert!(!key.verify(&id, timestamp + 1, &req.body, &signature));
    assert_eq!(req.header("content-type"), "application/json");

    let body = req.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["status"], "firing");
    assert!(body["sent_at"].as_str().unwrap().ends_with('Z'));
    let alert = &body["alert"];
    for key in [
        "id",
        "scope",
        "scenario",
        "regions",
        "probe",
        "severity",
        "step",
        "error",
        "expected",
        "actual",
        "confirmation",
        "trace_id",
        "runbook",
        "url",
        "started_at",
        "ended_at",
        "duration_s",
    ] {
        assert!(alert.get(key).is_some(), "alert.{key} missing: {alert}");
    }
    assert_eq!(alert["id"], "checkout/region/eu-west-1");
    assert_eq!(alert["scope"], "region");
    assert_eq!(alert["expected"], "200");
    assert_eq!(alert["actual"], "503");
    assert_eq!(alert["confirmation"]["region"], "us-east-1");
    assert!(alert["probe"].is_null() && alert["ended_at"].is_null());

    f.push(&resolved(&a)).await;
    let seen = receiver.wait_for(2).await;
    let body = seen[1].json();
    assert_eq!(body["status"], "resolved");
    assert!(body["alert"]["ended_at"].is_string());
    assert!(body["alert"]["duration_s"].is_number());
    assert_ne!(seen[1].header("webhook-id"), id);
    f.stop().await;
}

#[tokio::test]
async fn muted_events_are_recorded_as_skipped_not_sent() {
    let receiver = Receiver::start(&[]).await;
    let mut f = Fixture::new().await;
    f.start(&[webhook(&receiver.url("/"))], &fast());
    let mut muted = firing(&alert("eu-west-1"));
    muted.muted = true;
    let skipped = f.push(&muted).await;
    let sent = f.push(&firing(&alert("us-east-1"))).await;
    let seen = receiver.wait_for(1).await;
    eventually("both events handled", || async {
        let states: Vec<String> = f.outbox().await.into_iter().map(|r| r.1).collect();
        states == ["skipped", "sent"]
    })
    .await;
    // The muted one never goes out, even after the next one did.
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("webhook-id"), format!("msg_{sent}"));
    let outbox = f.outbox().await;
    assert_eq!(outbox[0], (skipped, "skipped".to_owned(), 0));
    f.stop().await;
}

#[tokio::test]
async fn a_resolve_follows_its_page_even_when_muted_meanwhile() {
    let receiver = Receiver::start(&[]).await;
    let mut f = Fixture::new().await;
    f.start(&[webhook(&receiver.url("/"))], &fast());
    let a = alert("eu-west-1");
    f.push(&firing(&a)).await;
    receiver.wait_for(1).await;
    let mut resolve = resolved(&a);
    resolve.muted = true;
    f.push(&resolve).await;
    let seen = receiver.wait_for(2).await;
    assert_eq!(seen[1].json()["status"], "resolved");
    f.stop().await;
}

#[tokio::test]
async fn each_event_goes_to_every_matching_notifier_only() {
    let critical = Receiver::start(&[]).await;
    let payments = Receiver::start(&[]).await;
    let eu = Receiver::start(&[]).await;
    let mut f = Fixture::new().await;
    let mut to_critical = webhook(&critical.url("/"));
    to_critical.match_labels = [("severity".into(), "critical".into())].into();
    let mut to_payments = webhook(&payments.url("/"));
    to_payments.match_labels = [("team".into(), "payments".into())].into();
    let mut to_eu = webhook(&eu.url("/"));
    to_eu.match_labels = [("region".into(), "eu-west-1".into())].into();
    f.start(&[to_critical, to_payments, to_eu], &fast());

    let mut global = alert("eu-west-1");
    global.id = "checkout/global".into();
    global.scope = scheduler::alert::Scope::Global;
    global.regions = vec!["eu-west-1".into(), "us-east-1".into()];
    f.push(&firing(&global)).await;
    f.push(&firing(&alert("us-east-1"))).await;
    critical.wait_for(2).await;
    eu.wait_for(1).await;
    eventually("every notifier past both events", || async {
        f.outbox().await.len() == 3
    })
    .await;
    assert_eq!(critical.seen().len(), 2);
    assert_eq!(
        eu.seen().len(),
        1,
        "eu-west-1 hears of the global alert only"
    );
    assert!(payments.seen().is_empty());
    f.stop().await;
}
