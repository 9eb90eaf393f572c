//! The catalog: every scenario file below `scenarios_dir`, validated,
//! watched and reloaded. A file that stops validating is reported and its
//! last good version keeps being scheduled; a removed file stops being
//! scheduled; a name used twice is an error on the later file; a
//! `depends_on` entry naming no scenario of the catalog, or closing a
//! cycle, is an error of its file.
//!
//! - `load`: one pass over the directory, given the previous catalog.
//! - `watch`: the file watcher that publishes each new catalog.

mod load;
mod watch;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use scenarios::Scenario;
use scenarios::wire::Capabilities;
use sha2::{Digest, Sha256};

pub use load::load;
pub use watch::{CatalogWatch, watch_dir};

/// One scenario the catalog schedules.
#[derive(Debug, Clone)]
pub struct CatalogScenario {
    pub name: String,
    /// Relative to `scenarios_dir`, with `/` separators.
    pub path: String,
    /// The TOML text.
    pub source: String,
    /// Files the scenario names (`tls.ca_file`) with their text.
    pub files: BTreeMap<String, String>,
    /// `sha256:` over the source and the files.
    pub version: String,
    /// `None`: every region that has had a probe.
    pub regions: Option<Vec<String>>,
    /// What the probe that runs it must have announced (`browser` for a
    /// scenario with a browser step), worked out once at load.
    pub needs: Capabilities,
    pub scenario: Arc<Scenario>,
}

/// Whether a file validates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    Valid,
    /// The file does not validate; `diagnostics` are rendered plain.
    Invalid {
        diagnostics: String,
    },
}

/// One file of the scenario directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogFile {
    /// Relative to `scenarios_dir`.
    pub path: String,
    pub state: FileState,
    /// The scenario served from this file (its last good version when the
    /// file is invalid), if any.
    pub scenario: Option<String>,
    /// Version of the served scenario.
    pub version: Option<String>,
}

/// A consistent view of the scenario directory.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Scheduled scenarios by name.
    pub scenarios: BTreeMap<String, Arc<CatalogScenario>>,
    /// Every file, by path.
    pub files: Vec<CatalogFile>,
    /// Grows with every published change.
    pub generation: u64,
    pub loaded_at: Option<DateTime<Utc>>,
}

impl Catalog {
    /// Files that do not validate (the `sonde_catalog_invalid_files` gauge).
    pub fn invalid_files(&self) -> usize {
        self.files
            .iter()
            .filter(|f| matches!(f.state, FileState::Invalid { .. }))
            .count()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<CatalogScenario>> {
        self.scenarios.get(name)
    }

    /// One hash over every file's path, whether it validates and the
    /// version it serves: equal on two replicas exactly when they loaded
    /// the same scenario directory (`sha256:` and 16 bytes in hex).
    pub fn version(&self) -> String {
        let mut hasher = Sha256::new();
        let mut part = |s: &str| {
            hasher.update((s.len() as u64).to_be_bytes());
            hasher.update(s.as_bytes());
        };
        let mut files: Vec<&CatalogFile> = self.files.iter().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        for f in files {
            part(&f.path);
            part(match f.state {
                FileState::Valid => "valid",
                FileState::Invalid { .. } => "invalid",
            });
            part(f.version.as_deref().unwrap_or(""));
        }
        let digest = hasher.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// Whether two catalogs schedule and report the same things.
    pub fn same_content(&self, other: &Catalog) -> bool {
        self.files == other.files
    }
}
