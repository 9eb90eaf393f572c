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

/// The known word closest to `word`, if it is close enough to be a typo:
/// a Jaro-Winkler similarity of at least 0.8 or at most two edits (fewer
/// edits than the word has characters, so `ab` does not suggest `in`).
pub(super) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let len = word.chars().count();
    candidates
        .iter()
        .map(|&c| {
            let jw = strsim::jaro_winkler(word, c);
            let lev = strsim::levenshtein(word, c);
            (c, jw, lev)
        })
        .filter(|&(_, jw, lev)| jw >= 0.8 || (lev <= 2 && lev < len))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.cmp(&a.2)))
        .map(|(c, _, _)| c)
}

/// "did you mean `x`?" for the closest candidate.
pub(super) fn did_you_mean(word: &str, candidates: &[&str]) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// "`a`, `b`, `c`" for labels.
pub(super) fn one_of(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    format!("expected one of {}", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let words = ["status", "duration", "body", "in", "count"];
        let cases = [
            ("stauts", Some("status")),
            ("duraton", Some("duration")),
            ("bdy", Some("body")),
            ("cont", Some("count")),
            ("ab", None),
            ("xyz", None),
            ("", None),
        ];
        for (word, want) in cases {
            assert_eq!(closest(word, &words), want, "{word}");
        }
    }
}
