//! Raw → model: every rule of the language, every error collected in one
//! pass. A TOML syntax error ends the pass (nothing after it can be trusted);
//! past that, each section and each step is checked on its own.

mod alert;
mod browser;
mod ctx;
mod expect;
mod grpc;
mod header;
mod names;
mod retry;
mod step;
mod threshold;

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, Deserializer, ValueDeserializer};

use crate::diagnostic::Diagnostic;
use crate::load::{FileSource, MAX_STEPS};
use crate::model::Scenario;
use crate::raw::{self, RawAlert, RawDefaults, RawHeader, RawStep};
use ctx::Ctx;

pub use names::{depends_on_spans, name_span};

/// Validates a scenario's text. `stem` is the file stem, the default name.
pub fn scenario(
    src: &str,
    stem: &str,
    files: &dyn FileSource,
) -> Result<Scenario, Vec<Diagnostic>> {
    let mut ctx = Ctx::new(src);
    let root = match DeTable::parse(src) {
        Ok(root) => root,
        Err(e) => return Err(vec![syntax_error(&e, src)]),
    };
    let sections = split(&mut ctx, root);
    let header = sections
        .header
        .as_ref()
        .and_then(|h| header::check(&mut ctx, h, stem));
    let vars = names::vars(&mut ctx, sections.vars.as_ref());
    let mut attached = BTreeMap::new();
    let defaults = step::defaults(
        &mut ctx,
        sections.defaults.as_ref(),
        &vars,
        files,
        &mut attached,
    );
    let steps = step::all(
        &mut ctx,
        &sections.steps,
        &step::Env {
            header: header.as_ref(),
            defaults: &defaults,
            vars: &vars,
            files,
        },
        &mut attached,
    );
    let regions = header
        .as_ref()
        .and_then(|h| h.regions.as_ref())
        .map(Vec::len);
    let run = header.as_ref().map(|h| (&h.schedule, h.timeout));
    let alert = alert::check(&mut ctx, sections.alert.as_ref(), regions, run);
    match (header, ctx.diags.is_empty()) {
        (Some(h), true) => {
            let version = crate::wire::scenario_version(src, &attached);
            Ok(Scenario {
                name: h.name,
                description: h.description,
                schedule: h.schedule,
                timeout: h.timeout,
                regions: h.regions,
                labels: h.labels,
                depends_on: h.depends_on,
                vars: vars.templates,
                steps,
                alert,
                files: attached,
                version,
            })
        }
        _ => {
            let mut diags = ctx.diags;
            diags.sort_by_key(|d| d.span.start);
            Err(diags)
        }
    }
}

fn syntax_error(e: &toml::de::Error, src: &str) -> Diagnostic {
    let message = e.message().trim();
    let span = e.span().unwrap_or(0..0);
    let span = if span.is_empty() && span.start < src.len() {
        span.start..span.start + 1
    } else {
        span
    };
    let title = message.lines().next().unwrap_or("invalid TOML");
    let label = message
        .lines()
        .nth(1)
        .map_or_else(|| "invalid TOML here".to_string(), |l| l.trim().to_string());
    Diagnostic::new(format!("TOML syntax error: {title}"), span, label)
        .with_help("see https://toml.io for the syntax")
}

/// The file cut into the sections that are deserialized separately.
struct Sections {
    /// `None` when the top level did not deserialize (already reported).
    header: Option<RawHeader>,
    defaults: Option<RawDefaults>,
    vars: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    alert: Option<RawAlert>,
    steps: Vec<StepSlot>,
}

/// One `[[steps]]` table: its span, the raw step when it deserialized, and
/// the names it captures (read even when it did not, so later steps that
/// use them are not reported as well).
pub struct StepSlot {
    pub span: Range<usize>,
    pub raw: Option<RawStep>,
    pub captures: Vec<String>,
}

fn split(ctx: &mut Ctx<'_>, root: Spanned<DeTable<'_>>) -> Sections {
    let span = root.span();
    let mut table = root.into_inner();
    let defaults = table.remove("defaults");
    let vars = table.remove("vars");
    let alert = table.remove("alert");
    let steps = table.remove("steps");
    let header = RawHeader::deserialize(Deserializer::from(Spanned::new(span.clone(), table)))
        .map_err(|e| ctx.serde_error(&e, &raw::HEADER_KEYS, 0..0))
        .ok();
    let defaults = section::<RawDefaults>(ctx, defaults, &step::DEFAULTS_KEYS);
    let vars = section(ctx, vars, &[]);
    let alert = section::<RawAlert>(ctx, alert, &alert::KEYS);
    let steps = step_tables(ctx, steps, span.end);
    Sections {
        header,
        defaults,
        vars,
        alert,
        steps,
    }
}

fn section<T: for<'de> Deserialize<'de>>(
    ctx: &mut Ctx<'_>,
    value: Option<Spanned<DeValue<'_>>>,
    keys: &[&str],
) -> Option<T> {
    let value = value?;
    let span = value.span();
    T::deserialize(ValueDeserializer::from(value))
        .map_err(|e| ctx.serde_error(&e, keys, span))
        .ok()
}

fn step_tables(
    ctx: &mut Ctx<'_>,
    steps: Option<Spanned<DeValue<'_>>>,
    end: usize,
) -> Vec<StepSlot> {
    let Some(steps) = steps else {
        ctx.push(
            Diagnostic::new(
                "scenario has no steps",
                end.saturating_sub(1)..end,
                "expected at least one `[[steps]]` table",
            )
            .with_help("add a step: `[[steps]]` with `name` and, for HTTP, `get = \"/\"`"),
        );
        return Vec::new();
    };
    let span = steps.span();
    let DeValue::Array(items) = steps.into_inner() else {
        ctx.error(
            "`steps` must be an array of tables",
            span,
            "expected `[[steps]]` tables",
        );
        return Vec::new();
    };
    if items.is_empty() {
        ctx.error("scenario has no steps", span, "expected at least one step");
        return Vec::new();
    }
    if items.len() > MAX_STEPS {
        ctx.error(
            format!("too many steps ({})", items.len()),
            span,
            format!("a scenario may have at most {MAX_STEPS} steps"),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for item in items {
        let span = item.span();
        let captures = capture_names(item.get_ref());
        let raw = RawStep::deserialize(ValueDeserializer::from(item))
            .map_err(|e| ctx.serde_error(&e, &raw::STEP_KEYS, span.clone()))
            .ok();
        out.push(StepSlot {
            span,
            raw,
            captures,
        });
    }
    out
}

fn capture_names(step: &DeValue<'_>) -> Vec<String> {
    step.get("capture")
        .and_then(|c| c.get_ref().as_table())
        .map(|t| t.keys().map(|k| k.get_ref().to_string()).collect())
        .unwrap_or_default()
}
