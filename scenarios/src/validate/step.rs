//! Steps: kind, request, body, headers, TLS, timeouts, and the fields each
//! kind allows. `[defaults]` is checked here too, since it is a partial step.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::StepSlot;
use super::ctx::Ctx;
use super::expect;
use super::grpc;
use super::header::Header;
use super::names::{Scope, Vars};
use crate::diagnostic::Diagnostic;
use crate::duration::Human;
use crate::load::{FileSource, MAX_ATTACHED_FILE_BYTES};
use crate::model::{
    Action, Body, DnsQuery, HttpRequest, HttpVersion, IcmpEcho, Method, RecordType, Step, StepKind,
    TcpConnect, TlsHandshake, TlsOptions, WebSocketExchange,
};
use crate::raw::{RawDefaults, RawStep, RawTls};
use crate::suggest;
use crate::template::{JsonTemplate, Template};

/// A step's timeout when neither it nor `[defaults]` sets one (or the
/// scenario's, if shorter).
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;

pub const DEFAULTS_KEYS: [&str; 7] = [
    "base_url",
    "headers",
    "timeout",
    "follow_redirects",
    "max_redirects",
    "tls",
    "http",
];

/// Fields of the other kinds: every other step field is an http step's.
const NOT_HTTP: [&str; 10] = [
    "query", "type", "server", "address", "send", "host", "count", "interval", "service", "actions",
];
const DNS_FIELDS: [&str; 8] = [
    "name", "kind", "query", "type", "server", "timeout", "expect", "capture",
];
const TCP_FIELDS: [&str; 5] = ["name", "kind", "address", "timeout", "expect"];
const TLS_FIELDS: [&str; 6] = ["name", "kind", "address", "tls", "timeout", "expect"];
const ICMP_FIELDS: [&str; 7] = [
    "name", "kind", "host", "count", "interval", "timeout", "expect",
];
/// `count` of an icmp step when it sets none.
pub const DEFAULT_ICMP_COUNT: u32 = 3;
pub const DEFAULT_ICMP_INTERVAL: Duration = Duration::from_millis(200);
const GRPC_FIELDS: [&str; 8] = [
    "name", "kind", "address", "service", "headers", "tls", "timeout", "expect",
];
const BROWSER_FIELDS: [&str; 6] = ["name", "kind", "actions", "timeout", "expect", "capture"];
const WEBSOCKET_FIELDS: [&str; 8] = [
    "name", "kind", "url", "send", "headers", "tls", "timeout", "expect",
];

/// `[defaults]`, checked once.
#[derive(Default)]
pub struct Defaults {
    base_url: Option<Template>,
    headers: Vec<(String, Template)>,
    timeout: Option<Spanned<Duration>>,
    follow_redirects: bool,
    max_redirects: Option<u32>,
    tls: TlsOptions,
    http: Option<HttpVersion>,
}

pub fn defaults(
    ctx: &mut Ctx<'_>,
    raw: Option<&RawDefaults>,
    vars: &Vars,
    files: &dyn FileSource,
    attached: &mut BTreeMap<String, Vec<u8>>,
) -> Defaults {
    let Some(raw) = raw else {
        return Defaults::default();
    };
    let scope = Scope {
        vars: &vars.names,
        captured: &BTreeSet::new(),
        later: &BTreeMap::new(),
        in_vars: false,
    };
    let base_url = raw.base_url.as_ref().and_then(|b| {
        let t = scope.template(ctx, b)?;
        check_absolute_url(ctx, b, &t).then_some(t)
    });
    Defaults {
        base_url,
        headers: headers(ctx, raw.headers.as_ref(), &scope),
        timeout: raw
            .timeout
            .as_ref()
            .and_then(|t| Some(Spanned::new(t.span(), ctx.duration(t, "timeout")?))),
        follow_redirects: raw.follow_redirects.unwrap_or(false),
        max_redirects: raw
            .max_redirects
            .as_ref()
            .and_then(|m| ctx.bounded(m, "max_redirects", 0, 50)),
        tls: raw
            .tls
            .as_ref()
            .map(|t| tls(ctx, t.get_ref(), &TlsOptions::default(), files, attached))
            .unwrap_or_default(),
        http: raw.http.as_ref().and_then(|h| http_version(ctx, h)),
    }
}

/// What every step is checked against.
pub struct Env<'e> {
    pub header: Option<&'e Header>,
    pub defaults: &'e Defaults,
    pub vars: &'e Vars,
    pub files: &'e dyn FileSource,
}

