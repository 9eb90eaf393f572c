//! Hurl entries to scenario TOML: one step per entry, the request's parts
//! to the step's keys, the response's status, headers, `[Asserts]` and body
//! to `expect`, `[Captures]` to `capture`. Each construct without an
//! equivalent becomes a [`Problem`] and is left out; the rest still converts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::json_text::StringScan;
use super::options::{self, StepOptions};
use super::parse::{Body, Entry, Line, Request, Response, Section, shorten};
use super::report::{Pos, Problem};

/// Scenario templates the probe provides, and the Hurl functions they replace.
const HURL_FUNCTIONS: &[(&str, &str)] = &[("newUuid", "uuid"), ("newDate", "now")];

/// The converted scenario, without its validation.
#[derive(Debug)]
pub struct Mapped {
    /// `None` when no entry converted (a scenario needs a step).
    pub toml: Option<String>,
    pub problems: Vec<Problem>,
}

#[derive(Default)]
struct Step {
    name: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    json: Option<String>,
    form: Vec<(String, String)>,
    body: Option<String>,
    options: StepOptions,
    expect: Vec<String>,
    capture: Vec<(String, String)>,
}

struct Mapper {
    known: BTreeSet<String>,
    /// The `--variable` names: a scenario capture may not reuse a var's name.
    given: BTreeSet<String>,
    /// Hurl names whose capture replaced a given variable, and the
    /// capture's scenario name: later templates use the captured value, as
    /// in Hurl.
    shadowed: BTreeMap<String, String>,
    problems: Vec<Problem>,
}

/// Maps parsed entries; `vars` are the `--variable` values, in order.
pub fn map(name: &str, source_name: &str, entries: &[Entry], vars: &[(String, String)]) -> Mapped {
    let mut m = Mapper {
        known: vars.iter().map(|(k, _)| k.clone()).collect(),
        given: vars.iter().map(|(k, _)| k.clone()).collect(),
        shadowed: BTreeMap::new(),
        problems: Vec::new(),
    };
    let mut steps = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        if let Some(step) = m.entry(i + 1, entry) {
            steps.push(step);
        }
    }
    let toml = (!steps.is_empty()).then(|| render(name, source_name, vars, &steps));
    Mapped {
        toml,
        problems: m.problems,
    }
}

impl Mapper {
    fn problem(&mut self, pos: Pos, what: impl Into<String>, needed: impl Into<String>) {
        self.problems.push(Problem::new(pos, what, needed));
    }

    fn entry(&mut self, n: usize, entry: &Entry) -> Option<Step> {
        let req = &entry.request;
        let Some(method) = scenarios::model::Method::from_token(&req.method) else {
            self.problem(
                req.method_pos,
                format!(
                    "method `{}` is not supported; entry {n} left out",
                    req.method
                ),
                "one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
            );
            return None;
        };
        let url = self.template(&req.url, req.url_pos)?;
        let mut step = Step {
            name: step_name(n, method.as_str(), &req.url),
            method: method.key().to_string(),
            url,
            ..Step::default()
        };
        if !self.request_parts(req, &mut step) {
            return None;
        }
        if let Some(resp) = &entry.response {
            self.response(resp, &mut step);
        }
        Some(step)
    }

    /// Headers, sections and body; `false` when the step cannot be sent as written.
    fn request_parts(&mut self, req: &Request, step: &mut Step) -> bool {
        for line in &req.headers {
            if line.text.starts_with("{{") {
                self.problem(
                    line.pos,
                    "a template in a header name is not supported",
                    "a literal header name",
                );
                continue;
            }
            if let Some((k, v, pos)) = line.key_value()
                && let Some(v) = self.template(v, pos)
            {
                step.headers.push((k.to_string(), v));
            }
        }
        let mut ok = true;
        for section in &req.sections {
            ok &= self.request_section(section, step);
        }
        if let Some((body, pos)) = &req.body {
            ok &= self.request_body(body, *pos, step);
        }
        ok
    }

