//! `TestTarget`: a fake HTTP(S) server on `127.0.0.1:0` with normal and
//! hostile routes, recording every request it sees.
//!
//! One port serves both `http://` and `https://` (the first byte tells a
//! TLS handshake from plain HTTP); HTTP/2 works over TLS (ALPN) and as h2c.

mod raw;
mod reply;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response, StatusCode, Version, header};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

pub use raw::{HangingListener, free_port_refused, hang_after_accept};
pub use reply::Reply;

use crate::certs::{CertError, TlsKind, test_ca};
use crate::serve::{self, RespBody, ServeOptions, Transport};
use reply::{Behavior, plain};

/// Request bodies above this are cut (and answered 413).
const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;

/// Error starting a test target.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Binding `127.0.0.1:0` failed.
    #[error("binding the test target: {0}")]
    Bind(#[source] std::io::Error),
    /// The TLS leaf could not be made.
    #[error(transparent)]
    Cert(#[from] CertError),
}

/// A request the target received.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// Request method.
    pub method: Method,
    /// Path without the query.
    pub path: String,
    /// Query string, without `?`.
    pub query: Option<String>,
    /// HTTP version the client used.
    pub version: Version,
    /// Request headers (for HTTP/2 the `:authority` is not among them).
    pub headers: HeaderMap,
    /// Request body (at most 16 MiB).
    pub body: Bytes,
}

impl SeenRequest {
    /// The first value of header `name`, when present and valid text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Builder for a fake target. Paths match exactly, ignoring the query;
/// unknown paths answer 404.
#[derive(Debug, Clone, Default)]
pub struct TestTarget {
    routes: HashMap<String, Behavior>,
    tls: TlsKind,
}

impl TestTarget {
    /// A target with no routes, presenting a [`TlsKind::Valid`] leaf.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Presents a leaf of `kind` on TLS connections.
    #[must_use]
    pub fn tls(mut self, kind: TlsKind) -> Self {
        self.tls = kind;
        self
    }

    /// `path` answers `status` with a `text/plain` body.
    #[must_use]
    pub fn route(self, path: &str, status: u16, body: &str) -> Self {
        self.reply(path, Reply::new(status).body(body.to_owned()))
    }

    /// `path` answers `status` (body `"ok"`) after waiting `latency`.
    #[must_use]
    pub fn route_with_latency(self, path: &str, status: u16, latency: Duration) -> Self {
        self.reply(path, Reply::new(status).body("ok").latency(latency))
    }

    /// `path` answers `status` with `value` as JSON.
    #[must_use]
    pub fn json(self, path: &str, status: u16, value: serde_json::Value) -> Self {
        self.reply(path, Reply::new(status).json(&value))
    }

    /// `path` answers with `reply` (any status, headers, body, latency).
    #[must_use]
    pub fn reply(self, path: &str, reply: Reply) -> Self {
        self.with(path, Behavior::Reply(reply))
    }

    /// `path` reads the request and never answers (until the target stops).
    #[must_use]
    pub fn hang(self, path: &str) -> Self {
        self.with(path, Behavior::Hang)
    }

    /// `path` sends headers, then one body byte a second (600 bytes in all).
    #[must_use]
    pub fn trickle(self, path: &str) -> Self {
        self.trickle_with(path, 600, Duration::from_secs(1))
    }

    /// `path` sends headers, then `bytes` body bytes, one every `every`.
    #[must_use]
    pub fn trickle_with(self, path: &str, bytes: usize, every: Duration) -> Self {
        self.with(path, Behavior::Trickle { bytes, every })
    }

    /// `path` streams a body of `len` bytes with `Content-Length`.
    #[must_use]
    pub fn big_body(self, path: &str, len: u64) -> Self {
        self.with(path, Behavior::BigBody { len })
    }

    /// `from` answers `302 Found` with `Location: to`.
    #[must_use]
    pub fn redirect(self, from: &str, to: &str) -> Self {
        self.redirect_with(from, to, 302)
    }

    /// `from` answers `status` (a 3xx) with `Location: to`.
    #[must_use]
    pub fn redirect_with(self, from: &str, to: &str, status: u16) -> Self {
        self.with(
            from,
            Behavior::Redirect {
                to: to.to_owned(),
                status,
            },
        )
    }

    /// `path` and `path/next` redirect to each other forever.
    #[must_use]
    pub fn redirect_loop(self, path: &str) -> Self {
        let next = format!("{}/next", path.trim_end_matches('/'));
        self.redirect(path, &next).redirect(&next, path)
    }

    /// `path` answers `reply` with the request it received appended to its
    /// body (request line, headers, body, as sent) and each request header
    /// repeated as an `x-echo-NAME` response header: a target that hands
    /// back whatever a probe sent, as a reflecting API or an error page can.
    #[must_use]
    pub fn echo(self, path: &str, reply: Reply) -> Self {
        self.with(path, Behavior::Echo(reply))
    }

