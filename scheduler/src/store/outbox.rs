//! The outbox: every [`AlertEvent`] the engine emits, written in the same
//! transaction as the alert's change of state, numbered in commit order.
//! Notifiers read it from their own durable cursor (the last id they
//! handled) and never write to it; the contract is in `crate::alert`.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::alert::{Alert, AlertEvent, AlertStatus};

/// One stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Grows with every event, in commit order; a notifier's cursor.
    pub id: i64,
    /// The alert's stable id (`checkout/region/eu-west-1`).
    pub alert_id: String,
    pub status: AlertStatus,
    /// Recorded but not to be sent (a silence matched).
    pub muted: bool,
    pub created_at: DateTime<Utc>,
    pub event: AlertEvent,
}

/// The `alert_events` table.
pub trait Outbox {
    /// Appends `event`; returns its id. Called by the engine only.
    ///
    /// # Errors
    /// Database errors.
    fn insert_event(&self, event: &AlertEvent, now_ms: i64) -> Result<i64, StoreError>;

    /// Events with an id above `cursor`, oldest first, at most `limit`.
    /// Muted events are included (`muted = true`): skip them, but move the
    /// cursor past them.
    ///
    /// # Errors
    /// Database errors, or a stored event that no longer parses.
    fn events_after(&self, cursor: i64, limit: usize) -> Result<Vec<EventRow>, StoreError>;

    /// The id of the newest event (0 when there is none): where a notifier
    /// added to the config starts, so that it does not replay history.
    ///
    /// # Errors
    /// Database errors.
    fn last_event_id(&self) -> Result<i64, StoreError>;

    /// Every alert firing now whose firing event was emitted, with whether
    /// it is muted (a silence matches it now, or it was never sent
    /// unmuted): what Alertmanager should be re-sent periodically.
    ///
    /// # Errors
    /// Database errors, or a stored alert that no longer parses.
    fn firing_alerts(&self) -> Result<Vec<(Alert, bool)>, StoreError>;
}
