//! The network layer: DNS, TCP, TLS and HTTP at the connection level, each
//! phase timed on its own and bounded by the step's deadline, with the
//! target guard on every address connected to.
//!
//! One [`Net`] per probe process holds what is worth sharing (one hickory
//! resolver without a cache, TLS configs per trust and ALPN); each run
//! takes a [`Session`] whose connections are its own.
//!
//! - `timings`: [`PhaseTimings`] and the gap-free clock.
//! - `failure`: [`NetFailure`] and deadlines.
//! - `guard`: [`TargetGuard`].
//! - `resolve`, `connect`: names to addresses to TCP (`tcp` steps).
//! - `dns_query`: `dns` steps ([`DnsAnswer`]).
//! - `tls`, `verifier`: handshakes that report the certificate even when
//!   it fails verification (`tls` steps).
//! - `http`, `session`, `body`: HTTP/1.1 and HTTP/2 over hyper's
//!   connection API, kept per origin within a run; capped, decoded bodies.
//! - `open`: the dial and TLS of the steps addressed by a URL.
//! - `websocket`: `websocket` steps over that path.
//! - `grpc`: `grpc` steps (the gRPC health-checking protocol) over it.
//! - `icmp`: `icmp` steps (echo requests on datagram or raw sockets).
//! - `warm_up`: a process's one-time costs, paid before any step is timed.

// `NetFailure` carries the phases and the certificate seen (about 200
// bytes): it is the step's result, made at most once per step, so its size
// costs nothing worth boxing away the plain field access.
#![allow(clippy::result_large_err)]

mod body;
mod connect;
mod dns_query;
mod failure;
mod grpc;
mod guard;
mod http;
mod icmp;
mod open;
mod resolve;
mod session;
mod timings;
mod tls;
mod verifier;
mod warm_up;
mod websocket;

use std::fmt;
use std::net::SocketAddr;

use hickory_resolver::TokioResolver;

pub use dns_query::DnsAnswer;
pub use failure::{NetFailure, ResponseHead};
pub use grpc::{GrpcCall, GrpcReply};
pub use guard::TargetGuard;
pub use http::{HttpCall, HttpResponse};
pub use icmp::IcmpReport;
pub use session::Session;
pub use timings::PhaseTimings;
pub use websocket::{WebSocketCall, WebSocketReply};

/// How the probe reaches targets.
#[derive(Debug, Clone, Default)]
pub struct NetConfig {
    /// DNS server for host names and for `dns` steps that name none;
    /// `None`: the system's (`/etc/resolv.conf`).
    pub resolver: Option<SocketAddr>,
    pub guard: TargetGuard,
    /// PEM files of the probe's `--ca-file`, trusted besides the webpki roots.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// Sent on requests that set no `User-Agent`, e.g. `sonde-probe/0.1.0`.
    pub user_agent: String,
}

/// Why the network layer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The system resolver configuration could not be read.
    #[error("reading the system DNS configuration: {0}")]
    SystemResolver(#[source] hickory_resolver::net::NetError),
    /// hickory refused the resolver configuration.
    #[error("building the DNS resolver: {0}")]
    Resolver(#[source] hickory_resolver::net::NetError),
    /// A `--ca-file` holds no usable certificate.
    #[error("CA file #{} (--ca-file): {why}", index + 1)]
    ExtraRoots { index: usize, why: String },
}

/// The probe's network layer; share it with `Arc` across runs.
pub struct Net {
    resolver: TokioResolver,
    /// Where `dns` steps without `server` send their query.
    dns_servers: Vec<SocketAddr>,
    guard: TargetGuard,
    user_agent: String,
    tls: tls::TlsConfigs,
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Net")
            .field("dns_servers", &self.dns_servers)
            .field("guard", &self.guard)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl Net {
    /// Builds the resolver and the TLS roots once for the process.
    ///
    /// # Errors
    /// When the system resolver configuration cannot be read (and no
    /// `resolver` is given) or an extra root does not parse.
    pub fn new(config: NetConfig) -> Result<Self, NetError> {
        let (resolver, dns_servers) = resolve::build_resolver(config.resolver)?;
        Ok(Self {
            resolver,
            dns_servers,
            guard: config.guard,
            user_agent: config.user_agent,
            tls: tls::TlsConfigs::new(&config.extra_roots_pem)?,
        })
    }
}
