//! `database_url` → a connection. TLS follows libpq's `sslmode`:
//! `prefer` and `require` encrypt without checking the certificate (as
//! libpq does without a root certificate), `verify-ca` checks it against
//! `sslrootcert` (else the public web roots), `verify-full` also checks
//! that it names the host.

use std::sync::Arc;

use postgres::NoTls;
use postgres::config::SslMode as PgSslMode;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::Conn;
use crate::config::{DatabaseUrl, SslMode};
use crate::store::StoreError;

/// Opens one connection.
pub(super) fn connect(url: &DatabaseUrl) -> Result<Conn, StoreError> {
    let mut config = postgres::Config::new();
    config
        .user(&url.user)
        .host(&url.host)
        .port(url.port)
        .dbname(&url.dbname)
        .application_name(url.application_name.as_deref().unwrap_or("sonde-scheduler"));
    if let Some(password) = &url.password {
        config.password(password);
    }
    if let Some(timeout) = url.connect_timeout {
        config.connect_timeout(timeout);
    }
    let client = match url.sslmode {
        SslMode::Disable => config.ssl_mode(PgSslMode::Disable).connect(NoTls),
        SslMode::Prefer => config.ssl_mode(PgSslMode::Prefer).connect(tls(url)?),
        _ => config.ssl_mode(PgSslMode::Require).connect(tls(url)?),
    };
    let client = client.map_err(|e| {
        let code = e.code().map(|c| c.code().to_owned());
        StoreError::Postgres {
            code,
            message: format!("cannot connect to {url}: {}", chain(&e)),
        }
    })?;
    Ok(Conn::new(client))
}

/// An error with its causes, which say what actually went wrong.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

fn tls(url: &DatabaseUrl) -> Result<MakeRustlsConnect, StoreError> {
    let tls_error = |e: &dyn std::fmt::Display| StoreError::Postgres {
        code: None,
        message: format!("TLS to {url}: {e}"),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(&e))?;
    let verifier: Arc<dyn ServerCertVerifier> = match url.sslmode {
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = roots(url).map_err(|e| tls_error(&e))?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| tls_error(&e))?;
            Arc::new(Checked {
                webpki,
                check_name: url.sslmode == SslMode::VerifyFull,
            })
        }
        _ => Arc::new(Unchecked(provider)),
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `sslrootcert`'s certificates, else the public web roots.
fn roots(url: &DatabaseUrl) -> Result<rustls::RootCertStore, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match &url.sslrootcert {
        Some(path) => {
            let at = |e: &dyn std::fmt::Display| format!("sslrootcert `{}`: {e}", path.display());
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| at(&e))? {
                roots.add(cert.map_err(|e| at(&e))?).map_err(|e| at(&e))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

/// `verify-ca` and `verify-full`: the chain always, the name for
/// `verify-full`.
#[derive(Debug)]
struct Checked {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for Checked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
                if !self.check_name =>
            {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// `prefer` and `require`: encrypted, the certificate taken as offered;
/// the handshake's signatures are still checked.
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