    fn request_section(&mut self, section: &Section, step: &mut Step) -> bool {
        let pairs = |m: &mut Mapper| -> Option<Vec<(String, String)>> {
            let mut out = Vec::new();
            for line in &section.lines {
                let Some((k, v, pos)) = line.key_value() else {
                    m.problem(
                        line.pos,
                        format!("`{}` is not `name: value`", shorten(&line.text)),
                        "`name: value`",
                    );
                    return None;
                };
                out.push((k.to_string(), m.template(&unquote(v), pos)?));
            }
            Some(out)
        };
        match section.name.as_str() {
            "FormParams" | "Form" => match pairs(self) {
                Some(form) => {
                    step.form = form;
                    true
                }
                None => false,
            },
            "QueryStringParams" | "Query" => match pairs(self) {
                Some(params) => {
                    let mut query = String::new();
                    for (k, v) in params {
                        query.push(if query.is_empty() && !step.url.contains('?') {
                            '?'
                        } else {
                            '&'
                        });
                        query.push_str(&encode_outside_templates(&k));
                        query.push('=');
                        query.push_str(&encode_outside_templates(&v));
                    }
                    step.url.push_str(&query);
                    true
                }
                None => false,
            },
            "Cookies" => match pairs(self) {
                Some(cookies) => {
                    let text: Vec<String> = cookies
                        .into_iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    step.headers.push(("Cookie".to_string(), text.join("; ")));
                    true
                }
                None => false,
            },
            "Options" => {
                for line in &section.lines {
                    match line.key_value() {
                        Some((k, v, _)) => {
                            if let Err(what) = step.options.apply(k, v) {
                                self.problem(line.pos, what, options::MAPPED);
                            }
                        }
                        None => {
                            self.problem(line.pos, "option is not `name: value`", "`name: value`")
                        }
                    }
                }
                true
            }
            "BasicAuth" => match pairs(self).as_deref() {
                Some([(user, password)]) if !user.contains("{{") && !password.contains("{{") => {
                    step.headers.push((
                        "Authorization".to_string(),
                        options::basic_authorization(user, password),
                    ));
                    true
                }
                Some([_]) => {
                    self.problem(
                        section.pos,
                        "a template in `[BasicAuth]` is not supported; the request is left out",
                        "a literal `user: password`, or an `Authorization` header",
                    );
                    false
                }
                Some(_) => {
                    self.problem(
                        section.pos,
                        "`[BasicAuth]` needs exactly one `user: password` line; the request is left out",
                        "one `user: password` line",
                    );
                    false
                }
                None => false,
            },
            other => {
                self.problem(
                    section.pos,
                    format!("section `[{other}]` is not supported; the request is left out"),
                    "a scenario step sends JSON, URL-encoded forms or a raw body, not multipart",
                );
                false
            }
        }
    }

    fn request_body(&mut self, body: &Body, pos: Pos, step: &mut Step) -> bool {
        let json_text = match body {
            Body::Json(text) => Some(text.as_str()),
            Body::Multiline {
                lang: Some(l),
                text,
            } if l == "json" => Some(text.as_str()),
            _ => None,
        };
        if let Some(text) = json_text {
            let quoted = quote_bare_templates(text);
            let value: serde_json::Value = match serde_json::from_str(&quoted) {
                Ok(v) => v,
                Err(e) => {
                    self.problem(pos, format!("JSON body does not parse: {e}"), "valid JSON");
                    return false;
                }
            };
            if self.template(&quoted, pos).is_none() {
                return false;
            }
            match json_to_toml(&value) {
                Some(toml) => step.json = Some(self.rename(&toml)),
                None => {
                    // TOML has no null: send the text as is, typed as JSON.
                    step.body = Some(self.rename(text));
                    if !step
                        .headers
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    {
                        step.headers
                            .push(("Content-Type".to_string(), "application/json".to_string()));
                    }
                }
            }
            return true;
        }
        let text = match body {
            Body::Multiline { lang: Some(l), .. } if l != "json" => {
                self.problem(
                    pos,
                    format!("```{l} bodies are not supported"),
                    "a ```json or plain ``` body",
                );
                return false;
            }
            Body::Multiline { text, .. } | Body::Oneline(text) => text,
            Body::Json(_) => return false,
        };
        match self.template(text, pos) {
            Some(t) => {
                step.body = Some(t);
                true
            }
            None => false,
        }
    }

