//! Golden diagnostics: every `invalid/<case>.toml` must fail validation with
//! exactly the text checked in as `invalid/<case>.err`. Run with
//! `UPDATE_GOLDEN=1` to rewrite the `.err` files after a deliberate change,
//! and review the diff like code.

use std::path::{Path, PathBuf};

use scenarios::LoadError;
use scenarios::diagnostic::Style;

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/invalid exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    cases
}

/// The path as a user would type it from the crate directory, so the
/// golden text does not depend on where the repository is checked out.
fn shown(path: &Path) -> String {
    format!(
        "tests/invalid/{}",
        path.file_name().expect("a file").to_string_lossy()
    )
}

fn render(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("readable case");
    // Relative, like the path a user types: file errors show it as given.
    let dir = PathBuf::from("tests/invalid");
    match scenarios::load::parse_scenario(&shown(path), &bytes, &scenarios::load::DirFiles(dir)) {
        Ok(_) => "(valid)\n".to_string(),
        Err(invalid) => LoadError::Invalid(invalid).render(Style::Plain),
    }
}

#[test]
fn every_invalid_case_renders_its_golden_diagnostics() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let cases = cases();
    assert!(
        cases.len() >= 30,
        "expected at least 30 golden cases, found {}",
        cases.len()
    );
    let mut mismatches = Vec::new();
    for case in &cases {
        let got = render(case);
        assert_ne!(
            got,
            "(valid)\n",
            "{} validated but is meant to be invalid",
            case.display()
        );
        let golden = case.with_extension("err");
        if update {
            std::fs::write(&golden, &got).expect("writable golden file");
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            mismatches.push(format!("--- {}\n{got}", golden.display()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "diagnostics differ from the golden files:\n{}",
        mismatches.join("\n")
    );
}
