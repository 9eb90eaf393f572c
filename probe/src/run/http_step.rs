//! HTTP steps: render the request, send it (following redirects when the
//! step asks), keep cookies, then check what came back.

use std::collections::HashSet;

use bytes::Bytes;
use scenarios::expr::{Observation, Query, Subject};
use scenarios::model::{Body, HttpRequest, Step};
use scenarios::template::Scope;
use scenarios::wire::{self, HttpInfo, StepResult};
use tokio::time::Instant;
use url::Url;

use super::other_steps::{cert_expiry, failed};
use super::recorded::RecordedUrl;
use super::{
    RequestSpan, RunState, Timed, checks, evidence, failed_before_start, new_span_id, traceparent,
};
use crate::net::{HttpCall, HttpResponse, PhaseTimings};

/// `User-Agent` unless the step sets one.
pub const USER_AGENT: &str = concat!("sonde-probe/", env!("CARGO_PKG_VERSION"));

pub async fn run(
    state: &mut RunState<'_>,
    step: &Step,
    req: &HttpRequest,
    deadline: Instant,
) -> StepResult {
    let rendered = match render(&state.scope, req) {
        Ok(r) => r,
        Err(message) => return failed_before_start(step, wire::ErrorKind::InvalidRequest, message),
    };
    let mut result = StepResult::skipped(step.name.clone(), step.kind());
    let mut phases = PhaseTimings::default();
    let mut url = rendered.url;
    let mut recorded = rendered.recorded_url;
    let mut method = req.method.as_str();
    let mut body = rendered.body;
    // Filled on the first redirect: most steps never follow one.
    let mut visited = HashSet::new();
    let mut redirects = 0u32;
    let mut set_cookies = Vec::new();
    // The origin the step named, noted on the first redirect: before it
    // every request goes there.
    let mut first_origin: Option<String> = None;
    let response = loop {
        // Credentials stay with the origin the step named, as in curl and
        // browsers: a redirect elsewhere must not carry them.
        let trusted = req.forward_headers
            || first_origin
                .as_ref()
                .is_none_or(|first| *first == origin(&url));
        let given: Vec<(String, String)> = rendered
            .headers
            .iter()
            .filter(|h| trusted || !h.sensitive)
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        let span_id = new_span_id();
        let call = HttpCall {
            method,
            url: url.clone(),
            headers: request_headers(
                state,
                (given, span_id),
                &url,
                !body.is_empty(),
                rendered.content_type,
            ),
            body: body.clone(),
            version: req.version,
            tls: req.tls.clone(),
            ca_pem: req
                .tls
                .ca_file
                .as_ref()
                .and_then(|n| state.scenario.files.get(n))
                .cloned(),
            max_body_bytes: req.max_body_bytes,
        };
        result.http = Some(HttpInfo {
            method: method.to_string(),
            url: recorded.as_str().to_string(),
            status: None,
            version: String::new(),
        });
        let sent_at = Instant::now();
        let sent = state.session.send(call, deadline).await;
        let step_index = state.step_index;
        let hop = |status, phases, error| RequestSpan {
            step: step_index,
            span_id,
            timed: Timed {
                start: sent_at,
                end: Instant::now(),
            },
            method: method.to_string(),
            url: recorded.as_str().to_string(),
            host: url.host_str().unwrap_or("").to_string(),
            port: url.port_or_known_default(),
            status,
            phases,
            error,
        };
        let resp = match sent {
            Ok(resp) => {
                state
                    .spans
                    .request(|| hop(Some(resp.status), resp.phases, None));
                resp
            }
            Err(mut f) => {
                let hop_phases = f.phases;
                f.phases = add(&phases, &f.phases);
                f.message = recorded.describe(&url, &f.message);
                let status = f.head.as_ref().map(|h| h.status);
                state
                    .spans
                    .request(|| hop(status, hop_phases, Some(f.message.clone())));
                result.evidence = f.remote.map(|remote| match &f.head {
                    Some(head) => {
                        let secrets = state.runner.secrets.values();
                        evidence::of_cut_response(head, remote, &secrets)
                    }
                    None => evidence::of_connection(remote),
                });
                if let (Some(head), Some(http)) = (&f.head, result.http.as_mut()) {
                    http.status = Some(head.status);
                    http.version = head.version.to_string();
                }
                return failed(result, f);
            }
        };
        phases = add(&phases, &resp.phases);
        note_response(
            state,
            &mut result,
            (&url, &recorded),
            &resp,
            &mut set_cookies,
        );
        let Some((next, location)) = redirect_target(req, &url, &resp) else {
            break resp;
        };
        let recorded_next = recorded.follow(location, &next, &state.runner.secrets.values());
        redirects += 1;
        if visited.is_empty() {
            visited.insert(url.to_string());
            first_origin = Some(origin(&url));
        }
        if !visited.insert(next.to_string()) {
            result.evidence = Some(shown(state, &resp));
            return redirect_failure(
                result,
                phases,
                wire::ErrorKind::RedirectLoop,
                format!(
                    "redirect loop: {} was already visited",
                    recorded_next.as_str()
                ),
            );
        }
        if redirects > req.max_redirects {
            let message = format!("more than {} redirects", req.max_redirects);
            result.evidence = Some(shown(state, &resp));
            return redirect_failure(result, phases, wire::ErrorKind::TooManyRedirects, message);
        }
        // 303 always, and 301/302 after a POST, continue as a GET without a
        // body, as browsers do.
        if resp.status == 303 || (matches!(resp.status, 301 | 302) && method == "POST") {
            method = "GET";
            body = Bytes::new();
        }
        url = next;
        recorded = recorded_next;
    };
    result.phases = Some(phases.to_wire());
    let json: Option<serde_json::Value> = if reads_json(step) {
        serde_json::from_slice(&response.body).ok()
    } else {
        None
    };
    // Plain HTTP has none: no origin is spelled out to find that.
    let tls = if state.tls_by_origin.is_empty() {
        None
    } else {
        state.tls_by_origin.get(&origin(&url)).cloned()
    };
    let obs = Observation {
        status: Some(response.status),
        duration: phases.total(),
        body: Some(&response.body),
        json: json.as_ref(),
        headers: &response.headers,
        cookies: &set_cookies,
        cert_expiry: tls.as_ref().and_then(cert_expiry),
        redirects: Some(redirects),
        tls_version: tls.as_ref().and_then(|t| t.version.as_deref()),
        ..Observation::default()
    };
    checks::apply(step, &obs, &mut result, &mut state.scope);
    if result.status == wire::StepStatus::Failed {
        result.evidence = Some(shown(state, &response));
    }
    result.tls = tls;
    result
}

