//! The one error shape of the expression parser, and "did you mean" hints.

use std::ops::Range;

/// Why an `expect` or `capture` expression was rejected, pointing at the
/// bytes it is about so the validator can underline them in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// One line saying what is wrong: "unknown subject `stauts`".
    pub message: String,
    /// Byte offsets into the expression text, always on `char` boundaries.
    pub range: Range<usize>,
    /// What was expected, shown under the carets.
    pub label: String,
    /// A hint such as "did you mean `status`?".
    pub help: Option<String>,
}

impl ExprError {
    pub(super) fn new(
        message: impl Into<String>,
        range: Range<usize>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            message: message.into(),
            range,
            label: label.into(),
            help: None,
        }
    }

    #[must_use]
    pub(super) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub(super) fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

/// "did you mean `x`?" for the closest candidate (see [`crate::suggest`]).
pub(super) fn did_you_mean(word: &str, candidates: &[&str]) -> Option<String> {
    crate::suggest::did_you_mean(word, candidates.iter().copied())
}

/// "`a`, `b`, `c`" for labels.
pub(super) fn one_of(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    format!("expected one of {}", quoted.join(", "))
}
