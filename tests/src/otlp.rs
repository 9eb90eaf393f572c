//! [`OtlpReceiver`]: an OTLP/HTTP trace collector on `127.0.0.1:0`. It
//! takes `POST /v1/traces` with `Content-Type: application/x-protobuf`,
//! decodes each body as an `ExportTraceServiceRequest` with the
//! OpenTelemetry proto definitions, and keeps what it decoded.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
pub use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
pub use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

use crate::serve::{self, RespBody, ServeOptions, Transport, full};

/// A span as received, with the resource it came under.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub span: Span,
    pub resource: Vec<KeyValue>,
}

impl ReceivedSpan {
    /// The trace id as 32 lower-case hex digits.
    #[must_use]
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span id as 16 lower-case hex digits.
    #[must_use]
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent's span id, empty for a root.
    #[must_use]
    pub fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// Attribute `key` of the span.
    #[must_use]
    pub fn attr(&self, key: &str) -> Option<AttrValue> {
        find(&self.span.attributes, key)
    }

    /// Attribute `key` of the resource.
    #[must_use]
    pub fn resource_attr(&self, key: &str) -> Option<AttrValue> {
        find(&self.resource, key)
    }

    /// Every attribute value of the span and its events, as text.
    #[must_use]
    pub fn all_text(&self) -> String {
        let mut out = format!("{} {:?}", self.span.name, self.span.status);
        let events = self.span.events.iter().flat_map(|e| e.attributes.iter());
        for kv in self.span.attributes.iter().chain(events) {
            out.push_str(&format!(" {}={:?}", kv.key, kv.value));
        }
        out
    }
}

/// An attribute value as tests compare it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Text(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Other,
}

impl AttrValue {
    /// The text of a string attribute.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        match self {
            AttrValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

fn find(attributes: &[KeyValue], key: &str) -> Option<AttrValue> {
    let kv = attributes.iter().find(|kv| kv.key == key)?;
    Some(
        match kv.value.as_ref().and_then(|v: &AnyValue| v.value.as_ref()) {
            Some(Value::StringValue(s)) => AttrValue::Text(s.clone()),
            Some(Value::IntValue(i)) => AttrValue::Int(*i),
            Some(Value::DoubleValue(d)) => AttrValue::Double(*d),
            Some(Value::BoolValue(b)) => AttrValue::Bool(*b),
            _ => AttrValue::Other,
        },
    )
}

/// Lower-case hex of `bytes`.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Default)]
struct Received {
    requests: Vec<(HeaderMap, ExportTraceServiceRequest)>,
}

/// Builder of the receiver.
#[derive(Debug, Clone, Copy, Default)]
pub struct OtlpReceiver;

impl OtlpReceiver {
    /// Binds `127.0.0.1:0` and serves until the returned receiver is dropped.
    ///
    /// # Errors
    /// When binding fails.
    pub async fn start() -> std::io::Result<RunningReceiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let token = CancellationToken::new();
        let received = Arc::new(Mutex::new(Received::default()));
        let state = received.clone();
        let options = ServeOptions {
            transport: Transport::Plain,
            handler: Arc::new(move |req| Box::pin(handle(state.clone(), req))),
            token: token.clone(),
            grace: Duration::ZERO,
        };
        serve::spawn(listener, options, &TaskTracker::new());
        Ok(RunningReceiver {
            addr,
            received,
            _stop: token.drop_guard(),
        })
    }
}

async fn handle(state: Arc<Mutex<Received>>, req: Request<Incoming>) -> Response<RespBody> {
    let (parts, body) = req.into_parts();
    if parts.method != Method::POST || parts.uri.path() != "/v1/traces" {
        return answer(StatusCode::NOT_FOUND, "only POST /v1/traces");
    }
    let content_type = parts
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != "application/x-protobuf" {
        return answer(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/x-protobuf",
        );
    }
    let Ok(body) = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
    else {
        return answer(StatusCode::BAD_REQUEST, "broken body");
    };
    let Ok(decoded) = ExportTraceServiceRequest::decode(body) else {
        return answer(StatusCode::BAD_REQUEST, "not an ExportTraceServiceRequest");
    };
    if let Ok(mut r) = state.lock() {
        r.requests.push((parts.headers, decoded));
    }
    // An empty ExportTraceServiceResponse: everything accepted.
    answer(StatusCode::OK, "")
}

fn answer(status: StatusCode, text: &'static str) -> Response<RespBody> {
    let mut response = Response::new(full(text));
    *response.status_mut() = status;
    if status == StatusCode::OK {
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/x-protobuf"),
        );
    }
    response
}

/// A started [`OtlpReceiver`]; it stops when dropped.
pub struct RunningReceiver {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    _stop: DropGuard,
}

impl std::fmt::Debug for RunningReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningReceiver")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningReceiver {
    /// The endpoint to give a probe: `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far, in arrival order.
    #[must_use]
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let Ok(r) = self.received.lock() else {
            return Vec::new();
        };
        r.requests
            .iter()
            .flat_map(|(_, req)| req.resource_spans.iter())
            .flat_map(|rs| {
                let resource = rs
                    .resource
                    .as_ref()
                    .map(|r| r.attributes.clone())
                    .unwrap_or_default();
                rs.scope_spans
                    .iter()
                    .flat_map(|ss| ss.spans.iter())
                    .map(move |span| ReceivedSpan {
                        span: span.clone(),
                        resource: resource.clone(),
                    })
            })
            .collect()
    }

    /// The headers of every export request received.
    #[must_use]
    pub fn request_headers(&self) -> Vec<HeaderMap> {
        self.received
            .lock()
            .map(|r| r.requests.iter().map(|(h, _)| h.clone()).collect())
            .unwrap_or_default()
    }
}
