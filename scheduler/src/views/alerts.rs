//! Alerts with how they were handled and their timelines, and silences
//! with whether each is in force.

use serde::Serialize;

use crate::alert::{Alert, AlertStatus, RECENT_SILENCES, Silence};
use crate::alert::{StoredAlert, TimelineEntry, suppressed_now};
use crate::app::App;
use crate::store::{StoreError, Tx};

/// Resolved alerts listed.
const RECENT_ALERTS: usize = 50;

/// An alert with how it was handled and its timeline.
#[derive(Debug, Serialize)]
pub struct AlertView {
    #[serde(flatten)]
    pub alert: Alert,
    pub status: AlertStatus,
    /// Under its scenario's global alert (not sent separately).
    pub grouped: bool,
    /// A silence matches it.
    pub muted: bool,
    /// Held back because a scenario it depends on (`depends_on`) is down
    /// where it is: recorded, not sent. Read from its timeline.
    pub suppressed: bool,
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Debug, Serialize)]
pub struct AlertList {
    pub open: Vec<AlertView>,
    /// The newest alerts, resolved or not.
    pub recent: Vec<AlertView>,
}

fn view(tx: &dyn Tx, a: StoredAlert) -> Result<AlertView, StoreError> {
    let timeline = tx.timeline_of(a.row)?;
    Ok(AlertView {
        suppressed: a.status == AlertStatus::Firing && !a.notified && suppressed_now(&timeline),
        timeline,
        alert: a.alert,
        status: a.status,
        grouped: a.grouped,
        muted: a.muted,
    })
}

/// The open alerts and the most recent ones, as the store has them.
///
/// # Errors
/// Store errors.
pub async fn alert_list(app: &App) -> Result<AlertList, StoreError> {
    app.store
        .read(|tx| {
            let open = tx
                .open_alerts()?
                .into_iter()
                .map(|a| view(tx, a))
                .collect::<Result<_, _>>()?;
            let recent = tx
                .resolved_alerts(RECENT_ALERTS)?
                .into_iter()
                .map(|a| view(tx, a))
                .collect::<Result<_, _>>()?;
            Ok(AlertList { open, recent })
        })
        .await
}

/// A silence and whether it is in force.
#[derive(Debug, Serialize)]
pub struct SilenceView {
    #[serde(flatten)]
    pub silence: Silence,
    pub active: bool,
}

impl SilenceView {
    pub fn new(silence: Silence, now: chrono::DateTime<chrono::Utc>) -> Self {
        SilenceView {
            active: silence.is_active(now),
            silence,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SilenceList {
    pub silences: Vec<SilenceView>,
}

/// Silences in force or to come, and those that ended within
/// [`RECENT_SILENCES`].
///
/// # Errors
/// Store errors.
pub async fn silence_list(app: &App) -> Result<SilenceList, StoreError> {
    let now = app.clock.now();
    let since = (now - RECENT_SILENCES).timestamp_millis();
    let silences = app
        .store
        .read(move |tx| tx.silences_ending_after(since))
        .await?
        .into_iter()
        .map(|s| SilenceView::new(s, now))
        .collect();
    Ok(SilenceList { silences })
}
