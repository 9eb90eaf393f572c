//! TLS: client configs cached per trust and ALPN, the handshake with its
//! certificate report, and the `tls` step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ProtocolVersion, RootCertStore};
use scenarios::model::{HttpVersion, TlsOptions};
use scenarios::wire::{ErrorKind, TlsInfo};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::failure::{Deadline, NetFailure, chain};
use super::resolve::split_host_port;
use super::timings::{Clock, PhaseTimings};
use super::verifier::{CertSlot, RecordingVerifier, tls_info};
use super::{Net, NetError};

/// Distinct scenario CA files a probe keeps configs for before starting over.
const MAX_CACHED_CONFIGS: usize = 256;

/// Which protocols the client offers in ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Alpn {
    /// `h2` and `http/1.1`: the server picks.
    Both,
    Http1,
    Http2,
}

impl Alpn {
    pub(crate) fn for_version(version: Option<HttpVersion>) -> Self {
        match version {
            None => Alpn::Both,
            Some(HttpVersion::Http1) => Alpn::Http1,
            Some(HttpVersion::Http2) => Alpn::Http2,
        }
    }

    fn protocols(self) -> Vec<Vec<u8>> {
        let names: &[&[u8]] = match self {
            Alpn::Both => &[b"h2", b"http/1.1"],
            Alpn::Http1 => &[b"http/1.1"],
            Alpn::Http2 => &[b"h2"],
        };
        names.iter().map(|p| p.to_vec()).collect()
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    ca_pem: Option<Vec<u8>>,
    alpn: Alpn,
}

/// A config ready to clone for one connection, and the WebPKI verifier
/// (with its root store) that each connection's recording verifier wraps.
#[derive(Debug)]
struct Cached {
    config: Arc<ClientConfig>,
    webpki: Arc<WebPkiServerVerifier>,
}

/// Client configs per distinct trust (scenario CA) and ALPN, so the root
/// store is built once, not on every run. `insecure` and `server_name` act
/// per connection and are not part of the key.
#[derive(Debug)]
pub(crate) struct TlsConfigs {
    provider: Arc<CryptoProvider>,
    roots: RootCertStore,
    cache: Mutex<HashMap<Key, Arc<Cached>>>,
}

/// A finished handshake.
pub(crate) struct Handshaken {
    pub(crate) stream: TlsStream<TcpStream>,
    pub(crate) info: TlsInfo,
    pub(crate) h2: bool,
}

impl TlsConfigs {
    /// The webpki roots plus the probe's `--ca-file` certificates.
    pub(crate) fn new(extra_roots_pem: &[Vec<u8>]) -> Result<Self, NetError> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for (i, pem) in extra_roots_pem.iter().enumerate() {
            let certs = parse_pem(pem).map_err(|why| NetError::ExtraRoots { index: i, why })?;
            for cert in certs {
                roots.add(cert).map_err(|e| NetError::ExtraRoots {
                    index: i,
                    why: e.to_string(),
                })?;
            }
        }
        Ok(Self {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            roots,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Builds the config for `ca_pem` and `alpn` now, so the first
    /// handshake that needs it does not count its building in `tls`. A CA
    /// that does not parse is left for that step to report.
    pub(crate) fn prepare(&self, ca_pem: Option<&[u8]>, alpn: Alpn) {
        let _ = self.cached(ca_pem, alpn);
    }

    fn cached(&self, ca_pem: Option<&[u8]>, alpn: Alpn) -> Result<Arc<Cached>, NetFailure> {
        let key = Key {
            ca_pem: ca_pem.map(<[u8]>::to_vec),
            alpn,
        };
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(hit);
        }
        let built = Arc::new(self.build(ca_pem, alpn)?);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED_CONFIGS {
                cache.clear();
            }
            cache.insert(key, built.clone());
        }
        Ok(built)
    }