    /// `path` answers `body` gzip-compressed (`Content-Encoding: gzip`) when
    /// the request accepts gzip, plainly otherwise.
    #[must_use]
    pub fn gzip(self, path: &str, body: &str) -> Self {
        self.with(
            path,
            Behavior::Gzip {
                body: Bytes::from(body.to_owned()),
            },
        )
    }

    fn with(mut self, path: &str, behavior: Behavior) -> Self {
        self.routes.insert(path.to_owned(), behavior);
        self
    }

    /// Binds `127.0.0.1:0` and serves until the returned target is dropped.
    ///
    /// # Errors
    /// When binding fails or the TLS leaf cannot be made.
    pub async fn start(self) -> Result<RunningTarget, TargetError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(TargetError::Bind)?;
        let addr = listener.local_addr().map_err(TargetError::Bind)?;
        let tls = test_ca().leaf(self.tls)?.server_config()?;
        let token = CancellationToken::new();
        let state = Arc::new(State {
            routes: self.routes,
            seen: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            token: token.clone(),
        });
        let handler_state = state.clone();
        let options = ServeOptions {
            transport: Transport::Sniff(TlsAcceptor::from(tls)),
            handler: Arc::new(move |req| Box::pin(handle(handler_state.clone(), req))),
            token: token.clone(),
            grace: Duration::ZERO,
        };
        serve::spawn(listener, options, &TaskTracker::new());
        Ok(RunningTarget {
            addr,
            state,
            _stop: token.drop_guard(),
        })
    }
}

struct State {
    routes: HashMap<String, Behavior>,
    seen: Mutex<Vec<SeenRequest>>,
    arrived: Notify,
    token: CancellationToken,
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<RespBody> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => Some(collected.to_bytes()),
        Err(_) => None,
    };
    let accepts_gzip = parts
        .headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("gzip")));
    let path = parts.uri.path().to_owned();
    let seen = SeenRequest {
        method: parts.method,
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        version: parts.version,
        headers: parts.headers,
        body: body.clone().unwrap_or_default(),
    };
    let echoed = match state.routes.get(&path) {
        Some(Behavior::Echo(reply)) => Some(reply.echo(&seen)),
        _ => None,
    };
    if let Ok(mut all) = state.seen.lock() {
        all.push(seen);
    }
    state.arrived.notify_waiters();
    if body.is_none() {
        return plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large or broken",
        );
    }
    if let Some(reply) = echoed {
        return reply.respond().await;
    }
    match state.routes.get(&path) {
        Some(behavior) => behavior.respond(accepts_gzip, &state.token).await,
        None => plain(StatusCode::NOT_FOUND, "no such test route"),
    }
}

/// A started [`TestTarget`]; it stops serving when dropped.
pub struct RunningTarget {
    addr: SocketAddr,
    state: Arc<State>,
    _stop: DropGuard,
}

impl std::fmt::Debug for RunningTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningTarget")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningTarget {
    /// The bound address (`127.0.0.1:PORT`).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT{path}`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `https://127.0.0.1:PORT{path}` (the valid leaf has that IP in its SANs).
    #[must_use]
    pub fn https_url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// `https://{host}:PORT{path}`, e.g. with `localhost` or `shop.sonde.test`
    /// (resolved by a [`crate::DnsResponder`]) to exercise SNI and name checks.
    #[must_use]
    pub fn https_url_for_host(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.addr.port())
    }

    /// The PEM of the CA that issued this target's leaves.
    #[must_use]
    pub fn ca_pem(&self) -> &'static str {
        test_ca().cert_pem()
    }

    /// Every request seen so far, oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state
            .seen
            .lock()
            .map(|all| all.clone())
            .unwrap_or_default()
    }

    /// The requests seen so far for `path`.
    #[must_use]
    pub fn requests_to(&self, path: &str) -> Vec<SeenRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Waits until at least `count` requests to `path` were seen and
    /// returns them, or returns what was seen when `deadline` passes.
    pub async fn wait_for_requests(
        &self,
        path: &str,
        count: usize,
        deadline: Duration,
    ) -> Vec<SeenRequest> {
        let waiting = async {
            loop {
                // Register before looking, so an arrival in between is not missed.
                let arrived = self.state.arrived.notified();
                if self.requests_to(path).len() >= count {
                    return;
                }
                arrived.await;
            }
        };
        let _ = tokio::time::timeout(deadline, waiting).await;
        self.requests_to(path)
    }

    /// Stops serving now (the same as dropping it).
    pub fn shutdown(self) {
        self.state.token.cancel();
    }
}
