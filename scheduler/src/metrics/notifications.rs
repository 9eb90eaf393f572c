//! `sonde_notifications_total{notifier,outcome}` and
//! `sonde_notification_queue{notifier}`: every delivery attempt by
//! outcome, and what waits, summed per notifier kind (bounded labels).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::names::{NOTIFICATION_OUTCOMES, NOTIFICATION_QUEUE, NOTIFICATIONS};
use crate::alert::notify::DeliveryCounters;
pub use crate::alert::notify::NotificationOutcome;
use crate::config::NotifierKind;

fn index(kind: NotifierKind) -> usize {
    NotifierKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(0)
}

/// Live counters, shared with the delivery workers.
#[derive(Debug, Default)]
pub struct NotificationMetrics {
    attempts: [[AtomicU64; 3]; NotifierKind::ALL.len()],
    /// Waiting notifications per notifier (its store key), with its kind.
    queue: Mutex<BTreeMap<String, (NotifierKind, u64)>>,
}

impl DeliveryCounters for NotificationMetrics {
    fn register(&self, notifier: &str, kind: NotifierKind) {
        self.set_queue(notifier, kind, 0);
    }

    fn count(&self, kind: NotifierKind, outcome: NotificationOutcome) {
        self.attempts[index(kind)][outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn set_queue(&self, notifier: &str, kind: NotifierKind, waiting: u64) {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queue.insert(notifier.to_owned(), (kind, waiting));
    }
}

impl NotificationMetrics {
    /// The values for one scrape: kinds with a notifier or an attempt.
    pub fn sample(&self) -> NotificationSample {
        let queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut kinds = Vec::new();
        for kind in NotifierKind::ALL {
            let attempts = self.attempts[index(kind)]
                .each_ref()
                .map(|a| a.load(Ordering::Relaxed));
            let notifiers: Vec<u64> = queue
                .values()
                .filter(|(k, _)| *k == kind)
                .map(|(_, n)| *n)
                .collect();
            if notifiers.is_empty() && attempts.iter().all(|n| *n == 0) {
                continue;
            }
            kinds.push(KindSample {
                kind: kind.as_str(),
                attempts,
                waiting: notifiers.iter().sum(),
            });
        }
        NotificationSample { kinds }
    }
}

/// One scrape's notification series.
#[derive(Debug, Clone, Default)]
pub struct NotificationSample {
    pub kinds: Vec<KindSample>,
}

/// The series of one notifier kind.
#[derive(Debug, Clone)]
pub struct KindSample {
    pub kind: &'static str,
    /// By outcome: sent, retry, failed.
    pub attempts: [u64; 3],
    pub waiting: u64,
}

impl NotificationSample {
    /// Writes both families (the label values are fixed words: no escaping).
    pub(super) fn encode(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let mut m = encoder.encode_descriptor(
            NOTIFICATIONS,
            "Notification delivery attempts, by outcome",
            None,
            MetricType::Counter,
        )?;
        for k in &self.kinds {
            for (outcome, n) in NOTIFICATION_OUTCOMES.iter().zip(k.attempts) {
                let labels = [("notifier", k.kind), ("outcome", *outcome)];
                m.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
            }
        }
        let mut m = encoder.encode_descriptor(
            NOTIFICATION_QUEUE,
            "Notifications waiting for delivery",
            None,
            MetricType::Gauge,
        )?;
        for k in &self.kinds {
            let labels = [("notifier", k.kind)];
            m.encode_family(&labels)?
                .encode_gauge(&(k.waiting as f64))?;
        }
        Ok(())
    }
}
