//! A restart while a regional alert waits for its confirmation runs: the
//! probes are asked again for the same runs (same request ids), their
//! answers count, and the page carries the confirmation. Answered and
//! expired requests are not asked again.

use scenarios::wire::Outcome;
use scheduler::alert::Confirmation;

use crate::alert_confirm::answer;
use crate::alert_kit::{Fleet, firing, summary};

/// eu-west-1 goes down with `confirm = true`: held, one confirmation run
/// asked of `p-us` and one of `p-ap`.
async fn held() -> Fleet {
    let f = Fleet::new("after = 2\nconfirm = true").await;
    f.post(
        "eu-west-1",
        &[f.run("eu-west-1", false, 0), f.run("eu-west-1", false, 30)],
    )
    .await;
    assert_eq!(summary(&f.events().await), [], "held for the confirmations");
    f
}

async fn restart(f: Fleet) -> Fleet {
    let tokens = f.tokens.clone();
    Fleet {
        t: f.t.restart().await,
        tokens,
    }
}

/// The ids of the runs in `probe`'s plan.
async fn run_now(f: &Fleet, probe: &str) -> Vec<serde_json::Value> {
    let plan = f.plan(probe).await;
    plan["run_now"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect()
}

fn up_from(region: &str) -> Option<Confirmation> {
    Some(Confirmation {
        region: region.into(),
        outcome: Outcome::Success,
    })
}

#[tokio::test]
async fn a_restart_during_the_hold_asks_for_the_same_runs_and_the_page_carries_the_answer() {
    let f = held().await;
    let asked_us = run_now(&f, "p-us").await;
    let asked_ap = run_now(&f, "p-ap").await;
    assert_eq!((asked_us.len(), asked_ap.len()), (1, 1));

    let f = restart(f).await;
    assert_eq!(run_now(&f, "p-us").await, asked_us, "the same request");
    assert_eq!(run_now(&f, "p-ap").await, asked_ap, "the same request");
    f.tick().await;
    assert_eq!(summary(&f.events().await), [], "still held");

    answer(&f, "p-us", "us-east-1", true, 40).await;
    assert_eq!(summary(&f.events().await), [], "p-ap still to answer");
    answer(&f, "p-ap", "ap-southeast-1", true, 41).await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    assert_eq!(events[0].event.alert.confirmation, up_from("us-east-1"));
}

#[tokio::test]
async fn an_answered_run_is_not_asked_again_after_a_restart() {
    let f = held().await;
    answer(&f, "p-us", "us-east-1", true, 40).await;

    let f = restart(f).await;
    assert_eq!(run_now(&f, "p-us").await, Vec::<serde_json::Value>::new());
    answer(&f, "p-ap", "ap-southeast-1", true, 41).await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    assert_eq!(events[0].event.alert.confirmation, up_from("us-east-1"));
}

#[tokio::test]
async fn an_expired_run_is_not_asked_again_after_a_restart() {
    let f = held().await;
    // Past the request's lifetime, with no evaluation in between to
    // forget it: the restart itself must leave it out.
    f.t.clock
        .advance(scheduler::alert::RUN_REQUEST_TTL + std::time::Duration::from_secs(1));

    let f = restart(f).await;
    let none = Vec::<serde_json::Value>::new();
    assert_eq!(run_now(&f, "p-us").await, none);
    assert_eq!(run_now(&f, "p-ap").await, none);
}

#[tokio::test]
async fn an_expired_run_is_forgotten_by_the_evaluation_before_a_restart() {
    let f = held().await;
    f.t.clock
        .advance(scheduler::alert::RUN_REQUEST_TTL + std::time::Duration::from_secs(1));
    f.tick().await;
    let pending =
        f.t.app
            .store
            .read(|tx| tx.confirm_requests())
            .await
            .unwrap();
    assert_eq!(pending, [], "nobody waits for them any more");
}
