//! Secrets: `SONDE_SECRET_<NAME>` from the environment, or one file per
//! secret in a directory (a Kubernetes Secret mounted as a volume). Values
//! are only ever used to render requests and to redact output.

use std::collections::BTreeMap;
use std::path::Path;

/// The prefix of secret environment variables.
pub const ENV_PREFIX: &str = "SONDE_SECRET_";

/// The secrets a probe can resolve.
#[derive(Clone, Default)]
pub struct Secrets {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Secrets {
    // Names only: a value must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Secrets {
    /// Reads the directory (when given) and then the environment, which wins
    /// on a name present in both.
    ///
    /// # Errors
    /// When the directory cannot be read.
    pub fn load(dir: Option<&Path>) -> std::io::Result<Self> {
        let mut values = BTreeMap::new();
        if let Some(dir) = dir {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                // Kubernetes mounts keep bookkeeping entries starting with `..`.
                if name.starts_with('.') || !entry.path().is_file() {
                    continue;
                }
                let text = std::fs::read_to_string(entry.path())?;
                let value = text.strip_suffix('\n').unwrap_or(&text);
                values.insert(name, value.strip_suffix('\r').unwrap_or(value).to_string());
            }
        }
        for (key, value) in std::env::vars_os() {
            let (Some(key), Some(value)) = (key.to_str(), value.to_str()) else {
                continue;
            };
            if let Some(name) = key.strip_prefix(ENV_PREFIX) {
                values.insert(name.to_string(), value.to_string());
            }
        }
        Ok(Self { values })
    }

    /// Secrets given directly (tests, benchmarks).
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self {
            values: pairs.into_iter().collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every non-empty value, for redaction.
    pub fn values(&self) -> Vec<&str> {
        self.values
            .values()
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_directory_and_strips_one_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("SHOP_PASSWORD"), "s3cret\n").expect("write");
        std::fs::write(dir.path().join("..data"), "ignored").expect("write");
        let s = Secrets::load(Some(dir.path())).expect("load");
        assert_eq!(s.get("SHOP_PASSWORD"), Some("s3cret"));
        assert_eq!(s.get("..data"), None);
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
