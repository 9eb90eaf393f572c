//! One run as OpenTelemetry spans: a root span `scenario NAME`, a child per
//! step that ran, and under each HTTP step one client span per request
//! (redirects included) named by the HTTP semantic conventions, with the
//! network phases as span events. Times are the run's own: its wall-clock
//! start plus the monotonic offsets it recorded.

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use scenarios::wire::{RunResult, StepResult, StepStatus, redact};
use tokio::time::Instant;

use crate::report::verdict::Verdict;
use crate::run::{RequestSpan, RunSpans, new_span_id};

/// `service.name` of every span the probe exports.
pub const SERVICE_NAME: &str = "sonde-probe";

/// The spans of one finished run, root first.
pub fn of_run(
    result: &RunResult,
    recorded: &RunSpans,
    run_start: Instant,
    secrets: &[&str],
) -> Vec<Span> {
    let trace_id = trace_id_bytes(&result.trace_id);
    let started = u64::try_from(result.started_at.timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0);
    let at = |i: Instant| started + nanos(i.saturating_duration_since(run_start));
    let root_id = new_span_id();
    let mut root = Span {
        trace_id: trace_id.clone(),
        span_id: root_id.to_vec(),
        name: format!("scenario {}", result.scenario),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: started,
        end_time_unix_nano: started + nanos_of_ms(result.duration_ms),
        attributes: vec![
            text("sonde.scenario", &result.scenario),
            text("sonde.region", &result.region),
            text("sonde.probe", &result.probe),
            text("sonde.outcome", result.outcome.as_str()),
            text("sonde.run_id", &result.id.to_string()),
            int("sonde.attempt", i64::from(result.attempt)),
        ],
        ..Span::default()
    };
    let failed = result.steps.iter().find(|s| s.status == StepStatus::Failed);
    if let Some(step) = failed {
        root.status = Some(error(format!("step `{}`: {}", step.name, why(step))));
    } else if !result.outcome.is_success() {
        root.status = Some(error(result.outcome.as_str().to_string()));
    }
    let mut spans = vec![root];
    for (index, step) in result.steps.iter().enumerate() {
        let Some(Some(timed)) = recorded.steps.get(index) else {
            continue; // skipped: it never ran
        };
        let step_id = new_span_id();
        let mut span = Span {
            trace_id: trace_id.clone(),
            span_id: step_id.to_vec(),
            parent_span_id: root_id.to_vec(),
            name: step.name.clone(),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: at(timed.start),
            end_time_unix_nano: at(timed.end),
            attributes: vec![
                text("sonde.step.kind", step.kind.as_str()),
                text("sonde.step.status", status_name(step.status)),
            ],
            ..Span::default()
        };
        if step.status == StepStatus::Failed {
            span.status = Some(error(why(step)));
        }
        spans.push(span);
        for request in recorded.requests.iter().filter(|r| r.step == index) {
            let mut span = client_span(request, secrets, &at);
            span.trace_id.clone_from(&trace_id);
            span.parent_span_id = step_id.to_vec();
            spans.push(span);
        }
    }
    spans
}

/// The resource and scope every exported span shares.
pub fn resource_spans(spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                text("service.name", SERVICE_NAME),
                text("service.version", env!("CARGO_PKG_VERSION")),
            ],
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: SERVICE_NAME.into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..InstrumentationScope::default()
            }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// An HTTP client span as the semantic conventions name it: the method
/// alone (low cardinality), the details in attributes. Its span id is the
/// one the request's `traceparent` carried.
fn client_span(request: &RequestSpan, secrets: &[&str], at: &impl Fn(Instant) -> u64) -> Span {
    let start = at(request.timed.start);
    let mut attributes = vec![
        text("http.request.method", &request.method),
        // Recorded with each secret as `***`, exactly as the result shows it.
        text("url.full", &request.url),
        text("server.address", &redact(&request.host, secrets)),
    ];
    if let Some(port) = request.port {
        attributes.push(int("server.port", i64::from(port)));
    }
    let mut status = None;
    match (request.status, &request.error) {
        (Some(code), _) => {
            attributes.push(int("http.response.status_code", i64::from(code)));
            if code >= 400 {
                attributes.push(text("error.type", &code.to_string()));
                status = Some(error(String::new()));
            }
        }
        (None, Some(message)) => status = Some(error(redact(message, secrets))),
        (None, None) => {}
    }
    Span {
        span_id: request.span_id.to_vec(),
        name: request.method.clone(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: at(request.timed.end),
        attributes,
        events: phase_events(request, start),
        status,
        ..Span::default()
    }
}

/// One event where each phase began, in the order they happen, with how
/// long it took.
fn phase_events(request: &RequestSpan, start: u64) -> Vec<Event> {
    let p = &request.phases;
    let mut events = Vec::new();
    let mut when = start;
    for (name, took) in [
        ("dns", p.dns),
        ("connect", p.connect),
        ("tls", p.tls),
        ("ttfb", p.ttfb),
        ("transfer", p.transfer),
    ] {
        let Some(took) = took else { continue };
        events.push(Event {
            time_unix_nano: when,
            name: name.into(),
            attributes: vec![double("sonde.phase.duration_ms", took.as_secs_f64() * 1e3)],
            dropped_attributes_count: 0,
        });
        when += nanos(took);
    }
    events
}

/// Why a failed step failed, from its (redacted) result.
fn why(step: &StepResult) -> String {
    match Verdict::of(step) {
        Verdict::Failure { message, .. } | Verdict::Error { message, .. } => message,
        Verdict::Passed | Verdict::Skipped => String::new(),
    }
}

fn status_name(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Passed => "passed",
        StepStatus::Failed => "failed",
        StepStatus::Skipped => "skipped",
    }
}

fn error(message: String) -> Status {
    Status {
        message,
        code: StatusCode::Error as i32,
    }
}

/// 32 hex digits as 16 bytes; the runner always makes valid ones.
fn trace_id_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a run's duration in ms is small and not negative"
)]
fn nanos_of_ms(ms: f64) -> u64 {
    (ms * 1e6).max(0.0) as u64
}

fn text(key: &str, value: &str) -> KeyValue {
    attribute(key, Value::StringValue(value.to_string()))
}

fn int(key: &str, value: i64) -> KeyValue {
    attribute(key, Value::IntValue(value))
}

fn double(key: &str, value: f64) -> KeyValue {
    attribute(key, Value::DoubleValue(value))
}

fn attribute(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}
