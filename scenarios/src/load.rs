//! Reading scenario files: size limits, UTF-8, TOML, the raw serde layer and
//! validation, producing a [`Scenario`] or every diagnostic found.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::depends;
use crate::diagnostic::{self, Diagnostic, Style};
use crate::model::Scenario;
use crate::validate;

/// Files above this size are refused before parsing.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Files a scenario names (`tls.ca_file`) above this size are refused.
pub const MAX_ATTACHED_FILE_BYTES: usize = 64 * 1024;
/// More steps than this is a mistake, not a journey.
pub const MAX_STEPS: usize = 100;

/// Where the files a scenario names come from: the disk beside the scenario
/// (`probe run`, the scheduler's catalog) or the plan (the probe agent).
pub trait FileSource {
    /// The contents of `name` as written in the scenario.
    ///
    /// # Errors
    /// A message saying why the file cannot be read.
    fn read(&self, name: &str) -> Result<Vec<u8>, String>;
}

/// Files relative to a directory (the scenario file's own), confined to it:
/// a name may not be absolute, climb out with `..`, or resolve outside
/// through a symlink, since what a scenario names is sent to every probe
/// that runs it. Messages name the file as written, never where it leads.
#[derive(Debug, Clone)]
pub struct DirFiles(pub PathBuf);

impl FileSource for DirFiles {
    fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        let written = std::path::Path::new(name);
        if written.is_absolute() {
            return Err(format!(
                "`{name}` is an absolute path; name a file in the scenario's directory or below"
            ));
        }
        if written.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        }) {
            return Err(format!(
                "`{name}` leaves the scenario's directory; name a file in it or below"
            ));
        }
        let cannot = |e: std::io::Error| format!("cannot read `{name}`: {}", io_reason(&e));
        let path = self.0.join(written);
        let dir = std::fs::canonicalize(&self.0).map_err(cannot)?;
        let real = std::fs::canonicalize(&path).map_err(cannot)?;
        if !real.starts_with(&dir) {
            return Err(format!(
                "`{name}` leads outside the scenario's directory (a symbolic link); name a file in it or below"
            ));
        }
        let meta = std::fs::metadata(&real).map_err(cannot)?;
        if !meta.is_file() {
            return Err(format!("`{name}` is not a file"));
        }
        if meta.len() > MAX_ATTACHED_FILE_BYTES as u64 {
            return Err(format!(
                "`{name}` is {} bytes; files named in a scenario may have at most {MAX_ATTACHED_FILE_BYTES}",
                meta.len()
            ));
        }
        std::fs::read(&real).map_err(cannot)
    }
}

/// An I/O error without the path it was about.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// Files carried by a plan, by the name written in the scenario.
#[derive(Debug, Clone, Default)]
pub struct MapFiles(pub BTreeMap<String, Vec<u8>>);

impl FileSource for MapFiles {
    fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| format!("`{name}` is not among the files the plan carries"))
    }
}

