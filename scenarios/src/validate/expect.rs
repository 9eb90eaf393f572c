//! `expect` and `capture`: expressions parsed, their errors mapped back to
//! the file, their subjects checked against the step's kind.

use std::collections::BTreeSet;

use toml::Spanned;

use super::ctx::Ctx;
use crate::diagnostic::Diagnostic;
use crate::expr::{self, Assertion, ExprError, Query};
use crate::model::{Capture, StepKind};
use crate::template::{self, BUILTINS};

pub fn assertions(
    ctx: &mut Ctx<'_>,
    raw: Option<&Spanned<Vec<Spanned<String>>>>,
    kind: StepKind,
) -> Vec<Assertion> {
    let mut out = Vec::new();
    for text in raw.map(|r| r.get_ref().as_slice()).unwrap_or_default() {
        match expr::parse_assertion_for(text.get_ref(), kind) {
            Ok(a) if subject_fits(ctx, text, &a.query, kind) => out.push(a),
            Ok(_) => {}
            Err(e) => report(ctx, text, e),
        }
    }
    out
}

pub fn captures(
    ctx: &mut Ctx<'_>,
    raw: Option<&Spanned<std::collections::BTreeMap<String, Spanned<String>>>>,
    kind: StepKind,
    vars: &BTreeSet<String>,
) -> Vec<Capture> {
    let mut out = Vec::new();
    let Some(raw) = raw else { return out };
    for (name, text) in raw.get_ref() {
        if !template::is_identifier(name)
            || BUILTINS.contains(&name.as_str())
            || vars.contains(name)
        {
            let span = super::names::key_span(ctx.src, raw.span(), name);
            let label = if vars.contains(name) {
                format!("`{name}` is already a var; pick another name")
            } else {
                "expected letters, digits and `_`, not a built-in".to_string()
            };
            ctx.error(format!("invalid capture name `{name}`"), span, label);
            continue;
        }
        match expr::parse_capture_for(text.get_ref(), kind) {
            Ok(q) if subject_fits(ctx, text, &q, kind) => out.push(Capture {
                name: name.clone(),
                query: q,
            }),
            Ok(_) => {}
            Err(e) => report(ctx, text, e),
        }
    }
    out
}

fn subject_fits(ctx: &mut Ctx<'_>, text: &Spanned<String>, query: &Query, kind: StepKind) -> bool {
    if query.subject.available_in(kind) {
        return true;
    }
    let name = query.subject.name();
    let start = text.get_ref().find(name).unwrap_or(0);
    let span = ctx.inner_span(text, &(start..start + name.len()));
    ctx.error(
        format!("`{name}` is not a subject of {} steps", kind.as_str()),
        span,
        format!("{} steps have {}", kind.as_str(), subjects_of(kind)),
    );
    false
}

fn subjects_of(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Http => {
            "status, duration, body, header, cookie, jsonpath, regex, cert_expiry, redirects, tls_version"
        }
        StepKind::Dns => "rcode, answers, duration",
        StepKind::Tcp => "duration",
        StepKind::Tls => "cert_expiry, tls_version, duration",
        StepKind::Websocket => "message, duration",
        StepKind::Icmp => "loss, rtt, duration",
        StepKind::Grpc => "status, duration",
        StepKind::Browser => "status, text, url, console_errors, lcp, cls, ttfb, duration",
    }
}

fn report(ctx: &mut Ctx<'_>, text: &Spanned<String>, e: ExprError) {
    let span = ctx.inner_span(text, &e.range);
    ctx.push(Diagnostic {
        title: e.message,
        span,
        label: e.label,
        help: e.help,
    });
}
