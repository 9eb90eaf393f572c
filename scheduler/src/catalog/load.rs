//! One pass over the scenario directory.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use scenarios::diagnostic::{Diagnostic, Style};
use scenarios::load::{LoadError, ScenarioFile, check_unique_names, load_file_as, scenario_paths};
use scenarios::{Invalid, Scenario};

use super::{Catalog, CatalogFile, CatalogScenario, FileState};

/// Loads every `*.toml` below `dir`. An invalid file keeps the scenario
/// `previous` served from the same path, unless a valid file now uses its
/// name.
///
/// # Errors
/// When the directory cannot be listed.
pub fn load(dir: &Path, previous: &Catalog, now: DateTime<Utc>) -> std::io::Result<Catalog> {
    let loaded: Vec<_> = scenario_paths(dir)?
        .iter()
        .map(|path| load_one(dir, path))
        .collect();
    let mut scenarios = BTreeMap::new();
    let mut files = Vec::new();
    let mut invalid = Vec::new();
    for result in check_unique_names(loaded) {
        match result {
            Ok(file) => {
                let entry = entry_of(file);
                files.push(CatalogFile {
                    path: entry.path.clone(),
                    state: FileState::Valid,
                    scenario: Some(entry.name.clone()),
                    version: Some(entry.version.clone()),
                });
                scenarios.insert(entry.name.clone(), Arc::new(entry));
            }
            Err(e) => invalid.push(e),
        }
    }
    for error in invalid {
        let (path, diagnostics) = match &error {
            LoadError::Invalid(inv) => (inv.path.clone(), error.render(Style::Plain)),
            LoadError::Io { path, .. } => (path.clone(), error.render(Style::Plain)),
        };
        let last_good = previous
            .scenarios
            .values()
            .find(|s| s.path == path && !scenarios.contains_key(&s.name))
            .cloned();
        files.push(CatalogFile {
            path,
            state: FileState::Invalid { diagnostics },
            scenario: last_good.as_ref().map(|s| s.name.clone()),
            version: last_good.as_ref().map(|s| s.version.clone()),
        });
        if let Some(good) = last_good {
            scenarios.insert(good.name.clone(), good);
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Catalog {
        scenarios,
        files,
        generation: previous.generation,
        loaded_at: Some(now),
    })
}

fn relative(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn load_one(dir: &Path, path: &Path) -> Result<ScenarioFile, LoadError> {
    let file = load_file_as(path, relative(dir, path))?;
    if let Some(name) = non_text_file(&file.scenario) {
        let diag = Diagnostic::new(
            format!("`{name}` is not UTF-8 text"),
            0..0,
            "files named in a scenario are sent to probes as text",
        )
        .with_help("use a PEM file");
        return Err(LoadError::Invalid(Box::new(Invalid {
            path: file.path,
            source: file.source,
            diagnostics: vec![diag],
        })));
    }
    Ok(file)
}

fn non_text_file(scenario: &Scenario) -> Option<&str> {
    scenario
        .files
        .iter()
        .find(|(_, bytes)| std::str::from_utf8(bytes).is_err())
        .map(|(name, _)| name.as_str())
}

fn entry_of(file: ScenarioFile) -> CatalogScenario {
    let scenario = file.scenario;
    let files = scenario
        .files
        .iter()
        .map(|(name, bytes)| (name.clone(), String::from_utf8_lossy(bytes).into_owned()))
        .collect();
    CatalogScenario {
        name: scenario.name.clone(),
        path: file.path,
        source: file.source,
        files,
        version: scenario.version.clone(),
        regions: scenario.regions.clone(),
        scenario: Arc::new(scenario),
    }
}
