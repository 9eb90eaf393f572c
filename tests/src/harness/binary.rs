//! Finding the workspace's built binaries.

use std::path::{Path, PathBuf};

use super::HarnessError;

/// The workspace root (the parent of this crate's directory).
#[must_use]
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Where the binary `name` (e.g. `"probe"`, `"scheduler"`, `"demo-shop"`)
/// was built: next to the running test executable first (same profile),
/// then `$CARGO_TARGET_DIR/{debug,release}`, then `<workspace>/target/{debug,release}`.
///
/// # Errors
/// [`HarnessError::BinaryNotFound`] listing the places searched.
pub fn binary_path(name: &str) -> Result<PathBuf, HarnessError> {
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let searched = candidate_dirs();
    searched
        .iter()
        .map(|dir| dir.join(&file))
        .find(|path| path.is_file())
        .ok_or_else(|| HarnessError::BinaryNotFound {
            name: name.to_owned(),
            searched,
        })
}

fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    // Test executables live in target/<profile>/deps/.
    if let Some(profile_dir) = std::env::current_exe()
        .ok()
        .as_deref()
        .and_then(Path::parent)
        .and_then(Path::parent)
    {
        dirs.push(profile_dir.to_path_buf());
    }
    let root = workspace_root();
    let target_dirs = [
        std::env::var_os("CARGO_TARGET_DIR").map(|dir| root.join(dir)),
        Some(root.join("target")),
    ];
    for target in target_dirs.into_iter().flatten() {
        dirs.push(target.join("debug"));
        dirs.push(target.join("release"));
    }
    dirs.dedup();
    dirs
}