    fn response(&mut self, resp: &Response, step: &mut Step) {
        if let Some((version, pos)) = &resp.version {
            self.problem(
                *pos,
                format!("the `{version}` version assert is not supported"),
                "plain `HTTP`; a step can pin `http = \"1.1\"` or `\"2\"` but not assert it",
            );
        }
        if let Some((status, _)) = resp.status {
            step.expect.push(format!("status == {status}"));
        }
        for line in &resp.headers {
            if let Some((k, v, pos)) = line.key_value() {
                if v.contains("{{") {
                    self.problem(
                        pos,
                        "a template in a header assert is not supported",
                        "a literal value",
                    );
                    continue;
                }
                step.expect
                    .push(format!("header {} == {}", expr_string(k), expr_string(v)));
            }
        }
        for section in &resp.sections {
            match section.name.as_str() {
                "Captures" => {
                    for line in &section.lines {
                        self.capture(line, step);
                    }
                }
                "Asserts" => {
                    for line in &section.lines {
                        if let Some(e) = self.assert(&line.text, line.pos) {
                            step.expect.push(e);
                        }
                    }
                }
                other => self.problem(
                    section.pos,
                    format!("section `[{other}]` in a response is not supported"),
                    "`[Captures]` or `[Asserts]`",
                ),
            }
        }
        if let Some((body, pos)) = &resp.body {
            match body {
                Body::Oneline(text) | Body::Multiline { lang: None, text }
                    if !text.contains("{{") =>
                {
                    step.expect.push(format!("body == {}", expr_string(text)));
                }
                _ => self.problem(
                    *pos,
                    "this response body assert is not supported",
                    "a literal ``` or ` string; compare JSON with `jsonpath` asserts",
                ),
            }
        }
    }

    fn capture(&mut self, line: &Line, step: &mut Step) {
        let Some((name, query, pos)) = line.key_value() else {
            self.problem(line.pos, "capture is not `name: query`", "`name: query`");
            return;
        };
        let tokens = match tokenize(query, pos) {
            Ok(t) => t,
            Err(p) => return self.problems.push(p),
        };
        let mut at = 0;
        let Some(mut out) = self.query(&tokens, &mut at) else {
            return;
        };
        if let Some(t) = tokens.get(at) {
            self.problem(
                t.pos,
                format!("unexpected `{}` after the capture's query", t.text()),
                "a query and its filters",
            );
            return;
        }
        out = out.trim_end().to_string();
        self.known.insert(name.to_string());
        let mut scenario_name = scenario_var(name);
        if self.given.contains(name) {
            scenario_name.push_str("_captured");
            self.shadowed
                .insert(name.to_string(), scenario_name.clone());
        }
        step.capture.push((scenario_name, out));
    }

