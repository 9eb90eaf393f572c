//! What the engine keeps of each alert besides the alert itself: how it
//! has been handled, and its timeline.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::model::{Alert, AlertStatus};

/// An alert row: the alert and how the engine has handled it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    pub row: i64,
    pub alert: Alert,
    pub status: AlertStatus,
    /// Under a global alert of its scenario: recorded, not emitted.
    pub grouped: bool,
    /// A firing event was emitted for it (muted or not).
    pub notified: bool,
    /// An unmuted firing event was emitted: receivers know it.
    pub paged: bool,
    /// A silence matches it now.
    pub muted: bool,
    /// The confirmation run asked for, and when.
    pub confirm_request: Option<Uuid>,
    pub confirm_at: Option<i64>,
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    #[serde(with = "scenarios::wire::time")]
    pub at: DateTime<Utc>,
    /// `fired`, `grouped`, `ungrouped`, `confirm_requested`, `confirmed`,
    /// `muted`, `unmuted`, `suppressed`, `unsuppressed`, `dependents`,
    /// `resolved`, …
    pub kind: String,
    pub detail: Option<String>,
}

/// Whether a timeline's newest `suppressed` / `unsuppressed` entry is a
/// `suppressed` one: the alert is held back by a parent in `depends_on`.
pub fn suppressed_now(timeline: &[TimelineEntry]) -> bool {
    last_suppression(timeline).is_some_and(|e| e.kind == "suppressed")
}

/// A timeline's newest `suppressed` or `unsuppressed` entry.
pub(super) fn last_suppression(timeline: &[TimelineEntry]) -> Option<&TimelineEntry> {
    timeline
        .iter()
        .rev()
        .find(|e| e.kind == "suppressed" || e.kind == "unsuppressed")
}