pub fn all(
    ctx: &mut Ctx<'_>,
    slots: &[StepSlot],
    env: &Env<'_>,
    attached: &mut BTreeMap<String, Vec<u8>>,
) -> Vec<Step> {
    let name_of = |i: usize, s: &StepSlot| {
        s.raw
            .as_ref()
            .and_then(|r| r.name.as_ref())
            .map_or_else(|| format!("#{}", i + 1), |n| n.get_ref().clone())
    };
    let mut captured = BTreeSet::new();
    let mut seen_names = BTreeSet::new();
    let mut out = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let later: BTreeMap<String, String> = slots[i..]
            .iter()
            .enumerate()
            .flat_map(|(j, s)| {
                s.captures
                    .iter()
                    .map(move |c| (c.clone(), name_of(i + j, s)))
            })
            .filter(|(c, _)| !captured.contains(c))
            .collect();
        if let Some(raw) = &slot.raw {
            let scope = Scope {
                vars: &env.vars.names,
                captured: &captured,
                later: &later,
                in_vars: false,
            };
            if let Some(n) = &raw.name
                && !seen_names.insert(n.get_ref().clone())
            {
                ctx.push(
                    Diagnostic::new(
                        format!("duplicate step name `{}`", n.get_ref()),
                        n.span(),
                        "step names are unique within a scenario",
                    )
                    .with_help("rename one of the steps"),
                );
            }
            if let Some(step) = one(ctx, slot.span.clone(), raw, env, &scope, attached) {
                out.push(step);
            }
        }
        captured.extend(slot.captures.iter().cloned());
    }
    out
}

fn one(
    ctx: &mut Ctx<'_>,
    span: Range<usize>,
    raw: &RawStep,
    env: &Env<'_>,
    scope: &Scope<'_>,
    attached: &mut BTreeMap<String, Vec<u8>>,
) -> Option<Step> {
    let name = step_name(ctx, span.clone(), raw);
    let kind = step_kind(ctx, raw)?;
    allowed_fields(ctx, raw, kind);
    let timeout = step_timeout(ctx, raw, env);
    let mut expect = expect::assertions(ctx, raw.expect.as_ref(), kind);
    if kind == StepKind::Grpc {
        grpc::require_serving(&mut expect);
    }
    let capture = expect::captures(ctx, raw.capture.as_ref(), kind, &env.vars.names);
    let action = match kind {
        StepKind::Http => http(ctx, span, raw, env, scope, attached).map(Action::Http),
        StepKind::Dns => dns(ctx, span, raw, scope).map(Action::Dns),
        StepKind::Tcp => required(ctx, span, raw.address.as_ref(), "address", "tcp")
            .and_then(|a| address(ctx, a, scope))
            .map(|address| Action::Tcp(TcpConnect { address })),
        StepKind::Tls => {
            let address = required(ctx, span, raw.address.as_ref(), "address", "tls")
                .and_then(|a| address(ctx, a, scope));
            let tls = step_tls(ctx, raw, env, attached);
            address.map(|address| Action::Tls(TlsHandshake { address, tls }))
        }
        StepKind::Websocket => {
            websocket(ctx, span, raw, env, scope, attached).map(Action::Websocket)
        }
        StepKind::Icmp => icmp(ctx, span, raw, scope).map(Action::Icmp),
        StepKind::Grpc => {
            grpc::health_check(ctx, span, raw, env, scope, attached).map(Action::Grpc)
        }
        StepKind::Browser => {
            super::browser::journey(ctx, span, raw, env, scope).map(Action::Browser)
        }
    };
    Some(Step {
        name: name?,
        timeout: timeout?,
        action: action?,
        expect,
        capture,
    })
}

fn step_name(ctx: &mut Ctx<'_>, span: Range<usize>, raw: &RawStep) -> Option<String> {
    let Some(n) = &raw.name else {
        ctx.push(
            Diagnostic::new(
                "step has no `name`",
                header_span(ctx.src, span),
                "expected `name = \"…\"` in this step",
            )
            .with_help("names appear in results, metrics and alerts"),
        );
        return None;
    };
    let len = n.get_ref().chars().count();
    if len == 0 || len > 64 || n.get_ref().chars().any(char::is_control) {
        ctx.error(
            "invalid step name",
            n.span(),
            "expected 1 to 64 printable characters",
        );
        return None;
    }
    Some(n.get_ref().clone())
}

