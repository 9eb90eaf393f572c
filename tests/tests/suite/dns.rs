//! The DNS responder answers its records, NXDOMAIN inside its zone and
//! REFUSED outside, over UDP and TCP.

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use sonde_tests::{DnsError, DnsResponder, RunningDns};

fn resolver(dns: &RunningDns, connection: ConnectionConfig) -> Resolver<TokioRuntimeProvider> {
    let mut connection = connection;
    connection.port = dns.addr().port();
    let server = NameServerConfig::new(dns.ip(), true, vec![connection]);
    let config = ResolverConfig::from_parts(None, vec![], vec![server]);
    let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
    builder.options_mut().cache_size = 0;
    builder.options_mut().attempts = 1;
    builder.build().unwrap()
}

async fn shop_dns() -> RunningDns {
    DnsResponder::new()
        .a("shop.sonde.test", "127.0.0.1")
        .aaaa("shop.sonde.test", "::1")
        .cname("www.sonde.test", "shop.sonde.test")
        .txt("shop.sonde.test", "hello")
        .start()
        .await
        .unwrap()
}

fn answers(lookup: &hickory_resolver::lookup::Lookup) -> Vec<String> {
    lookup
        .answers()
        .iter()
        .map(|r| r.data.to_string())
        .collect()
}

#[tokio::test]
async fn answers_a_aaaa_txt_and_follows_cname_over_udp() {
    let dns = shop_dns().await;
    let resolver = resolver(&dns, ConnectionConfig::udp());
    let a = resolver
        .lookup("shop.sonde.test.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(answers(&a), ["127.0.0.1"]);
    let aaaa = resolver
        .lookup("shop.sonde.test.", RecordType::AAAA)
        .await
        .unwrap();
    assert_eq!(answers(&aaaa), ["::1"]);
    let txt = resolver
        .lookup("shop.sonde.test.", RecordType::TXT)
        .await
        .unwrap();
    assert!(matches!(&txt.answers()[0].data, RData::TXT(t) if t.to_string() == "hello"));
    let www = resolver
        .lookup("www.sonde.test.", RecordType::A)
        .await
        .unwrap();
    assert!(
        answers(&www).contains(&"127.0.0.1".to_owned()),
        "{:?}",
        answers(&www)
    );
}

#[tokio::test]
async fn answers_over_tcp_too() {
    let dns = shop_dns().await;
    let resolver = resolver(&dns, ConnectionConfig::tcp());
    let a = resolver
        .lookup("shop.sonde.test.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(answers(&a), ["127.0.0.1"]);
}

#[tokio::test]
async fn unknown_name_in_zone_is_nxdomain() {
    let dns = shop_dns().await;
    let resolver = resolver(&dns, ConnectionConfig::udp());
    let error: NetError = resolver
        .lookup("nope.sonde.test.", RecordType::A)
        .await
        .unwrap_err();
    assert!(error.is_nx_domain(), "{error}");
}

#[tokio::test]
async fn name_outside_every_zone_is_not_answered() {
    let dns = shop_dns().await;
    let resolver = resolver(&dns, ConnectionConfig::udp());
    let error = resolver
        .lookup("example.com.", RecordType::A)
        .await
        .unwrap_err();
    assert!(!error.is_nx_domain());
    assert!(
        error.to_string().to_lowercase().contains("refused"),
        "{error}"
    );
}

#[tokio::test]
async fn records_outside_the_zones_and_bad_ips_are_errors() {
    let out = DnsResponder::new()
        .a("example.com", "127.0.0.1")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(out, DnsError::OutOfZone { .. }), "{out}");
    let bad = DnsResponder::new()
        .a("x.sonde.test", "::1")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(bad, DnsError::InvalidRecord { .. }), "{bad}");
    let other = DnsResponder::new()
        .zone("example.test")
        .a("a.example.test", "10.0.0.1")
        .start()
        .await;
    assert!(other.is_ok());
}
