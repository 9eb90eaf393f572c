//! Host name resolution with one shared, cache-less hickory resolver, and
//! the parsing of `host:port` addresses.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError as HickoryError};
use scenarios::wire::ErrorKind;
use tokio::time::Instant;

use super::dns_query::rcode_name;
use super::failure::{Deadline, NetFailure};
use super::{Net, NetError};

/// Longest a lookup may take when the caller gives no deadline.
const DEFAULT_LOOKUP_BUDGET: Duration = Duration::from_secs(10);

/// The shared resolver and the servers `dns` steps ask when they name none.
pub(crate) fn build_resolver(
    server: Option<SocketAddr>,
) -> Result<(TokioResolver, Vec<SocketAddr>), NetError> {
    let (config, mut options) = match server {
        Some(addr) => {
            let mut name_server = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut name_server.connections {
                connection.port = addr.port();
            }
            (
                ResolverConfig::from_name_servers(vec![name_server]),
                ResolverOpts::default(),
            )
        }
        None => {
            hickory_resolver::system_conf::read_system_conf().map_err(NetError::SystemResolver)?
        }
    };
    // No cache: every run measures its own lookup (as linkerd/dns does).
    options.cache_size = 0;
    let servers = config
        .name_servers()
        .iter()
        .filter_map(|ns| {
            ns.connections
                .first()
                .map(|c| SocketAddr::new(ns.ip, c.port))
        })
        .collect();
    let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(options)
        .build()
        .map_err(NetError::Resolver)?;
    Ok((resolver, servers))
}

impl Net {
    /// Resolves `host` to its addresses and the time the lookup took; an IP
    /// literal (also `[::1]`) is returned as is, with no DNS phase.
    ///
    /// # Errors
    /// [`ErrorKind::Dns`] when the name does not resolve (NXDOMAIN, SERVFAIL,
    /// no address), [`ErrorKind::Timeout`] after 10 s.
    pub async fn resolve(&self, host: &str) -> Result<(Vec<IpAddr>, Option<Duration>), NetFailure> {
        self.resolve_until(host, Deadline::new(Instant::now() + DEFAULT_LOOKUP_BUDGET))
            .await
    }

    /// [`Net::resolve`] bounded by `deadline`; a failure carries the DNS time.
    pub(crate) async fn resolve_until(
        &self,
        host: &str,
        deadline: Deadline,
    ) -> Result<(Vec<IpAddr>, Option<Duration>), NetFailure> {
        if let Some(ip) = ip_literal(host) {
            return Ok((vec![ip], None));
        }
        let started = Instant::now();
        let looked_up = deadline
            .bound(&format!("resolving {host}"), self.resolver.lookup_ip(host))
            .await;
        let took = started.elapsed();
        let failed = |f: NetFailure| {
            f.with_phases(super::PhaseTimings {
                dns: Some(took),
                ..Default::default()
            })
        };
        let lookup = looked_up
            .map_err(failed)?
            .map_err(|e| failed(lookup_failure(host, &e)))?;
        let ips: Vec<IpAddr> = lookup.iter().collect();
        if ips.is_empty() {
            return Err(failed(NetFailure::new(
                ErrorKind::Dns,
                format!("{host} resolved to no address"),
            )));
        }
        Ok((ips, Some(took)))
    }
}

/// `127.0.0.1`, `::1` and `[::1]` are IP literals; anything else is a name.
pub(crate) fn ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

fn lookup_failure(host: &str, error: &HickoryError) -> NetFailure {
    let message = match error {
        HickoryError::Dns(DnsError::NoRecordsFound(no)) => {
            format!(
                "{host} did not resolve: {} (no address records)",
                rcode_name(no.response_code)
            )
        }
        HickoryError::Dns(DnsError::ResponseCode(code)) => {
            format!(
                "{host} did not resolve: the resolver answered {}",
                rcode_name(*code)
            )
        }
        other => format!("resolving {host}: {other}"),
    };
    NetFailure::new(ErrorKind::Dns, message)
}

/// Splits `host:port` (`[v6]:port` for IPv6) for `tcp` and `tls` steps.
pub(crate) fn split_host_port(address: &str) -> Result<(String, u16), NetFailure> {
    let invalid = |why: &str| {
        NetFailure::new(
            ErrorKind::InvalidRequest,
            format!("invalid address {address:?}: {why} (expected host:port)"),
        )
    };
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("unclosed `[`"))?;
        let port = after.strip_prefix(':').ok_or_else(|| invalid("no port"))?;
        (host, port)
    } else {
        let (host, port) = address.rsplit_once(':').ok_or_else(|| invalid("no port"))?;
        if host.contains(':') {
            return Err(invalid("an IPv6 address must be in brackets"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| invalid("the port is not a number from 0 to 65535"))?;
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("example.com:443").ok(),
            Some(("example.com".into(), 443))
        );
        assert_eq!(
            split_host_port("127.0.0.1:80").ok(),
            Some(("127.0.0.1".into(), 80))
        );
        assert_eq!(
            split_host_port("[::1]:8443").ok(),
            Some(("::1".into(), 8443))
        );
        for bad in [
            "example.com",
            "::1:80",
            ":80",
            "host:http",
            "[::1]80",
            "host:70000",
        ] {
            let failure = split_host_port(bad).expect_err(bad);
            assert_eq!(failure.kind, ErrorKind::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn literals_are_not_names() {
        assert_eq!(ip_literal("[::1]"), Some("::1".parse().expect("ip")));
        assert_eq!(
            ip_literal("10.0.0.1"),
            Some("10.0.0.1".parse().expect("ip"))
        );
        assert_eq!(ip_literal("shop.sonde.test"), None);
    }
}