/// The first line of a step's table, where "this step" messages point.
pub(super) fn header_span(src: &str, span: Range<usize>) -> Range<usize> {
    let text = src.get(span.clone()).unwrap_or("");
    let end = text.find('\n').unwrap_or(text.len());
    span.start..span.start + end
}

fn step_kind(ctx: &mut Ctx<'_>, raw: &RawStep) -> Option<StepKind> {
    let Some(k) = &raw.kind else {
        return Some(StepKind::Http);
    };
    let kinds = [
        "http",
        "dns",
        "tcp",
        "tls",
        "websocket",
        "icmp",
        "grpc",
        "browser",
    ];
    match k.get_ref().as_str() {
        "http" => Some(StepKind::Http),
        "dns" => Some(StepKind::Dns),
        "tcp" => Some(StepKind::Tcp),
        "tls" => Some(StepKind::Tls),
        "websocket" => Some(StepKind::Websocket),
        "icmp" => Some(StepKind::Icmp),
        "grpc" => Some(StepKind::Grpc),
        "browser" => Some(StepKind::Browser),
        other => {
            ctx.push(
                Diagnostic::new(
                    format!("unknown step kind `{other}`"),
                    k.span(),
                    "expected `http`, `dns`, `tcp`, `tls`, `websocket`, `icmp`, `grpc` or `browser`",
                )
                .with_help_opt(suggest::did_you_mean(other, kinds)),
            );
            None
        }
    }
}

/// Every field present in a raw step, with its span.
fn present(raw: &RawStep) -> Vec<(&'static str, Range<usize>)> {
    let mut v: Vec<(&'static str, Option<Range<usize>>)> = vec![
        ("name", raw.name.as_ref().map(Spanned::span)),
        ("kind", raw.kind.as_ref().map(Spanned::span)),
        ("method", raw.method.as_ref().map(Spanned::span)),
        ("url", raw.url.as_ref().map(Spanned::span)),
        ("json", raw.json.as_ref().map(Spanned::span)),
        ("form", raw.form.as_ref().map(Spanned::span)),
        ("body", raw.body.as_ref().map(Spanned::span)),
        ("headers", raw.headers.as_ref().map(Spanned::span)),
        ("timeout", raw.timeout.as_ref().map(Spanned::span)),
        (
            "follow_redirects",
            raw.follow_redirects.as_ref().map(Spanned::span),
        ),
        (
            "forward_headers",
            raw.forward_headers.as_ref().map(Spanned::span),
        ),
        (
            "max_redirects",
            raw.max_redirects.as_ref().map(Spanned::span),
        ),
        (
            "max_body_bytes",
            raw.max_body_bytes.as_ref().map(Spanned::span),
        ),
        ("tls", raw.tls.as_ref().map(Spanned::span)),
        ("http", raw.http.as_ref().map(Spanned::span)),
        ("query", raw.query.as_ref().map(Spanned::span)),
        ("type", raw.record_type.as_ref().map(Spanned::span)),
        ("server", raw.server.as_ref().map(Spanned::span)),
        ("address", raw.address.as_ref().map(Spanned::span)),
        ("send", raw.send.as_ref().map(Spanned::span)),
        ("host", raw.host.as_ref().map(Spanned::span)),
        ("count", raw.count.as_ref().map(Spanned::span)),
        ("interval", raw.interval.as_ref().map(Spanned::span)),
        ("service", raw.service.as_ref().map(Spanned::span)),
        ("actions", raw.actions.as_ref().map(Spanned::span)),
        ("expect", raw.expect.as_ref().map(Spanned::span)),
        ("capture", raw.capture.as_ref().map(Spanned::span)),
    ];
    for (m, s) in methods(raw) {
        v.push((m.key(), Some(s.span())));
    }
    v.into_iter().filter_map(|(k, s)| Some((k, s?))).collect()
}

fn methods(raw: &RawStep) -> Vec<(Method, &Spanned<String>)> {
    let slots = [
        &raw.get,
        &raw.post,
        &raw.put,
        &raw.patch,
        &raw.delete,
        &raw.head,
        &raw.options,
    ];
    Method::ALL
        .into_iter()
        .zip(slots)
        .filter_map(|(m, s)| Some((m, s.as_ref()?)))
        .collect()
}

