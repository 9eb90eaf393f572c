//! Why a configuration was refused: every problem found, each pointing at
//! the file (line and column) or at the environment variable it came from.

use std::fmt;

use scenarios::diagnostic::{self, Diagnostic, Style};

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A problem at a place in the file.
    At(Diagnostic),
    /// A problem in a `SONDE_SCHEDULER_*` variable.
    Env { var: String, message: String },
    /// A problem with no place (the file cannot be read).
    General(String),
}

/// Every problem found in one configuration, with the text they point into.
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// The config file as given on the command line.
    pub path: String,
    /// Its text (empty when it could not be read).
    pub source: String,
    pub problems: Vec<Problem>,
}

impl ConfigError {
    pub(crate) fn general(path: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            source: String::new(),
            problems: vec![Problem::General(message.into())],
        }
    }

    /// Every problem rendered rustc-style, separated by blank lines.
    pub fn render(&self, style: Style) -> String {
        let mut out = String::new();
        for problem in &self.problems {
            match problem {
                Problem::At(diag) => {
                    out.push_str(&diagnostic::render(diag, &self.path, &self.source, style));
                }
                Problem::Env { var, message } => {
                    out.push_str(&format!(
                        "error: {message}\n  = note: from the environment variable `{var}`"
                    ));
                }
                Problem::General(message) => {
                    out.push_str(&format!("error: {message}\n  --> {}", self.path));
                }
            }
            out.push_str("\n\n");
        }
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a valid configuration ({} problems)",
            self.path,
            self.problems.len()
        )
    }
}

impl std::error::Error for ConfigError {}
