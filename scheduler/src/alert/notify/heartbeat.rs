//! `kind = "heartbeat"`: a dead man's switch URL (Healthchecks.io, Cronitor,
//! Opsgenie heartbeats, …) pinged with a POST every `interval` while this
//! replica leads. The service pages when the pings stop, which no alert
//! sent by a dead scheduler could do.
//!
//! It is told no alerts and has no outbox: a ping that fails is logged and
//! counted, and the next tick is the retry, so an outage never piles up
//! pings to send later.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::channel::{Attempt, BoxFuture, Channel, Notification, post};
use super::counters::{DeliveryCounters, NotificationOutcome};
use super::text;
use crate::clock::Clock;
use crate::config::NotifierKind;
use crate::leadership::Leadership;

/// The body of every ping: who sent it and when (no secrets, nothing a
/// switch must parse).
#[derive(Debug, Serialize)]
pub struct HeartbeatBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<&'a str>,
    pub sent_at: String,
    /// Set on `scheduler notify test`, so the receiving side can tell.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

#[derive(Debug)]
pub struct Heartbeat {
    client: reqwest::Client,
    url: String,
    interval: Duration,
}

impl Heartbeat {
    pub fn new(client: reqwest::Client, url: String, interval: Duration) -> Heartbeat {
        Heartbeat {
            client,
            url,
            interval,
        }
    }

    fn ping<'a>(&'a self, body: &HeartbeatBody<'_>) -> BoxFuture<'a, Attempt> {
        let request = self.client.post(&self.url).json(body);
        Box::pin(post(request))
    }
}

impl Channel for Heartbeat {
    fn kind(&self) -> NotifierKind {
        NotifierKind::Heartbeat
    }

    /// Only `notify test` sends a notification here: one ping marked as a
    /// test.
    fn send<'a>(&'a self, n: &'a Notification, now: DateTime<Utc>) -> BoxFuture<'a, Attempt> {
        let _ = n;
        self.ping(&HeartbeatBody {
            replica: None,
            sent_at: text::time(now),
            test: true,
        })
    }

    fn beat_every(&self) -> Option<Duration> {
        Some(self.interval)
    }

    fn beat<'a>(&'a self, replica: &'a str, now: DateTime<Utc>) -> BoxFuture<'a, Attempt> {
        self.ping(&HeartbeatBody {
            replica: Some(replica),
            sent_at: text::time(now),
            test: false,
        })
    }
}

/// Everything one heartbeat's loop needs.
#[derive(Debug)]
pub struct Beats {
    /// The notifier's key (logs; never its URL, which often holds a token).
    pub key: String,
    pub channel: Arc<dyn Channel>,
    pub every: Duration,
    pub leadership: Leadership,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn DeliveryCounters>,
}

impl Beats {
    /// Pings every `every` while this replica leads, until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!(notifier = %self.key, every_ms = self.every.as_millis(), "Heartbeat started.");
        let mut tick = tokio::time::interval(self.every);
        // A slow receiver delays the next ping; it never causes a burst.
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            if self.leadership.is_leader() {
                self.once().await;
            }
        }
        tracing::info!(notifier = %self.key, "Heartbeat stopped.");
    }

    async fn once(&self) {
        let attempt = self
            .channel
            .beat(self.leadership.replica(), self.clock.now())
            .await;
        let kind = self.channel.kind();
        let outcome = match attempt {
            Attempt::Sent => {
                tracing::debug!(notifier = %self.key, "Heartbeat sent.");
                NotificationOutcome::Sent
            }
            Attempt::Retry { reason, .. } | Attempt::Failed { reason } => {
                tracing::warn!(notifier = %self.key, error = %reason, "Heartbeat not accepted; the next tick tries again.");
                NotificationOutcome::Failed
            }
        };
        self.metrics.count(kind, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notify::testing::t0;

    #[test]
    fn a_ping_names_its_replica_and_a_test_says_so() {
        let beat = HeartbeatBody {
            replica: Some("sched-a"),
            sent_at: text::time(t0()),
            test: false,
        };
        assert_eq!(
            serde_json::to_value(&beat).unwrap(),
            serde_json::json!({"replica": "sched-a", "sent_at": "2026-11-24T10:02:00.000Z"})
        );
        let trial = HeartbeatBody {
            replica: None,
            test: true,
            ..beat
        };
        assert_eq!(
            serde_json::to_value(&trial).unwrap(),
            serde_json::json!({"sent_at": "2026-11-24T10:02:00.000Z", "test": true})
        );
    }
}