/// The fields a step of `kind` may have, in the order of the raw step.
fn fields_of(kind: StepKind) -> Vec<&'static str> {
    match kind {
        StepKind::Http => crate::raw::STEP_KEYS
            .into_iter()
            .filter(|k| !NOT_HTTP.contains(k))
            .collect(),
        StepKind::Dns => DNS_FIELDS.to_vec(),
        StepKind::Tcp => TCP_FIELDS.to_vec(),
        StepKind::Tls => TLS_FIELDS.to_vec(),
        StepKind::Websocket => WEBSOCKET_FIELDS.to_vec(),
        StepKind::Icmp => ICMP_FIELDS.to_vec(),
        StepKind::Grpc => GRPC_FIELDS.to_vec(),
        StepKind::Browser => BROWSER_FIELDS.to_vec(),
    }
}

fn allowed_fields(ctx: &mut Ctx<'_>, raw: &RawStep, kind: StepKind) {
    let allowed = fields_of(kind);
    for (field, span) in present(raw) {
        if !allowed.contains(&field) {
            let owners: Vec<&str> = [
                StepKind::Http,
                StepKind::Dns,
                StepKind::Tcp,
                StepKind::Tls,
                StepKind::Websocket,
                StepKind::Icmp,
                StepKind::Grpc,
                StepKind::Browser,
            ]
            .into_iter()
            .filter(|k| fields_of(*k).contains(&field))
            .map(StepKind::as_str)
            .collect();
            let span = key_before(ctx.src, span, field);
            ctx.push(
                Diagnostic::new(
                    format!("`{field}` is not a field of {} steps", kind.as_str()),
                    span,
                    format!("{} steps take {}", kind.as_str(), allowed.join(", ")),
                )
                .with_help(format!(
                    "`{field}` belongs to {} steps; set `kind` accordingly",
                    owners.join(" and ")
                )),
            );
        }
    }
}

/// The span of `key` in `key = value`, searched backwards from the value.
fn key_before(src: &str, value: Range<usize>, key: &str) -> Range<usize> {
    let before = &src[..value.start.min(src.len())];
    match before.rfind(key) {
        Some(i) if value.start - i < key.len() + 8 => i..i + key.len(),
        _ => value,
    }
}

pub(super) fn required<'r>(
    ctx: &mut Ctx<'_>,
    span: Range<usize>,
    value: Option<&'r Spanned<String>>,
    field: &str,
    kind: &str,
) -> Option<&'r Spanned<String>> {
    if value.is_none() {
        ctx.error(
            format!("{kind} step has no `{field}`"),
            header_span(ctx.src, span),
            format!("expected `{field} = \"…\"` in this step"),
        );
    }
    value
}

fn step_timeout(ctx: &mut Ctx<'_>, raw: &RawStep, env: &Env<'_>) -> Option<Duration> {
    let scenario = env.header.map(|h| h.timeout);
    let (value, span) = match (&raw.timeout, &env.defaults.timeout) {
        (Some(t), _) => (ctx.duration(t, "timeout")?, t.span()),
        (None, Some(d)) => (*d.get_ref(), d.span()),
        (None, None) => {
            return Some(scenario.map_or(DEFAULT_STEP_TIMEOUT, |s| s.min(DEFAULT_STEP_TIMEOUT)));
        }
    };
    if value.is_zero() {
        ctx.error("step timeout is zero", span, "expected a positive duration");
        return None;
    }
    if let Some(s) = scenario.filter(|s| value > *s) {
        ctx.push(
            Diagnostic::new(
                format!(
                    "step timeout {} is longer than the scenario timeout ({})",
                    Human(value),
                    Human(s)
                ),
                span,
                format!("expected at most {}", Human(s)),
            )
            .with_help("raise the scenario's `timeout` or lower this one"),
        );
        return None;
    }
    Some(value)
}

