//! A run's HTTP session: fresh connections, kept per origin and reused by
//! the run's later requests, closed when the session is dropped.

use std::fmt;
use std::sync::Arc;

use scenarios::model::HttpVersion;
use tokio::time::Instant;

use super::Net;
use super::body::{Encoding, read_body};
use super::failure::{Deadline, NetFailure, ResponseHead};
use super::http::{
    Conn, HttpCall, HttpResponse, Origin, build_request, exchange_error, header_list, start,
    version_name,
};
use super::timings::{Clock, PhaseTimings};
use super::tls::Alpn;

/// One run's connections. Not shared between runs: each run measures its
/// own DNS, connect and TLS.
pub struct Session {
    net: Arc<Net>,
    kept: Vec<(Origin, Conn)>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origins: Vec<_> = self
            .kept
            .iter()
            .map(|(o, c)| (&o.host, o.port, c.remote))
            .collect();
        f.debug_struct("Session")
            .field("kept", &origins)
            .finish_non_exhaustive()
    }
}

impl Net {
    /// A session for one run.
    #[must_use]
    pub fn session(self: &Arc<Self>) -> Session {
        Session {
            net: self.clone(),
            kept: Vec::new(),
        }
    }
}

impl Session {
    /// Sends `call` and reads the whole response, every phase bounded by
    /// `deadline`. A connection kept from an earlier request to the same
    /// origin (and TLS settings) is reused when ready; then `dns`,
    /// `connect` and `tls` are `None`.
    ///
    /// # Errors
    /// `InvalidRequest`, `Dns`, `TargetRefused`, `Connect`, `Tls`,
    /// `Timeout` (the message names the phase), `Protocol`, `Io`,
    /// `BodyTooLarge`; the failure carries the phases measured so far.
    pub async fn send(
        &mut self,
        call: HttpCall,
        deadline: Instant,
    ) -> Result<HttpResponse, NetFailure> {
        let deadline = Deadline::new(deadline);
        let mut clock = Clock::start();
        let mut phases = PhaseTimings::default();
        let origin = Origin::of(&call)?;
        // Refuse a malformed request before any connection is opened; the
        // HTTP/1.1 form built for that is the one sent on an HTTP/1.1
        // connection's first try.
        let mut h1_request = Some(build_request(&call, false, &self.net.user_agent)?);
        let (mut conn, mut reused) = match self.take_ready(&origin, deadline).await {
            Some(conn) => (conn, true),
            None => (
                self.open(&origin, deadline, &mut clock, &mut phases)
                    .await?,
                false,
            ),
        };
        let response = loop {
            let h2 = conn.sender.is_h2();
            let request = match h1_request.take() {
                Some(request) if !h2 => request,
                _ => build_request(&call, h2, &self.net.user_agent)?,
            };
            let sent = deadline
                .bound("waiting for response headers", conn.sender.send(request))
                .await;
            match sent {
                Ok(Err(e)) if reused && stale(&e, call.method) => {
                    // The kept connection was closed by the server while idle:
                    // the time lost here counts in the new connection's phases.
                    reused = false;
                    conn = self
                        .open(&origin, deadline, &mut clock, &mut phases)
                        .await?;
                }
                Ok(Err(e)) => {
                    phases.ttfb = Some(clock.lap());
                    return Err(exchange_error(&e)
                        .with_phases(phases)
                        .with_tls(conn.tls.clone())
                        .with_remote(conn.remote));
                }
                Err(timeout) => {
                    phases.ttfb = Some(clock.lap());
                    return Err(timeout
                        .with_phases(phases)
                        .with_tls(conn.tls.clone())
                        .with_remote(conn.remote));
                }
                Ok(Ok(response)) => break response,
            }
        };
        phases.ttfb = Some(clock.lap());
        let (parts, body) = response.into_parts();
        let encoding = Encoding::of(&call.headers, &parts.headers);
        let read = read_body(body, encoding, call.max_body_bytes, deadline).await;
        phases.transfer = Some(clock.lap());
        let status = parts.status.as_u16();
        let version = version_name(parts.version);
        let headers = header_list(&parts.headers);
        // A body cut short leaves the connection unusable: it is dropped.
        // What the server had said is kept for the evidence.
        let body = match read {
            Ok(body) => body,
            Err(f) => {
                return Err(f
                    .with_phases(phases)
                    .with_tls(conn.tls.clone())
                    .with_remote(conn.remote)
                    .with_head(ResponseHead {
                        status,
                        version,
                        headers,
                    }));
            }
        };
        let answer = HttpResponse {
            status,
            version,
            headers,
            body,
            phases,
            tls: conn.tls.clone(),
            remote: conn.remote,
        };
        if !conn.sender.is_closed() {
            self.kept.push((origin, conn));
        }
        Ok(answer)
    }

    /// The kept connection for `origin`, once it is ready for a request.
    async fn take_ready(&mut self, origin: &Origin, deadline: Deadline) -> Option<Conn> {
        let index = self.kept.iter().position(|(o, _)| o == origin)?;
        let (_, mut conn) = self.kept.swap_remove(index);
        if conn.sender.is_closed() {
            return None;
        }
        match deadline
            .bound("waiting for a kept connection", conn.sender.ready())
            .await
        {
            Ok(Ok(())) => Some(conn),
            _ => None,
        }
    }

    /// A new connection: dns, connect, TLS (ALPN as the step asks), then
    /// HTTP/1.1 or HTTP/2. The HTTP handshake counts in `ttfb`.
    async fn open(
        &self,
        origin: &Origin,
        deadline: Deadline,
        clock: &mut Clock,
        phases: &mut PhaseTimings,
    ) -> Result<Conn, NetFailure> {
        let net = &self.net;
        let (tcp, remote) = net
            .dial(&origin.host, origin.port, deadline, clock, phases)
            .await?;
        let forced_h2 = origin.version == Some(HttpVersion::Http2);
        let waiting = "waiting for response headers";
        if !origin.https {
            let started = deadline
                .bound(waiting, start(tcp, forced_h2, remote, None))
                .await;
            return started.and_then(|s| s).map_err(|f| {
                phases.ttfb = Some(clock.lap());
                f.with_phases(*phases).with_remote(remote)
            });
        }
        let alpn = Alpn::for_version(origin.version);
        let ca_pem = origin.ca_pem.as_deref();
        let handshaken = net
            .handshake(tcp, &origin.host, &origin.tls, ca_pem, alpn, deadline)
            .await;
        phases.tls = Some(clock.lap());
        let done = handshaken.map_err(|f| f.with_phases(*phases).with_remote(remote))?;
        let h2 = match origin.version {
            Some(HttpVersion::Http1) => false,
            Some(HttpVersion::Http2) => true,
            None => done.h2,
        };
        let info = Some(done.info);
        let started = deadline
            .bound(waiting, start(done.stream, h2, remote, info.clone()))
            .await;
        started.and_then(|s| s).map_err(|f| {
            phases.ttfb = Some(clock.lap());
            f.with_phases(*phases).with_tls(info).with_remote(remote)
        })
    }
}

/// A request on a kept connection that the server had already closed: it
/// was not sent (`canceled`), or is safe to send again (idempotent method).
fn stale(e: &hyper::Error, method: &str) -> bool {
    let idempotent = matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" | "TRACE"
    );
    e.is_canceled() || (idempotent && e.is_incomplete_message())
}
