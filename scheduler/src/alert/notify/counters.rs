//! What the notifiers report about their deliveries, to whoever counts
//! them (`crate::metrics` turns it into `sonde_notifications_total` and
//! `sonde_notification_queue`). A trait, so the notifiers need nothing of
//! the metrics layer above them.

use std::fmt::Debug;

use crate::config::NotifierKind;

/// The `outcome` of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationOutcome {
    Sent,
    Retry,
    Failed,
}

/// Counts delivery attempts and what waits.
pub trait DeliveryCounters: Send + Sync + Debug {
    /// Makes a notifier's series appear (at zero) before its first attempt.
    fn register(&self, notifier: &str, kind: NotifierKind);
    /// Counts one attempt.
    fn count(&self, kind: NotifierKind, outcome: NotificationOutcome);
    /// Sets what waits for one notifier.
    fn set_queue(&self, notifier: &str, kind: NotifierKind, waiting: u64);
}
