//! Shared by the network tests (`net_*`): a `Net` from a config, a plain
//! GET (no headers, no body, default TLS options) and the deadline most
//! calls share.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use probe::net::{HttpCall, Net, NetConfig};
use scenarios::model::TlsOptions;
use sonde_tests::ca_pem;
use tokio::time::Instant;

pub fn net_with(config: NetConfig) -> Arc<Net> {
    Arc::new(Net::new(config).expect("net builds"))
}

/// A GET of `url` reading at most `max_body_bytes`; with `trust_test_ca`
/// the test kit's CA is trusted on top of the usual roots.
pub fn get(url: &str, trust_test_ca: bool, max_body_bytes: u64) -> HttpCall {
    HttpCall {
        method: "GET",
        url: url.parse().expect("test URL parses"),
        headers: Vec::new(),
        body: Bytes::new(),
        version: None,
        tls: TlsOptions::default(),
        ca_pem: trust_test_ca.then(|| ca_pem().as_bytes().to_vec()),
        max_body_bytes,
    }
}

pub fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}
