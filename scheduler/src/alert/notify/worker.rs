//! One notifier's delivery loop: move new alert events into its outbox,
//! send what is due (oldest first, one at a time per alert), write down
//! each attempt, back off on failures, re-send for Alertmanager.
//!
//! Shutdown is checked between deliveries, never during one: a request
//! that got its answer is always written down, so a stop and restart
//! sends nothing twice.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::DeliveryOptions;
use super::channel::{Attempt, Channel, Notification};
use super::counters::{DeliveryCounters, NotificationOutcome};
use super::route::Route;
use crate::clock::{Clock, millis};
use crate::leadership::Leadership;
use crate::store::notify_queue::{Queued, Record};
use crate::store::{Store, StoreError};

/// Due notifications read at once.
const DUE_BATCH: usize = 16;
/// How often finished outbox rows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Everything one notifier's loop needs.
#[derive(Debug)]
pub struct Worker {
    /// The notifier's key in the store.
    pub key: String,
    pub channel: Arc<dyn Channel>,
    pub route: Route,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub options: DeliveryOptions,
    pub metrics: Arc<dyn DeliveryCounters>,
    pub wake: watch::Receiver<u64>,
    /// Only the leader delivers; the others leave the outbox to it.
    pub leadership: Leadership,
}

/// Times (Unix ms) of the periodic jobs.
#[derive(Debug, Default)]
struct Timers {
    resend_at: i64,
    prune_at: i64,
}