    /// `QUERY [FILTER]… PREDICATE [VALUE]` to an `expect` expression.
    fn assert(&mut self, text: &str, pos: Pos) -> Option<String> {
        let tokens = match tokenize(text, pos) {
            Ok(t) => t,
            Err(p) => {
                self.problems.push(p);
                return None;
            }
        };
        let mut at = 0;
        let query = self.query(&tokens, &mut at)?;
        let is_duration =
            matches!(tokens.first(), Some(Tok { kind: TokKind::Word(w), .. }) if w == "duration");
        let Some(first) = tokens.get(at) else {
            self.problem(
                pos,
                "assert without a predicate",
                "a predicate such as `== 200` or `exists`",
            );
            return None;
        };
        let mut negated = false;
        let mut op_tok = first;
        if first.is_word("not") {
            negated = true;
            at += 1;
            op_tok = match tokens.get(at) {
                Some(t) => t,
                None => {
                    self.problem(
                        first.pos,
                        "`not` without a predicate",
                        "a predicate after `not`",
                    );
                    return None;
                }
            };
        }
        at += 1;
        let op = op_tok.text();
        let value = tokens.get(at);
        let predicate = match (op.as_str(), negated) {
            ("exists", false) => "exists".to_string(),
            ("exists", true) => "not exists".to_string(),
            ("==", n) | ("!=", n) if !n || op == "==" => {
                let op = if n { "!=" } else { op.as_str() };
                format!("{op} {}", self.value(value, op_tok, is_duration)?)
            }
            ("!=", true) => format!("== {}", self.value(value, op_tok, is_duration)?),
            (">" | ">=" | "<" | "<=", false) => {
                format!("{op} {}", self.value(value, op_tok, is_duration)?)
            }
            ("contains" | "includes", n) => {
                let not = if n { "not " } else { "" };
                format!("{not}contains {}", self.value(value, op_tok, false)?)
            }
            ("matches", false) => format!("matches {}", self.value(value, op_tok, false)?),
            ("startsWith" | "endsWith", false) => {
                let Some(Tok {
                    kind: TokKind::Str(s),
                    ..
                }) = value
                else {
                    self.problem(
                        op_tok.pos,
                        format!("`{op}` needs a string"),
                        "a quoted string",
                    );
                    return None;
                };
                let re = if op == "startsWith" {
                    format!("^{}", regex_escape(s))
                } else {
                    format!("{}$", regex_escape(s))
                };
                format!("matches {}", expr_string(&re))
            }
            _ => {
                let shown = if negated {
                    format!("not {op}")
                } else {
                    op.clone()
                };
                self.problem(
                    op_tok.pos,
                    format!("predicate `{shown}` is not supported"),
                    "==, !=, <, <=, >, >=, contains, includes, matches, startsWith, endsWith, exists (and `not` before contains, includes, exists, ==, !=)",
                );
                return None;
            }
        };
        let used = if matches!(op.as_str(), "exists") {
            at
        } else {
            at + 1
        };
        if let Some(extra) = tokens.get(used) {
            self.problem(
                extra.pos,
                format!("unexpected `{}` after the predicate", extra.text()),
                "one value",
            );
            return None;
        }
        Some(format!("{query}{predicate}"))
    }

