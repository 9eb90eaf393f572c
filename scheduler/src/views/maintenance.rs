//! Maintenance windows as the API lists them: the keys they were written
//! with, where they come from, and their current or next opening.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::app::App;
use crate::maintenance::{Source, Spec, Window};

/// One window.
#[derive(Debug, Serialize)]
pub struct MaintenanceView {
    pub id: String,
    #[serde(flatten)]
    pub spec: Spec,
    /// `config` (scheduler.toml; not deletable here) or `api`.
    pub source: Source,
    /// Open now.
    pub active: bool,
    /// The opening in force, else the next one; `null` once it is over.
    #[serde(with = "scenarios::wire::time::option")]
    pub opens_at: Option<DateTime<Utc>>,
    #[serde(with = "scenarios::wire::time::option")]
    pub closes_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    #[serde(with = "scenarios::wire::time::option")]
    pub created_at: Option<DateTime<Utc>>,
}

impl MaintenanceView {
    pub fn new(w: &Window, now: DateTime<Utc>) -> MaintenanceView {
        let next = w.current_or_next(now);
        MaintenanceView {
            id: w.id.clone(),
            spec: w.spec(),
            source: w.source,
            active: w.open_at(now).is_some(),
            opens_at: next.map(|(o, _)| o),
            closes_at: next.map(|(_, c)| c),
            created_by: w.created_by.clone(),
            created_at: w.created_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MaintenanceList {
    pub maintenance: Vec<MaintenanceView>,
}

/// Every window that is not over: the config's, then the API's.
pub fn maintenance_list(app: &App) -> MaintenanceList {
    let now = app.clock.now();
    MaintenanceList {
        maintenance: app
            .alerts
            .windows()
            .iter()
            .filter(|w| !w.is_over(now))
            .map(|w| MaintenanceView::new(w, now))
            .collect(),
    }
}
