//! `grpc` steps: one `grpc.health.v1.Health/Check` call over an HTTP/2
//! connection the probe dialled (and TLS-wrapped) itself, so the target
//! guard, the deadline and the `dns`/`connect`/`tls` phases are those of
//! every other step. tonic-health's generated client frames the call;
//! hyper's HTTP/2 client carries it.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use scenarios::model::TlsOptions;
use scenarios::wire::{ErrorKind, TlsInfo};
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;
use tonic::codegen::http;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use url::Url;

use super::Net;
use super::failure::{Deadline, NetFailure, chain};
use super::open::{Endpoint, Opened};
use super::timings::PhaseTimings;
use super::tls::Alpn;

/// How long a call that failed on a transport error waits for its
/// connection's own error, which names the cause.
const CONNECTION_VERDICT: std::time::Duration = std::time::Duration::from_millis(100);

/// What a `grpc` step asks for, once rendered.
#[derive(Debug, Clone, Copy)]
pub struct GrpcCall<'a> {
    /// `http://host:port` (HTTP/2 without TLS) or `https://host:port`.
    pub address: &'a Url,
    /// Empty for the server as a whole.
    pub service: &'a str,
    /// Request metadata.
    pub headers: &'a [(String, String)],
    pub tls: &'a TlsOptions,
    pub ca_pem: Option<&'a [u8]>,
}

/// The serving status answered, with the phases: `ttfb` until the answer.
#[derive(Debug, Clone)]
pub struct GrpcReply {
    pub phases: PhaseTimings,
    /// `SERVING`, `NOT_SERVING`, `UNKNOWN` or `SERVICE_UNKNOWN`.
    pub serving_status: String,
    pub tls: Option<TlsInfo>,
}

impl Net {
    /// Connects (TLS with ALPN `h2` for `https://`), then asks the health
    /// service about `call.service`.
    ///
    /// # Errors
    /// As [`Net::tcp_check`] and [`Net::tls_check`], plus `Protocol` when
    /// the server does not speak HTTP/2 or answers with a gRPC error status
    /// (the message names the code, e.g. `NOT_FOUND`), `Io` when the
    /// connection breaks, `Timeout` past `deadline`.
    pub async fn grpc_health(
        &self,
        call: GrpcCall<'_>,
        deadline: Instant,
    ) -> Result<GrpcReply, NetFailure> {
        let deadline = Deadline::new(deadline);
        let to = Endpoint::of_url(
            call.address,
            ["http", "https"],
            call.tls,
            call.ca_pem,
            Alpn::Http2,
        )?;
        let opened = self.open(to, deadline).await?;
        let remote = opened.remote;
        check(opened, call, deadline)
            .await
            .map_err(|f| f.with_remote(remote))
    }
}

async fn check(
    opened: Opened,
    call: GrpcCall<'_>,
    deadline: Deadline,
) -> Result<GrpcReply, NetFailure> {
    let Opened {
        stream,
        tls,
        h2,
        mut clock,
        mut phases,
        ..
    } = opened;
    let fail = |kind, message: String, phases: PhaseTimings| {
        NetFailure::new(kind, message)
            .with_phases(phases)
            .with_tls(tls.clone())
    };
    if tls.is_some() && !h2 {
        let message =
            "the server did not agree to HTTP/2 (ALPN `h2`) in the TLS handshake, which gRPC needs"
                .to_owned();
        return Err(fail(ErrorKind::Protocol, message, phases));
    }
    let request =
        health_request(&call, deadline).map_err(|m| fail(ErrorKind::InvalidRequest, m, phases))?;
    let origin = origin(call.address).map_err(|m| fail(ErrorKind::InvalidRequest, m, phases))?;
    let answered = deadline
        .bound("for the gRPC health check", async {
            let (sender, connection) =
                http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
            // Driven until the answer; dropped with the step.
            let mut connection = AbortOnDropHandle::new(tokio::spawn(connection));
            let mut client = HealthClient::with_origin(Connection(sender), origin);
            match client.check(request).await {
                Ok(answer) => Ok(answer),
                // A connection that broke says why better than the call
                // it took down ("channel closed").
                // A status made from a transport error (it has a source)
                // can reach the call before its connection task has
                // ended: give that task a moment to say why.
                Err(status)
                    if connection.is_finished() || std::error::Error::source(&status).is_some() =>
                {
                    match tokio::time::timeout(CONNECTION_VERDICT, &mut connection).await {
                        Ok(Ok(Err(broken))) => Err(CallError::Connection(broken)),
                        _ => Err(CallError::Status(status)),
                    }
                }
                Err(status) => Err(CallError::Status(status)),
            }
        })
        .await;
    phases.ttfb = Some(clock.lap());
    match answered {
        Err(timeout) => Err(timeout.with_phases(phases).with_tls(tls.clone())),
        Ok(Err(CallError::Handshake(e))) => {
            let message = format!("HTTP/2 handshake failed: {}", chain(&e));
            Err(fail(ErrorKind::Protocol, message, phases))
        }
        Ok(Err(CallError::Connection(e))) => {
            let kind = if is_broken(&e) {
                ErrorKind::Io
            } else {
                ErrorKind::Protocol
            };
            let message = format!(
                "the HTTP/2 connection failed before the gRPC answer (not a gRPC server?): {}",
                chain(&e)
            );
            Err(fail(kind, message, phases))
        }
        Ok(Err(CallError::Status(status))) => {
            let (kind, message) = status_failure(&status);
            Err(fail(kind, message, phases))
        }
        Ok(Ok(response)) => {
            let code = response.into_inner().status;
            let serving_status = ServingStatus::try_from(code)
                .map_or_else(|_| code.to_string(), |s| s.as_str_name().to_owned());
            Ok(GrpcReply {
                phases,
                serving_status,
                tls,
            })
        }
    }
}

