//! The target guard on real connections: HTTP, TCP and TLS steps are
//! refused on loopback unless `--allow-target` opens it; names are judged
//! by the address they resolve to; DNS steps are exempt.

use std::sync::Arc;

use probe::net::{HttpCall, Net, NetConfig, TargetGuard};
use scenarios::model::{RecordType, TlsOptions};
use scenarios::wire::ErrorKind;
use sonde_tests::{DnsResponder, TestTarget};

use crate::net_kit::{self, net_with, soon};

fn guarded(resolver: std::net::SocketAddr, allow: &[&str]) -> Arc<Net> {
    let allow = allow
        .iter()
        .map(|net| net.parse().expect("net parses"))
        .collect();
    let config = NetConfig {
        resolver: Some(resolver),
        guard: TargetGuard::enabled(allow),
        ..NetConfig::default()
    };
    net_with(config)
}

fn get(url: &str) -> HttpCall {
    net_kit::get(url, true, 1024)
}

#[tokio::test]
async fn loopback_is_refused_for_every_connecting_step() {
    let target = TestTarget::new()
        .route("/", 200, "ok")
        .start()
        .await
        .expect("target starts");
    let net = guarded("127.0.0.1:9".parse().expect("addr"), &[]);
    let address = target.addr().to_string();

    let failure = net
        .session()
        .send(get(&target.url("/")), soon())
        .await
        .expect_err("refused");
    assert_eq!(failure.kind, ErrorKind::TargetRefused);
    assert!(
        failure.message.contains("127.0.0.1") && failure.message.contains("127.0.0.0/8"),
        "{failure}"
    );
    assert!(target.requests().is_empty(), "nothing reached the target");

    let tcp = net
        .tcp_check(&address, soon())
        .await
        .expect_err("tcp refused");
    assert_eq!(tcp.kind, ErrorKind::TargetRefused);
    let tls = net
        .tls_check(&address, &TlsOptions::default(), None, soon())
        .await
        .expect_err("tls refused");
    assert_eq!(tls.kind, ErrorKind::TargetRefused);
}

#[tokio::test]
async fn allow_target_opens_loopback() {
    let target = TestTarget::new()
        .route("/", 200, "ok")
        .start()
        .await
        .expect("target starts");
    let net = guarded("127.0.0.1:9".parse().expect("addr"), &["127.0.0.0/8"]);
    let response = net
        .session()
        .send(get(&target.https_url("/")), soon())
        .await
        .expect("allowed");
    assert_eq!(response.status, 200);
    assert!(
        net.tcp_check(&target.addr().to_string(), soon())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_name_is_judged_by_its_address_and_dns_steps_are_exempt() {
    let dns = DnsResponder::new()
        .a("inside.sonde.test", "127.0.0.1")
        .start()
        .await
        .expect("dns starts");
    let target = TestTarget::new()
        .route("/", 200, "ok")
        .start()
        .await
        .expect("target starts");
    let net = guarded(dns.addr(), &[]);
    let url = format!("http://inside.sonde.test:{}/", target.port());
    let failure = net
        .session()
        .send(get(&url), soon())
        .await
        .expect_err("resolves inward");
    assert_eq!(failure.kind, ErrorKind::TargetRefused);
    assert!(failure.phases.dns.is_some(), "the lookup was measured");

    // The DNS responder itself is on loopback: a `dns` step still works.
    let answer = net
        .dns_query("inside.sonde.test", RecordType::A, None, soon())
        .await
        .expect("dns exempt");
    assert_eq!(answer.answers, ["127.0.0.1"]);
}
