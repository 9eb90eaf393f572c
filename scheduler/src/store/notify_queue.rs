//! The durable per-notifier queue.
//!
//! Each notifier has a cursor into the outbox (written by the engine).
//! Moving the cursor copies every new event that is for this notifier into
//! its queue in the same transaction, as `pending` (to send) or `skipped`
//! (muted), so an event is queued exactly once whatever happens around
//! it. A resolve always follows a firing this notifier was told about,
//! even when muted or no longer routed to it: a page must never stay
//! open. A queued row leaves `pending` once: `sent` after the receiver
//! accepted it, `failed` when it refused it or retries ran out. The store
//! also keeps the last state each alert was delivered in, for channels
//! that re-send (Alertmanager) and to route resolves.

use super::StoreError;
use crate::alert::{Alert, AlertEvent};

/// A pending notification, due now.
#[derive(Debug, Clone)]
pub struct Queued {
    pub event_id: i64,
    pub alert_id: String,
    /// `None` when the stored event no longer parses.
    pub event: Option<AlertEvent>,
    pub attempts: u32,
    pub queued_at: i64,
}

/// What became of one attempt, to write down.
#[derive(Debug, Clone)]
pub enum Record {
    Sent,
    Retry { next_at: i64, error: String },
    Failed { error: String },
}

/// The `notify_cursors`, `notify_outbox` and `notify_delivered` tables.
pub trait NotifyQueue {
    /// Starts a notifier seen for the first time at the events of the last
    /// `backfill_ms` (so adding a notifier does not replay all history).
    ///
    /// # Errors
    /// Database errors.
    fn init_cursor(&self, notifier: &str, now_ms: i64, backfill_ms: i64) -> Result<(), StoreError>;

    /// Whether the outbox has events past the notifier's cursor (a cheap
    /// read, so idle polling never queues work for the writer).
    ///
    /// # Errors
    /// Database errors.
    fn has_new(&self, notifier: &str) -> Result<bool, StoreError>;

    /// Queues the events after the cursor whose alert the notifier
    /// `wants` (its route) and moves the cursor past them; returns how
    /// many events were read.
    ///
    /// # Errors
    /// Database errors.
    fn enqueue(
        &self,
        notifier: &str,
        wants: &dyn Fn(&Alert) -> bool,
        now_ms: i64,
    ) -> Result<usize, StoreError>;

    /// Pending notifications due at `now_ms`, oldest first, at most one per
    /// alert (an alert's events go out in order: a resolve never overtakes
    /// its firing).
    ///
    /// # Errors
    /// Database errors.
    fn due(&self, notifier: &str, now_ms: i64, limit: usize) -> Result<Vec<Queued>, StoreError>;

    /// Writes down an attempt; a sent event also becomes the alert's
    /// delivered state.
    ///
    /// # Errors
    /// Database errors.
    fn record(
        &self,
        notifier: &str,
        event_id: i64,
        record: &Record,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// When the next pending notification is due (Unix ms), if any.
    ///
    /// # Errors
    /// Database errors.
    fn next_due(&self, notifier: &str) -> Result<Option<i64>, StoreError>;

    /// Notifications waiting in the queue.
    ///
    /// # Errors
    /// Database errors.
    fn waiting(&self, notifier: &str) -> Result<u64, StoreError>;

    /// The last delivered state of every alert with nothing pending, for
    /// re-sending; resolved ones delivered before `resolved_since_ms` are
    /// forgotten first.
    ///
    /// # Errors
    /// Database errors.
    fn delivered(
        &self,
        notifier: &str,
        resolved_since_ms: i64,
    ) -> Result<Vec<AlertEvent>, StoreError>;

    /// Deletes finished queue rows done before `before_ms`, except each
    /// alert's latest (resolves are routed by it).
    ///
    /// # Errors
    /// Database errors.
    fn prune(&self, notifier: &str, before_ms: i64) -> Result<usize, StoreError>;
}
