//! `net` over TLS against the test kit's rcgen certificates: ALPN, reuse,
//! trust from the step and from `--ca-file`, and a certificate report for
//! every kind of bad certificate.

use std::sync::Arc;
use std::time::Duration;

use probe::net::{HttpCall, Net, NetConfig};
use scenarios::model::{HttpVersion, TlsOptions};
use scenarios::wire::ErrorKind;
use sonde_tests::{DnsResponder, TestTarget, TlsKind, ca_pem, hang_after_accept};
use tokio::time::Instant;

use crate::net_kit::{self, net_with, soon};

/// The tests use IP literals only: the resolver is never asked.
fn net() -> Arc<Net> {
    net_with(NetConfig {
        resolver: Some("127.0.0.1:9".parse().expect("addr")),
        ..NetConfig::default()
    })
}

fn call(url: &str, ca: bool) -> HttpCall {
    net_kit::get(url, ca, 1024 * 1024)
}

#[tokio::test]
async fn https_negotiates_h2_verifies_and_reuses() {
    let target = TestTarget::new()
        .route("/", 200, "secure")
        .start()
        .await
        .expect("target starts");
    let mut session = net().session();
    let started = Instant::now();
    let first = session
        .send(call(&target.https_url("/"), true), soon())
        .await
        .expect("https");
    let elapsed = started.elapsed();
    let sum = first.phases.total();
    assert!(
        sum <= elapsed && elapsed - sum < Duration::from_millis(50),
        "{sum:?} vs {elapsed:?}"
    );
    assert_eq!((first.status, first.version), (200, "HTTP/2"));
    assert_eq!(first.body, "secure");
    let tls = first.tls.as_ref().expect("TLS info");
    assert!(tls.verified, "{tls:?}");
    assert_eq!(tls.verify_error, None);
    assert!(
        matches!(tls.version.as_deref(), Some("1.3" | "1.2")),
        "{tls:?}"
    );
    assert_eq!(tls.cert_subject.as_deref(), Some("CN=localhost"));
    assert!(tls.cert_not_after.is_some_and(|t| t > chrono::Utc::now()));
    let p = first.phases;
    assert!(
        p.connect.is_some() && p.tls.is_some() && p.ttfb.is_some() && p.transfer.is_some(),
        "{p:?}"
    );

    let second = session
        .send(call(&target.https_url("/"), true), soon())
        .await
        .expect("reused");
    assert_eq!(
        (second.phases.dns, second.phases.connect, second.phases.tls),
        (None, None, None)
    );
    assert_eq!(
        second.tls.as_ref().map(|t| t.verified),
        Some(true),
        "a reused connection keeps its TLS report"
    );
}

#[tokio::test]
async fn forced_http1_offers_only_http1() {
    let target = TestTarget::new()
        .route("/", 200, "one")
        .start()
        .await
        .expect("target starts");
    let mut h1 = call(&target.https_url("/"), true);
    h1.version = Some(HttpVersion::Http1);
    let response = net().session().send(h1, soon()).await.expect("https h1");
    assert_eq!(response.version, "HTTP/1.1");
    assert_eq!(target.requests_to("/")[0].version, hyper::Version::HTTP_11);
}

#[tokio::test]
async fn probe_ca_file_is_trusted_and_no_trust_is_unknown_issuer() {
    let target = TestTarget::new()
        .route("/", 200, "ok")
        .start()
        .await
        .expect("target starts");
    let trusting = net_with(NetConfig {
        resolver: Some("127.0.0.1:9".parse().expect("addr")),
        extra_roots_pem: vec![ca_pem().as_bytes().to_vec()],
        ..NetConfig::default()
    });
    let ok = trusting
        .session()
        .send(call(&target.https_url("/"), false), soon())
        .await
        .expect("trusted");
    assert_eq!(ok.tls.map(|t| t.verified), Some(true));

    let failure = net()
        .session()
        .send(call(&target.https_url("/"), false), soon())
        .await
        .expect_err("untrusted");
    assert_eq!(failure.kind, ErrorKind::Tls);
    let tls = failure.tls.expect("certificate reported");
    assert_eq!(
        tls.verify_error.as_deref(),
        Some("invalid peer certificate: UnknownIssuer")
    );
}

