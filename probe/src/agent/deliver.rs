//! Delivery: the oldest spooled results go to the scheduler in batches and
//! leave the spool only once acknowledged (at-least-once; the scheduler
//! ingests each result id once).
//!
//! 429 waits `Retry-After`; 5xx and an unreachable scheduler back off
//! (jittered, 0.5 s doubling to 30 s); 413 halves the batch; any other 4xx
//! (and results the ack rejects) is quarantined rather than retried
//! forever; 401/403 back off and retry, since an operator is fixing a
//! token and nothing may be lost meanwhile. With several schedulers, an
//! unreachable one, a 5xx or an unreadable answer moves to the next at
//! once (`failover`), the batch with it; only a 4xx stays.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use scenarios::wire::{IngestAck, ResultBatch, RunResult};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::backoff::Backoff;
use super::client::CallError;
use super::failover::{InUse, Round, Schedulers};
use super::metrics::{FailureReason, Metrics};
use super::spool::Spool;

/// How delivery batches and paces itself.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Most results in one request.
    pub batch_max: usize,
    /// Most bytes of JSON in one request: well under the scheduler's
    /// `max_batch_bytes` (4 MiB by default), because a scheduler that
    /// refuses a body on its declared length answers 413 and closes while
    /// the body is still being written, which reaches the probe as a
    /// broken connection rather than as the 413 that would halve the batch.
    pub batch_bytes: usize,
    /// Pause after the first new result, so a batch gathers several.
    pub linger: Duration,
    /// Longest `Retry-After` honoured as given.
    pub max_retry_after: Duration,
    pub backoff: Backoff,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            batch_max: 500,
            batch_bytes: 1024 * 1024,
            linger: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(300),
            backoff: Backoff::scheduler(),
        }
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Nothing was waiting.
    Empty,
    /// Results left the spool; try again at once.
    Progress,
    /// Try again after this long.
    Wait(Duration),
}

/// Moves results from the spool to the scheduler.
#[derive(Debug)]
pub struct Deliverer {
    schedulers: Schedulers,
    /// Failures in a row on which the next scheduler is tried at once.
    round: Round,
    spool: Arc<Spool>,
    metrics: Metrics,
    options: DeliveryOptions,
    batch_size: usize,
}

impl Deliverer {
    pub fn new(
        schedulers: Schedulers,
        spool: Arc<Spool>,
        metrics: Metrics,
        options: DeliveryOptions,
    ) -> Self {
        let batch_size = options.batch_max.max(1);
        Self {
            schedulers,
            round: Round::default(),
            spool,
            metrics,
            options,
            batch_size,
        }
    }

    /// Delivers until `stop`, waking on `wake` when results are spooled.
    /// Returns itself for the final [`flush`](Self::flush).
    pub async fn run(mut self, wake: Arc<Notify>, stop: CancellationToken) -> Self {
        loop {
            if self.spool.is_empty() {
                tokio::select! {
                    () = wake.notified() => {}
                    () = stop.cancelled() => return self,
                }
                tokio::select! {
                    () = tokio::time::sleep(self.options.linger) => {}
                    () = stop.cancelled() => return self,
                }
            }
            let pause = tokio::select! {
                attempt = self.attempt() => match attempt {
                    Attempt::Wait(d) => d,
                    Attempt::Empty | Attempt::Progress => continue,
                },
                () = stop.cancelled() => return self,
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = stop.cancelled() => return self,
            }
        }
    }

    /// The last delivery at shutdown: batches until the spool is empty,
    /// an attempt fails on every scheduler (no back-off: the process is
    /// leaving, and the spool keeps the rest for the next start), or
    /// `deadline` passes.
    /// Returns true when the spool is empty.
    pub async fn flush(&mut self, deadline: Instant) -> bool {
        loop {
            match tokio::time::timeout_at(deadline, self.attempt()).await {
                Ok(Attempt::Empty) => return true,
                Ok(Attempt::Progress) => {}
                // No wait: the next scheduler, after one that failed.
                Ok(Attempt::Wait(d)) if d.is_zero() => {}
                Ok(Attempt::Wait(_)) | Err(_) => return self.spool.is_empty(),
            }
        }
    }

    /// One request with the oldest results.
    pub async fn attempt(&mut self) -> Attempt {
        let n = self.batch_size;
        let results = self
            .blocking(move |s| s.oldest(n))
            .await
            .unwrap_or_default();
        if results.is_empty() {
            return Attempt::Empty;
        }
        let batch = ResultBatch { results };
        let body = match serde_json::to_vec(&batch) {
            Ok(body) => body,
            Err(e) => {
                // Not the scheduler's fault: retried, on the same one.
                self.metrics.delivery_failed(FailureReason::server_error);
                tracing::warn!(error = %e, "Cannot encode a batch; will retry.");
                return Attempt::Wait(self.options.backoff.next_delay());
            }
        };
        let count = batch.results.len();
        if body.len() > self.options.batch_bytes && count > 1 {
            // Fewer results in proportion to the excess, at least half as many.
            let fit = count.saturating_mul(self.options.batch_bytes) / body.len();
            self.batch_size = fit.clamp(1, count / 2);
            tracing::debug!(
                batch = count,
                bytes = body.len(),
                next_batch = self.batch_size,
                "Batch over the byte limit; sending fewer results."
            );
            return Attempt::Progress;
        }
        let Some(used) = self.schedulers.current() else {
            return Attempt::Wait(self.options.backoff.next_delay());
        };
        let spool_full = self.spool.unwritable().is_some();
        match used.client.deliver_json(body, spool_full).await {
            Ok(ack) => {
                self.schedulers.answered(&used);
                self.round.reset();
                self.acknowledged(&batch.results, ack).await
            }
            Err(e) => self.failed(&batch.results, e, &used).await,
        }
    }