fn http(
    ctx: &mut Ctx<'_>,
    span: Range<usize>,
    raw: &RawStep,
    env: &Env<'_>,
    scope: &Scope<'_>,
    attached: &mut BTreeMap<String, Vec<u8>>,
) -> Option<HttpRequest> {
    let (method, target) = method_and_target(ctx, span, raw)?;
    let url = url(ctx, target, env, scope);
    let mut hdrs = env.defaults.headers.clone();
    for (name, value) in headers(ctx, raw.headers.as_ref().map(Spanned::get_ref), scope) {
        hdrs.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        hdrs.push((name, value));
    }
    let body = body(ctx, raw, scope);
    let tls = step_tls(ctx, raw, env, attached);
    let max_redirects = raw
        .max_redirects
        .as_ref()
        .and_then(|m| ctx.bounded(m, "max_redirects", 0, 50))
        .or(env.defaults.max_redirects)
        .unwrap_or(DEFAULT_MAX_REDIRECTS);
    let max_body_bytes = raw
        .max_body_bytes
        .as_ref()
        .and_then(|m| ctx.bounded(m, "max_body_bytes", 1, 1 << 30))
        .map_or(DEFAULT_MAX_BODY_BYTES, u64::from);
    let version = raw
        .http
        .as_ref()
        .and_then(|h| http_version(ctx, h))
        .or(env.defaults.http);
    Some(HttpRequest {
        method,
        url: url?,
        headers: hdrs,
        body: body?,
        follow_redirects: raw
            .follow_redirects
            .as_ref()
            .map_or(env.defaults.follow_redirects, |f| *f.get_ref()),
        forward_headers: raw.forward_headers.as_ref().is_some_and(|f| *f.get_ref()),
        max_redirects,
        tls,
        version,
        max_body_bytes,
    })
}

fn method_and_target<'r>(
    ctx: &mut Ctx<'_>,
    span: Range<usize>,
    raw: &'r RawStep,
) -> Option<(Method, &'r Spanned<String>)> {
    let found = methods(raw);
    if let [first, second, ..] = found.as_slice() {
        let span = key_before(ctx.src, second.1.span(), second.0.key());
        ctx.push(
            Diagnostic::new(
                "two methods in one step",
                span,
                format!("this step already has `{}`", first.0.key()),
            )
            .with_help("a step is one request; split it into two steps"),
        );
        return None;
    }
    match (found.first(), &raw.method, &raw.url) {
        (Some((m, target)), None, None) => Some((*m, target)),
        (Some((m, _)), Some(extra), _) | (Some((m, _)), None, Some(extra)) => {
            let field = if raw.method.is_some() {
                "method"
            } else {
                "url"
            };
            let span = key_before(ctx.src, extra.span(), field);
            ctx.error(
                format!("both `{}` and `{field}` in one step", m.key()),
                span,
                format!(
                    "expected either `{} = \"…\"` or `method` with `url`",
                    m.key()
                ),
            );
            None
        }
        (None, Some(m), Some(u)) => match Method::from_token(m.get_ref()) {
            Some(method) => Some((method, u)),
            None => {
                ctx.error(
                    format!("unknown method `{}`", m.get_ref()),
                    m.span(),
                    "expected GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS",
                );
                None
            }
        },
        (None, Some(m), None) => {
            ctx.error(
                "`method` without `url`",
                m.span(),
                "expected `url = \"…\"` in this step too",
            );
            None
        }
        (None, None, Some(u)) => {
            ctx.error(
                "`url` without `method`",
                u.span(),
                "expected `method = \"GET\"` in this step too, or `get = \"…\"`",
            );
            None
        }
        (None, None, None) => {
            ctx.push(
                Diagnostic::new(
                    "http step has no request",
                    header_span(ctx.src, span),
                    "expected one of `get`, `post`, `put`, `patch`, `delete`, `head`, `options`",
                )
                .with_help("for example `get = \"/\"`; DNS, TCP and TLS checks need `kind`"),
            );
            None
        }
    }
}

pub(super) fn url(
    ctx: &mut Ctx<'_>,
    target: &Spanned<String>,
    env: &Env<'_>,
    scope: &Scope<'_>,
) -> Option<Template> {
    let t = scope.template(ctx, target)?;
    if target.get_ref().starts_with('/') {
        let Some(base) = &env.defaults.base_url else {
            ctx.push(
                Diagnostic::new(
                    "relative URL without `base_url`",
                    target.span(),
                    "a path needs `base_url` in `[defaults]`",
                )
                .with_help(
                    "add `[defaults]` with `base_url = \"https://…\"`, or write the full URL",
                ),
            );
            return None;
        };
        let base = trim_trailing_slash(base.clone());
        let joined = base.concat(t);
        if let Some(text) = joined.as_literal()
            && url::Url::parse(&text).is_err()
        {
            ctx.error(
                format!("invalid URL `{text}`"),
                target.span(),
                "expected a valid URL once joined to `base_url`",
            );
            return None;
        }
        return Some(joined);
    }
    check_absolute_url(ctx, target, &t).then_some(t)
}

fn trim_trailing_slash(mut t: Template) -> Template {
    if let Some(crate::template::Segment::Literal(last)) = t.segments.last_mut() {
        while last.ends_with('/') {
            last.pop();
        }
    }
    t
}