    /// A query and its filters, each followed by a space.
    fn query(&mut self, tokens: &[Tok], at: &mut usize) -> Option<String> {
        let first = tokens.get(*at)?;
        *at += 1;
        let arg = |m: &mut Mapper, at: &mut usize, what: &str| -> Option<String> {
            match tokens.get(*at) {
                Some(Tok {
                    kind: TokKind::Str(s) | TokKind::Regex(s),
                    ..
                }) => {
                    *at += 1;
                    if s.contains("{{") {
                        m.problem(
                            tokens[*at - 1].pos,
                            "a template in a query is not supported",
                            "a literal",
                        );
                        return None;
                    }
                    Some(expr_string(s))
                }
                _ => {
                    m.problem(
                        first.pos,
                        format!("`{what}` needs a quoted argument"),
                        "a quoted string",
                    );
                    None
                }
            }
        };
        let mut out = match first.text().as_str() {
            w @ ("status" | "body" | "duration") => format!("{w} "),
            w @ ("header" | "cookie" | "jsonpath" | "regex") => {
                let a = arg(self, at, w)?;
                if w == "cookie" && a.contains('[') {
                    self.problem(
                        first.pos,
                        "cookie attributes (`name[Attr]`) are not supported",
                        "a cookie's value: `cookie \"name\"`",
                    );
                    return None;
                }
                format!("{w} {a} ")
            }
            w => {
                self.problem(
                    first.pos,
                    format!("query `{w}` is not supported"),
                    "status, header, cookie, body, jsonpath, regex or duration",
                );
                return None;
            }
        };
        while let Some(t) = tokens.get(*at) {
            let TokKind::Word(w) = &t.kind else { break };
            if is_predicate(w) {
                break;
            }
            *at += 1;
            match w.as_str() {
                // Only a JSONPath yields a list here; a header is one string.
                "count" if !out.starts_with("jsonpath ") => {
                    self.problem(
                        t.pos,
                        format!("`count` after `{}` is not supported", first.text()),
                        "`count` after a `jsonpath` query",
                    );
                    return None;
                }
                "count" => out.push_str("count "),
                "regex" => {
                    let a = arg(self, at, "regex")?;
                    let _ = write!(out, "regex {a} ");
                }
                other => {
                    self.problem(
                        t.pos,
                        format!("filter `{other}` is not supported"),
                        "`count` or `regex`",
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    fn value(&mut self, tok: Option<&Tok>, op: &Tok, is_duration: bool) -> Option<String> {
        let Some(tok) = tok else {
            self.problem(
                op.pos,
                format!("`{}` needs a value", op.text()),
                "a value after the predicate",
            );
            return None;
        };
        match &tok.kind {
            TokKind::Str(s) | TokKind::Regex(s) if s.contains("{{") => {
                self.problem(
                    tok.pos,
                    "a template in an assert's value is not supported",
                    "a literal value",
                );
                None
            }
            TokKind::Str(s) | TokKind::Regex(s) => Some(expr_string(s)),
            TokKind::Word(w) if is_duration && w.parse::<u64>().is_ok() => Some(format!("{w}ms")),
            TokKind::Word(w)
                if matches!(w.as_str(), "true" | "false" | "null") || w.parse::<f64>().is_ok() =>
            {
                Some(w.clone())
            }
            TokKind::Word(w) if w.starts_with("{{") => {
                self.problem(
                    tok.pos,
                    "a template in an assert's value is not supported",
                    "a literal value",
                );
                None
            }
            _ => {
                self.problem(
                    tok.pos,
                    format!("value `{}` is not supported", tok.text()),
                    "a string, number, boolean or null",
                );
                None
            }
        }
    }

    fn rename(&self, text: &str) -> String {
        rename_templates(text, &self.shadowed)
    }

    /// Checks `{{…}}` templates: known variables pass, Hurl functions with a
    /// built-in equivalent are renamed, the rest is reported.
    fn template(&mut self, text: &str, pos: Pos) -> Option<String> {
        let mut ok = true;
        let mut rest = text;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            let at = pos.plus(offset + start);
            let Some(len) = rest[start..].find("}}") else {
                self.problem(at, "`{{` without `}}`", "`{{name}}`");
                return None;
            };
            let inner = rest[start + 2..start + len].trim();
            if HURL_FUNCTIONS.iter().any(|(f, _)| *f == inner) {
            } else if inner.contains('|')
                || !inner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                self.problem(
                    at,
                    format!("template `{{{{{inner}}}}}` is not supported"),
                    "a plain variable `{{name}}`",
                );
                ok = false;
            } else if !self.known.contains(inner) {
                self.problem(
                    at,
                    format!("variable `{inner}` is neither captured before nor given"),
                    format!(
                        "`--variable {inner}=VALUE`, or a capture of `{inner}` in an earlier entry"
                    ),
                );
                ok = false;
            }
            offset += start + len + 2;
            rest = &rest[start + len + 2..];
        }
        ok.then(|| self.rename(text))
    }
}

/// Every `{{name}}` as the scenario writes it: Hurl functions as their
/// built-ins, variables by [`scenario_var`] or as the capture that
/// replaced them.
fn rename_templates(text: &str, shadowed: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = rest[start + 2..start + len].trim();
        let renamed = match HURL_FUNCTIONS.iter().find(|(f, _)| *f == inner) {
            Some((_, ours)) => (*ours).to_string(),
            None => shadowed
                .get(inner)
                .cloned()
                .unwrap_or_else(|| scenario_var(inner)),
        };
        out.push_str(&rest[..start]);
        let _ = write!(out, "{{{{{renamed}}}}}");
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// A Hurl variable's name in the scenario. Hurl allows `-` and names the
/// scenario language keeps for its built-ins (`{{region}}` is the probe's
/// region there, not the user's value): `-` becomes `_`, and a name that is
/// still not a plain identifier, or is a built-in, gets a `hurl_` prefix.
pub fn scenario_var(name: &str) -> String {
    let mut out = name.replace('-', "_");
    if !scenarios::template::is_identifier(&out)
        || scenarios::template::BUILTINS.contains(&out.as_str())
        || out == "secret"
    {
        out.insert_str(0, "hurl_");
    }
    out
}

fn is_predicate(w: &str) -> bool {
    matches!(
        w,
        "not"
            | "=="
            | "!="
            | ">"
            | ">="
            | "<"
            | "<="
            | "contains"
            | "includes"
            | "matches"
            | "startsWith"
            | "endsWith"
            | "exists"
            | "isBoolean"
            | "isCollection"
            | "isDate"
            | "isEmpty"
            | "isFloat"
            | "isInteger"
            | "isIsoDate"
            | "isNumber"
            | "isString"
            | "isIpv4"
            | "isIpv6"
            | "isUuid"
            | "isList"
            | "isObject"
    )
}

/// The step's name: its number, method and URL, at most 64 characters.
fn step_name(n: usize, method: &str, url: &str) -> String {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    let path = if url.starts_with("{{") {
        url.find('/').map_or(url, |i| &url[i..])
    } else {
        path
    };
    format!("{n} {method} {path}").chars().take(64).collect()
}

#[derive(Debug)]
enum TokKind {
    Word(String),
    Str(String),
    Regex(String),
}

#[derive(Debug)]
struct Tok {
    kind: TokKind,
    pos: Pos,
}

impl Tok {
    fn is_word(&self, w: &str) -> bool {
        matches!(&self.kind, TokKind::Word(x) if x == w)
    }

    fn text(&self) -> String {
        match &self.kind {
            TokKind::Word(w) => w.clone(),
            TokKind::Str(s) => format!("\"{s}\""),
            TokKind::Regex(s) => format!("/{s}/"),
        }
    }
}

/// Words, Hurl `"strings"` (escapes decoded) and `/regex/` literals.
fn tokenize(text: &str, pos: Pos) -> Result<Vec<Tok>, Problem> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (byte, c) = chars[i];
        let at = pos.plus(byte);
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            break;
        }
        if c == '"' || c == '/' {
            let mut s = String::new();
            i += 1;
            let mut closed = false;
            while i < chars.len() {
                let (_, d) = chars[i];
                i += 1;
                if d == c {
                    closed = true;
                    break;
                }
                if d == '\\' && i < chars.len() {
                    let (_, e) = chars[i];
                    i += 1;
                    if c == '/' {
                        if e != '/' {
                            s.push('\\');
                        }
                        s.push(e);
                        continue;
                    }
                    match e {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        'b' => s.push('\u{8}'),
                        'f' => s.push('\u{c}'),
                        '"' | '\\' | '/' => s.push(e),
                        'u' => {
                            let rest: String = chars[i..].iter().map(|(_, c)| *c).collect();
                            let code = rest
                                .strip_prefix('{')
                                .and_then(|r| r.split_once('}'))
                                .and_then(|(hex, _)| {
                                    u32::from_str_radix(hex, 16)
                                        .ok()
                                        .map(|v| (v, hex.len() + 2))
                                });
                            match code.and_then(|(v, n)| char::from_u32(v).map(|ch| (ch, n))) {
                                Some((ch, n)) => {
                                    s.push(ch);
                                    i += n;
                                }
                                None => {
                                    return Err(Problem::new(
                                        at,
                                        "invalid `\\u{…}` escape",
                                        "`\\u{hex}`",
                                    ));
                                }
                            }
                        }
                        other => s.push(other),
                    }
                    continue;
                }
                s.push(d);
            }
            if !closed {
                return Err(Problem::new(
                    at,
                    format!("`{c}` never closed"),
                    format!("a closing `{c}`"),
                ));
            }
            out.push(Tok {
                kind: if c == '"' {
                    TokKind::Str(s)
                } else {
                    TokKind::Regex(s)
                },
                pos: at,
            });
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].1.is_whitespace() {
            i += 1;
        }
        let word: String = chars[start..i].iter().map(|(_, c)| *c).collect();
        out.push(Tok {
            kind: TokKind::Word(word),
            pos: at,
        });
    }
    Ok(out)
}

/// A section value, Hurl-quoted or not, as its text.
fn unquote(v: &str) -> String {
    match tokenize(v, Pos::new(1, 1)) {
        Ok(t) if t.len() == 1 && matches!(t[0].kind, TokKind::Str(_)) && v.starts_with('"') => {
            match &t[0].kind {
                TokKind::Str(s) => s.clone(),
                _ => v.to_string(),
            }
        }
        _ => v.to_string(),
    }
}

/// A string literal of the scenario expression language: only `\"` and `\\`.
fn expr_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// URL-encodes a query-string part, leaving `{{templates}}` as they are.
fn encode_outside_templates(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..]
            .find("}}")
            .map_or(rest.len(), |e| start + e + 2);
        out.extend(url::form_urlencoded::byte_serialize(
            &rest.as_bytes()[..start],
        ));
        out.push_str(&rest[start..end]);
        rest = &rest[end..];
    }
    out.extend(url::form_urlencoded::byte_serialize(rest.as_bytes()));
    out
}

