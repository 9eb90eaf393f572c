//! What a test target route does: a fixed reply or one of the hostile
//! behaviours (hang, trickle, huge body, redirect, gzip), or an echo of the
//! request.

use std::convert::Infallible;
use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use tokio_util::sync::CancellationToken;

use crate::serve::{RespBody, full};

/// A fixed response: status, headers, body and an optional delay before it.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    latency: Duration,
}

impl Reply {
    /// An empty reply with `status`.
    #[must_use]
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            latency: Duration::ZERO,
        }
    }

    /// Sets the body (`text/plain` unless a `Content-Type` header is added).
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    #[must_use]
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }

    /// Adds a response header (invalid names or values are skipped with a warning).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Waits this long before answering.
    #[must_use]
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// This reply with `seen` appended to the body and its headers repeated
    /// as `x-echo-NAME` (see [`crate::TestTarget::echo`]).
    pub(crate) fn echo(&self, seen: &crate::SeenRequest) -> Self {
        let mut body = self.body.to_vec();
        let query = seen
            .query
            .as_deref()
            .map_or(String::new(), |q| format!("?{q}"));
        body.extend_from_slice(format!("\n{} {}{query}\n", seen.method, seen.path).as_bytes());
        let mut echoed = self.clone();
        for (name, value) in &seen.headers {
            body.extend_from_slice(name.as_str().as_bytes());
            body.extend_from_slice(b": ");
            body.extend_from_slice(value.as_bytes());
            body.push(b'\n');
            echoed = echoed.header(
                &format!("x-echo-{name}"),
                &String::from_utf8_lossy(value.as_bytes()),
            );
        }
        body.push(b'\n');
        body.extend_from_slice(&seen.body);
        echoed.body(body)
    }

    pub(crate) async fn respond(&self) -> Response<RespBody> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let mut response = Response::new(full(self.body.clone()));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        for (name, value) in &self.headers {
            match (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                (Ok(name), Ok(value)) => {
                    if name == header::CONTENT_TYPE {
                        headers.insert(name, value);
                    } else {
                        headers.append(name, value);
                    }
                }
                _ => tracing::warn!(%name, "Skipping an invalid test header."),
            }
        }
        response
    }
}

/// One route's behaviour.
#[derive(Debug, Clone)]
pub(crate) enum Behavior {
    Reply(Reply),
    /// The reply with the request appended (answered in `handle`, which
    /// holds the request).
    Echo(Reply),
    /// Reads the request, then never answers.
    Hang,
    /// Sends headers, then `bytes` body bytes one per `every`.
    Trickle {
        bytes: usize,
        every: Duration,
    },
    /// A body of `len` bytes streamed in 64 KiB chunks, with `Content-Length`.
    BigBody {
        len: u64,
    },
    Redirect {
        to: String,
        status: u16,
    },
    /// `body` gzip-compressed when the client accepts gzip.
    Gzip {
        body: Bytes,
    },
}

impl Behavior {
    pub(crate) async fn respond(
        &self,
        accepts_gzip: bool,
        token: &CancellationToken,
    ) -> Response<RespBody> {
        match self {
            Self::Reply(reply) | Self::Echo(reply) => reply.respond().await,
            Self::Hang => {
                token.cancelled().await;
                plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
            }
            Self::Trickle { bytes, every } => trickle(*bytes, *every, token.clone()),
            Self::BigBody { len } => {
                let mut response = Response::new(ZeroBody { remaining: *len }.boxed_unsync());
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                response
            }
            Self::Redirect { to, status } => redirect(to, *status),
            Self::Gzip { body } => gzip(body, accepts_gzip),
        }
    }
}

pub(crate) fn plain(status: StatusCode, body: &'static str) -> Response<RespBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn redirect(to: &str, status: u16) -> Response<RespBody> {
    let mut response = plain(StatusCode::FOUND, "redirecting");
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
    if let Ok(location) = HeaderValue::try_from(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn gzip(body: &Bytes, accepts_gzip: bool) -> Response<RespBody> {
    if !accepts_gzip {
        let mut response = Response::new(full(body.clone()));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        return response;
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = encoder.write_all(body).and_then(|()| encoder.finish());
    let Ok(compressed) = compressed else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "gzip failed");
    };
    let mut response = Response::new(full(compressed));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    response
}

fn trickle(bytes: usize, every: Duration, token: CancellationToken) -> Response<RespBody> {
    let (mut sender, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
    tokio::spawn(async move {
        for _ in 0..bytes {
            // The first byte goes right after the headers.
            if sender.send_data(Bytes::from_static(b".")).await.is_err() {
                return;
            }
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
    let mut response = Response::new(body.boxed_unsync());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// Streams `remaining` bytes of `x` without holding them in memory.
struct ZeroBody {
    remaining: u64,
}

const CHUNK_LEN: usize = 64 * 1024;
static CHUNK: [u8; CHUNK_LEN] = [b'x'; CHUNK_LEN];

impl Body for ZeroBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let len = usize::try_from(self.remaining).map_or(CHUNK_LEN, |r| r.min(CHUNK_LEN));
        self.remaining -= len as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK[..len])))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
