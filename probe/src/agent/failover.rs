//! Several schedulers (`--scheduler` given more than once): the agent uses
//! one at a time, the current one, for both the plan and delivery, so they
//! do not split across replicas. A failure that another scheduler could
//! cure (unreachable, timeout, 5xx, an unreadable answer) seen by either
//! moves both to the next one at once; a 4xx is a problem of configuration
//! or data that every replica would answer alike, so it stays. The agent
//! keeps a scheduler that works and does not go back to the first one.
//!
//! Callers back off only once every scheduler failed in a row
//! ([`Round`]), so a dead replica costs one failed request, not a back-off.

use std::sync::Arc;

use tokio::sync::watch;

use super::client::{CallError, SchedulerClient};
use super::metrics::Metrics;

/// The schedulers and which one is in use; cheap to clone (clones share
/// the current one).
#[derive(Debug, Clone)]
pub struct Schedulers {
    clients: Arc<[SchedulerClient]>,
    /// Index of the one in use; watched so a long-poll on the one left
    /// behind can stop.
    current: Arc<watch::Sender<usize>>,
    metrics: Metrics,
}

/// The scheduler a request went to, to report its outcome against.
#[derive(Debug, Clone)]
pub struct InUse {
    pub index: usize,
    pub client: SchedulerClient,
}

impl Schedulers {
    /// The first client is used first. Every one gets an `up` series at 0
    /// until it answers.
    pub fn new(clients: Vec<SchedulerClient>, metrics: Metrics) -> Self {
        for c in &clients {
            metrics.set_scheduler_up(c.display(), false);
        }
        Self {
            clients: clients.into(),
            current: Arc::new(watch::Sender::new(0)),
            metrics,
        }
    }

    /// How many schedulers there are.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether there are none (only in a misconfigured test).
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// The scheduler in use now; `None` only when there are none.
    pub fn current(&self) -> Option<InUse> {
        let index = *self.current.borrow();
        self.clients.get(index).map(|client| InUse {
            index,
            client: client.clone(),
        })
    }

    /// Whether `used` is still the scheduler in use (a request that
    /// started before a switch reports against the old one).
    pub fn is_current(&self, used: &InUse) -> bool {
        *self.current.borrow() == used.index
    }

    /// Changes whenever the agent moves to another scheduler.
    pub fn switches(&self) -> watch::Receiver<usize> {
        self.current.subscribe()
    }

    /// `used` answered: it is up, and only it (after a switch, the one
    /// left is down even if it was last seen up).
    pub fn answered(&self, used: &InUse) {
        if !self.is_current(used) {
            // A late answer from the one left behind changes nothing.
            return;
        }
        for (i, c) in self.clients.iter().enumerate() {
            self.metrics.set_scheduler_up(c.display(), i == used.index);
        }
    }

    /// `used` failed with `error`. Moves to the next scheduler when the
    /// error is one another scheduler could cure and `used` is still the
    /// current one. Returns whether `error` was such a
    /// failure, which the caller counts in its [`Round`].
    #[must_use]
    pub fn failed(&self, used: &InUse, error: &CallError) -> bool {
        if !fails_over(error) {
            // Answered, if unhappily: it stays up and in use.
            self.answered(used);
            return false;
        }
        self.metrics.set_scheduler_up(used.client.display(), false);
        let next = (used.index + 1) % self.clients.len().max(1);
        // Only from the one in use: a request that went to the old one
        // after a switch must not skip the new one.
        let moved = self.current.send_if_modified(|current| {
            let moves = *current == used.index && next != used.index;
            if moves {
                *current = next;
            }
            moves
        });
        if !moved {
            return true;
        }
        self.metrics.scheduler_failover();
        let to = self.clients.get(next).map_or("", SchedulerClient::display);
        tracing::warn!(from = %used.client.display(), to = %to, reason = %error,
            "Failing over to the next scheduler.");
        true
    }
}

/// Whether another scheduler might answer where this one failed: not
/// reachable, timed out, 5xx, or an answer that could not be read. Never
/// a 4xx (credentials, rate limit, a refused batch): every replica shares
/// the tokens and rules, so switching would hide the problem.
pub fn fails_over(error: &CallError) -> bool {
    matches!(
        error,
        CallError::Unreachable(_) | CallError::Server(_) | CallError::Malformed(_)
    )
}

/// Consecutive fail-over failures of one caller: the next attempt goes out
/// at once until every scheduler failed in a row, then the caller backs off.
#[derive(Debug, Clone, Default)]
pub struct Round {
    failures: usize,
}

impl Round {
    /// Counts one failure against `schedulers`; true when the round is
    /// complete (every scheduler failed) and the caller should back off.
    pub fn failed(&mut self, schedulers: &Schedulers) -> bool {
        self.failures += 1;
        if self.failures >= schedulers.len().max(1) {
            self.failures = 0;
            return true;
        }
        false
    }

    /// A success ends the round.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;
    use url::Url;

    use super::*;

    fn schedulers(n: usize) -> Schedulers {
        let identity = super::super::client::Identity {
            name: "p".into(),
            region: "r".into(),
            token: "t".into(),
        };
        let clients = (0..n)
            .map(|i| {
                let url = Url::parse(&format!("http://127.0.0.{}:9470", i + 1)).expect("url");
                SchedulerClient::new(&url, &identity, None).expect("client")
            })
            .collect();
        Schedulers::new(clients, Metrics::new())
    }

    #[test]
    fn a_round_backs_off_only_once_every_scheduler_failed_in_a_row() {
        let three = schedulers(3);
        let mut round = Round::default();
        assert_eq!(
            [
                round.failed(&three),
                round.failed(&three),
                round.failed(&three)
            ],
            [false, false, true]
        );
        round.failed(&three);
        round.reset();
        assert!(!round.failed(&three), "a success starts a new round");
        let one = schedulers(1);
        assert!(
            Round::default().failed(&one),
            "one scheduler: back off at once"
        );
    }

    #[test]
    fn only_failures_another_scheduler_could_cure_move_on_and_a_late_one_does_not_skip() {
        let two = schedulers(2);
        let first = two.current().expect("current");
        assert!(!two.failed(&first, &CallError::Auth(StatusCode::UNAUTHORIZED)));
        assert!(!two.failed(&first, &CallError::RateLimited(None)));
        assert_eq!(two.current().expect("current").index, 0);
        assert!(two.failed(&first, &CallError::Server(StatusCode::BAD_GATEWAY)));
        assert_eq!(two.current().expect("current").index, 1);
        // Another request that went to the first before the switch.
        assert!(two.failed(&first, &CallError::Unreachable("reset".into())));
        assert_eq!(
            two.current().expect("current").index,
            1,
            "stays on the second"
        );
    }
}