    fn build(&self, ca_pem: Option<&[u8]>, alpn: Alpn) -> Result<Cached, NetFailure> {
        let invalid = |why: String| {
            NetFailure::new(
                ErrorKind::InvalidRequest,
                format!("the step's ca_file: {why}"),
            )
        };
        let mut roots = self.roots.clone();
        if let Some(pem) = ca_pem {
            for cert in parse_pem(pem).map_err(invalid)? {
                roots.add(cert).map_err(|e| invalid(e.to_string()))?;
            }
        }
        let internal = |e: &dyn std::error::Error| {
            NetFailure::new(ErrorKind::Internal, format!("building the TLS config: {e}"))
        };
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| internal(&e))?;
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| internal(&e))?
            .dangerous()
            .with_custom_certificate_verifier(webpki.clone())
            .with_no_client_auth();
        config.alpn_protocols = alpn.protocols();
        // Every run measures a full handshake, as a first visitor would.
        config.resumption = Resumption::disabled();
        Ok(Cached {
            config: Arc::new(config),
            webpki,
        })
    }

    /// A connector for one connection, whose verifier reports into `slot`.
    fn connector(
        &self,
        tls: &TlsOptions,
        ca_pem: Option<&[u8]>,
        alpn: Alpn,
    ) -> Result<(TlsConnector, CertSlot), NetFailure> {
        let cached = self.cached(ca_pem, alpn)?;
        let slot = CertSlot::default();
        let mut config = (*cached.config).clone();
        let verifier = RecordingVerifier::new(cached.webpki.clone(), tls.insecure, slot.clone());
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(verifier));
        Ok((TlsConnector::from(Arc::new(config)), slot))
    }
}

fn parse_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate in it".to_owned());
    }
    Ok(certs)
}

impl Net {
    /// Runs the TLS handshake on `tcp`. `host` is the name (or IP) the
    /// target was given by, used for SNI and verification unless
    /// `tls.server_name` overrides it.
    pub(crate) async fn handshake(
        &self,
        tcp: TcpStream,
        host: &str,
        tls: &TlsOptions,
        ca_pem: Option<&[u8]>,
        alpn: Alpn,
        deadline: Deadline,
    ) -> Result<Handshaken, NetFailure> {
        let name = tls.server_name.as_deref().unwrap_or(host);
        let name = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        let server_name = ServerName::try_from(name.to_owned()).map_err(|e| {
            NetFailure::new(
                ErrorKind::InvalidRequest,
                format!("invalid TLS server name {name:?}: {e}"),
            )
        })?;
        let (connector, slot) = self.tls.connector(tls, ca_pem, alpn)?;
        let seen = || slot.lock().map(|s| s.clone()).unwrap_or_default();
        let waiting = format!("during the TLS handshake with {name}");
        let handshake = deadline
            .bound(&waiting, connector.connect(server_name, tcp))
            .await;
        let stream = match handshake {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                let seen = seen();
                let why = seen.error.clone().unwrap_or_else(|| chain(&e));
                let info = seen
                    .cert
                    .is_some()
                    .then(|| tls_info(&seen, None, tls.insecure));
                let message = format!("TLS handshake with {name} failed: {why}");
                return Err(NetFailure::new(ErrorKind::Tls, message).with_tls(info));
            }
            Err(timeout) => {
                let seen = seen();
                let info = seen
                    .cert
                    .is_some()
                    .then(|| tls_info(&seen, None, tls.insecure));
                return Err(timeout.with_tls(info));
            }
        };
        let (_, conn) = stream.get_ref();
        let version = match conn.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "1.3",
            Some(ProtocolVersion::TLSv1_2) => "1.2",
            _ => "unknown",
        };
        let h2 = conn.alpn_protocol() == Some(b"h2".as_slice());
        let info = tls_info(&seen(), Some(version), tls.insecure);
        Ok(Handshaken { stream, info, h2 })
    }

    /// Connects to `address` (`host:port`) and runs the TLS handshake only:
    /// the `tls` step. ALPN offers `h2` and `http/1.1`.
    ///
    /// # Errors
    /// As [`Net::tcp_check`], plus `Tls` when the handshake or verification
    /// fails (then the failure's `tls` carries the certificate when one was
    /// received).
    pub async fn tls_check(
        &self,
        address: &str,
        tls: &TlsOptions,
        ca_pem: Option<&[u8]>,
        deadline: Instant,
    ) -> Result<(PhaseTimings, TlsInfo), NetFailure> {
        let deadline = Deadline::new(deadline);
        let (host, port) = split_host_port(address)?;
        let mut clock = Clock::start();
        let mut phases = PhaseTimings::default();
        let (tcp, _remote) = self
            .dial(&host, port, deadline, &mut clock, &mut phases)
            .await?;
        let done = self
            .handshake(tcp, &host, tls, ca_pem, Alpn::Both, deadline)
            .await;
        phases.tls = Some(clock.lap());
        let done = done.map_err(|f| f.with_phases(phases))?;
        Ok((phases, done.info))
    }
}