/// An absolute http(s) URL, or a template that starts with one (`{{base}}/x`).
fn check_absolute_url(ctx: &mut Ctx<'_>, value: &Spanned<String>, t: &Template) -> bool {
    let text = value.get_ref();
    if text.starts_with("{{") {
        return true;
    }
    let scheme_ok = text.starts_with("http://") || text.starts_with("https://");
    let parsed_ok = t
        .as_literal()
        .is_none_or(|l| url::Url::parse(&l).is_ok_and(|u| u.host().is_some()));
    if scheme_ok && parsed_ok {
        return true;
    }
    ctx.error(
        format!("invalid URL `{text}`"),
        value.span(),
        "expected an absolute `http://` or `https://` URL, or a path starting with `/`",
    );
    false
}

pub(super) fn headers(
    ctx: &mut Ctx<'_>,
    raw: Option<&BTreeMap<String, Spanned<String>>>,
    scope: &Scope<'_>,
) -> Vec<(String, Template)> {
    let mut out = Vec::new();
    for (name, value) in raw.into_iter().flatten() {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid {
            let span = key_before(ctx.src, value.span(), name);
            ctx.error(
                format!("invalid header name `{name}`"),
                span,
                "expected letters, digits and `-`",
            );
            continue;
        }
        if value.get_ref().contains(['\r', '\n']) {
            ctx.error(
                format!("header `{name}` has a line break"),
                value.span(),
                "expected a single-line value",
            );
            continue;
        }
        if let Some(t) = scope.template(ctx, value) {
            out.push((name.clone(), t));
        }
    }
    out
}

fn body(ctx: &mut Ctx<'_>, raw: &RawStep, scope: &Scope<'_>) -> Option<Option<Body>> {
    let given: Vec<(&str, Range<usize>)> = [
        ("json", raw.json.as_ref().map(Spanned::span)),
        ("form", raw.form.as_ref().map(Spanned::span)),
        ("body", raw.body.as_ref().map(Spanned::span)),
    ]
    .into_iter()
    .filter_map(|(k, s)| Some((k, s?)))
    .collect();
    if let [(first, _), (second, span), ..] = given.as_slice() {
        let span = key_before(ctx.src, span.clone(), second);
        ctx.push(
            Diagnostic::new(
                "two bodies in one step",
                span,
                format!("this step already has `{first}`"),
            )
            .with_help("a request has one body: keep `json`, `form` or `body`"),
        );
        return None;
    }
    if let Some(j) = &raw.json {
        return json(ctx, j.get_ref(), j.span(), scope).map(|t| Some(Body::Json(t)));
    }
    if let Some(f) = &raw.form {
        let mut fields = Vec::new();
        let mut ok = true;
        for (k, v) in f.get_ref() {
            match scope.template(ctx, v) {
                Some(t) => fields.push((k.clone(), t)),
                None => ok = false,
            }
        }
        return ok.then_some(Some(Body::Form(fields)));
    }
    if let Some(b) = &raw.body {
        return scope.template(ctx, b).map(|t| Some(Body::Raw(t)));
    }
    Some(None)
}

/// A TOML value as a JSON body template. Inner strings carry no spans of
/// their own, so template errors are placed by finding the name in the
/// body's text.
fn json(
    ctx: &mut Ctx<'_>,
    value: &toml::Value,
    span: Range<usize>,
    scope: &Scope<'_>,
) -> Option<JsonTemplate> {
    Some(match value {
        toml::Value::String(s) => {
            let (t, placeholders) = match crate::template::parse(s) {
                Ok(parsed) => parsed,
                Err(e) => {
                    ctx.error(e.message, find_in(ctx.src, &span, s), e.label);
                    return None;
                }
            };
            let mut ok = true;
            for p in &placeholders {
                if let Some(diag) = scope.check(p) {
                    let at = find_in(ctx.src, &span, &p.written);
                    ctx.push(Diagnostic { span: at, ..diag });
                    ok = false;
                }
            }
            if !ok {
                return None;
            }
            JsonTemplate::String(t)
        }
        toml::Value::Integer(i) => JsonTemplate::Number((*i).into()),
        toml::Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => JsonTemplate::Number(n),
            None => {
                ctx.error(
                    "JSON has no NaN or infinity",
                    span,
                    "expected a finite number",
                );
                return None;
            }
        },
        toml::Value::Boolean(b) => JsonTemplate::Bool(*b),
        toml::Value::Datetime(d) => JsonTemplate::String(Template::literal(d.to_string())),
        toml::Value::Array(items) => {
            let parts: Vec<_> = items
                .iter()
                .map(|i| json(ctx, i, span.clone(), scope))
                .collect();
            JsonTemplate::Array(parts.into_iter().collect::<Option<_>>()?)
        }
        toml::Value::Table(t) => {
            let parts: Vec<_> = t
                .iter()
                .map(|(k, v)| Some((k.clone(), json(ctx, v, span.clone(), scope)?)))
                .collect();
            JsonTemplate::Object(parts.into_iter().collect::<Option<_>>()?)
        }
    })
}

