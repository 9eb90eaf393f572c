//! One HTTP exchange at the connection level: the call and response types,
//! the request as sent on HTTP/1.1 or HTTP/2, and the hyper connection a
//! session keeps per origin.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::header::{HOST, HeaderName, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Response, Uri, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use scenarios::model::{HttpVersion, TlsOptions};
use scenarios::wire::{ErrorKind, TlsInfo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use url::{Host, Position, Url};

use super::failure::{NetFailure, chain};
use super::timings::PhaseTimings;

/// One HTTP request of a step, with everything rendered.
#[derive(Debug, Clone)]
pub struct HttpCall {
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// `http://` or `https://`.
    pub url: Url,
    /// Sent in order; a `Host` header replaces the URL's authority, a
    /// `User-Agent` the probe's.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// `None`: HTTP/2 when TLS ALPN picks it, else HTTP/1.1. `Http2` over
    /// `http://` speaks HTTP/2 with prior knowledge.
    pub version: Option<HttpVersion>,
    pub tls: TlsOptions,
    /// Contents of the step's `tls.ca_file`, trusted besides the roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Bodies above this many bytes (after decompression) fail the step.
    pub max_body_bytes: u64,
}

/// A response read to its end.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// `HTTP/1.1` or `HTTP/2` (`HTTP/1.0` from an old server).
    pub version: &'static str,
    /// In received order; values that are not UTF-8 are converted lossily.
    /// `Content-Encoding` stays as received even when the body was decoded.
    pub headers: Vec<(String, String)>,
    /// Decompressed when the request's `Accept-Encoding` asked for the
    /// response's gzip or deflate coding.
    pub body: Bytes,
    pub phases: PhaseTimings,
    /// The connection's TLS session (also when it was reused); `None` on
    /// plain HTTP.
    pub tls: Option<TlsInfo>,
    /// The address connected to.
    pub remote: SocketAddr,
}

/// Where a request goes, and the connection settings that must match for
/// a kept connection to be reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) https: bool,
    /// Host name or IP literal, without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: TlsOptions,
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) version: Option<HttpVersion>,
}

impl Origin {
    pub(crate) fn of(call: &HttpCall) -> Result<Self, NetFailure> {
        let invalid = |why: &str| {
            NetFailure::new(
                ErrorKind::InvalidRequest,
                format!("cannot request {}: {why}", call.url),
            )
        };
        let https = match call.url.scheme() {
            "http" => false,
            "https" => true,
            _ => return Err(invalid("only http:// and https:// URLs can be requested")),
        };
        let host = match call.url.host() {
            Some(Host::Domain(name)) => name.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(invalid("the URL has no host")),
        };
        let port = call
            .url
            .port_or_known_default()
            .ok_or_else(|| invalid("the URL has no port"))?;
        Ok(Self {
            https,
            host,
            port,
            tls: call.tls.clone(),
            ca_pem: call.ca_pem.clone(),
            version: call.version,
        })
    }
}

/// The sending half of a hyper connection.
pub(crate) enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    pub(crate) fn is_h2(&self) -> bool {
        matches!(self, Sender::H2(_))
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    pub(crate) async fn ready(&mut self) -> Result<(), hyper::Error> {
        match self {
            Sender::H1(s) => s.ready().await,
            Sender::H2(s) => s.ready().await,
        }
    }

    pub(crate) async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, hyper::Error> {
        match self {
            Sender::H1(s) => s.send_request(request).await,
            Sender::H2(s) => s.send_request(request).await,
        }
    }
}

/// A connection kept by a session: its driver task stops when it is dropped.
pub(crate) struct Conn {
    pub(crate) sender: Sender,
    pub(crate) remote: SocketAddr,
    pub(crate) tls: Option<TlsInfo>,
    driver: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Starts HTTP/1.1 or HTTP/2 on a connected stream and spawns its driver.
pub(crate) async fn start<IO>(
    io: IO,
    h2: bool,
    remote: SocketAddr,
    tls: Option<TlsInfo>,
) -> Result<Conn, NetFailure>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let failed = |e: hyper::Error| {
        NetFailure::new(
            ErrorKind::Protocol,
            format!("starting HTTP on {remote}: {}", chain(&e)),
        )
    };
    let (sender, driver) = if h2 {
        let (sender, conn) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(failed)?;
        (Sender::H2(sender), tokio::spawn(drive(conn)))
    } else {
        let (sender, conn) = http1::handshake(io).await.map_err(failed)?;
        (Sender::H1(sender), tokio::spawn(drive(conn)))
    };
    Ok(Conn {
        sender,
        remote,
        tls,
        driver,
    })
}

async fn drive<F: Future<Output = Result<(), hyper::Error>>>(conn: F) {
    if let Err(error) = conn.await {
        tracing::debug!(error = %chain(&error), "Connection to the target ended with an error.");
    }
}

