//! Each certificate kind is accepted or rejected, for the right reason, by
//! a rustls client that trusts the test CA.

use rustls::{CertificateError, Error};
use sonde_tests::{TestTarget, TlsKind, certs, test_ca, tls_handshake};

async fn handshake(kind: TlsKind, server_name: &str) -> Result<(), Error> {
    let target = TestTarget::new().tls(kind).start().await.unwrap();
    let config = test_ca().client_config(certs::ALPN).unwrap();
    match tls_handshake(target.addr(), server_name, config).await {
        Ok(stream) => {
            let (_, session) = stream.get_ref();
            assert_eq!(session.alpn_protocol(), Some(&b"h2"[..]));
            Ok(())
        }
        Err(error) => Err(error
            .rustls_error()
            .cloned()
            .unwrap_or_else(|| panic!("not a rustls error: {error}"))),
    }
}

fn certificate_error(result: Result<(), Error>) -> CertificateError {
    match result {
        Err(Error::InvalidCertificate(error)) => error,
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[tokio::test]
async fn valid_leaf_is_accepted_by_every_name_it_covers() {
    for name in ["localhost", "shop.sonde.test", "127.0.0.1"] {
        handshake(TlsKind::Valid, name).await.unwrap();
    }
}

#[tokio::test]
async fn expired_leaf_is_rejected_as_expired() {
    let error = certificate_error(handshake(TlsKind::Expired, "localhost").await);
    assert!(
        matches!(
            error,
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn not_yet_valid_leaf_is_rejected_as_not_yet_valid() {
    let error = certificate_error(handshake(TlsKind::NotYetValid, "localhost").await);
    assert!(
        matches!(
            error,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn self_signed_leaf_is_rejected_as_unknown_issuer() {
    let error = certificate_error(handshake(TlsKind::SelfSigned, "localhost").await);
    assert_eq!(error, CertificateError::UnknownIssuer);
}

#[tokio::test]
async fn wrong_host_leaf_is_rejected_as_name_mismatch() {
    for name in ["localhost", "127.0.0.1"] {
        let error = certificate_error(handshake(TlsKind::WrongHost, name).await);
        assert!(
            matches!(
                error,
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ),
            "{name}: {error:?}"
        );
    }
    handshake(TlsKind::WrongHost, certs::WRONG_HOST_NAME)
        .await
        .unwrap();
}

#[test]
fn ca_pem_can_be_written_for_a_ca_file_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = sonde_tests::write_ca_pem(dir.path()).unwrap();
    let written = std::fs::read_to_string(path).unwrap();
    assert_eq!(written, sonde_tests::ca_pem());
    assert!(written.starts_with("-----BEGIN CERTIFICATE-----"));
}