fn find_in(src: &str, span: &Range<usize>, needle: &str) -> Range<usize> {
    src.get(span.clone())
        .and_then(|t| t.find(needle))
        .map_or(span.clone(), |i| {
            span.start + i..span.start + i + needle.len()
        })
}

/// The step's `tls` table over `[defaults]`, or the defaults alone.
pub(super) fn step_tls(
    ctx: &mut Ctx<'_>,
    raw: &RawStep,
    env: &Env<'_>,
    attached: &mut BTreeMap<String, Vec<u8>>,
) -> TlsOptions {
    raw.tls.as_ref().map_or_else(
        || env.defaults.tls.clone(),
        |t| tls(ctx, t.get_ref(), &env.defaults.tls, env.files, attached),
    )
}

fn tls(
    ctx: &mut Ctx<'_>,
    raw: &RawTls,
    base: &TlsOptions,
    files: &dyn FileSource,
    attached: &mut BTreeMap<String, Vec<u8>>,
) -> TlsOptions {
    let mut out = base.clone();
    if let Some(i) = raw.insecure {
        out.insecure = i;
    }
    if let Some(sn) = &raw.server_name {
        let valid = !sn.get_ref().is_empty()
            && sn
                .get_ref()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
        if valid {
            out.server_name = Some(sn.get_ref().clone());
        } else {
            ctx.error(
                format!("invalid server name `{}`", sn.get_ref()),
                sn.span(),
                "expected a DNS name or an IP address",
            );
        }
    }
    if let Some(ca) = &raw.ca_file {
        match files.read(ca.get_ref()) {
            Ok(bytes) if bytes.len() > MAX_ATTACHED_FILE_BYTES => ctx.error(
                "CA file is too large",
                ca.span(),
                format!(
                    "files named in a scenario may have at most {MAX_ATTACHED_FILE_BYTES} bytes"
                ),
            ),
            Ok(bytes) if !holds(&bytes, b"-----BEGIN CERTIFICATE-----") => {
                ctx.error(
                    "CA file has no certificate",
                    ca.span(),
                    "expected PEM text with `-----BEGIN CERTIFICATE-----`",
                );
            }
            Ok(bytes) if holds(&bytes, b"PRIVATE KEY-----") => ctx.error(
                "CA file holds a private key",
                ca.span(),
                "it would be sent to every probe that runs the scenario: keep only certificates in it",
            ),
            Ok(bytes) => {
                attached.insert(ca.get_ref().clone(), bytes);
                out.ca_file = Some(ca.get_ref().clone());
            }
            Err(why) => ctx.error("cannot read CA file", ca.span(), why),
        }
    }
    out
}

