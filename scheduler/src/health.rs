//! `scheduler health [URL]`: one GET for container health checks, with no
//! curl in a scratch image. 2xx is healthy.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

/// What `scheduler health` asks when given no URL.
pub const DEFAULT_URL: &str = "http://127.0.0.1:9470/readyz";
/// The whole check must finish within this.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Why the check failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("invalid URL `{0}`; expected http(s)://host:port/path")]
    Url(String),
    #[error("connecting to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("status {0}")]
    Status(u16),
}

/// GETs `url`; `Ok(status)` for 2xx. For `https`, the webpki roots are
/// trusted, plus the PEM certificates in `ca_file`.
///
/// # Errors
/// See [`HealthError`].
pub async fn check(url: &str, ca_file: Option<&std::path::Path>) -> Result<u16, HealthError> {
    tokio::time::timeout(TIMEOUT, get(url, ca_file))
        .await
        .map_err(|_| HealthError::Timeout(TIMEOUT))?
}

async fn get(url: &str, ca_file: Option<&std::path::Path>) -> Result<u16, HealthError> {
    let bad = || HealthError::Url(url.to_owned());
    let uri: hyper::Uri = url.parse().map_err(|_| bad())?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(bad()),
    };
    let host = uri
        .host()
        .ok_or_else(bad)?
        .trim_matches(['[', ']'])
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri.authority().ok_or_else(bad)?.to_string();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| HealthError::Connect(format!("{host}:{port}"), e))?;
    let request = Request::get(path)
        .header(hyper::header::HOST, authority)
        .header(
            hyper::header::USER_AGENT,
            concat!("sonde-scheduler-health/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| HealthError::Http(e.to_string()))?;
    let response = if https {
        let connector = tokio_rustls::TlsConnector::from(client_config(ca_file)?);
        let name =
            ServerName::try_from(host.clone()).map_err(|e| HealthError::Tls(e.to_string()))?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| HealthError::Tls(e.to_string()))?;
        send(TokioIo::new(tls), request).await?
    } else {
        send(TokioIo::new(tcp), request).await?
    };
    let status = response.status().as_u16();
    if response.status().is_success() {
        Ok(status)
    } else {
        Err(HealthError::Status(status))
    }
}

async fn send<T>(
    io: T,
    request: Request<Empty<Bytes>>,
) -> Result<hyper::Response<Incoming>, HealthError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let http = |e: hyper::Error| HealthError::Http(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(http)?;
    tokio::spawn(conn);
    sender.send_request(request).await.map_err(http)
}

fn client_config(
    ca_file: Option<&std::path::Path>,
) -> Result<Arc<rustls::ClientConfig>, HealthError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let tls =
            |e: &dyn std::fmt::Display| HealthError::Tls(format!("`{}`: {e}", path.display()));
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| tls(&e))? {
            roots.add(cert.map_err(|e| tls(&e))?).map_err(|e| tls(&e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HealthError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
