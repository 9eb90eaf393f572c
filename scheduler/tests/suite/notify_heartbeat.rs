//! `kind = "heartbeat"`: a loopback dead man's switch is pinged every
//! `interval` by the leader only, each ping counted; a ping it refuses is
//! counted failed and the next tick pings again; it is told no alerts;
//! `notify test` pings it once.

use std::time::Duration;

use scheduler::alert::notify::Dispatcher;
use scheduler::config::NotifierKind;
use scheduler::leadership::Leadership;
use sonde_tests::free_port;

use crate::notify_support::{Fixture, Receiver, alert, entry, fast, firing};
use crate::notify_trial::{cli, config, text};

const EVERY: Duration = Duration::from_millis(400);

fn heartbeat(url: &str) -> scheduler::config::NotifyEntry {
    let mut e = entry(NotifierKind::Heartbeat, url);
    e.interval = Some(EVERY);
    e
}

/// The value of one `sonde_notifications_total` series.
fn attempts(scrape: &str, outcome: &str) -> u64 {
    let series =
        format!("sonde_notifications_total{{notifier=\"heartbeat\",outcome=\"{outcome}\"}} ");
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn the_leader_pings_every_interval_and_each_ping_is_counted() {
    let switch = Receiver::start(&[]).await;
    let mut f = Fixture::new().await;
    f.dispatcher = Dispatcher::new(Leadership::sole("sched-a"));
    f.start(&[heartbeat(&switch.url("/ping/0b5f3c2e"))], &fast());
    // An incident is written meanwhile: a heartbeat is told no alerts.
    f.push(&firing(&alert("eu-west-1"))).await;

    let seen = switch.wait_for(3).await;
    f.stop().await;
    for ping in &seen {
        let body = ping.json();
        assert_eq!(body["replica"], "sched-a", "{body}");
        assert!(body["sent_at"].is_string(), "{body}");
        assert!(body.get("alert").is_none(), "{body}");
    }
    for pair in seen.windows(2) {
        let apart = (pair[1].at - pair[0].at).to_std().unwrap();
        assert!(apart >= EVERY / 2, "pings {apart:?} apart");
    }
    let sent = switch.seen().len() as u64;
    assert_eq!(attempts(&f.scrape(), "sent"), sent);
    assert!(f.outbox().await.is_empty(), "a heartbeat has no outbox");
}

#[tokio::test]
async fn a_refused_ping_is_counted_failed_and_the_next_tick_pings_again() {
    let switch = Receiver::start(&[500]).await;
    let mut f = Fixture::new().await;
    f.start(&[heartbeat(&switch.url("/ping"))], &fast());
    switch.wait_for(2).await;
    f.stop().await;
    let scrape = f.scrape();
    assert_eq!(attempts(&scrape, "failed"), 1, "{scrape}");
    assert_eq!(
        attempts(&scrape, "sent"),
        switch.seen().len() as u64 - 1,
        "{scrape}"
    );
    assert_eq!(attempts(&scrape, "retry"), 0, "{scrape}");
}

#[tokio::test]
async fn a_replica_that_does_not_lead_stays_silent_until_it_leads() {
    let switch = Receiver::start(&[]).await;
    let mut f = Fixture::new().await;
    let leadership = Leadership::sole("sched-b");
    leadership.set_leader(false);
    f.dispatcher = Dispatcher::new(leadership.clone());
    f.start(&[heartbeat(&switch.url("/ping"))], &fast());
    tokio::time::sleep(EVERY * 3).await;
    assert!(switch.seen().is_empty(), "only the leader pings");
    leadership.set_leader(true);
    let seen = switch.wait_for(1).await;
    assert_eq!(seen[0].json()["replica"], "sched-b");
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_pings_a_heartbeat_once() {
    let switch = Receiver::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let notify = format!(
        "[[notify]]\nname = \"deadman\"\nkind = \"heartbeat\"\nurl = \"{}\"\ninterval = \"10s\"\n",
        switch.url("/ping/0b5f3c2e")
    );
    let path = config(dir.path(), free_port().unwrap(), &notify);
    let out = cli(&path, &["notify", "test", "--notifier", "deadman"]).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "deadman (heartbeat, http://{}): accepted",
            switch.addr
        )),
        "{stdout}"
    );
    assert!(
        !stdout.contains("0b5f3c2e"),
        "the URL's path is never shown"
    );
    let seen = switch.wait_for(1).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].json()["test"], true);
}
