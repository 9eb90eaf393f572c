//! `GET /api/v1/catalog`: the scenario files, what each one serves, and
//! the diagnostics of those that do not validate.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::app::App;
use crate::catalog::FileState;

#[derive(Debug, Serialize)]
pub struct CatalogView {
    pub generation: u64,
    pub loaded_at: Option<String>,
    pub scenarios: usize,
    pub invalid_files: usize,
    pub files: Vec<FileView>,
}

#[derive(Debug, Serialize)]
pub struct FileView {
    /// Relative to `scenarios_dir`.
    pub path: String,
    /// `valid` or `invalid`.
    pub status: &'static str,
    /// The scenario this file serves; for an invalid file its last good
    /// version, `null` when it never validated.
    pub scenario: Option<String>,
    pub version: Option<String>,
    /// Whether an invalid file's last good version is still scheduled.
    pub serving_last_good: bool,
    /// The rendered diagnostics of an invalid file, `null` when valid.
    pub diagnostics: Option<String>,
}

pub async fn get_catalog(State(app): State<Arc<App>>) -> Json<CatalogView> {
    let catalog = app.catalog.current();
    let files = catalog
        .files
        .iter()
        .map(|f| {
            let (status, diagnostics) = match &f.state {
                FileState::Valid => ("valid", None),
                FileState::Invalid { diagnostics } => ("invalid", Some(diagnostics.clone())),
            };
            FileView {
                path: f.path.clone(),
                status,
                scenario: f.scenario.clone(),
                version: f.version.clone(),
                serving_last_good: status == "invalid" && f.scenario.is_some(),
                diagnostics,
            }
        })
        .collect();
    Json(CatalogView {
        generation: catalog.generation,
        loaded_at: catalog.loaded_at.map(|t| scenarios::wire::time::format(&t)),
        scenarios: catalog.scenarios.len(),
        invalid_files: catalog.invalid_files(),
        files,
    })
}