/// Whether an assertion or capture of `step` selects from the JSON body:
/// only then is the body parsed.
fn reads_json(step: &Step) -> bool {
    let json = |q: &Query| matches!(q.subject, Subject::JsonPath(_));
    step.expect.iter().any(|a| json(&a.query)) || step.capture.iter().any(|c| json(&c.query))
}

/// The evidence a failed step keeps of `resp`.
fn shown(state: &RunState<'_>, resp: &HttpResponse) -> wire::Evidence {
    let secrets = state.runner.secrets.values();
    evidence::of_response(resp, state.runner.evidence_bytes, &secrets)
}

struct Rendered {
    url: Url,
    /// The URL as the result shows it: rendered with secrets as `***`.
    recorded_url: RecordedUrl,
    headers: Vec<RenderedHeader>,
    body: Bytes,
    content_type: Option<&'static str>,
}

/// A header of the step, rendered.
struct RenderedHeader {
    name: String,
    value: String,
    /// A credential (`Authorization`, `Proxy-Authorization`, `Cookie`) or
    /// made from a secret: sent to the step's own origin only, unless
    /// `forward_headers`.
    sensitive: bool,
}

/// Headers that carry credentials whatever they were made from.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

fn render(scope: &dyn Scope, req: &HttpRequest) -> Result<Rendered, String> {
    let text = req.url.render_shown(scope).map_err(|e| e.to_string())?;
    let shown = &text.shown;
    let url = Url::parse(&text.sent).map_err(|e| format!("invalid URL `{shown}`: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("invalid URL `{shown}`: expected http or https"));
    }
    // Parsing again is needed only when the recorded text differs.
    let recorded_url = if text.shown == text.sent {
        RecordedUrl::unmasked(&url)
    } else {
        RecordedUrl::new(text.shown)
    };
    let mut headers = Vec::with_capacity(req.headers.len());
    for (name, template) in &req.headers {
        let value = template
            .render(scope)
            .map_err(|e| format!("header `{name}`: {e}"))?;
        if value.contains(['\r', '\n']) {
            return Err(format!("header `{name}` has a line break once rendered"));
        }
        let sensitive = is_sensitive(name, template);
        headers.push(RenderedHeader {
            name: name.clone(),
            value,
            sensitive,
        });
    }
    let (body, content_type) = match &req.body {
        None => (Bytes::new(), None),
        Some(Body::Json(j)) => {
            let value = j.render(scope).map_err(|e| format!("json body: {e}"))?;
            (
                Bytes::from(serde_json::to_vec(&value).map_err(|e| e.to_string())?),
                Some("application/json"),
            )
        }
        Some(Body::Form(fields)) => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                form.append_pair(
                    k,
                    &v.render(scope)
                        .map_err(|e| format!("form field `{k}`: {e}"))?,
                );
            }
            (
                Bytes::from(form.finish()),
                Some("application/x-www-form-urlencoded"),
            )
        }
        Some(Body::Raw(t)) => (
            Bytes::from(t.render(scope).map_err(|e| format!("body: {e}"))?),
            None,
        ),
    };
    Ok(Rendered {
        url,
        recorded_url,
        headers,
        body,
        content_type,
    })
}