    async fn acknowledged(&mut self, sent: &[RunResult], ack: IngestAck) -> Attempt {
        let done: Vec<Uuid> = ack
            .accepted
            .iter()
            .chain(&ack.duplicates)
            .copied()
            .collect();
        let rejected: Vec<Uuid> = ack.rejected.iter().filter_map(|r| r.id).collect();
        self.metrics.delivered(done.len());
        let removed = self.blocking(move |s| s.remove(&done)).await.unwrap_or(0);
        let mut quarantined = 0;
        if !ack.rejected.is_empty() {
            self.metrics.delivery_failed(FailureReason::rejected);
            let first = ack
                .rejected
                .first()
                .map(|r| r.error.clone())
                .unwrap_or_default();
            tracing::warn!(rejected = ack.rejected.len(), first_error = %first,
                "Scheduler rejected results; quarantined.");
            quarantined = self
                .blocking(move |s| s.quarantine(&rejected))
                .await
                .unwrap_or(0);
        }
        let answered: HashSet<Uuid> = ack
            .accepted
            .iter()
            .chain(&ack.duplicates)
            .copied()
            .chain(ack.rejected.iter().filter_map(|r| r.id))
            .collect();
        let unanswered = sent.iter().filter(|r| !answered.contains(&r.id)).count();
        if unanswered > 0 {
            tracing::warn!(
                unanswered,
                "Scheduler did not answer for every result; they stay spooled."
            );
        }
        self.batch_size = (self.batch_size * 2).min(self.options.batch_max.max(1));
        if removed + quarantined == 0 {
            // An ack that moved nothing would otherwise repeat at once.
            return Attempt::Wait(self.options.backoff.next_delay());
        }
        self.options.backoff.reset();
        Attempt::Progress
    }

    async fn failed(&mut self, sent: &[RunResult], error: CallError, used: &InUse) -> Attempt {
        let count = sent.len();
        let scheduler = used.client.display();
        // A batch that failed on one scheduler goes to the next at once;
        // back-off waits until every one failed in a row.
        let at_once = if self.schedulers.failed(used, &error) {
            !self.round.failed(&self.schedulers)
        } else {
            self.round.reset();
            false
        };
        match error {
            CallError::RateLimited(after) => {
                self.metrics.delivery_failed(FailureReason::rate_limited);
                let wait = after.map_or_else(
                    || self.options.backoff.next_delay(),
                    |d| d.min(self.options.max_retry_after),
                );
                tracing::info!(
                    wait_ms = wait.as_millis() as u64,
                    "Scheduler rate limited delivery; waiting."
                );
                Attempt::Wait(wait)
            }
            CallError::Unreachable(ref why) => {
                self.metrics.delivery_failed(FailureReason::unreachable);
                tracing::warn!(scheduler, error = %why, results = count, "Delivery failed; will retry.");
                Attempt::Wait(self.retry_delay(at_once))
            }
            CallError::Server(_) | CallError::Malformed(_) => {
                self.metrics.delivery_failed(FailureReason::server_error);
                tracing::warn!(scheduler, error = %error, results = count, "Delivery failed; will retry.");
                Attempt::Wait(self.retry_delay(at_once))
            }
            CallError::Auth(_) => {
                self.metrics.delivery_failed(FailureReason::rejected);
                tracing::error!(scheduler, error = %error, results = count, "Delivery refused; results kept, will retry.");
                Attempt::Wait(self.retry_delay(at_once))
            }
            CallError::TooLarge if count > 1 => {
                self.metrics.delivery_failed(FailureReason::rejected);
                self.batch_size = (count / 2).max(1);
                tracing::warn!(
                    batch = count,
                    next_batch = self.batch_size,
                    "Batch too large; halving it."
                );
                Attempt::Progress
            }
            CallError::TooLarge | CallError::BadRequest(..) => {
                self.metrics.delivery_failed(FailureReason::rejected);
                let ids: Vec<Uuid> = sent.iter().map(|r| r.id).collect();
                tracing::error!(error = %error, results = count, first = ?ids.first(),
                    "Scheduler refused the batch; quarantined it.");
                self.blocking(move |s| s.quarantine(&ids)).await;
                Attempt::Progress
            }
        }
    }

    /// No wait when the next scheduler is to be tried at once.
    fn retry_delay(&mut self, at_once: bool) -> Duration {
        if at_once {
            Duration::ZERO
        } else {
            self.options.backoff.next_delay()
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Spool) -> T + Send + 'static,
    ) -> Option<T> {
        let spool = self.spool.clone();
        tokio::task::spawn_blocking(move || f(&spool)).await.ok()
    }
}
