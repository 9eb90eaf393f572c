//! The `expect` / `capture` expression language:
//! `SUBJECT [FILTER]… [PREDICATE [VALUE]]`, as in `status == 200`,
//! `jsonpath "$.items" count >= 1` or `duration < 800ms`.
//!
//! Parsing checks everything that can be known before a run: regexes and
//! JSONPaths compile, and values fit the query's type (`duration < 800` is
//! an error). Evaluation is pure: the probe hands in an [`Observation`].
//!
//! - `lexer`: tokens, read lazily so errors come in text order.
//! - `parser`: entry points and queries; `predicate`: predicates, values.
//! - `types`: static types of queries and the rules values must follow.
//! - `ast`: the parsed form; `display`: the same rendered back.
//! - `eval`: queries against an observation; `check`: assertions judged.
//! - `error`: [`ExprError`] and "did you mean" hints.

mod ast;
mod check;
mod display;
mod error;
mod eval;
mod lexer;
mod parser;
mod predicate;
mod types;

pub use ast::{Assertion, Filter, JsonPathExpr, Pattern, Predicate, Query, Subject, Value};
pub use check::AssertOutcome;
pub use error::ExprError;
pub use eval::{EvalError, Observation, PageObservation};
pub use parser::{
    parse_assertion, parse_assertion_for, parse_capture, parse_capture_for, subject_range,
};

#[cfg(test)]
mod tests {
    use std::ops::Range;

    use proptest::prelude::*;

    use super::*;

    /// (text, message substring, range, help)
    pub(super) type ErrorCase = (
        &'static str,
        &'static str,
        Range<usize>,
        Option<&'static str>,
    );

    /// Checks each case's error: message contains, exact range, exact help.
    pub(super) fn assert_errors(cases: &[ErrorCase], parse: fn(&str) -> Result<(), ExprError>) {
        for (text, message, range, help) in cases {
            let err = parse(text).expect_err(text);
            assert!(err.message.contains(message), "{text}: {err:?}");
            assert_eq!(&err.range, range, "{text}: {err:?}");
            if let Some(help) = help {
                assert_eq!(err.help.as_deref(), Some(*help), "{text}: {err:?}");
            }
        }
    }

    /// Words and symbols of the language, to build near-valid expressions.
    const PIECES: [&str; 32] = [
        "status",
        "duration",
        "body",
        "header",
        "jsonpath",
        "regex",
        "answers",
        "cert_expiry",
        "count",
        "length",
        "==",
        "!=",
        "<",
        ">=",
        "=",
        "!",
        "contains",
        "not",
        "exists",
        "in",
        "matches",
        "[",
        "]",
        ",",
        "200",
        "-1.5",
        "800ms",
        "30d",
        "\"a\"",
        "\"$.x\"",
        "\"(\\d+)\"",
        "\"",
    ];

    fn check_error(text: &str, err: &ExprError) {
        assert!(err.range.start <= err.range.end && err.range.end <= text.len());
        assert!(text.is_char_boundary(err.range.start) && text.is_char_boundary(err.range.end));
        assert!(!err.message.is_empty() && !err.label.is_empty());
    }

    fn exercise(text: &str) {
        match parse_assertion(text) {
            Ok(a) => {
                let _ = a.check(&Observation::default());
                let again = parse_assertion(&a.to_string()).expect("rendered text parses");
                assert_eq!(again.to_string(), a.to_string());
            }
            Err(e) => check_error(text, &e),
        }
        match parse_capture(text) {
            Ok(q) => {
                let _ = q.evaluate(&Observation::default());
            }
            Err(e) => check_error(text, &e),
        }
        let _ = subject_range(text);
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".*") {
            exercise(&text);
        }

        #[test]
        fn near_valid_text_never_panics(
            pieces in prop::collection::vec(prop::sample::select(&PIECES[..]), 0..8),
            glue in prop::sample::select(&[" ", "", "  é "][..]),
        ) {
            exercise(&pieces.join(glue));
        }
    }
}
