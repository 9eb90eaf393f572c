//! The scenario files, what each one serves, and the diagnostics of those
//! that do not validate.

use serde::Serialize;

use crate::catalog::{Catalog, FileState};

/// Whether a file validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Valid,
    Invalid,
}

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
    pub status: FileStatus,
    /// The scenario this file serves; for an invalid file its last good
    /// version, `null` when it never validated.
    pub scenario: Option<String>,
    pub version: Option<String>,
    /// Whether an invalid file's last good version is still scheduled.
    pub serving_last_good: bool,
    /// The rendered diagnostics of an invalid file, `null` when valid.
    pub diagnostics: Option<String>,
}

/// The files of `catalog` and what each serves.
pub fn catalog_view(catalog: &Catalog) -> CatalogView {
    let files = catalog
        .files
        .iter()
        .map(|f| {
            let (status, diagnostics) = match &f.state {
                FileState::Valid => (FileStatus::Valid, None),
                FileState::Invalid { diagnostics } => {
                    (FileStatus::Invalid, Some(diagnostics.clone()))
                }
            };
            FileView {
                path: f.path.clone(),
                status,
                scenario: f.scenario.clone(),
                version: f.version.clone(),
                serving_last_good: status == FileStatus::Invalid && f.scenario.is_some(),
                diagnostics,
            }
        })
        .collect();
    CatalogView {
        generation: catalog.generation,
        loaded_at: catalog.loaded_at.map(|t| scenarios::wire::time::format(&t)),
        scenarios: catalog.scenarios.len(),
        invalid_files: catalog.invalid_files(),
        files,
    }
}
