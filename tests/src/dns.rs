//! `DnsResponder`: an authoritative DNS server (hickory-server) on
//! loopback UDP and TCP with records given by the test.
//!
//! It is authoritative for its zones (default `sonde.test.`): unknown names
//! there get NXDOMAIN; names outside every zone get REFUSED.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, SOA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

/// The zone a responder serves unless told otherwise.
pub const DEFAULT_ZONE: &str = "sonde.test.";

/// Error building or starting a responder.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A record's name or data did not parse.
    #[error("invalid {kind} record for {name:?}: {reason}")]
    InvalidRecord {
        kind: &'static str,
        name: String,
        reason: String,
    },
    /// A record's name is in none of the responder's zones.
    #[error("{name} is in none of the zones {zones:?}")]
    OutOfZone { name: String, zones: Vec<String> },
    /// Binding the sockets failed.
    #[error("binding the DNS responder on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
enum Data {
    A(String),
    Aaaa(String),
    Cname(String),
    Txt(String),
    Mx(u16, String),
}

/// Builder for a DNS responder.
#[derive(Debug, Clone)]
pub struct DnsResponder {
    zones: Vec<String>,
    records: Vec<(String, Data)>,
    ttl: u32,
    bind: SocketAddr,
}

impl Default for DnsResponder {
    fn default() -> Self {
        Self {
            zones: vec![DEFAULT_ZONE.to_owned()],
            records: Vec::new(),
            ttl: 60,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        }
    }
}

impl DnsResponder {
    /// A responder for `sonde.test.` with no records, on `127.0.0.1:0`.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Also serves `zone` (e.g. `"example.test"`).
    #[must_use]
    pub fn zone(mut self, zone: &str) -> Self {
        self.zones.push(zone.to_owned());
        self
    }

    /// Binds `addr` instead of `127.0.0.1:0` (UDP and TCP on the same port).
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// TTL of every record (default 60 s).
    #[must_use]
    pub fn ttl(mut self, seconds: u32) -> Self {
        self.ttl = seconds;
        self
    }

    /// An A record, e.g. `.a("shop.sonde.test", "127.0.0.1")`.
    #[must_use]
    pub fn a(self, name: &str, ip: &str) -> Self {
        self.record(name, Data::A(ip.to_owned()))
    }

    /// An AAAA record.
    #[must_use]
    pub fn aaaa(self, name: &str, ip: &str) -> Self {
        self.record(name, Data::Aaaa(ip.to_owned()))
    }

    /// A CNAME record from `name` to `target`.
    #[must_use]
    pub fn cname(self, name: &str, target: &str) -> Self {
        self.record(name, Data::Cname(target.to_owned()))
    }

    /// A TXT record with one string.
    #[must_use]
    pub fn txt(self, name: &str, text: &str) -> Self {
        self.record(name, Data::Txt(text.to_owned()))
    }

    /// An MX record.
    #[must_use]
    pub fn mx(self, name: &str, preference: u16, exchange: &str) -> Self {
        self.record(name, Data::Mx(preference, exchange.to_owned()))
    }

    fn record(mut self, name: &str, data: Data) -> Self {
        self.records.push((name.to_owned(), data));
        self
    }

    /// Starts answering; it stops when the returned value is dropped.
    ///
    /// # Errors
    /// When a record is invalid or out of zone, or binding fails.
    pub async fn start(self) -> Result<RunningDns, DnsError> {
        let catalog = self.catalog()?;
        let (udp, tcp) = bind_pair(self.bind).await?;
        let addr = udp.local_addr().map_err(|source| DnsError::Bind {
            addr: self.bind,
            source,
        })?;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 32);
        Ok(RunningDns {
            addr,
            _server: server,
        })
    }

    fn catalog(&self) -> Result<Catalog, DnsError> {
        let origins = self
            .zones
            .iter()
            .map(|z| parse_name("zone", z, z))
            .collect::<Result<Vec<_>, _>>()?;
        let mut zones: BTreeMap<Name, InMemoryZoneHandler> = BTreeMap::new();
        for origin in &origins {
            let mut zone =
                InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
            zone.upsert_mut(soa(origin, self.ttl), 1);
            zones.insert(origin.clone(), zone);
        }
        for (name, data) in &self.records {
            let record = to_record(name, data, self.ttl)?;
            let zone = origins
                .iter()
                .filter(|o| o.zone_of(&record.name))
                .max_by_key(|o| o.num_labels())
                .and_then(|o| zones.get_mut(o))
                .ok_or_else(|| DnsError::OutOfZone {
                    name: name.clone(),
                    zones: self.zones.clone(),
                })?;
            zone.upsert_mut(record, 1);
        }
        let mut catalog = Catalog::new();
        for (origin, zone) in zones {
            let handler: Arc<dyn ZoneHandler> = Arc::new(zone);
            catalog.upsert(LowerName::new(&origin), vec![handler]);
        }
        Ok(catalog)
    }
}

