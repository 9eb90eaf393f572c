//! `net` DNS: `dns` steps against the test kit's responder (answers and
//! rcodes are data), host resolution through it, and servers that never
//! answer.
use std::sync::Arc;
use std::time::Duration;

use probe::net::{Net, NetConfig};
use scenarios::model::RecordType;
use scenarios::wire::ErrorKind;
use sonde_tests::{DnsResponder, RunningDns, TestTarget};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::net_kit::{self, net_with, soon};

async fn responder() -> RunningDns {
    DnsResponder::new()
        .a("shop.sonde.test", "127.0.0.1")
        .aaaa("shop.sonde.test", "::1")
        .mx("sonde.test", 10, "mail.sonde.test")
        .txt("sonde.test", "v=spf1 -all")
        .cname("www.sonde.test", "shop.sonde.test")
        .start()
        .await
        .expect("dns starts")
}

fn net_using(resolver: std::net::SocketAddr) -> Arc<Net> {
    let config = NetConfig {
        resolver: Some(resolver),
        ..NetConfig::default()
    };
    net_with(config)
}

#[tokio::test]
async fn dns_step_reads_answers_as_zone_text() {
    let dns = responder().await;
    let net = net_using("127.0.0.1:9".parse().expect("addr"));
    let server = Some(dns.addr());
    let a = net
        .dns_query("shop.sonde.test", RecordType::A, server, soon())
        .await
        .expect("A");
    assert_eq!(
        (a.rcode.as_str(), a.answers.as_slice()),
        ("NOERROR", ["127.0.0.1".to_owned()].as_slice())
    );
    assert!(a.duration > Duration::ZERO);
    let aaaa = net
        .dns_query("shop.sonde.test", RecordType::Aaaa, server, soon())
        .await
        .expect("AAAA");
    assert_eq!(aaaa.answers, ["::1"]);
    let mx = net
        .dns_query("sonde.test", RecordType::Mx, server, soon())
        .await
        .expect("MX");
    assert_eq!(mx.answers, ["10 mail.sonde.test."]);
    let txt = net
        .dns_query("sonde.test", RecordType::Txt, server, soon())
        .await
        .expect("TXT");
    assert_eq!(txt.answers, ["v=spf1 -all"]);
    let cname = net
        .dns_query("www.sonde.test", RecordType::Cname, server, soon())
        .await
        .expect("CNAME");
    assert_eq!(cname.answers, ["shop.sonde.test."]);
}

#[tokio::test]
async fn nxdomain_and_refused_are_data() {
    let dns = responder().await;
    let net = net_using(dns.addr());
    // No `server`: the probe's resolver (here the responder) is asked.
    let missing = net
        .dns_query("nope.sonde.test", RecordType::A, None, soon())
        .await
        .expect("an answer");
    assert_eq!(missing.rcode, "NXDOMAIN");
    assert!(missing.answers.is_empty());
    let outside = net
        .dns_query("example.org", RecordType::A, None, soon())
        .await
        .expect("an answer");
    assert_eq!(outside.rcode, "REFUSED");
}

#[tokio::test]
async fn silent_dns_server_times_out_and_a_closed_port_is_a_dns_error() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.expect("udp socket");
    let net = net_using("127.0.0.1:9".parse().expect("addr"));
    let started = std::time::Instant::now();
    let deadline = Instant::now() + Duration::from_millis(1500);
    let failure = net
        .dns_query(
            "shop.sonde.test",
            RecordType::A,
            Some(silent.local_addr().expect("addr")),
            deadline,
        )
        .await
        .expect_err("no answer");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(failure.kind, ErrorKind::Timeout);
    assert!(
        failure.message.contains("waiting for a DNS answer"),
        "{failure}"
    );
    assert!(
        failure.phases.dns >= Some(Duration::from_millis(1400)),
        "{:?}",
        failure.phases
    );

    let closed = silent.local_addr().expect("addr");
    drop(silent);
    let failure = net
        .dns_query("shop.sonde.test", RecordType::A, Some(closed), soon())
        .await
        .expect_err("closed");
    assert_eq!(failure.kind, ErrorKind::Dns, "{failure}");
}

#[tokio::test]
async fn resolve_through_the_configured_resolver() {
    let dns = responder().await;
    let net = net_using(dns.addr());
    let (ips, took) = net.resolve("shop.sonde.test").await.expect("resolves");
    assert!(ips.contains(&"127.0.0.1".parse().expect("ip")), "{ips:?}");
    assert!(took.is_some());
    let (ips, took) = net.resolve("127.0.0.1").await.expect("literal");
    assert_eq!((ips.len(), took), (1, None));

    let failure = net.resolve("nope.sonde.test").await.expect_err("NXDOMAIN");
    assert_eq!(failure.kind, ErrorKind::Dns);
    assert!(failure.message.contains("nope.sonde.test"), "{failure}");
    assert!(failure.phases.dns.is_some());
}

#[tokio::test]
async fn http_by_name_has_a_dns_phase_and_unknown_names_fail_in_dns() {
    let dns = responder().await;
    let target = TestTarget::new()
        .route("/", 200, "named")
        .start()
        .await
        .expect("target starts");
    let net = net_using(dns.addr());
    let call = |url: String| net_kit::get(&url, false, 1024);
    let url = format!("http://shop.sonde.test:{}/", target.port());
    let ok = net
        .session()
        .send(call(url), soon())
        .await
        .expect("by name");
    assert!(ok.phases.dns.is_some() && ok.phases.connect.is_some());
    assert_eq!(
        target.requests_to("/")[0].header("host"),
        Some(format!("shop.sonde.test:{}", target.port()).as_str())
    );

    let url = format!("http://nope.sonde.test:{}/", target.port());
    let failure = net
        .session()
        .send(call(url), soon())
        .await
        .expect_err("no such name");
    assert_eq!(failure.kind, ErrorKind::Dns);
    assert!(
        failure.phases.dns.is_some() && failure.phases.connect.is_none(),
        "{:?}",
        failure.phases
    );
}

#[tokio::test]
async fn system_resolver_configuration_is_read() {
    // Only where the machine has one (CI and developer machines do).
    if std::path::Path::new("/etc/resolv.conf").exists() {
        Net::new(NetConfig::default()).expect("system resolver configuration");
    }
}
