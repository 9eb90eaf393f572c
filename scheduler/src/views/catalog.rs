//! The scenario files, what each one serves, and the diagnostics of those
//! that do not validate.

use serde::Serialize;

use crate::catalog::{Catalog, FileState};
use crate::replicas::Peer;

/// Whether a file validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Valid,
    Invalid,
}

#[derive(Debug, Serialize)]
pub struct CatalogView {
    /// [`Catalog::version`]: equal on replicas that loaded the same files.
    pub version: String,
    pub generation: u64,
    pub loaded_at: Option<String>,
    pub scenarios: usize,
    pub invalid_files: usize,
    pub files: Vec<FileView>,
    /// The replicas sharing the store and the catalog each loaded; empty
    /// for a scheduler alone on its SQLite file.
    pub replicas: Vec<ReplicaView>,
}

/// One replica's catalog, as it last reported it.
#[derive(Debug, Serialize)]
pub struct ReplicaView {
    pub name: String,
    /// It holds the leader lease.
    pub leader: bool,
    pub catalog_version: String,
    /// Its invalid files.
    pub catalog_errors: i64,
    /// Whether its catalog is the leader's (`null` while no leader reported).
    pub matches_leader: Option<bool>,
    pub seen_at: String,
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
        version: catalog.version(),
        generation: catalog.generation,
        loaded_at: catalog.loaded_at.map(|t| scenarios::wire::time::format(&t)),
        scenarios: catalog.scenarios.len(),
        invalid_files: catalog.invalid_files(),
        files,
        replicas: Vec::new(),
    }
}

/// The replicas' reports, each compared with the leader's.
pub fn replica_views(peers: &[Peer]) -> Vec<ReplicaView> {
    let leader = peers
        .iter()
        .find(|p| p.leader)
        .map(|p| p.row.catalog_version.as_str());
    peers
        .iter()
        .map(|p| ReplicaView {
            name: p.row.name.clone(),
            leader: p.leader,
            catalog_version: p.row.catalog_version.clone(),
            catalog_errors: p.row.catalog_errors,
            matches_leader: leader.map(|l| l == p.row.catalog_version),
            seen_at: chrono::DateTime::from_timestamp_millis(p.row.seen_at)
                .map(|t| scenarios::wire::time::format(&t))
                .unwrap_or_default(),
        })
        .collect()
}