/// Whether `needle` occurs in `bytes`.
fn holds(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

fn http_version(ctx: &mut Ctx<'_>, h: &Spanned<String>) -> Option<HttpVersion> {
    match h.get_ref().as_str() {
        "1.1" => Some(HttpVersion::Http1),
        "2" => Some(HttpVersion::Http2),
        other => {
            ctx.error(
                format!("unknown HTTP version `{other}`"),
                h.span(),
                "expected `\"1.1\"` or `\"2\"`",
            );
            None
        }
    }
}

fn dns(
    ctx: &mut Ctx<'_>,
    span: Range<usize>,
    raw: &RawStep,
    scope: &Scope<'_>,
) -> Option<DnsQuery> {
    let query = required(ctx, span, raw.query.as_ref(), "query", "dns")
        .and_then(|q| scope.template(ctx, q));
    let record_type = match &raw.record_type {
        None => Some(RecordType::A),
        Some(t) => {
            let found = RecordType::ALL
                .into_iter()
                .find(|r| r.as_str().eq_ignore_ascii_case(t.get_ref()));
            if found.is_none() {
                ctx.error(
                    format!("unknown record type `{}`", t.get_ref()),
                    t.span(),
                    "expected A, AAAA, CNAME, MX, NS, TXT, SRV or CAA",
                );
            }
            found
        }
    };
    let server = match &raw.server {
        None => Some(None),
        Some(s) => {
            let text = s.get_ref();
            let parsed = text.parse::<std::net::SocketAddr>().ok().or_else(|| {
                text.parse::<std::net::IpAddr>()
                    .ok()
                    .map(|ip| (ip, 53).into())
            });
            if parsed.is_none() {
                ctx.error(
                    format!("invalid DNS server `{text}`"),
                    s.span(),
                    "expected an IP address with an optional port, like `127.0.0.1:53`",
                );
                return None;
            }
            Some(parsed)
        }
    };
    Some(DnsQuery {
        query: query?,
        record_type: record_type?,
        server: server?,
    })
}

fn address(ctx: &mut Ctx<'_>, a: &Spanned<String>, scope: &Scope<'_>) -> Option<Template> {
    let t = scope.template(ctx, a)?;
    if let Some(text) = t.as_literal() {
        let ok = text.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !ok {
            ctx.error(
                format!("invalid address `{text}`"),
                a.span(),
                "expected `host:port`, like `127.0.0.1:443`",
            );
            return None;
        }
    }
    Some(t)
}

/// A `websocket` step: a `ws://` or `wss://` URL, an optional message and
/// upgrade headers, and the TLS options of `wss://`.
fn websocket(
    ctx: &mut Ctx<'_>,
    span: Range<usize>,
    raw: &RawStep,
    env: &Env<'_>,
    scope: &Scope<'_>,
    attached: &mut BTreeMap<String, Vec<u8>>,
) -> Option<WebSocketExchange> {
    let url = required(ctx, span, raw.url.as_ref(), "url", "websocket")
        .and_then(|u| websocket_url(ctx, u, scope));
    let send = match &raw.send {
        Some(s) => Some(Some(scope.template(ctx, s)?)),
        None => Some(None),
    };
    let headers = headers(ctx, raw.headers.as_ref().map(Spanned::get_ref), scope);
    let tls = step_tls(ctx, raw, env, attached);
    Some(WebSocketExchange {
        url: url?,
        send: send?,
        headers,
        tls,
    })
}

/// An absolute `ws://` or `wss://` URL, or a template that starts with one.
fn websocket_url(
    ctx: &mut Ctx<'_>,
    value: &Spanned<String>,
    scope: &Scope<'_>,
) -> Option<Template> {
    let t = scope.template(ctx, value)?;
    let text = value.get_ref();
    if text.starts_with("{{") {
        return Some(t);
    }
    let scheme_ok = text.starts_with("ws://") || text.starts_with("wss://");
    let parsed_ok = t
        .as_literal()
        .is_none_or(|l| url::Url::parse(&l).is_ok_and(|u| u.host().is_some()));
    if scheme_ok && parsed_ok {
        return Some(t);
    }
    ctx.error(
        format!("invalid WebSocket URL `{text}`"),
        value.span(),
        "expected an absolute `ws://` or `wss://` URL",
    );
    None
}

/// An `icmp` step: a host without a port, 1 to 100 echoes, an interval.
fn icmp(
    ctx: &mut Ctx<'_>,
    span: Range<usize>,
    raw: &RawStep,
    scope: &Scope<'_>,
) -> Option<IcmpEcho> {
    let host = required(ctx, span, raw.host.as_ref(), "host", "icmp").and_then(|h| {
        let t = scope.template(ctx, h)?;
        if t.as_literal()
            .is_some_and(|l| l.is_empty() || l.contains(['/', ' ']))
        {
            ctx.error(
                format!("invalid host `{}`", h.get_ref()),
                h.span(),
                "expected a host name or IP address, like `127.0.0.1`",
            );
            return None;
        }
        Some(t)
    });
    let count = match &raw.count {
        None => Some(DEFAULT_ICMP_COUNT),
        Some(c) => match u32::try_from(*c.get_ref()) {
            Ok(n) if (1..=100).contains(&n) => Some(n),
            _ => {
                ctx.error(
                    format!("icmp `count` {} is out of range", c.get_ref()),
                    c.span(),
                    "expected 1 to 100 echoes",
                );
                None
            }
        },
    };
    let interval = match &raw.interval {
        None => Some(DEFAULT_ICMP_INTERVAL),
        Some(i) => ctx.duration(i, "interval"),
    };
    Some(IcmpEcho {
        host: host?,
        count: count?,
        interval: interval?,
    })
}
