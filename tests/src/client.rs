//! `TestClient`: a small HTTP(S) client for tests and readiness checks,
//! one fresh connection per request, trusting the test CA.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode, Uri, Version, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::certs::{CertError, TestCa, crypto_provider, test_ca};

/// Error of a test request.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not an absolute `http(s)://host[:port]/…` URL.
    #[error("invalid URL {0:?}")]
    InvalidUrl(String),
    /// TCP connect failed.
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed (see [`ClientError::rustls_error`]).
    #[error("TLS handshake: {0}")]
    Tls(#[source] std::io::Error),
    /// HTTP protocol error.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built.
    #[error("building the request: {0}")]
    Request(#[from] hyper::http::Error),
    /// The whole exchange took longer than the client's timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The client's TLS config could not be built.
    #[error(transparent)]
    Cert(#[from] CertError),
}

impl ClientError {
    /// The rustls error behind a failed handshake, to assert on its kind.
    #[must_use]
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        match self {
            Self::Tls(io) => io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
            _ => None,
        }
    }
}

/// A response read to its end.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// Status code.
    pub status: StatusCode,
    /// HTTP version used.
    pub version: Version,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl TestResponse {
    /// The body parsed as JSON.
    ///
    /// # Errors
    /// When the body is not JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as (lossy) UTF-8 text.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first value of header `name`, when present and valid text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A test HTTP client: HTTP/1.1 by default, HTTP/2 over TLS with [`TestClient::http2`].
#[derive(Debug, Clone)]
pub struct TestClient {
    tls: Arc<ClientConfig>,
    timeout: Duration,
    http2: bool,
}

impl TestClient {
    /// A client trusting the process-wide [`test_ca`], with a 5 s timeout.
    ///
    /// # Panics
    /// Never in practice: the ring provider always has default protocol versions.
    #[must_use]
    pub fn new() -> Self {
        Self::trusting(test_ca()).expect("a client config for the test CA")
    }

    /// A client trusting `ca` only.
    ///
    /// # Errors
    /// When the TLS config cannot be built.
    pub fn trusting(ca: &TestCa) -> Result<Self, ClientError> {
        Ok(Self {
            tls: ca.client_config(&[b"http/1.1"])?,
            timeout: Duration::from_secs(5),
            http2: false,
        })
    }

    /// A client trusting the CA certificates in `pem` only (e.g. the demo
    /// shop's `demo-ca.pem`).
    ///
    /// # Errors
    /// When the PEM holds no valid certificate.
    pub fn trusting_pem(pem: &str) -> Result<Self, ClientError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots
                .add(cert.map_err(CertError::from)?)
                .map_err(CertError::from)?;
        }
        if roots.is_empty() {
            return Err(CertError::from(rustls::pki_types::pem::Error::NoItemsFound).into());
        }
        let mut config = ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(CertError::from)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            tls: Arc::new(config),
            timeout: Duration::from_secs(5),
            http2: false,
        })
    }

    /// A client with this rustls config (its ALPN list is replaced per protocol).
    #[must_use]
    pub fn with_tls_config(mut self, config: Arc<ClientConfig>) -> Self {
        self.tls = config;
        self
    }

    /// Bounds each whole exchange (connect, TLS, request, body) by `timeout`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Speaks HTTP/2 (ALPN `h2` over TLS, prior knowledge over plain TCP).
    #[must_use]
    pub fn http2(mut self) -> Self {
        self.http2 = true;
        self
    }

    /// `GET url`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn get(&self, url: &str) -> Result<TestResponse, ClientError> {
        self.request(Method::GET, url, &[], None).await
    }

    /// `POST url` with a JSON body and extra headers.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> Result<TestResponse, ClientError> {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.request(Method::POST, url, &all, Some(Bytes::from(body.to_string())))
            .await
    }

    /// Any request; the whole exchange is bounded by the client's timeout.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<TestResponse, ClientError> {
        let exchange = self.exchange(method, url, headers, body.unwrap_or_default());
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
    }

    async fn exchange(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<TestResponse, ClientError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| ClientError::InvalidUrl(url.to_owned()))?;
        let (https, host, port) =
            target_of(&uri).ok_or_else(|| ClientError::InvalidUrl(url.to_owned()))?;
        let mut builder = Request::builder().method(method).uri(path_of(&uri));
        if !self.http2 {
            builder = builder.header(header::HOST, authority_of(&uri));
        } else {
            builder = builder.uri(uri.clone());
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body))?;
        let tcp = connect(&host, port).await?;
        if https {
            let tls = tls_handshake_on(tcp, &host, self.alpn_config()).await?;
            self.send(tls, request).await
        } else {
            self.send(tcp, request).await
        }
    }

    fn alpn_config(&self) -> Arc<ClientConfig> {
        let mut config = (*self.tls).clone();
        config.alpn_protocols = vec![if self.http2 {
            b"h2".to_vec()
        } else {
            b"http/1.1".to_vec()
        }];
        Arc::new(config)
    }

    async fn send<I>(
        &self,
        io: I,
        request: Request<Full<Bytes>>,
    ) -> Result<TestResponse, ClientError>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(io);
        let response = if self.http2 {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(conn);
            sender.send_request(request).await?
        } else {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
            tokio::spawn(conn);
            sender.send_request(request).await?
        };
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(TestResponse {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
        })
    }
}

impl Default for TestClient {
    fn default() -> Self {
        Self::new()
    }
}

fn target_of(uri: &Uri) -> Option<(bool, String, u16)> {
    let https = match uri.scheme_str()? {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    let host = uri
        .host()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    Some((https, host, port))
}

fn path_of(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| "/".to_owned(), ToString::to_string)
}

fn authority_of(uri: &Uri) -> String {
    uri.authority().map(ToString::to_string).unwrap_or_default()
}

async fn connect(host: &str, port: u16) -> Result<TcpStream, ClientError> {
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|source| ClientError::Connect {
            addr: format!("{host}:{port}"),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

async fn tls_handshake_on(
    tcp: TcpStream,
    server_name: &str,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|_| ClientError::InvalidUrl(server_name.to_owned()))?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(ClientError::Tls)
}

/// Connects to `addr` and completes a TLS handshake for `server_name`
/// (a DNS name or an IP literal) with `config`.
///
/// # Errors
/// [`ClientError::Connect`] or [`ClientError::Tls`]; the latter's
/// [`ClientError::rustls_error`] tells why verification failed.
pub async fn tls_handshake(
    addr: SocketAddr,
    server_name: &str,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let tcp = connect(&addr.ip().to_string(), addr.port()).await?;
    tls_handshake_on(tcp, server_name, config).await
}
