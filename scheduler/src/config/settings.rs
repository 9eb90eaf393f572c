//! Reading one setting: the file's value or its `SONDE_SCHEDULER_*`
//! override, `{{env.NAME}}` templates expanded, and errors reported where
//! the value came from.

use std::ops::Range;

use scenarios::diagnostic::Diagnostic;
use toml::Spanned;

use super::error::Problem;

/// Looks up an environment variable (injected, so tests need not touch the
/// process environment).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Where a value came from.
#[derive(Debug, Clone)]
pub(super) enum Origin {
    File(Range<usize>),
    Env(String),
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub(super) struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

/// Collects problems while settings are read.
pub(super) struct Reader<'a> {
    pub source: &'a str,
    pub env: EnvLookup<'a>,
    pub problems: Vec<Problem>,
}

impl<'a> Reader<'a> {
    pub fn new(source: &'a str, env: EnvLookup<'a>) -> Self {
        Self {
            source,
            env,
            problems: Vec::new(),
        }
    }

    /// The value of an override variable; empty counts as unset.
    fn override_of(&self, var: &str) -> Option<String> {
        (self.env)(var).filter(|v| !v.is_empty())
    }

    /// The environment variable that overrides top-level `key`.
    pub fn env_var(key: &str) -> String {
        // `server.header_timeout` → `SONDE_SCHEDULER_SERVER_HEADER_TIMEOUT`.
        format!(
            "SONDE_SCHEDULER_{}",
            key.to_ascii_uppercase().replace('.', "_")
        )
    }

    /// A top-level string: the environment wins over the file.
    pub fn string(&mut self, key: &str, raw: Option<Spanned<String>>) -> Option<Setting<String>> {
        let var = Self::env_var(key);
        if let Some(value) = self.override_of(&var) {
            return Some(Setting {
                value,
                origin: Origin::Env(var),
            });
        }
        raw.map(|raw| self.file_string(raw))
    }

    /// A top-level integer: the environment wins over the file.
    pub fn integer(&mut self, key: &str, raw: Option<Spanned<i64>>) -> Option<Setting<i64>> {
        let var = Self::env_var(key);
        if let Some(text) = self.override_of(&var) {
            return match text.trim().parse::<i64>() {
                Ok(value) => Some(Setting {
                    value,
                    origin: Origin::Env(var),
                }),
                Err(_) => {
                    self.problems.push(Problem::Env {
                        var,
                        message: format!("expected an integer for `{key}`, got `{text}`"),
                    });
                    None
                }
            };
        }
        raw.map(|raw| Setting {
            origin: Origin::File(raw.span()),
            value: raw.into_inner(),
        })
    }

    /// A string from the file (any table), its templates expanded.
    pub fn file_string(&mut self, raw: Spanned<String>) -> Setting<String> {
        let span = raw.span();
        let value = self.expand(raw.get_ref(), &span);
        Setting {
            value,
            origin: Origin::File(span),
        }
    }

    /// Reports a problem with a value, where it came from.
    pub fn error(&mut self, origin: &Origin, title: impl Into<String>, label: impl Into<String>) {
        let (title, label) = (title.into(), label.into());
        self.problems.push(match origin {
            Origin::File(span) => Problem::At(Diagnostic::new(title, span.clone(), label)),
            Origin::Env(var) => Problem::Env {
                var: var.clone(),
                message: format!("{title}: {label}"),
            },
        });
    }

    /// Expands every `{{env.NAME}}` in `text`; an unset variable or another
    /// template is an error at its place in the file.
    fn expand(&mut self, text: &str, span: &Range<usize>) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                let at = self.locate(span, &rest[open..]);
                self.push_at(at, "unclosed template", "expected `}}` after `{{`");
                return out;
            };
            let inner = after[..close].trim();
            let whole = &rest[open..open + 2 + close + 2];
            match inner.strip_prefix("env.") {
                Some(name) => match (self.env)(name) {
                    Some(value) => out.push_str(&value),
                    None => {
                        let at = self.locate(span, whole);
                        self.push_at(
                            at,
                            format!("environment variable `{name}` is not set"),
                            "this template needs it",
                        );
                    }
                },
                None => {
                    let at = self.locate(span, whole);
                    self.push_at(
                        at,
                        format!("unknown template `{inner}`"),
                        "only `{{env.NAME}}` is allowed in scheduler.toml",
                    );
                }
            }
            rest = &after[close + 2..];
        }
        out.push_str(rest);
        out
    }

    /// The span of `needle` inside the value at `span`, or the whole value.
    fn locate(&self, span: &Range<usize>, needle: &str) -> Range<usize> {
        self.source
            .get(span.clone())
            .and_then(|text| text.find(needle))
            .map_or(span.clone(), |at| {
                span.start + at..span.start + at + needle.len()
            })
    }

    fn push_at(&mut self, span: Range<usize>, title: impl Into<String>, label: impl Into<String>) {
        self.problems
            .push(Problem::At(Diagnostic::new(title, span, label)));
    }
}