impl Worker {
    /// Runs until `stop`.
    pub async fn run(mut self, stop: CancellationToken) {
        let kind = self.channel.kind().as_str();
        tracing::info!(notifier = %self.key, kind, "Notifier started.");
        let mut timers = Timers::default();
        let mut ready = false;
        loop {
            let leads = self.leadership.is_leader();
            if leads && !ready {
                ready = self.init().await;
            }
            let delay = if leads && ready {
                match self.pass(&stop, &mut timers).await {
                    Ok(delay) => delay,
                    Err(e) => {
                        tracing::warn!(notifier = %self.key, error = %e, "Notification queue unavailable.");
                        self.options.poll
                    }
                }
            } else {
                self.options.poll
            };
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                changed = self.wake.changed() => if changed.is_err() {
                    // The dispatcher is gone; keep polling.
                    tokio::time::sleep(delay).await;
                },
                () = tokio::time::sleep(delay) => {}
            }
        }
        tracing::info!(notifier = %self.key, "Notifier stopped.");
    }

    async fn init(&self) -> bool {
        let (key, now) = (self.key.clone(), self.clock.now_ms());
        let backfill = millis(self.options.new_notifier_backfill);
        let result = self
            .store
            .write(move |tx| tx.init_cursor(&key, now, backfill))
            .await;
        if let Err(e) = &result {
            tracing::warn!(notifier = %self.key, error = %e, "Cannot start the notification queue.");
        }
        result.is_ok()
    }

    /// One round; returns how long to wait before the next.
    async fn pass(
        &self,
        stop: &CancellationToken,
        timers: &mut Timers,
    ) -> Result<Duration, StoreError> {
        self.enqueue().await?;
        while !stop.is_cancelled() {
            let (key, now) = (self.key.clone(), self.clock.now_ms());
            let batch = self
                .store
                .read(move |tx| tx.due(&key, now, DUE_BATCH))
                .await?;
            if batch.is_empty() {
                break;
            }
            for queued in batch {
                // Asked before every send: a leader whose term ran out
                // (paused past its lease) sends nothing more.
                if stop.is_cancelled() || !self.leadership.is_leader() {
                    return Ok(Duration::ZERO);
                }
                self.deliver(queued).await?;
            }
            // Events written meanwhile go out in this round too.
            self.enqueue().await?;
        }
        self.periodic(timers).await?;
        let key = self.key.clone();
        let (waiting, next_due) = self
            .store
            .read(move |tx| Ok((tx.waiting(&key)?, tx.next_due(&key)?)))
            .await?;
        self.metrics
            .set_queue(&self.key, self.channel.kind(), waiting);
        let now = self.clock.now_ms();
        let mut wait = millis(self.options.poll);
        if let Some(due) = next_due {
            wait = wait.min(due - now);
        }
        if self.channel.resend_every().is_some() {
            wait = wait.min(timers.resend_at - now);
        }
        Ok(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
    }

    async fn enqueue(&self) -> Result<(), StoreError> {
        let key = self.key.clone();
        if !self.store.read(move |tx| tx.has_new(&key)).await? {
            return Ok(());
        }
        loop {
            let (key, route, now) = (self.key.clone(), self.route.clone(), self.clock.now_ms());
            let read = self
                .store
                .write_as_leader(&self.leadership, now, move |tx| {
                    tx.enqueue(&key, &|alert| route.matches(alert), now)
                })
                .await?;
            if read == 0 {
                return Ok(());
            }
        }
    }

    async fn deliver(&self, q: Queued) -> Result<(), StoreError> {
        let attempt = match q.event {
            Some(event) => {
                let n = Notification {
                    event_id: q.event_id,
                    event,
                };
                self.channel.send(&n, self.clock.now()).await
            }
            None => Attempt::Failed {
                reason: "the stored alert event does not parse".into(),
            },
        };
        let now = self.clock.now_ms();
        let (record, outcome) = self.judge(attempt, q.attempts + 1, q.queued_at, now);
        let kind = self.channel.kind();
        match &record {
            Record::Sent => {
                tracing::info!(notifier = %self.key, alert = %q.alert_id, event = q.event_id, "Notification sent.");
            }
            Record::Retry { next_at, error } => {
                let in_ms = next_at - now;
                tracing::warn!(notifier = %self.key, alert = %q.alert_id, event = q.event_id, error = %error, retry_in_ms = in_ms, "Notification not delivered; will retry.");
            }
            Record::Failed { error } => {
                tracing::error!(notifier = %self.key, alert = %q.alert_id, event = q.event_id, error = %error, "Notification failed for good.");
            }
        }
        let (key, event_id) = (self.key.clone(), q.event_id);
        // Not fenced: a send that happened is recorded even if the lease
        // was lost meanwhile, so the next leader does not send it again.
        self.store
            .write(move |tx| tx.record(&key, event_id, &record, now))
            .await?;
        self.metrics.count(kind, outcome);
        Ok(())
    }

    /// What to write down for the `attempts`-th attempt.
    fn judge(
        &self,
        attempt: Attempt,
        attempts: u32,
        queued_at: i64,
        now: i64,
    ) -> (Record, NotificationOutcome) {
        match attempt {
            Attempt::Sent => (Record::Sent, NotificationOutcome::Sent),
            Attempt::Failed { reason } => (
                Record::Failed { error: reason },
                NotificationOutcome::Failed,
            ),
            Attempt::Retry { reason, .. }
                if now - queued_at >= millis(self.options.give_up_after) =>
            {
                let error = format!("gave up after {attempts} attempts: {reason}");
                (Record::Failed { error }, NotificationOutcome::Failed)
            }
            Attempt::Retry { reason, after } => {
                let o = &self.options;
                let mut wait = backoff(attempts, o.backoff_base, o.backoff_cap);
                if let Some(after) = after {
                    wait = wait.max(after.min(o.backoff_cap));
                }
                let record = Record::Retry {
                    next_at: now + millis(wait),
                    error: reason,
                };
                (record, NotificationOutcome::Retry)
            }
        }
    }

    /// Re-sends (Alertmanager, with its watchdog) and pruning, each when
    /// due.
    async fn periodic(&self, timers: &mut Timers) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        if let Some(every) = self.channel.resend_every()
            && now >= timers.resend_at
        {
            timers.resend_at = now + millis(every);
            let (key, since) = (
                self.key.clone(),
                now - millis(self.options.resend_resolved_for),
            );
            let events = self
                .store
                .write(move |tx| tx.delivered(&key, since))
                .await?;
            if !events.is_empty() || self.channel.has_watchdog() {
                let attempt = self.channel.resend(&events, self.clock.now()).await;
                let outcome = match attempt {
                    Attempt::Sent => NotificationOutcome::Sent,
                    Attempt::Retry { reason, .. } | Attempt::Failed { reason } => {
                        tracing::warn!(notifier = %self.key, alerts = events.len(), error = %reason, "Re-sending alerts failed; next round will try again.");
                        NotificationOutcome::Retry
                    }
                };
                self.metrics.count(self.channel.kind(), outcome);
            }
        }
        if now >= timers.prune_at {
            timers.prune_at = now + millis(PRUNE_EVERY);
            let (key, before) = (self.key.clone(), now - millis(self.options.keep_done));
            self.store.write(move |tx| tx.prune(&key, before)).await?;
        }
        Ok(())
    }
}

/// Exponential back-off with jitter: the `attempts`-th wait is drawn from
/// the upper half of `base × 2^(attempts-1)`, capped at `cap`, so that
/// retries of many notifications after one outage spread out.
pub fn backoff(attempts: u32, base: Duration, cap: Duration) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exp).min(cap);
    let half = full / 2;
    let random = getrandom::u64().unwrap_or(0);
    let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    half + Duration::from_millis(random % jitter_ms.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(300);
        for _ in 0..50 {
            let first = backoff(1, base, cap);
            assert!(
                first >= Duration::from_millis(500) && first <= base,
                "{first:?}"
            );
            let fourth = backoff(4, base, cap);
            assert!(fourth >= Duration::from_secs(4) && fourth <= Duration::from_secs(8));
            let late = backoff(40, base, cap);
            assert!(late >= cap / 2 && late <= cap, "{late:?}");
        }
    }
}
