//! One pass over the scenario directory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use scenarios::depends;
use scenarios::diagnostic::{Diagnostic, Style};
use scenarios::load::{
    LoadError, ScenarioFile, check_unique_names, load_bytes_as, read_scenario_file, scenario_paths,
};
use scenarios::wire::Capabilities;
use scenarios::{Invalid, Scenario};

use super::{Catalog, CatalogFile, CatalogScenario, FileState};

/// Loads every `*.toml` below `dir`. An invalid file keeps the scenario
/// `previous` served from the same path, unless a valid file now uses its
/// name.
///
/// # Errors
/// When the directory cannot be listed.
pub fn load(dir: &Path, previous: &Catalog, now: DateTime<Utc>) -> std::io::Result<Catalog> {
    let paths = scenario_paths(dir)?;
    let unchanged = Unchanged::of(previous);
    let loaded = load_all(dir, &paths, &unchanged);
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for result in check_unique_names(loaded) {
        match result {
            Ok(file) => valid.push(file),
            Err(e) => invalid.push(e),
        }
    }
    check_dependencies(&mut valid, &mut invalid, previous);
    let mut scenarios = BTreeMap::new();
    let mut files = Vec::new();
    for file in valid {
        let entry = entry_of(file);
        files.push(CatalogFile {
            path: entry.path.clone(),
            state: FileState::Valid,
            scenario: Some(entry.name.clone()),
            version: Some(entry.version.clone()),
        });
        scenarios.insert(entry.name.clone(), Arc::new(entry));
    }
    for error in invalid {
        let path = error_path(&error).to_owned();
        let diagnostics = error.render(Style::Plain);
        let last_good = last_good(previous, &path, |name| scenarios.contains_key(name));
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

fn error_path(error: &LoadError) -> &str {
    match error {
        LoadError::Invalid(inv) => &inv.path,
        LoadError::Io { path, .. } => path,
    }
}

/// The scenario `previous` served from `path`, unless `taken` says a valid
/// file now uses its name.
fn last_good(
    previous: &Catalog,
    path: &str,
    taken: impl Fn(&str) -> bool,
) -> Option<Arc<CatalogScenario>> {
    previous
        .scenarios
        .values()
        .find(|s| s.path == path && !taken(&s.name))
        .cloned()
}

/// Moves the valid files whose `depends_on` names no scenario of the
/// catalog, or closes a cycle, to `invalid`. The graph is the one that
/// will be served: valid files and the last good versions of invalid
/// ones. Each round may bring back a last good version, so it repeats
/// until a round finds nothing; every round moves a file, so it ends.
fn check_dependencies(
    valid: &mut Vec<ScenarioFile>,
    invalid: &mut Vec<LoadError>,
    previous: &Catalog,
) {
    loop {
        let names: BTreeSet<&str> = valid.iter().map(|f| f.scenario.name.as_str()).collect();
        let kept: Vec<Arc<CatalogScenario>> = invalid
            .iter()
            .filter_map(|e| last_good(previous, error_path(e), |n| names.contains(n)))
            .collect();
        let mut nodes: Vec<(&str, depends::Node<'_>)> = valid
            .iter()
            .map(|f| {
                let node = depends::Node {
                    name: &f.scenario.name,
                    depends_on: &f.scenario.depends_on,
                    source: Some(f.source.as_str()),
                };
                (f.path.as_str(), node)
            })
            .chain(kept.iter().map(|s| {
                let node = depends::Node {
                    name: &s.name,
                    depends_on: &s.scenario.depends_on,
                    source: None,
                };
                (s.path.as_str(), node)
            }))
            .collect();
        // In path order, so that the file blamed for a cycle does not
        // depend on which files changed.
        nodes.sort_by(|a, b| a.0.cmp(b.0));
        let graph: Vec<depends::Node<'_>> = nodes.iter().map(|(_, n)| *n).collect();
        let mut found: BTreeMap<String, Vec<Diagnostic>> = BTreeMap::new();
        for (i, diag) in depends::check(&graph, depends::Unknown::Error) {
            found.entry(nodes[i].0.to_owned()).or_default().push(diag);
        }
        if found.is_empty() {
            return;
        }
        let (blamed, fine): (Vec<ScenarioFile>, Vec<ScenarioFile>) = std::mem::take(valid)
            .into_iter()
            .partition(|f| found.contains_key(&f.path));
        *valid = fine;
        for file in blamed {
            let diagnostics = found.remove(&file.path).unwrap_or_default();
            invalid.push(file.invalid(diagnostics));
        }
    }
}

fn relative(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Scenarios of the previous catalog that can be served again without
/// being validated again when their file still holds the same text: those
/// that name no other file (a named file may have changed on its own), by
/// path.
struct Unchanged<'a>(HashMap<&'a str, &'a CatalogScenario>);

impl<'a> Unchanged<'a> {
    fn of(previous: &'a Catalog) -> Self {
        Self(
            previous
                .scenarios
                .values()
                .filter(|s| s.files.is_empty())
                .map(|s| (s.path.as_str(), s.as_ref()))
                .collect(),
        )
    }

    /// The scenario served from `path` when `bytes` are its source.
    fn same(&self, path: &str, bytes: &[u8]) -> Option<ScenarioFile> {
        let kept = self.0.get(path)?;
        (kept.source.as_bytes() == bytes).then(|| ScenarioFile {
            path: kept.path.clone(),
            source: kept.source.clone(),
            scenario: (*kept.scenario).clone(),
        })
    }
}

/// Loads `paths` in order, spread over the machine's cores: validating
/// every file of a large catalog changed at once (a branch switch, a
/// generated directory) is what a reload spends its time on.
fn load_all(
    dir: &Path,
    paths: &[PathBuf],
    unchanged: &Unchanged<'_>,
) -> Vec<Result<ScenarioFile, LoadError>> {
    paths
        .par_iter()
        .with_min_len(FILES_PER_TASK)
        .map(|p| load_one(dir, p, unchanged))
        .collect()
}

/// Files one worker takes at a time: a small catalog loads on one thread.
const FILES_PER_TASK: usize = 128;

fn load_one(dir: &Path, path: &Path, unchanged: &Unchanged<'_>) -> Result<ScenarioFile, LoadError> {
    let shown = relative(dir, path);
    let bytes = read_scenario_file(path).map_err(|source| LoadError::Io {
        path: shown.clone(),
        source,
    })?;
    if let Some(file) = unchanged.same(&shown, &bytes) {
        return Ok(file);
    }
    let file = load_bytes_as(path, shown, &bytes)?;
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
        needs: Capabilities::needed_by(&scenario),
        scenario: Arc::new(scenario),
    }
}