enum CallError {
    Handshake(hyper::Error),
    /// The connection ended with this error while the call was on it.
    Connection(hyper::Error),
    Status(tonic::Status),
}

impl From<hyper::Error> for CallError {
    fn from(e: hyper::Error) -> Self {
        CallError::Handshake(e)
    }
}

impl From<tonic::Status> for CallError {
    fn from(s: tonic::Status) -> Self {
        CallError::Status(s)
    }
}

/// The check request with the step's metadata and the time left as the
/// gRPC deadline, so the server may give up when the probe does.
fn health_request(
    call: &GrpcCall<'_>,
    deadline: Deadline,
) -> Result<tonic::Request<HealthCheckRequest>, String> {
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: call.service.to_owned(),
    });
    request.set_timeout(deadline.at().saturating_duration_since(Instant::now()));
    for (name, value) in call.headers {
        let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|e| format!("invalid metadata name {name:?}: {e}"))?;
        let value = MetadataValue::try_from(value.as_str())
            .map_err(|e| format!("invalid value for metadata {name}: {e}"))?;
        request.metadata_mut().append(key, value);
    }
    Ok(request)
}

/// `scheme://host:port`, the `:scheme` and `:authority` of the call.
fn origin(address: &Url) -> Result<http::Uri, String> {
    let text = address.as_str().trim_end_matches('/');
    text.parse()
        .map_err(|e| format!("invalid gRPC address {address}: {e}"))
}

/// A status the server sent is a protocol error naming its code; one
/// tonic made from a broken connection is an I/O error.
fn status_failure(status: &tonic::Status) -> (ErrorKind, String) {
    let code = code_name(status.code());
    let detail = status.message();
    let Some(source) = status.source() else {
        let message = if detail.is_empty() {
            format!("gRPC health check answered {code}")
        } else {
            format!("gRPC health check answered {code}: {detail}")
        };
        return (ErrorKind::Protocol, message);
    };
    let mut cause: Option<&(dyn StdError + 'static)> = Some(source);
    while let Some(e) = cause {
        if let Some(not_grpc) = e.downcast_ref::<NotGrpc>() {
            return (ErrorKind::Protocol, not_grpc.to_string());
        }
        cause = e.source();
    }
    let kind = if is_broken(source) {
        ErrorKind::Io
    } else {
        ErrorKind::Protocol
    };
    (kind, format!("gRPC health check failed: {}", chain(source)))
}

/// Whether an I/O error or a closed connection is behind `error`: the
/// connection broke, rather than the peer breaking the protocol.
fn is_broken(error: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<std::io::Error>()
            || e.downcast_ref::<hyper::Error>()
                .is_some_and(|h| h.is_closed() || h.is_incomplete_message())
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The gRPC status code's name as the protocol spells it (`NOT_FOUND`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The HTTP/2 connection as the service tonic's client sends calls on.
/// An answer that is not gRPC (a web server's `404` page) is refused here,
/// before tonic would try to read the page as gRPC messages.
#[derive(Debug, Clone)]
struct Connection(SendRequest<tonic::body::Body>);

type Answer = Pin<Box<dyn Future<Output = Result<http::Response<Incoming>, CallFailed>> + Send>>;
type CallFailed = Box<dyn StdError + Send + Sync>;

impl tonic::codegen::Service<http::Request<tonic::body::Body>> for Connection {
    type Response = http::Response<Incoming>;
    type Error = CallFailed;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let answer = self.0.send_request(request);
        Box::pin(async move {
            let response = answer.await?;
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            if content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/grpc"))
            {
                return Ok(response);
            }
            Err(NotGrpc {
                status: response.status(),
                content_type,
            }
            .into())
        })
    }
}

/// An HTTP answer without the gRPC content type.
#[derive(Debug)]
struct NotGrpc {
    status: http::StatusCode,
    content_type: Option<String>,
}

impl std::fmt::Display for NotGrpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let content_type = self.content_type.as_deref().unwrap_or("none");
        write!(
            f,
            "the server answered HTTP {} with content-type {content_type}, not a gRPC response (no grpc-status)",
            self.status
        )
    }
}

impl StdError for NotGrpc {}
