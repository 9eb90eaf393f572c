//! A scenario's SLO as its detail shows it, computed from stored runs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::alert::slo_status_at;
use crate::app::App;
use crate::store::StoreError;

/// The SLO as the scenario detail shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SloView {
    pub availability: f64,
    pub window: String,
    /// Seconds of the window the stored runs cover (from the oldest run,
    /// at most the window): below the window, burn rules whose long window
    /// is longer do not fire and the budget is what was spent so far.
    pub history_s: f64,
    /// Of the whole window's budget (see `history_s`).
    pub budget_remaining: f64,
    pub burn_rates: BTreeMap<&'static str, f64>,
    /// False when the budget is spent or a page-worthy burn is on.
    pub deploy_ok: bool,
    /// The budget in words, with the history it is over when short.
    #[serde(skip)]
    pub budget_left: String,
}

/// The SLO of scenario `name` computed now from the store; `None` without
/// an `slo` objective.
///
/// # Errors
/// Store errors.
pub async fn slo_view(app: &App, name: &str) -> Result<Option<SloView>, StoreError> {
    let Some(objective) = app
        .catalog
        .current()
        .get(name)
        .and_then(|s| s.scenario.alert.slo.clone())
    else {
        return Ok(None);
    };
    let now_ms = app.clock.now_ms();
    let owned = name.to_owned();
    let status = app
        .store
        .read(move |tx| slo_status_at(tx, &owned, &objective, now_ms))
        .await?;
    let paging = app
        .alerts
        .open_for(name)
        .iter()
        .any(|a| a.id == format!("{name}/slo/page"));
    Ok(Some(SloView {
        availability: status.availability,
        window: scenarios::duration::Human(status.window).to_string(),
        history_s: status.history.as_secs_f64(),
        budget_left: status.budget_left(),
        budget_remaining: status.budget_remaining,
        deploy_ok: status.deploy_ok() && !paging,
        burn_rates: status.burn_rates,
    }))
}
