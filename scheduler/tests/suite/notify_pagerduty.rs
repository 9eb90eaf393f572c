//! PagerDuty Events v2: a 429 is retried with the same `dedup_key` and
//! payload; a 400 is never retried and counts as failed; the attempts
//! show in `/metrics`.

use scheduler::config::{NotifierKind, NotifyEntry};

use crate::notify_support::{Fixture, Receiver, alert, entry, eventually, fast, firing, resolved};

fn pagerduty(url: &str) -> NotifyEntry {
    let mut e = entry(NotifierKind::Pagerduty, url);
    e.routing_key = Some("R0UT1NGKEY".into());
    e
}

#[tokio::test]
async fn a_429_is_retried_with_the_same_dedup_key_and_payload() {
    let receiver = Receiver::start(&[429, 202]).await;
    let mut f = Fixture::new().await;
    f.start(&[pagerduty(&receiver.url("/v2/enqueue"))], &fast());
    let a = alert("eu-west-1");
    f.push(&firing(&a)).await;
    let seen = receiver.wait_for(2).await;
    let (first, second) = (seen[0].json(), seen[1].json());
    assert_eq!(first["dedup_key"], "checkout/region/eu-west-1");
    assert_eq!(first, second, "a retry carries the same event");
    assert_eq!(first["routing_key"], "R0UT1NGKEY");
    assert_eq!(first["event_action"], "trigger");
    assert_eq!(first["payload"]["source"], "sonde");
    assert_eq!(first["payload"]["severity"], "critical");
    assert_eq!(first["payload"]["component"], "checkout");
    assert_eq!(first["payload"]["group"], "eu-west-1");
    assert_eq!(first["payload"]["custom_details"]["step"], "checkout");
    assert_eq!(
        first["links"][0]["href"],
        "https://runbooks.example.com/checkout"
    );
    assert_eq!(
        first["links"][1],
        serde_json::json!({
            "href": "https://jaeger.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4736",
            "text": "Trace"
        })
    );
    assert!(seen[1].at > seen[0].at, "the retry came after a back-off");

    f.push(&resolved(&a)).await;
    let seen = receiver.wait_for(3).await;
    assert_eq!(seen[2].json()["event_action"], "resolve");
    assert_eq!(seen[2].json()["dedup_key"], "checkout/region/eu-west-1");
    eventually("the resolve recorded", || async {
        f.outbox().await.iter().all(|r| r.1 == "sent")
    })
    .await;
    let lines = [
        "sonde_notifications_total{notifier=\"pagerduty\",outcome=\"sent\"} 2",
        "sonde_notifications_total{notifier=\"pagerduty\",outcome=\"retry\"} 1",
        "sonde_notifications_total{notifier=\"pagerduty\",outcome=\"failed\"} 0",
        "sonde_notification_queue{notifier=\"pagerduty\"} 0",
    ];
    // The worker counts a delivery just after recording it: wait for both.
    eventually("the deliveries counted", || async {
        let scrape = f.scrape();
        lines.iter().all(|line| scrape.contains(line))
    })
    .await;
    f.stop().await;
}

#[tokio::test]
async fn a_400_is_not_retried_and_counts_as_failed() {
    let receiver = Receiver::start(&[400]).await;
    let mut f = Fixture::new().await;
    f.start(&[pagerduty(&receiver.url("/v2/enqueue"))], &fast());
    let rejected = f.push(&firing(&alert("eu-west-1"))).await;
    let next = f.push(&firing(&alert("us-east-1"))).await;
    receiver.wait_for(2).await;
    eventually("both recorded", || async {
        f.outbox().await.iter().all(|r| r.1 != "pending")
    })
    .await;
    // Several back-off periods pass: the rejected event stays untouched.
    tokio::time::sleep(fast().backoff_cap * 2).await;
    let seen = receiver.seen();
    assert_eq!(seen.len(), 2, "the 400 was hit exactly once");
    assert_eq!(seen[0].json()["dedup_key"], "checkout/region/eu-west-1");
    assert_eq!(seen[1].json()["dedup_key"], "checkout/region/us-east-1");
    let outbox = f.outbox().await;
    assert_eq!(outbox[0], (rejected, "failed".to_owned(), 1));
    assert_eq!(outbox[1], (next, "sent".to_owned(), 1));
    let scrape = f.scrape();
    assert!(
        scrape.contains("sonde_notifications_total{notifier=\"pagerduty\",outcome=\"failed\"} 1"),
        "{scrape}"
    );
    assert!(
        scrape.contains("sonde_notifications_total{notifier=\"pagerduty\",outcome=\"retry\"} 0"),
        "{scrape}"
    );
    f.stop().await;
}

#[tokio::test]
async fn a_retry_in_one_alert_does_not_hold_up_another_nor_reorder_its_own() {
    // The first alert's trigger meets 503s; the second alert goes through
    // meanwhile; the first alert's resolve waits for its trigger.
    let receiver = Receiver::start(&[503, 202, 503, 202, 202]).await;
    let mut f = Fixture::new().await;
    f.start(&[pagerduty(&receiver.url("/"))], &fast());
    let a = alert("eu-west-1");
    f.push(&firing(&a)).await;
    f.push(&firing(&alert("us-east-1"))).await;
    f.push(&resolved(&a)).await;
    receiver.wait_for(5).await;
    eventually("all sent", || async {
        f.outbox().await.iter().all(|r| r.1 == "sent")
    })
    .await;
    let keys: Vec<String> = receiver
        .seen()
        .iter()
        .map(|s| s.json()["dedup_key"].as_str().unwrap().to_owned())
        .collect();
    let first_us = keys.iter().position(|k| k.ends_with("us-east-1")).unwrap();
    let last_eu_trigger = keys.iter().rposition(|k| k.ends_with("eu-west-1")).unwrap();
    assert!(
        first_us < last_eu_trigger,
        "us-east-1 waited for eu-west-1: {keys:?}"
    );
    let eu: Vec<String> = receiver
        .seen()
        .iter()
        .map(|s| s.json())
        .filter(|j| j["dedup_key"] == "checkout/region/eu-west-1")
        .map(|j| j["event_action"].as_str().unwrap().to_owned())
        .collect();
    let last_trigger = eu.iter().rposition(|a| a == "trigger").unwrap();
    let resolve = eu.iter().position(|a| a == "resolve").unwrap();
    assert!(resolve > last_trigger, "{eu:?}");
    f.stop().await;
}
