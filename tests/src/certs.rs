//! Test certificates made with rcgen: one CA per process and leaves of
//! every kind a probe must tell apart (valid, expired, not yet valid,
//! self-signed, wrong host).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use time::OffsetDateTime;

/// The names every valid test leaf is issued for.
pub const LEAF_NAMES: &[&str] = &["localhost", "shop.sonde.test", "127.0.0.1", "::1"];

/// The only name a [`TlsKind::WrongHost`] leaf is issued for.
pub const WRONG_HOST_NAME: &str = "wrong-host.sonde.test";

/// ALPN protocols the test servers offer, HTTP/2 first.
pub const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// Which certificate a TLS test server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsKind {
    /// Issued by the test CA for [`LEAF_NAMES`], valid from yesterday for 90 days.
    #[default]
    Valid,
    /// Issued by the test CA; expired yesterday.
    Expired,
    /// Issued by the test CA; valid from 30 days on.
    NotYetValid,
    /// Valid dates and names, but signed by its own key (unknown issuer).
    SelfSigned,
    /// Issued by the test CA for [`WRONG_HOST_NAME`] only (name mismatch).
    WrongHost,
}

/// Error making or loading a test certificate.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused the parameters or the key.
    #[error("generating a test certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("building a TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// A PEM file could not be read.
    #[error("parsing PEM: {0}")]
    Pem(#[from] rustls::pki_types::pem::Error),
}

/// The crypto provider every test-kit TLS config uses (ring), named
/// explicitly so that it does not matter which providers the workspace enables.
#[must_use]
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority for tests.
#[derive(Debug)]
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

/// A leaf certificate with its chain and private key.
#[derive(Debug)]
pub struct LeafCert {
    /// Leaf first, then the CA (when CA-issued).
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf alone, PEM.
    pub cert_pem: String,
    /// The leaf's private key, PKCS#8 PEM.
    pub key_pem: String,
    key_der: Vec<u8>,
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "Sonde Test CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Sonde");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn leaf_params(names: &[&str], kind: TlsKind) -> Result<CertificateParams, CertError> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names.clone())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(first) = names.first() {
        params
            .distinguished_name
            .push(DnType::CommonName, first.as_str());
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = kind != TlsKind::SelfSigned;
    let now = OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    (params.not_before, params.not_after) = match kind {
        TlsKind::Expired => (now - day * 90, now - day),
        TlsKind::NotYetValid => (now + day * 30, now + day * 120),
        TlsKind::Valid | TlsKind::SelfSigned | TlsKind::WrongHost => (now - day, now + day * 90),
    };
    Ok(params)
}

impl TestCa {
    /// Makes a fresh CA (ECDSA P-256), valid from yesterday for ten years.
    ///
    /// # Errors
    /// When rcgen fails to make the key or the certificate.
    pub fn generate() -> Result<Self, CertError> {
        let key = KeyPair::generate()?;
        let mut params = ca_params();
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(Self {
            cert_der: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(ca_params(), key),
        })
    }

    /// Rebuilds a CA made by [`TestCa::generate`] from its saved PEM
    /// certificate and key, so a restarted demo shop keeps the trust that
    /// probes already loaded.
    ///
    /// # Errors
    /// When either PEM does not parse.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CertError> {
        let key = KeyPair::from_pem(key_pem)?;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())?;
        Ok(Self {
            cert_der,
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer: Issuer::new(ca_params(), key),
        })
    }

    /// The CA certificate, PEM (what a probe's `--ca-file` holds).
    #[must_use]
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key, PKCS#8 PEM.
    #[must_use]
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The CA certificate, DER.
    #[must_use]
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// Writes the CA certificate as PEM to `path`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_pem(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, &self.cert_pem)
    }

    /// A root store holding only this CA.
    #[must_use]
    pub fn root_store(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        // A CA we just made always parses; an error here would be a bug in rcgen.
        let _ = roots.add(self.cert_der.clone());
        roots
    }

    /// A rustls client config that trusts only this CA and offers `alpn`.
    ///
    /// # Errors
    /// When the ring provider lacks the default protocol versions (never in practice).
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, CertError> {
        let mut config = ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.root_store())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    /// Issues a leaf of the given kind (see [`TlsKind`]).
    ///
    /// # Errors
    /// When rcgen fails.
    pub fn leaf(&self, kind: TlsKind) -> Result<LeafCert, CertError> {
        match kind {
            TlsKind::WrongHost => self.issue(&[WRONG_HOST_NAME], kind),
            _ => self.issue(LEAF_NAMES, kind),
        }
    }

    /// Issues a leaf for `names` (DNS names or IP literals) with the dates
    /// and issuer of `kind` (`WrongHost` is treated as `Valid` here).
    ///
    /// # Errors
    /// When a name is not a valid DNS name or rcgen fails.
    pub fn issue(&self, names: &[&str], kind: TlsKind) -> Result<LeafCert, CertError> {
        let key = KeyPair::generate()?;
        let params = leaf_params(names, kind)?;
        let (cert, chain_tail) = if kind == TlsKind::SelfSigned {
            (params.self_signed(&key)?, vec![])
        } else {
            (
                params.signed_by(&key, &self.issuer)?,
                vec![self.cert_der.clone()],
            )
        };
        let mut chain = vec![cert.der().clone()];
        chain.extend(chain_tail);
        Ok(LeafCert {
            chain,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        })
    }
}

impl LeafCert {
    /// The private key, DER.
    #[must_use]
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// A rustls server config presenting this leaf, offering ALPN `h2` and `http/1.1`.
    ///
    /// # Errors
    /// When rustls refuses the key or chain.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, CertError> {
        let mut config = ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key_der())?;
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

/// The process-wide test CA that [`crate::TestTarget`] leaves are issued by.
///
/// # Panics
/// When rcgen cannot make a key (a broken build, not a test failure).
pub fn test_ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| TestCa::generate().expect("rcgen makes the test CA"))
}

/// The process-wide test CA certificate, PEM.
#[must_use]
pub fn ca_pem() -> &'static str {
    test_ca().cert_pem()
}

/// Writes the process-wide test CA certificate to `dir/test-ca.pem` and
/// returns that path (for a probe's `--ca-file`).
///
/// # Errors
/// When the file cannot be written.
pub fn write_ca_pem(dir: impl AsRef<Path>) -> std::io::Result<std::path::PathBuf> {
    let path = dir.as_ref().join("test-ca.pem");
    test_ca().write_pem(&path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_chain_to_the_ca_and_reload_keeps_issuing() {
        let ca = TestCa::generate().unwrap();
        let leaf = ca.leaf(TlsKind::Valid).unwrap();
        assert_eq!(leaf.chain.len(), 2);
        assert!(leaf.server_config().is_ok());
        let again = TestCa::from_pem(ca.cert_pem(), ca.key_pem()).unwrap();
        assert_eq!(again.cert_der(), ca.cert_der());
        assert!(again.leaf(TlsKind::WrongHost).is_ok());
        let own = ca.leaf(TlsKind::SelfSigned).unwrap();
        assert_eq!(own.chain.len(), 1);
    }
}
