//! A certificate verifier that remembers what it saw: the server's
//! certificate and why verification failed, so a step reports the
//! certificate (and its expiry) even when the handshake is refused.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use scenarios::wire::TlsInfo;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// What the verifier saw during one handshake.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    pub(crate) cert: Option<CertificateDer<'static>>,
    pub(crate) error: Option<String>,
}

/// Shared between one connection's verifier and the code that reports it.
/// A plain mutex: it is never held across an `.await`.
pub(crate) type CertSlot = Arc<Mutex<Seen>>;

/// Wraps the WebPKI verifier of a cached config for one connection.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    insecure: bool,
    slot: CertSlot,
}

impl RecordingVerifier {
    pub(crate) fn new(inner: Arc<WebPkiServerVerifier>, insecure: bool, slot: CertSlot) -> Self {
        Self {
            inner,
            insecure,
            slot,
        }
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if let Ok(mut seen) = self.slot.lock() {
            seen.cert = Some(end_entity.clone().into_owned());
            seen.error = verdict.as_ref().err().map(|e| describe(e, server_name));
        }
        match verdict {
            Err(_) if self.insecure => Ok(ServerCertVerified::assertion()),
            verdict => verdict,
        }
    }

    // Signatures are checked even when `insecure`: they prove the server
    // holds the key of the certificate we report.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `certificate expired: …`, `certificate not valid for name …`, or
/// rustls's own text (`invalid peer certificate: UnknownIssuer`).
fn describe(error: &rustls::Error, server_name: &ServerName<'_>) -> String {
    match error {
        rustls::Error::InvalidCertificate(
            e @ (CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYetContext { .. }
            | CertificateError::NotValidForNameContext { .. }),
        ) => e.to_string(),
        rustls::Error::InvalidCertificate(CertificateError::Expired) => {
            "certificate expired".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidYet) => {
            "certificate not valid yet".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName) => {
            format!("certificate not valid for name {:?}", server_name.to_str())
        }
        other => other.to_string(),
    }
}

/// The step's TLS report from what was seen. `version` is `None` when the
/// handshake did not finish. `verified` is true only for a finished,
/// verified handshake that was not `insecure` (the wire contract reports
/// verification that was turned off as not verified).
pub(crate) fn tls_info(seen: &Seen, version: Option<&str>, insecure: bool) -> TlsInfo {
    let (cert_not_after, cert_subject) = seen.cert.as_ref().map_or((None, None), cert_facts);
    TlsInfo {
        version: version.map(str::to_owned),
        cert_not_after,
        cert_subject,
        verified: version.is_some() && !insecure && seen.cert.is_some() && seen.error.is_none(),
        verify_error: seen.error.clone(),
    }
}

/// Expiry and RFC 4514 subject of a DER certificate; `None`s when it does
/// not parse (the handshake reports its own error then).
fn cert_facts(der: &CertificateDer<'_>) -> (Option<DateTime<Utc>>, Option<String>) {
    match X509Certificate::from_der(der.as_ref()) {
        Ok((_, cert)) => {
            let not_after = DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0);
            (not_after, Some(rfc4514(cert.subject())))
        }
        Err(_) => (None, None),
    }
}

/// `CN=shop.sonde.test,O=Sonde`: most specific RDN first, `+` inside one.
fn rfc4514(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut rdns = Vec::new();
    for rdn in name.iter_rdn() {
        let mut parts = Vec::new();
        for attr in rdn.iter() {
            let key = x509_parser::objects::oid2abbrev(attr.attr_type(), registry)
                .map_or_else(|_| attr.attr_type().to_id_string(), str::to_owned);
            let Ok(value) = attr.as_str() else {
                // A string type we cannot read (BMPString…): x509-parser's own form.
                return name.to_string();
            };
            parts.push(format!("{key}={}", escape(value)));
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_rfc4514_specials() {
        assert_eq!(escape("Sonde, Inc."), "Sonde\\, Inc.");
        assert_eq!(escape("#1 "), "\\#1\\ ");
        assert_eq!(escape("shop.sonde.test"), "shop.sonde.test");
    }

    #[test]
    fn unfinished_handshake_is_not_verified() {
        let seen = Seen {
            cert: None,
            error: None,
        };
        let info = tls_info(&seen, None, false);
        assert!(!info.verified);
        assert_eq!(info.cert_subject, None);
        let info = tls_info(&Seen::default(), Some("1.3"), true);
        assert!(!info.verified, "insecure never counts as verified");
    }
}