#[tokio::test]
async fn every_bad_certificate_is_a_tls_error_that_reports_the_certificate() {
    let cases = [
        (TlsKind::Expired, "certificate expired"),
        (TlsKind::NotYetValid, "certificate not valid yet"),
        (TlsKind::SelfSigned, "UnknownIssuer"),
        (
            TlsKind::WrongHost,
            "certificate not valid for name \"127.0.0.1\"",
        ),
    ];
    for (kind, expected) in cases {
        let target = TestTarget::new()
            .tls(kind)
            .route("/", 200, "ok")
            .start()
            .await
            .expect("target starts");
        let failure = net()
            .session()
            .send(call(&target.https_url("/"), true), soon())
            .await
            .expect_err("bad certificate");
        assert_eq!(failure.kind, ErrorKind::Tls, "{kind:?}: {failure}");
        assert!(failure.message.contains(expected), "{kind:?}: {failure}");
        assert!(
            failure.phases.tls.is_some() && failure.phases.ttfb.is_none(),
            "{kind:?}: {:?}",
            failure.phases
        );
        let tls = failure
            .tls
            .unwrap_or_else(|| panic!("{kind:?}: no TLS report"));
        assert_eq!(tls.version, None, "{kind:?}");
        assert!(!tls.verified, "{kind:?}");
        assert!(tls.cert_not_after.is_some(), "{kind:?}");
        assert!(tls.cert_subject.is_some(), "{kind:?}");
        let why = tls.verify_error.unwrap_or_default();
        assert!(
            why.starts_with(expected) || why.contains(expected),
            "{kind:?}: {why}"
        );
    }
}

#[tokio::test]
async fn insecure_accepts_a_bad_certificate_but_says_why() {
    let target = TestTarget::new()
        .tls(TlsKind::Expired)
        .route("/", 200, "anyway")
        .start()
        .await
        .expect("target");
    let mut insecure = call(&target.https_url("/"), true);
    insecure.tls.insecure = true;
    let response = net()
        .session()
        .send(insecure, soon())
        .await
        .expect("insecure passes");
    assert_eq!(response.body, "anyway");
    let tls = response.tls.expect("TLS info");
    assert!(!tls.verified);
    assert!(tls.version.is_some());
    assert!(
        tls.verify_error
            .is_some_and(|e| e.starts_with("certificate expired"))
    );
    assert!(tls.cert_not_after.is_some_and(|t| t < chrono::Utc::now()));
}

#[tokio::test]
async fn tls_check_reports_the_handshake_and_honours_server_name() {
    let target = TestTarget::new().start().await.expect("target starts");
    let net = net();
    let address = target.addr().to_string();
    let ca = ca_pem().as_bytes();
    let (phases, info) = net
        .tls_check(&address, &TlsOptions::default(), Some(ca), soon())
        .await
        .expect("tls");
    assert!(phases.connect.is_some() && phases.tls.is_some());
    assert_eq!((phases.ttfb, phases.transfer), (None, None));
    assert!(info.verified && info.version.is_some());

    let named = TlsOptions {
        server_name: Some("shop.sonde.test".into()),
        ..TlsOptions::default()
    };
    let (_, info) = net
        .tls_check(&address, &named, Some(ca), soon())
        .await
        .expect("SNI name");
    assert!(info.verified);
    let wrong = TlsOptions {
        server_name: Some("elsewhere.test".into()),
        ..TlsOptions::default()
    };
    let failure = net
        .tls_check(&address, &wrong, Some(ca), soon())
        .await
        .expect_err("wrong name");
    assert_eq!(failure.kind, ErrorKind::Tls);
    assert!(
        failure
            .tls
            .and_then(|t| t.verify_error)
            .is_some_and(|e| e.contains("elsewhere.test"))
    );

    let wrong_host = TestTarget::new()
        .tls(TlsKind::WrongHost)
        .start()
        .await
        .expect("target starts");
    let its_name = TlsOptions {
        server_name: Some("wrong-host.sonde.test".into()),
        ..TlsOptions::default()
    };
    let (_, info) = net
        .tls_check(&wrong_host.addr().to_string(), &its_name, Some(ca), soon())
        .await
        .expect("valid for its own name");
    assert_eq!(
        info.cert_subject.as_deref(),
        Some("CN=wrong-host.sonde.test")
    );
}

#[tokio::test]
async fn stalled_handshake_times_out() {
    let hanging = hang_after_accept().await.expect("listener");
    let started = std::time::Instant::now();
    let deadline = Instant::now() + Duration::from_secs(1);
    let failure = net()
        .tls_check(
            &hanging.addr().to_string(),
            &TlsOptions::default(),
            None,
            deadline,
        )
        .await
        .expect_err("no handshake");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(failure.kind, ErrorKind::Timeout);
    assert!(failure.message.contains("TLS handshake"), "{failure}");
    assert!(
        failure.phases.tls >= Some(Duration::from_millis(900)),
        "{:?}",
        failure.phases
    );
}

#[tokio::test]
async fn https_by_name_resolves_and_verifies_the_name() {
    let dns = DnsResponder::new()
        .a("shop.sonde.test", "127.0.0.1")
        .start()
        .await
        .expect("dns starts");
    let target = TestTarget::new()
        .route("/", 200, "by name")
        .start()
        .await
        .expect("target starts");
    let net = net_with(NetConfig {
        resolver: Some(dns.addr()),
        ..NetConfig::default()
    });
    let url = target.https_url_for_host("shop.sonde.test", "/");
    let response = net
        .session()
        .send(call(&url, true), soon())
        .await
        .expect("by name");
    assert_eq!(response.body, "by name");
    assert!(response.phases.dns.is_some(), "a name has a DNS phase");
    assert_eq!(response.tls.map(|t| t.verified), Some(true));
}
