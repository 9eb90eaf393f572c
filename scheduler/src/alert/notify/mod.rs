//! Notifiers: Alertmanager, PagerDuty, Slack and signed webhooks, fed from
//! a durable queue in the store, and heartbeats to a dead man's switch.
//!
//! The alert engine writes every [`AlertEvent`](crate::alert::AlertEvent)
//! into `alert_events` in the transaction that changes the alert. Each
//! `[[notify]]` entry gets a [`worker`] that moves the events it matches
//! ([`route`]) into its own outbox ([`queue`]) and delivers them with
//! retries, so an outage or a restart delays a notification but never
//! drops it, and a delivered one is not sent again.
//!
//! - `channel`: the [`Channel`] trait and how HTTP answers are judged.
//! - `alertmanager`, `pagerduty`, `slack`, `webhook`: the receivers.
//! - `heartbeat`: pings a dead man's switch every `interval`; no queue.
//!
//! Only the leader ([`Leadership`]) delivers, re-sends and pings.
//! - `sign`: Standard Webhooks signatures; `text`: the wording of facts.
//! - [`trial`]: a test notification to each receiver (`notify test`).

mod alertmanager;
mod channel;
mod counters;
mod heartbeat;
mod pagerduty;
mod route;
mod sign;
mod slack;
pub(crate) mod text;
pub mod trial;
mod webhook;
mod worker;

#[cfg(test)]
pub(crate) mod testing;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use alertmanager::{Alertmanager, DEFAULT_RESEND, WATCHDOG};
pub use channel::{Attempt, BoxFuture, Channel, Notification};
pub use counters::{DeliveryCounters, NotificationOutcome};
pub use heartbeat::HeartbeatBody;
pub use pagerduty::DEFAULT_URL as PAGERDUTY_URL;
pub use route::{Route, alertname, labels};
pub use sign::SigningKey;
pub use webhook::{WebhookBody, message_id};
pub use worker::backoff;

use crate::clock::Clock;
use crate::config::{DEFAULT_HEARTBEAT, NotifierKind, NotifyEntry};
use crate::leadership::Leadership;
use crate::store::Store;

/// Timing of delivery; the defaults suit production, tests shorten them.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// How often `alert_events` is checked when nobody wakes the workers.
    pub poll: Duration,
    /// The first retry waits about this long; each next one twice as long.
    pub backoff_base: Duration,
    /// No retry waits longer than this.
    pub backoff_cap: Duration,
    /// A notification still not delivered this long after it was queued
    /// is given up on (counted `failed`).
    pub give_up_after: Duration,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Resolved alerts are re-sent (Alertmanager) for this long.
    pub resend_resolved_for: Duration,
    /// A notifier seen for the first time gets the events of this last
    /// stretch, not the whole history.
    pub new_notifier_backfill: Duration,
    /// Finished outbox rows are kept this long.
    pub keep_done: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            poll: Duration::from_millis(250),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            give_up_after: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(10),
            resend_resolved_for: Duration::from_secs(15 * 60),
            new_notifier_backfill: Duration::from_secs(3600),
            keep_done: Duration::from_secs(7 * 86_400),
        }
    }
}

/// Why the notifiers cannot start.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("cannot build the notifiers' HTTP client: {0}")]
    Client(String),
    #[error("notifier {index} (`{kind}`): {problem}")]
    Entry {
        index: usize,
        kind: &'static str,
        problem: String,
    },
}

/// One configured receiver, ready to run.
#[derive(Debug, Clone)]
pub struct Target {
    /// Stable across restarts and reordering: its outbox in the store.
    pub key: String,
    /// The entry's name (`NotifyEntry::name`).
    pub name: String,
    pub route: Route,
    pub channel: Arc<dyn Channel>,
}

/// The notifiers' handle: starts them and wakes them when the engine has
/// written events (they also poll).
#[derive(Debug, Clone)]
pub struct Dispatcher {
    wake: watch::Sender<u64>,
    leadership: Leadership,
}

impl Default for Dispatcher {
    /// The notifiers of a scheduler that always leads.
    fn default() -> Self {
        Dispatcher::new(Leadership::sole("scheduler"))
    }
}

impl Dispatcher {
    /// Notifiers that deliver while `leadership` says this replica leads.
    pub fn new(leadership: Leadership) -> Dispatcher {
        Dispatcher {
            wake: watch::Sender::new(0),
            leadership,
        }
    }