/// Connection-specific headers that HTTP/2 forbids (RFC 9113 §8.2.2).
const NOT_IN_H2: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// The request as sent: origin-form URI and `Host` on HTTP/1.1, absolute
/// URI (`:authority`) on HTTP/2; the probe's `User-Agent` unless one is set.
pub(crate) fn build_request(
    call: &HttpCall,
    h2: bool,
    user_agent: &str,
) -> Result<Request<Full<Bytes>>, NetFailure> {
    let invalid = |why: String| NetFailure::new(ErrorKind::InvalidRequest, why);
    let method = Method::from_bytes(call.method.as_bytes())
        .map_err(|_| invalid(format!("invalid HTTP method {:?}", call.method)))?;
    let host_header = call
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"));
    let authority = match host_header {
        Some((_, value)) => value.clone(),
        None => {
            let host = call.url.host_str().unwrap_or_default();
            call.url
                .port()
                .map_or_else(|| host.to_owned(), |port| format!("{host}:{port}"))
        }
    };
    let path = &call.url[Position::BeforePath..Position::AfterQuery];
    let path = if path.is_empty() { "/" } else { path };
    let uri = if h2 {
        format!("{}://{authority}{path}", call.url.scheme())
    } else {
        path.to_owned()
    };
    let uri: Uri = uri
        .parse()
        .map_err(|e| invalid(format!("invalid request target {uri:?}: {e}")))?;
    let mut request = Request::new(Full::new(call.body.clone()));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = if h2 {
        Version::HTTP_2
    } else {
        Version::HTTP_11
    };
    let headers = request.headers_mut();
    if !h2 && host_header.is_none() {
        let value = HeaderValue::from_str(&authority)
            .map_err(|_| invalid(format!("invalid Host {authority:?}")))?;
        headers.insert(HOST, value);
    }
    for (name, value) in &call.headers {
        let forbidden = |n: &str| name.eq_ignore_ascii_case(n);
        if h2 && (forbidden("host") || NOT_IN_H2.iter().any(|n| forbidden(n))) {
            continue;
        }
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("invalid value for header {name}")))?;
        headers.append(name, value);
    }
    if !headers.contains_key(USER_AGENT) && !user_agent.is_empty() {
        let value = HeaderValue::from_str(user_agent)
            .map_err(|_| invalid(format!("invalid probe User-Agent {user_agent:?}")))?;
        headers.insert(USER_AGENT, value);
    }
    Ok(request)
}

/// The wire name of a response's version.
pub(crate) fn version_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// Response headers in order, values converted lossily.
pub(crate) fn header_list(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Why no response headers came: the peer broke HTTP or closed early.
pub(crate) fn exchange_error(e: &hyper::Error) -> NetFailure {
    let kind = if e.is_user() {
        ErrorKind::InvalidRequest
    } else {
        ErrorKind::Protocol
    };
    NetFailure::new(kind, format!("waiting for response headers: {}", chain(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(url: &str, headers: &[(&str, &str)]) -> HttpCall {
        HttpCall {
            method: "GET",
            url: url.parse().expect("test URL parses"),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: Bytes::new(),
            version: None,
            tls: TlsOptions::default(),
            ca_pem: None,
            max_body_bytes: 1024,
        }
    }

    #[test]
    fn h1_request_has_origin_form_and_host() {
        let request = build_request(
            &call("http://[::1]:8080/a?b=1#frag", &[]),
            false,
            "sonde-probe/0.1.0",
        )
        .expect("builds");
        assert_eq!(request.uri().to_string(), "/a?b=1");
        assert_eq!(request.headers()[HOST], "[::1]:8080");
        assert_eq!(request.headers()[USER_AGENT], "sonde-probe/0.1.0");
    }

    #[test]
    fn h2_request_uses_authority_and_drops_connection_headers() {
        let c = call(
            "https://shop.sonde.test/",
            &[
                ("Host", "other.test"),
                ("Connection", "close"),
                ("User-Agent", "mine"),
            ],
        );
        let request = build_request(&c, true, "sonde-probe/0.1.0").expect("builds");
        assert_eq!(request.uri().to_string(), "https://other.test/");
        assert!(!request.headers().contains_key(HOST));
        assert!(!request.headers().contains_key("connection"));
        assert_eq!(request.headers()[USER_AGENT], "mine");
    }

    #[test]
    fn bad_requests_are_invalid_request() {
        let bad = call("http://x.test/", &[("bad header", "v")]);
        let failure = build_request(&bad, false, "ua").expect_err("invalid header name");
        assert_eq!(failure.kind, ErrorKind::InvalidRequest);
        let ftp = call("ftp://x.test/", &[]);
        assert_eq!(
            Origin::of(&ftp).expect_err("ftp refused").kind,
            ErrorKind::InvalidRequest
        );
        let origin = Origin::of(&call("https://[::1]/", &[])).expect("origin");
        assert_eq!(
            (origin.host.as_str(), origin.port, origin.https),
            ("::1", 443, true)
        );
    }
}