fn is_sensitive(name: &str, template: &scenarios::template::Template) -> bool {
    CREDENTIAL_HEADERS
        .iter()
        .any(|c| name.eq_ignore_ascii_case(c))
        || template.uses_secret()
}

/// The step's headers plus what every probe request carries.
fn request_headers(
    state: &RunState<'_>,
    (given, span_id): (Vec<(String, String)>, [u8; 8]),
    url: &Url,
    has_body: bool,
    content_type: Option<&'static str>,
) -> Vec<(String, String)> {
    let given_count = given.len();
    let mut headers = given;
    headers.reserve(4);
    let has = |headers: &[(String, String)], name: &str| {
        headers[..given_count]
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !has(&headers, "user-agent") {
        headers.push(("User-Agent".into(), USER_AGENT.into()));
    }
    headers.push(("traceparent".into(), traceparent(&state.trace_id, span_id)));
    headers.push(("X-Sonde-Region".into(), state.runner.region.clone()));
    if let (Some(ct), true, false) = (content_type, has_body, has(&headers, "content-type")) {
        headers.push(("Content-Type".into(), ct.into()));
    }
    if let (Some(cookie), false) = (
        state.cookies.header_for(url.host_str().unwrap_or("")),
        has(&headers, "cookie"),
    ) {
        headers.push(("Cookie".into(), cookie));
    }
    headers
}

/// The hop is the URL sent to and the one recorded for it.
fn note_response(
    state: &mut RunState<'_>,
    result: &mut StepResult,
    (url, recorded): (&Url, &RecordedUrl),
    resp: &HttpResponse,
    set_cookies: &mut Vec<(String, String)>,
) {
    // Set as the hop was sent; the method stays what it was.
    if let Some(http) = result.http.as_mut() {
        recorded.as_str().clone_into(&mut http.url);
        http.status = Some(resp.status);
        resp.version.clone_into(&mut http.version);
    }
    if let Some(tls) = &resp.tls {
        state.tls_by_origin.insert(origin(url), tls.clone());
    }
    set_cookies.extend(
        state
            .cookies
            .store(url.host_str().unwrap_or(""), &resp.headers),
    );
}

/// Where a redirect leads, and the `Location` it was resolved from.
fn redirect_target<'r>(
    req: &HttpRequest,
    url: &Url,
    resp: &'r HttpResponse,
) -> Option<(Url, &'r str)> {
    if !req.follow_redirects || !matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = resp
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("location"))?;
    Some((url.join(&location.1).ok()?, location.1.as_str()))
}

fn redirect_failure(
    mut result: StepResult,
    phases: PhaseTimings,
    kind: wire::ErrorKind,
    message: String,
) -> StepResult {
    result.status = wire::StepStatus::Failed;
    result.phases = Some(phases.to_wire());
    result.error = Some(wire::StepError { kind, message });
    result
}

fn origin(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// Phases of several hops, added up, so that the step's total still equals
/// the sum of its phases.
fn add(a: &PhaseTimings, b: &PhaseTimings) -> PhaseTimings {
    let sum = |x: Option<std::time::Duration>, y: Option<std::time::Duration>| match (x, y) {
        (None, None) => None,
        (x, y) => Some(x.unwrap_or_default() + y.unwrap_or_default()),
    };
    PhaseTimings {
        dns: sum(a.dns, b.dns),
        connect: sum(a.connect, b.connect),
        tls: sum(a.tls, b.tls),
        ttfb: sum(a.ttfb, b.ttfb),
        transfer: sum(a.transfer, b.transfer),
    }
}