fn parse_name(kind: &'static str, owner: &str, text: &str) -> Result<Name, DnsError> {
    let mut name = Name::from_str(text).map_err(|e| DnsError::InvalidRecord {
        kind,
        name: owner.to_owned(),
        reason: e.to_string(),
    })?;
    name.set_fqdn(true);
    Ok(name)
}

fn parse_ip<T: FromStr>(kind: &'static str, owner: &str, text: &str) -> Result<T, DnsError> {
    text.parse().map_err(|_| DnsError::InvalidRecord {
        kind,
        name: owner.to_owned(),
        reason: format!("{text:?} is not an IP address of that family"),
    })
}

fn to_record(name: &str, data: &Data, ttl: u32) -> Result<Record, DnsError> {
    let (kind, rdata) = match data {
        Data::A(ip) => ("A", RData::A(A(parse_ip::<Ipv4Addr>("A", name, ip)?))),
        Data::Aaaa(ip) => (
            "AAAA",
            RData::AAAA(AAAA(parse_ip::<Ipv6Addr>("AAAA", name, ip)?)),
        ),
        Data::Cname(target) => (
            "CNAME",
            RData::CNAME(CNAME(parse_name("CNAME", name, target)?)),
        ),
        Data::Txt(text) => ("TXT", RData::TXT(TXT::new(vec![text.clone()]))),
        Data::Mx(preference, exchange) => (
            "MX",
            RData::MX(MX::new(*preference, parse_name("MX", name, exchange)?)),
        ),
    };
    Ok(Record::from_rdata(
        parse_name(kind, name, name)?,
        ttl,
        rdata,
    ))
}

fn soa(origin: &Name, ttl: u32) -> Record {
    let host = |label: &str| {
        Name::from_str(label)
            .and_then(|l| l.append_domain(origin))
            .unwrap_or_else(|_| origin.clone())
    };
    let soa = SOA::new(host("ns"), host("hostmaster"), 1, 3600, 600, 86400, ttl);
    Record::from_rdata(origin.clone(), ttl, RData::SOA(soa))
}

/// Binds UDP and TCP on the same port, retrying when port 0 gave a UDP
/// port whose TCP twin is taken.
async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let bind_err = |source| DnsError::Bind { addr, source };
    let mut last = None;
    for _ in 0..8 {
        let udp = UdpSocket::bind(addr).await.map_err(bind_err)?;
        let port = udp.local_addr().map_err(bind_err)?.port();
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(bind_err(e)),
        }
    }
    Err(bind_err(last.unwrap_or_else(|| {
        std::io::Error::other("no free port pair")
    })))
}

/// A started [`DnsResponder`]; it stops when dropped.
pub struct RunningDns {
    addr: SocketAddr,
    _server: Server<Catalog>,
}

impl std::fmt::Debug for RunningDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningDns")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningDns {
    /// The address answering on UDP and TCP (`127.0.0.1:PORT`).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address as `IP:PORT` text, as a scenario's `server =` takes it.
    #[must_use]
    pub fn server(&self) -> String {
        self.addr.to_string()
    }

    /// The IP of the responder.
    #[must_use]
    pub fn ip(&self) -> IpAddr {
        self.addr.ip()
    }
}
