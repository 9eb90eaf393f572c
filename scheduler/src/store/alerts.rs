//! The alert engine's tables: each scenario × region's state, alerts with
//! their timelines, silences, and the confirmation runs still out. Every
//! write runs in the job that made the change it records.

use scenarios::wire::RunRequest;
use uuid::Uuid;

use super::StoreError;
use crate::alert::{RegionHealth, Silence, StoredAlert, TimelineEntry};
use crate::maintenance::Window;

/// A confirmation run asked of a probe and not answered yet: kept so a
/// restart re-queues the same request (same id, so the probe's answer to
/// it still counts) and the alert keeps waiting for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmRequestRow {
    /// The alert row that waits for it.
    pub alert_row: i64,
    pub probe: String,
    pub region: String,
    pub request: RunRequest,
}

/// What [`Alerts::delete_alert_history_before`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertHistoryDeleted {
    pub alerts: usize,
    pub events: usize,
    pub deliveries: usize,
    pub silences: usize,
    /// One-off maintenance windows made through the API.
    pub windows: usize,
}

/// The `alert_state`, `alerts`, `alert_timeline`, `silences` and
/// `confirm_requests` tables.
pub trait Alerts {
    /// Saves one scenario × region state.
    ///
    /// # Errors
    /// Database errors.
    fn save_health(
        &self,
        scenario: &str,
        region: &str,
        h: &RegionHealth,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Every saved state.
    ///
    /// # Errors
    /// Database errors.
    fn load_health(&self) -> Result<Vec<(String, String, RegionHealth)>, StoreError>;

    /// Inserts a new alert; returns its row id.
    ///
    /// # Errors
    /// Database errors.
    fn insert_alert(&self, a: &StoredAlert) -> Result<i64, StoreError>;

    /// Writes every changing column of an alert row.
    ///
    /// # Errors
    /// Database errors.
    fn update_alert(&self, a: &StoredAlert) -> Result<(), StoreError>;

    /// Every firing alert.
    ///
    /// # Errors
    /// Database errors, or a stored alert that no longer parses.
    fn open_alerts(&self) -> Result<Vec<StoredAlert>, StoreError>;

    /// One alert by row.
    ///
    /// # Errors
    /// Database errors, or a stored alert that no longer parses.
    fn alert_by_row(&self, row: i64) -> Result<Option<StoredAlert>, StoreError>;

    /// Resolved alerts, newest first.
    ///
    /// # Errors
    /// Database errors, or a stored alert that no longer parses.
    fn resolved_alerts(&self, limit: usize) -> Result<Vec<StoredAlert>, StoreError>;

    /// Alerts that were firing at some time since `since_ms` (open ones
    /// included), oldest first: what the alert report counts.
    ///
    /// # Errors
    /// Database errors, or a stored alert that no longer parses.
    fn alerts_since(&self, since_ms: i64) -> Result<Vec<StoredAlert>, StoreError>;

    /// Rows of the alerts with a timeline entry of `kind` since
    /// `since_ms`, once per alert.
    ///
    /// # Errors
    /// Database errors.
    fn alerts_marked_since(&self, kind: &str, since_ms: i64) -> Result<Vec<i64>, StoreError>;

    /// Adds a timeline entry to an alert.
    ///
    /// # Errors
    /// Database errors.
    fn add_timeline(
        &self,
        row: i64,
        at_ms: i64,
        kind: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError>;

    /// An alert's timeline, oldest first.
    ///
    /// # Errors
    /// Database errors.
    fn timeline_of(&self, row: i64) -> Result<Vec<TimelineEntry>, StoreError>;

    /// Saves a silence (new or changed).
    ///
    /// # Errors
    /// Database errors.
    fn save_silence(&self, s: &Silence) -> Result<(), StoreError>;

    /// Silences that end after `since_ms`, by start.
    ///
    /// # Errors
    /// Database errors.
    fn silences_ending_after(&self, since_ms: i64) -> Result<Vec<Silence>, StoreError>;

    /// One silence by id.
    ///
    /// # Errors
    /// Database errors.
    fn silence(&self, id: &str) -> Result<Option<Silence>, StoreError>;

    /// Saves a maintenance window made through the API.
    ///
    /// # Errors
    /// Database errors.
    fn save_window(&self, w: &Window) -> Result<(), StoreError>;

    /// Deletes the API's window `id`; false when there is none.
    ///
    /// # Errors
    /// Database errors.
    fn delete_window(&self, id: &str) -> Result<bool, StoreError>;

    /// Every stored window (rows that no longer parse are skipped, logged).
    ///
    /// # Errors
    /// Database errors.
    fn windows(&self) -> Result<Vec<Window>, StoreError>;

    /// Deletes alert history that ended before `cutoff_ms`. Firing alerts
    /// stay whatever their age, and so does what a notifier still has to
    /// send: events not yet queued by every notifier, pending deliveries,
    /// and the last delivered state of alerts that were not resolved.
    ///
    /// # Errors
    /// Database errors.
    fn delete_alert_history_before(
        &self,
        cutoff_ms: i64,
    ) -> Result<AlertHistoryDeleted, StoreError>;

    /// Saves a confirmation run just asked for.
    ///
    /// # Errors
    /// Database errors.
    fn save_confirm_request(&self, row: &ConfirmRequestRow) -> Result<(), StoreError>;

    /// Every confirmation run still out, oldest first.
    ///
    /// # Errors
    /// Database errors, or a stored request that no longer parses.
    fn confirm_requests(&self) -> Result<Vec<ConfirmRequestRow>, StoreError>;

    /// Forgets an answered confirmation run; false when it was not stored.
    ///
    /// # Errors
    /// Database errors.
    fn delete_confirm_request(&self, id: Uuid) -> Result<bool, StoreError>;

    /// Forgets confirmation runs asked for before `cutoff_ms` (nobody
    /// waits for them any more); returns how many.
    ///
    /// # Errors
    /// Database errors.
    fn delete_confirm_requests_before(&self, cutoff_ms: i64) -> Result<usize, StoreError>;
}
