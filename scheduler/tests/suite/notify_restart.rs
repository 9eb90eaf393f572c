//! Durable delivery: a notifier outage or a restart (workers stopped
//! mid-way, store closed and reopened) delays notifications but never
//! drops one, and none delivered is sent again.

use std::collections::BTreeMap;
use std::time::Duration;

use scheduler::config::{NotifierKind, NotifyEntry, WebhookSecret};

use crate::notify_support::{Fixture, Receiver, alert, entry, eventually, fast, firing};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const EVENTS: usize = 20;

fn webhook(url: &str) -> NotifyEntry {
    let mut e = entry(NotifierKind::Webhook, url);
    e.secret = Some(WebhookSecret::parse(SECRET).unwrap());
    e
}

/// How often each `webhook-id` arrived.
fn counts(receiver: &Receiver) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for s in receiver.seen() {
        *counts.entry(s.header("webhook-id")).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn stopped_mid_way_and_restarted_every_event_arrives_exactly_once() {
    // Slow answers, so the stop lands while requests are in flight.
    let receiver = Receiver::start_with_delay(&[], Duration::from_millis(30)).await;
    let mut f = Fixture::new().await;
    let entries = [webhook(&receiver.url("/"))];
    let mut ids = Vec::new();
    for i in 0..EVENTS {
        ids.push(f.push(&firing(&alert(&format!("region-{i}")))).await);
    }
    f.start(&entries, &fast());
    receiver.wait_for(5).await;
    f.restart_store().await;
    let before = receiver.seen().len();
    assert!(before < EVENTS, "stopped before the end ({before})");

    f.start(&entries, &fast());
    eventually("every event delivered", || async {
        counts(&receiver).len() == EVENTS
    })
    .await;
    // One more event after the backlog: by the time it arrives, anything
    // the restarted worker would wrongly repeat has gone out too.
    let last = f.push(&firing(&alert("late"))).await;
    eventually("the late event", || async {
        counts(&receiver).contains_key(&format!("msg_{last}"))
    })
    .await;
    let counts = counts(&receiver);
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "sent twice: {repeated:?}");
    for id in ids {
        assert_eq!(counts.get(&format!("msg_{id}")), Some(&1));
    }
    f.stop().await;
}

#[tokio::test]
async fn an_outage_delays_but_does_not_drop() {
    // The receiver is down for its first answers (503), then recovers.
    let receiver = Receiver::start(&[503, 503, 503]).await;
    let mut f = Fixture::new().await;
    f.start(&[webhook(&receiver.url("/"))], &fast());
    let id = f.push(&firing(&alert("eu-west-1"))).await;
    let seen = receiver.wait_for(4).await;
    let ids: Vec<String> = seen.iter().map(|s| s.header("webhook-id")).collect();
    assert_eq!(
        ids,
        vec![format!("msg_{id}"); 4],
        "same webhook-id on every retry"
    );
    // Back-off: each wait at least half the doubled base.
    let gaps: Vec<_> = seen.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= chrono::Duration::milliseconds(20), "{gaps:?}");
    eventually("recorded as sent", || async {
        f.outbox().await == vec![(id, "sent".to_owned(), 4)]
    })
    .await;
    f.stop().await;
}

#[tokio::test]
async fn events_written_while_the_scheduler_was_down_go_out_after_restart() {
    let receiver = Receiver::start(&[]).await;
    let mut f = Fixture::new().await;
    let entries = [webhook(&receiver.url("/"))];
    f.start(&entries, &fast());
    let first = f.push(&firing(&alert("eu-west-1"))).await;
    receiver.wait_for(1).await;
    f.restart_store().await;
    // Written while no worker runs (e.g. by the engine before they start).
    let second = f.push(&firing(&alert("us-east-1"))).await;
    f.start(&entries, &fast());
    let seen = receiver.wait_for(2).await;
    let ids: Vec<String> = seen.iter().map(|s| s.header("webhook-id")).collect();
    assert_eq!(ids, [format!("msg_{first}"), format!("msg_{second}")]);
    f.stop().await;
}