/// A scenario file that did not validate, with what is needed to print it.
#[derive(Debug, Clone)]
pub struct Invalid {
    /// The file's display name: its path as given, or relative to the
    /// catalog's directory (see [`load_file_as`]).
    pub path: String,
    /// The text the diagnostics point into (lossy when not UTF-8).
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl Invalid {
    /// Every diagnostic rendered rustc-style.
    pub fn render(&self, style: Style) -> String {
        diagnostic::render_all(&self.diagnostics, &self.path, &self.source, style)
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` does not validate ({} errors)", .0.path, .0.diagnostics.len())]
    Invalid(Box<Invalid>),
}

impl LoadError {
    /// The text a user sees: the I/O error, or every diagnostic.
    pub fn render(&self, style: Style) -> String {
        match self {
            LoadError::Io { .. } => format!("error: {self}\n"),
            LoadError::Invalid(inv) => inv.render(style),
        }
    }
}

/// A loaded scenario file: its validated scenario and the text it came from.
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    /// The file's display name, as in [`Invalid::path`].
    pub path: String,
    pub source: String,
    pub scenario: Scenario,
}

/// Validates scenario text. `path` is used for the default name (its stem)
/// and in diagnostics; `files` supplies the files the scenario names.
///
/// # Errors
/// Every diagnostic found, when the scenario does not validate.
pub fn parse_scenario(
    path: &str,
    bytes: &[u8],
    files: &dyn FileSource,
) -> Result<Scenario, Box<Invalid>> {
    let invalid = |source: String, diagnostics| {
        Box::new(Invalid {
            path: path.to_string(),
            source,
            diagnostics,
        })
    };
    if bytes.len() > MAX_FILE_BYTES {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).into_owned();
        let end = shown.find('\n').unwrap_or(shown.len());
        let diag = Diagnostic::new(
            format!("file is too large ({} bytes)", bytes.len()),
            0..end,
            format!("a scenario file may have at most {MAX_FILE_BYTES} bytes"),
        )
        .with_help("split the journey into several scenarios");
        return Err(invalid(shown, vec![diag]));
    }
    let source = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let at = e.valid_up_to();
            let lossy = String::from_utf8_lossy(bytes).into_owned();
            // In the lossy text the bad byte became U+FFFD at the same offset.
            let diag = Diagnostic::new(
                "file is not valid UTF-8",
                at..at + '\u{FFFD}'.len_utf8(),
                "this byte is not UTF-8",
            )
            .with_help("save the scenario as UTF-8");
            return Err(invalid(lossy, vec![diag]));
        }
    };
    let stem = Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    validate::scenario(source, &stem, files)
        .map_err(|diagnostics| invalid(source.to_string(), diagnostics))
}

/// Reads and validates one scenario file, shown by its path as given
/// (`probe run`, `probe validate`).
///
/// # Errors
/// When it cannot be read or does not validate.
pub fn load_file(path: &Path) -> Result<ScenarioFile, LoadError> {
    load_file_as(path, path.display().to_string())
}

/// Reads and validates one scenario file, shown as `shown` in errors and
/// diagnostics and kept as [`ScenarioFile::path`]: the scheduler's catalog
/// names a file by its path relative to the scenario directory. The default
/// scenario name is the stem of `shown`.
///
/// # Errors
/// When it cannot be read or does not validate.
pub fn load_file_as(path: &Path, shown: String) -> Result<ScenarioFile, LoadError> {
    let bytes = read_scenario_file(path).map_err(|source| LoadError::Io {
        path: shown.clone(),
        source,
    })?;
    load_bytes_as(path, shown, &bytes)
}

/// Validates the bytes read from the scenario file at `path` (see
/// [`read_scenario_file`]), which names its files relative to its own
/// directory; shown as in [`load_file_as`].
///
/// # Errors
/// When they do not validate.
pub fn load_bytes_as(path: &Path, shown: String, bytes: &[u8]) -> Result<ScenarioFile, LoadError> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let scenario = parse_scenario(&shown, bytes, &DirFiles(dir)).map_err(LoadError::Invalid)?;
    Ok(ScenarioFile {
        path: shown,
        source: String::from_utf8_lossy(bytes).into_owned(),
        scenario,
    })
}

/// A scenario file's bytes: at most one byte past the size limit, so a
/// huge file is refused without being read whole.
///
/// # Errors
/// When it cannot be read.
pub fn read_scenario_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Every `*.toml` below `dir`, hidden entries skipped, sorted by path.
///
/// # Errors
/// When a directory cannot be listed.
pub fn scenario_paths(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Loads every scenario below `dir`. Each file stands on its own; a name
/// used by two files is an error on the second, naming the first; a
/// `depends_on` cycle is an error at the entry that closes it.
///
/// # Errors
/// When the directory cannot be listed.
pub fn load_dir(dir: &Path) -> std::io::Result<Vec<Result<ScenarioFile, LoadError>>> {
    let results: Vec<_> = scenario_paths(dir)?.iter().map(|p| load_file(p)).collect();
    Ok(check_dependency_cycles(check_unique_names(results)))
}

/// Turns the second and later files with one scenario name into errors.
pub fn check_unique_names(
    results: Vec<Result<ScenarioFile, LoadError>>,
) -> Vec<Result<ScenarioFile, LoadError>> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    results
        .into_iter()
        .map(|r| match r {
            Ok(file) => match seen.get(&file.scenario.name) {
                Some(first) => Err(duplicate_name(&file, first)),
                None => {
                    seen.insert(file.scenario.name.clone(), file.path.clone());
                    Ok(file)
                }
            },
            other => other,
        })
        .collect()
}

/// Turns the files whose `depends_on` closes a cycle among `results` into
/// errors. Names no file has are allowed: the files given need not be the
/// whole catalog (`probe validate`).
pub fn check_dependency_cycles(
    results: Vec<Result<ScenarioFile, LoadError>>,
) -> Vec<Result<ScenarioFile, LoadError>> {
    let errors = {
        let valid: Vec<&ScenarioFile> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let nodes: Vec<depends::Node<'_>> = valid
            .iter()
            .map(|f| depends::Node {
                name: &f.scenario.name,
                depends_on: &f.scenario.depends_on,
                source: Some(&f.source),
            })
            .collect();
        let mut by_path: BTreeMap<String, Vec<Diagnostic>> = BTreeMap::new();
        for (i, diag) in depends::check(&nodes, depends::Unknown::Allowed) {
            by_path.entry(valid[i].path.clone()).or_default().push(diag);
        }
        by_path
    };
    let mut errors = errors;
    results
        .into_iter()
        .map(|r| match r {
            Ok(file) => match errors.remove(&file.path) {
                Some(diagnostics) => Err(file.invalid(diagnostics)),
                None => Ok(file),
            },
            other => other,
        })
        .collect()
}

impl ScenarioFile {
    /// This file as one that does not validate, for `diagnostics` found by
    /// looking at other files too.
    pub fn invalid(self, diagnostics: Vec<Diagnostic>) -> LoadError {
        LoadError::Invalid(Box::new(Invalid {
            path: self.path,
            source: self.source,
            diagnostics,
        }))
    }
}

fn duplicate_name(file: &ScenarioFile, first: &str) -> LoadError {
    let span = validate::name_span(&file.source).unwrap_or(0..0);
    let diag = Diagnostic::new(
        format!("duplicate scenario name `{}`", file.scenario.name),
        span,
        format!("`{first}` already uses this name"),
    )
    .with_help("scenario names are unique in a catalog; set `name` to tell them apart");
    LoadError::Invalid(Box::new(Invalid {
        path: file.path.clone(),
        source: file.source.clone(),
        diagnostics: vec![diag],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_file_must_stay_in_the_scenario_directory() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("scenarios");
        std::fs::create_dir_all(dir.join("certs")).expect("mkdir");
        std::fs::write(dir.join("certs/ca.pem"), "inside").expect("write");
        std::fs::write(root.path().join("secret.pem"), "outside").expect("write");
        std::os::unix::fs::symlink(root.path().join("secret.pem"), dir.join("link.pem"))
            .expect("symlink");
        let files = DirFiles(dir.clone());
        assert_eq!(files.read("certs/ca.pem").as_deref(), Ok(&b"inside"[..]));
        assert_eq!(files.read("./certs/ca.pem").as_deref(), Ok(&b"inside"[..]));
        let outside = root.path().join("secret.pem");
        let cases = [
            ("link.pem", "leads outside the scenario's directory"),
            ("../secret.pem", "leaves the scenario's directory"),
            ("certs/../../secret.pem", "leaves the scenario's directory"),
            (outside.to_str().expect("utf-8"), "is an absolute path"),
            ("missing.pem", "cannot read `missing.pem`: no such file"),
            ("certs", "is not a file"),
        ];
        for (name, want) in cases {
            let err = files.read(name).expect_err(name);
            assert!(err.contains(want), "{name}: {err}");
            if name != outside.to_str().unwrap_or_default() {
                assert!(
                    !err.contains(&*root.path().to_string_lossy()),
                    "{name} shows where it leads: {err}"
                );
            }
        }
    }

    fn file(name: &str, source: &str) -> Result<ScenarioFile, LoadError> {
        let scenario = parse_scenario(
            &format!("{name}.toml"),
            source.as_bytes(),
            &MapFiles::default(),
        )
        .map_err(LoadError::Invalid)?;
        Ok(ScenarioFile {
            path: format!("{name}.toml"),
            source: source.to_owned(),
            scenario,
        })
    }

    #[test]
    fn a_cycle_among_files_makes_the_closing_file_invalid_at_its_entry() {
        let step = "[[steps]]\nname = \"a\"\nget = \"http://127.0.0.1:1/\"\n";
        let a = format!("interval = \"1m\"\ndepends_on = [\"b\", \"elsewhere\"]\n{step}");
        let b = format!("interval = \"1m\"\n\ndepends_on = [\"a\"]\n{step}");
        let results = check_dependency_cycles(vec![file("a", &a), file("b", &b)]);
        assert!(
            results[0].is_ok(),
            "a alone is fine; `elsewhere` may exist elsewhere"
        );
        let Err(LoadError::Invalid(inv)) = &results[1] else {
            panic!("b closes the cycle: {results:?}");
        };
        assert_eq!(inv.diagnostics.len(), 1);
        let diag = &inv.diagnostics[0];
        assert_eq!(diag.title, "dependency cycle: a → b → a");
        assert_eq!(diag.line_col(&inv.source), (3, 15));
    }
}
