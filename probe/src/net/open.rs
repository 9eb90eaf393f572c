//! The dial and, for the secure scheme, the TLS handshake of the steps
//! addressed by a URL (`websocket`, `grpc`): one stream whichever the
//! scheme, with the `dns`/`connect`/`tls` phases measured so far.

use std::net::SocketAddr;

use scenarios::model::TlsOptions;
use scenarios::wire::{ErrorKind, TlsInfo};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;
use url::Url;

use super::Net;
use super::failure::{Deadline, NetFailure};
use super::timings::{Clock, PhaseTimings};
use super::tls::Alpn;

/// Plain TCP, or TLS over it.
pub(crate) type Stream = Either<TcpStream, TlsStream<TcpStream>>;

/// Where a URL-addressed step connects, and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint<'a> {
    pub host: &'a str,
    pub port: u16,
    pub secure: bool,
    pub tls: &'a TlsOptions,
    pub ca_pem: Option<&'a [u8]>,
    pub alpn: Alpn,
}

impl<'a> Endpoint<'a> {
    /// Host, port and TLS from `url`, whose scheme must be `plain` or
    /// `secure` (`ws`/`wss`, `http`/`https`).
    pub(crate) fn of_url(
        url: &'a Url,
        [plain, secure]: [&str; 2],
        tls: &'a TlsOptions,
        ca_pem: Option<&'a [u8]>,
        alpn: Alpn,
    ) -> Result<Self, NetFailure> {
        let secure = match url.scheme() {
            s if s == plain => false,
            s if s == secure => true,
            other => {
                return Err(NetFailure::new(
                    ErrorKind::InvalidRequest,
                    format!("unsupported scheme `{other}`: expected `{plain}` or `{secure}`"),
                ));
            }
        };
        let Some(host) = url.host_str() else {
            return Err(NetFailure::new(
                ErrorKind::InvalidRequest,
                format!("URL {url} has no host"),
            ));
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if secure { 443 } else { 80 });
        Ok(Self {
            host,
            port,
            secure,
            tls,
            ca_pem,
            alpn,
        })
    }
}

/// A connected stream and what was measured and seen on the way.
#[derive(Debug)]
pub(crate) struct Opened {
    pub stream: Stream,
    pub remote: SocketAddr,
    pub tls: Option<TlsInfo>,
    /// The server agreed to `h2` in the TLS handshake.
    pub h2: bool,
    /// Laps on from the end of the last phase.
    pub clock: Clock,
    pub phases: PhaseTimings,
}

impl Net {
    /// Resolves, guards and connects, then runs the TLS handshake when the
    /// endpoint is secure.
    ///
    /// # Errors
    /// As [`Net::tcp_check`], plus `Tls` when the handshake fails.
    pub(crate) async fn open(
        &self,
        to: Endpoint<'_>,
        deadline: Deadline,
    ) -> Result<Opened, NetFailure> {
        let mut clock = Clock::start();
        let mut phases = PhaseTimings::default();
        let (tcp, remote) = self
            .dial(to.host, to.port, deadline, &mut clock, &mut phases)
            .await?;
        if !to.secure {
            return Ok(Opened {
                stream: Either::Left(tcp),
                remote,
                tls: None,
                h2: false,
                clock,
                phases,
            });
        }
        let done = self
            .handshake(tcp, to.host, to.tls, to.ca_pem, to.alpn, deadline)
            .await;
        phases.tls = Some(clock.lap());
        let done = done.map_err(|f| f.with_phases(phases).with_remote(remote))?;
        Ok(Opened {
            stream: Either::Right(done.stream),
            remote,
            tls: Some(done.info),
            h2: done.h2,
            clock,
            phases,
        })
    }
}