    /// Tells the workers that new alert events are in the store.
    pub fn wake(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Starts one worker per entry of `entries`.
    ///
    /// # Errors
    /// When an entry cannot be used (see [`targets`]).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &self,
        entries: &[NotifyEntry],
        options: &DeliveryOptions,
        store: &Store,
        clock: &Arc<dyn Clock>,
        metrics: Arc<dyn DeliveryCounters>,
        tasks: &TaskTracker,
        stop: &CancellationToken,
    ) -> Result<usize, NotifyError> {
        let targets = targets(entries, options)?;
        Ok(self.start_targets(targets, options, store, clock, metrics, tasks, stop))
    }

    /// Starts one worker per target (tests inject their own channels).
    #[allow(clippy::too_many_arguments)]
    pub fn start_targets(
        &self,
        targets: Vec<Target>,
        options: &DeliveryOptions,
        store: &Store,
        clock: &Arc<dyn Clock>,
        metrics: Arc<dyn DeliveryCounters>,
        tasks: &TaskTracker,
        stop: &CancellationToken,
    ) -> usize {
        let mut seen = BTreeSet::new();
        for t in targets {
            if !seen.insert(t.key.clone()) {
                tracing::warn!(notifier = %t.key, "Duplicate [[notify]] entry ignored.");
                continue;
            }
            metrics.register(&t.key, t.channel.kind());
            if let Some(every) = t.channel.beat_every() {
                let beats = heartbeat::Beats {
                    key: t.key,
                    channel: t.channel,
                    every,
                    leadership: self.leadership.clone(),
                    clock: Arc::clone(clock),
                    metrics: Arc::clone(&metrics),
                };
                tasks.spawn(beats.run(stop.clone()));
                continue;
            }
            let worker = worker::Worker {
                key: t.key,
                channel: t.channel,
                route: t.route,
                store: store.clone(),
                clock: Arc::clone(clock),
                options: options.clone(),
                metrics: Arc::clone(&metrics),
                wake: self.wake.subscribe(),
                leadership: self.leadership.clone(),
            };
            tasks.spawn(worker.run(stop.clone()));
        }
        seen.len()
    }
}

/// The receivers of `entries`.
///
/// # Errors
/// A webhook without a secret, a PagerDuty entry without
/// `routing_key`, an entry without `url`, or no HTTP client.
pub fn targets(
    entries: &[NotifyEntry],
    options: &DeliveryOptions,
) -> Result<Vec<Target>, NotifyError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let client = reqwest::Client::builder()
        .timeout(options.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("sonde-scheduler/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| NotifyError::Client(e.to_string()))?;
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let channel = channel(client.clone(), entry).map_err(|problem| NotifyError::Entry {
                index: index + 1,
                kind: entry.kind.as_str(),
                problem,
            })?;
            Ok(Target {
                key: key(entry),
                name: entry.name.clone(),
                route: Route::new(entry.match_labels.clone()),
                channel,
            })
        })
        .collect()
}

fn channel(client: reqwest::Client, entry: &NotifyEntry) -> Result<Arc<dyn Channel>, String> {
    let url = || entry.url.clone().ok_or_else(|| "needs `url`".to_owned());
    Ok(match entry.kind {
        NotifierKind::Alertmanager => {
            let resend = entry.resend_interval.unwrap_or(DEFAULT_RESEND);
            Arc::new(Alertmanager::new(
                client,
                &url()?,
                resend,
                entry.match_labels.clone(),
            ))
        }
        NotifierKind::Pagerduty => {
            let key = entry
                .routing_key
                .clone()
                .ok_or_else(|| "needs `routing_key`".to_owned())?;
            Arc::new(pagerduty::Pagerduty::new(client, entry.url.clone(), key))
        }
        NotifierKind::Slack => Arc::new(slack::Slack::new(client, url()?)),
        NotifierKind::Webhook => {
            let secret = entry
                .secret
                .clone()
                .ok_or_else(|| "needs `secret` (whsec_…)".to_owned())?;
            Arc::new(webhook::Webhook::new(
                client,
                url()?,
                SigningKey::new(secret),
            ))
        }
        NotifierKind::Heartbeat => Arc::new(heartbeat::Heartbeat::new(
            client,
            url()?,
            entry.interval.unwrap_or(DEFAULT_HEARTBEAT),
        )),
    })
}

/// `kind-` + 16 hex digits of SHA-256 over what makes it another receiver
/// (kind, url, routing key, match), so reordering entries or rotating a
/// webhook secret keeps its queue.
pub fn key(entry: &NotifyEntry) -> String {
    let mut h = Sha256::new();
    for part in [
        entry.kind.as_str(),
        entry.url.as_deref().unwrap_or(""),
        entry.routing_key.as_deref().unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for (k, v) in &entry.match_labels {
        h.update(k.as_bytes());
        h.update([1]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", entry.kind.as_str())
}
