//! The state of one validation pass: the source text and every diagnostic
//! found so far, with the conversions every rule shares.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use crate::diagnostic::Diagnostic;
use crate::duration;
use crate::source_map::map_range;
use crate::suggest;

pub struct Ctx<'a> {
    pub src: &'a str,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub fn new(src: &'a str) -> Self {
        Self {
            src,
            diags: Vec::new(),
        }
    }

    pub fn push(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    pub fn error(
        &mut self,
        title: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
    ) {
        self.push(Diagnostic::new(title, span, label));
    }

    /// Maps a byte range inside a string value back to the file.
    pub fn inner_span(&self, value: &Spanned<String>, inner: &Range<usize>) -> Range<usize> {
        map_range(self.src, &value.span(), inner)
    }

    /// A duration value; reports and returns `None` when malformed.
    pub fn duration(&mut self, value: &Spanned<String>, what: &str) -> Option<Duration> {
        match duration::parse(value.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    format!("invalid duration for `{what}`: {e}"),
                    value.span(),
                    duration::EXPECTED,
                );
                None
            }
        }
    }

    /// A whole number in `min..=max`; reports and returns `None` otherwise.
    pub fn bounded(&mut self, v: &Spanned<i64>, what: &str, min: i64, max: i64) -> Option<u32> {
        if (min..=max).contains(v.get_ref()) {
            u32::try_from(*v.get_ref()).ok()
        } else {
            self.error(
                format!("`{what}` is out of range"),
                v.span(),
                format!("expected a whole number from {min} to {max}"),
            );
            None
        }
    }

    /// A serde error from one section, as a diagnostic. `keys` are the
    /// section's field names, for "expected one of" and suggestions.
    pub fn serde_error(&mut self, err: &toml::de::Error, keys: &[&str], fallback: Range<usize>) {
        let message = err.message().trim();
        let span = err.span().unwrap_or(fallback);
        if let Some(field) = between(message, "unknown field `", "`") {
            // Serde names the fields of the table that has the unknown key:
            // when they are not the section's own (an inline table like
            // `retry = { … }`), they are the ones to suggest. The section's
            // list stays otherwise, as it may be fuller than serde's.
            let named = named_fields(message);
            let nested = named.iter().any(|n| !keys.contains(n));
            let keys = if nested { &named } else { keys };
            let diag = Diagnostic::new(
                format!("unknown field `{field}`"),
                span,
                format!("expected {}", expected_keys(keys)),
            )
            .with_help_opt(suggest::did_you_mean(field, keys.iter().copied()));
            self.push(diag);
        } else if let Some(rest) = message.strip_prefix("invalid type: ") {
            let (found, expected) = rest
                .split_once(", expected ")
                .unwrap_or((rest, "another type"));
            self.error(
                format!("wrong type: found {found}"),
                span,
                format!("expected {expected}"),
            );
        } else if let Some(rest) = message.strip_prefix("invalid value: ") {
            let (found, expected) = rest
                .split_once(", expected ")
                .unwrap_or((rest, "another value"));
            self.error(
                format!("invalid value: {found}"),
                span,
                format!("expected {expected}"),
            );
        } else if let Some(field) = between(message, "missing field `", "`") {
            self.error(
                format!("missing field `{field}`"),
                span,
                format!("`{field}` is required here"),
            );
        } else {
            self.error(
                message
                    .lines()
                    .next()
                    .unwrap_or("invalid value")
                    .to_string(),
                span,
                "here",
            );
        }
    }
}

/// The backquoted names after "expected" in a serde "unknown field"
/// message: the fields the table may have.
fn named_fields(message: &str) -> Vec<&str> {
    let Some((_, expected)) = message.split_once(", expected ") else {
        return Vec::new();
    };
    expected.split('`').skip(1).step_by(2).collect()
}

fn between<'m>(message: &'m str, start: &str, end: &str) -> Option<&'m str> {
    let rest = &message[message.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// "one of `name`, `get`, `post`, …, `expect`, `capture`": the whole list
/// when short, its ends when long.
pub fn expected_keys(keys: &[&str]) -> String {
    if keys.len() <= 8 {
        return format!("one of {}", suggest::one_of(keys)).replace(" or ", ", ");
    }
    let head: Vec<String> = keys[..3].iter().map(|k| format!("`{k}`")).collect();
    let tail: Vec<String> = keys[keys.len() - 2..]
        .iter()
        .map(|k| format!("`{k}`"))
        .collect();
    format!("one of {}, …, {}", head.join(", "), tail.join(", "))
}
