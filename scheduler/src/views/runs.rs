//! A scenario's recent runs, newest first.

use scenarios::wire::RunResult;
use serde::Serialize;

use crate::app::App;
use crate::store::StoreError;

#[derive(Debug, Serialize)]
pub struct RunList {
    pub scenario: String,
    /// The region asked for; `null`: every region.
    pub region: Option<String>,
    pub runs: Vec<RunResult>,
}

/// The newest `limit` runs of scenario `name` (in `region` only, when
/// given); `None` when the catalog has no such scenario.
///
/// # Errors
/// Store errors.
pub async fn run_list(
    app: &App,
    name: &str,
    region: Option<String>,
    limit: usize,
) -> Result<Option<RunList>, StoreError> {
    if app.catalog.current().get(name).is_none() {
        return Ok(None);
    }
    let (scenario, r) = (name.to_owned(), region.clone());
    let runs = app
        .store
        .read(move |tx| tx.recent_results(&scenario, r.as_deref(), limit))
        .await?;
    Ok(Some(RunList {
        scenario: name.to_owned(),
        region,
        runs,
    }))
}
