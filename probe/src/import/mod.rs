//! `probe import`: Hurl files to scenario TOML.
//!
//! - `parse`: the supported subset of the Hurl format, with positions.
//! - `map`: entries to steps, asserts to `expect`, captures to `capture`.
//! - `options`: `[Options]` with a step key, `[BasicAuth]` as its header.
//! - `report`: what has no equivalent, as `file:line:col: what (needed: …)`.
//! - `json_text`: whether a character of JSON text is inside a string.
//!
//! Hurl's own parser (`hurl_core`) links the system libxml2 through the
//! `libxml` crate; the probe is built as a static binary on `scratch`, so
//! this module parses the subset it converts itself.

mod json_text;
pub mod map;
pub mod options;
pub mod parse;
pub mod report;

use std::path::Path;

pub use report::{Pos, Problem};

/// One converted Hurl file.
#[derive(Debug)]
pub struct Imported {
    /// The scenario's name: the file stem, made a valid scenario name.
    pub name: String,
    /// The scenario TOML, already validated; `None` when nothing converted.
    pub toml: Option<String>,
    pub problems: Vec<Problem>,
    /// Diagnostics of a generated scenario that does not validate (a bug
    /// in the converter, never the user's input).
    pub invalid: Option<String>,
}

/// Converts one Hurl file's text. `vars` are `--variable NAME=VALUE`s.
pub fn import(path: &Path, source: &str, vars: &[(String, String)]) -> Imported {
    let name = scenario_name(path);
    let shown = path.display().to_string();
    let (entries, mut problems) = parse::parse(source);
    let mapped = map::map(&name, &shown, &entries, vars);
    problems.extend(mapped.problems);
    problems.sort_by_key(|p| (p.pos.line, p.pos.col));
    let mut invalid = None;
    let toml = mapped.toml.filter(|toml| {
        let file = format!("{name}.toml");
        match scenarios::load::parse_scenario(
            &file,
            toml.as_bytes(),
            &scenarios::load::MapFiles::default(),
        ) {
            Ok(_) => true,
            Err(inv) => {
                invalid = Some(inv.render(scenarios::diagnostic::Style::Plain));
                false
            }
        }
    });
    Imported {
        name,
        toml,
        problems,
        invalid,
    }
}

/// The file stem as a scenario name: lower case, other characters as `-`.
pub fn scenario_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = stem
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'x');
        name.truncate(63);
    }
    name
}