/// Puts quotes around `{{x}}` written as a bare JSON value, which Hurl
/// allows; a scenario string that is exactly one template keeps the type
/// of the value it takes, so the request sends the same JSON.
fn quote_bare_templates(text: &str) -> String {
    let mut out = String::new();
    let mut strings = StringScan::default();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !strings.inside()
            && rest.starts_with("{{")
            && let Some(end) = rest.find("}}")
        {
            out.push('"');
            out.push_str(&rest[..end + 2]);
            out.push('"');
            rest = &rest[end + 2..];
            continue;
        }
        strings.take(c);
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A JSON value as a TOML inline value; `None` when it holds a null.
fn json_to_toml(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => toml_string(s),
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(json_to_toml).collect();
            format!("[{}]", parts?.join(", "))
        }
        Value::Object(map) => {
            let mut parts = Vec::new();
            for (k, v) in map {
                parts.push(format!("{} = {}", toml_key(k), json_to_toml(v)?));
            }
            if parts.is_empty() {
                "{}".to_string()
            } else {
                format!("{{ {} }}", parts.join(", "))
            }
        }
    })
}

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        toml_string(k)
    }
}

fn render(name: &str, source_name: &str, vars: &[(String, String)], steps: &[Step]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Imported from {source_name} by `probe import`.");
    let _ = writeln!(out, "name = {}", toml_string(name));
    let _ = writeln!(out, "interval = \"1m\"");
    if !vars.is_empty() {
        let _ = writeln!(out, "\n[vars]");
        for (k, v) in vars {
            let _ = writeln!(out, "{} = {}", scenario_var(k), toml_string(v));
        }
    }
    for s in steps {
        let _ = writeln!(out, "\n[[steps]]");
        let _ = writeln!(out, "name = {}", toml_string(&s.name));
        let _ = writeln!(out, "{} = {}", s.method, toml_string(&s.url));
        if !s.headers.is_empty() {
            let parts: Vec<String> = s
                .headers
                .iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), toml_string(v)))
                .collect();
            let _ = writeln!(out, "headers = {{ {} }}", parts.join(", "));
        }
        if let Some(json) = &s.json {
            let _ = writeln!(out, "json = {json}");
        }
        if !s.form.is_empty() {
            let parts: Vec<String> = s
                .form
                .iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), toml_string(v)))
                .collect();
            let _ = writeln!(out, "form = {{ {} }}", parts.join(", "));
        }
        if let Some(body) = &s.body {
            let _ = writeln!(out, "body = {}", toml_string(body));
        }
        let o = &s.options;
        if o.follow_redirects {
            let _ = writeln!(out, "follow_redirects = true");
        }
        if o.forward_headers {
            let _ = writeln!(out, "forward_headers = true");
        }
        if let Some(n) = o.max_redirects {
            let _ = writeln!(out, "max_redirects = {n}");
        }
        if let Some(http) = o.http {
            let _ = writeln!(out, "http = \"{http}\"");
        }
        if o.insecure {
            let _ = writeln!(out, "tls = {{ insecure = true }}");
        }
        if !s.expect.is_empty() {
            let _ = writeln!(out, "expect = [");
            for e in &s.expect {
                let _ = writeln!(out, "  {},", toml_string(e));
            }
            let _ = writeln!(out, "]");
        }
        if !s.capture.is_empty() {
            let parts: Vec<String> = s
                .capture
                .iter()
                .map(|(k, v)| format!("{} = {}", scenario_var(k), toml_string(v)))
                .collect();
            let _ = writeln!(out, "capture = {{ {} }}", parts.join(", "));
        }
    }
    out
}
