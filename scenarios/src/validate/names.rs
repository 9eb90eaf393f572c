//! Names: the scenario's own, `[vars]`, and which template names each step
//! may use (vars, captures of earlier steps, secrets, built-ins).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use super::ctx::Ctx;
use crate::diagnostic::Diagnostic;
use crate::suggest;
use crate::template::{self, BUILTINS, Placeholder, Ref, Template};

/// `[a-z0-9][a-z0-9_.-]{0,62}`.
pub fn is_scenario_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        })
}

/// Span of the top-level `name` value, for messages about the name.
pub fn name_span(src: &str) -> Option<Range<usize>> {
    #[derive(serde::Deserialize)]
    struct OnlyName {
        name: Option<Spanned<toml::Value>>,
    }
    let only: OnlyName = toml::from_str(src).ok()?;
    only.name.map(|n| n.span())
}

/// The top-level `depends_on` entries with their spans, for messages
/// about dependencies between files; empty when there are none.
pub fn depends_on_spans(src: &str) -> Vec<Spanned<String>> {
    #[derive(serde::Deserialize)]
    struct OnlyDependsOn {
        depends_on: Option<Vec<Spanned<String>>>,
    }
    toml::from_str::<OnlyDependsOn>(src)
        .ok()
        .and_then(|only| only.depends_on)
        .unwrap_or_default()
}

/// The `[vars]` table, checked.
#[derive(Default)]
pub struct Vars {
    pub templates: Vec<(String, Template)>,
    pub names: BTreeSet<String>,
}

pub fn vars(ctx: &mut Ctx<'_>, raw: Option<&Spanned<BTreeMap<String, Spanned<String>>>>) -> Vars {
    let mut out = Vars::default();
    let Some(raw) = raw else { return out };
    for name in raw.get_ref().keys() {
        if !template::is_identifier(name) || BUILTINS.contains(&name.as_str()) || name == "secret" {
            let span = key_span(ctx.src, raw.span(), name);
            ctx.error(
                format!("invalid var name `{name}`"),
                span,
                "expected letters, digits and `_`, not a built-in (`region`, `probe`, `uuid`, `now`, `secret`)",
            );
            continue;
        }
        out.names.insert(name.clone());
    }
    // Vars may use built-ins and secrets, not each other: their order in a
    // TOML table carries no meaning, so a chain would read ambiguously.
    let scope = Scope {
        vars: &BTreeSet::new(),
        captured: &BTreeSet::new(),
        later: &BTreeMap::new(),
        in_vars: true,
    };
    for (name, value) in raw.get_ref() {
        if out.names.contains(name)
            && let Some(t) = scope.template(ctx, value)
        {
            out.templates.push((name.clone(), t));
        }
    }
    out
}

/// Best effort: the span of `key` inside a table's span, else the table.
pub fn key_span(src: &str, table: Range<usize>, key: &str) -> Range<usize> {
    src.get(table.clone())
        .and_then(|text| text.find(key))
        .map_or(table.clone(), |i| {
            table.start + i..table.start + i + key.len()
        })
}

/// The names a template may use at one point of the scenario.
pub struct Scope<'s> {
    pub vars: &'s BTreeSet<String>,
    /// Captured by an earlier step.
    pub captured: &'s BTreeSet<String>,
    /// Captured by a later step: name → that step's name.
    pub later: &'s BTreeMap<String, String>,
    /// Checking `[vars]` themselves.
    pub in_vars: bool,
}

impl Scope<'_> {
    /// Parses and checks a template; reports and returns `None` when bad.
    pub fn template(&self, ctx: &mut Ctx<'_>, value: &Spanned<String>) -> Option<Template> {
        match template::parse(value.get_ref()) {
            Err(e) => {
                let span = ctx.inner_span(value, &e.range);
                ctx.error(e.message, span, e.label);
                None
            }
            Ok((t, placeholders)) => {
                let mut ok = true;
                for p in &placeholders {
                    if let Some(diag) = self.check(p) {
                        let span = ctx.inner_span(value, &p.range);
                        ctx.push(Diagnostic { span, ..diag });
                        ok = false;
                    }
                }
                ok.then_some(t)
            }
        }
    }

    /// Checks one placeholder; the returned diagnostic's span is unset.
    pub fn check(&self, p: &Placeholder) -> Option<Diagnostic> {
        let Ref::Name(name) = &p.reference else {
            return None;
        };
        if self.vars.contains(name) || self.captured.contains(name) {
            return None;
        }
        if self.in_vars {
            return Some(Diagnostic::new(
                format!("unknown template name `{name}` in a var"),
                0..0,
                "vars may use `secret.NAME`, `region`, `probe`, `uuid` and `now`",
            ));
        }
        if let Some(step) = self.later.get(name) {
            return Some(
                Diagnostic::new(
                    format!("capture `{name}` is used before the step that defines it"),
                    0..0,
                    format!("`{name}` is captured by step `{step}`, which runs later"),
                )
                .with_help("move this step after the one that captures it"),
            );
        }
        let known = self
            .vars
            .iter()
            .chain(self.captured)
            .map(String::as_str)
            .chain(BUILTINS);
        Some(
            Diagnostic::new(
                format!("unknown template name `{name}`"),
                0..0,
                "expected a var, a capture of an earlier step or a built-in",
            )
            .with_help_opt(suggest::did_you_mean(name, known)),
        )
    }
}
