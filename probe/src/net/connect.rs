//! Resolve, guard and connect: the `dns` and `connect` phases, and the
//! `tcp` step built on them.

use std::net::{IpAddr, SocketAddr};

use scenarios::wire::ErrorKind;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Net;
use super::failure::{Deadline, NetFailure};
use super::resolve::split_host_port;
use super::timings::{Clock, PhaseTimings};

impl Net {
    /// Opens a TCP connection to `address` (`host:port`) and closes it: the
    /// `tcp` step.
    ///
    /// # Errors
    /// `InvalidRequest` for a malformed address, `Dns`, `TargetRefused`,
    /// `Connect`, or `Timeout` when `deadline` passes.
    pub async fn tcp_check(
        &self,
        address: &str,
        deadline: Instant,
    ) -> Result<PhaseTimings, NetFailure> {
        let deadline = Deadline::new(deadline);
        let (host, port) = split_host_port(address)?;
        let mut clock = Clock::start();
        let mut phases = PhaseTimings::default();
        let (_stream, _remote) = self
            .dial(&host, port, deadline, &mut clock, &mut phases)
            .await?;
        Ok(phases)
    }

    /// Resolves `host` (filling `phases.dns` unless it is an IP literal),
    /// checks every address with the target guard and connects to the first
    /// allowed one that answers (filling `phases.connect`).
    pub(crate) async fn dial(
        &self,
        host: &str,
        port: u16,
        deadline: Deadline,
        clock: &mut Clock,
        phases: &mut PhaseTimings,
    ) -> Result<(TcpStream, SocketAddr), NetFailure> {
        let resolved = self.resolve_until(host, deadline).await;
        let ips = match resolved {
            Ok((ips, dns)) => {
                if dns.is_some() {
                    phases.dns = Some(clock.lap());
                }
                ips
            }
            Err(failure) => {
                phases.dns = Some(clock.lap());
                return Err(failure.with_phases(*phases));
            }
        };
        let allowed = self.guarded(&ips).map_err(|f| f.with_phases(*phases))?;
        let connected = connect_any(&allowed, port, deadline).await;
        phases.connect = Some(clock.lap());
        let (stream, remote) = connected.map_err(|f| f.with_phases(*phases))?;
        // Requests are small and latency is what we measure.
        let _ = stream.set_nodelay(true);
        Ok((stream, remote))
    }

    /// The addresses the guard lets through, or the first refusal.
    pub(super) fn guarded(&self, ips: &[IpAddr]) -> Result<Vec<IpAddr>, NetFailure> {
        let mut refusal = None;
        let mut allowed = Vec::with_capacity(ips.len());
        for &ip in ips {
            match self.guard.check(ip) {
                Ok(()) => allowed.push(ip),
                Err(refused) => {
                    refusal.get_or_insert(refused);
                }
            }
        }
        match refusal {
            Some(refused) if allowed.is_empty() => Err(refused),
            _ => Ok(allowed),
        }
    }
}

/// Tries each address in order. While others remain, one gets a fair share
/// of the time left, so a black-holed first address does not eat the
/// whole budget.
pub(super) async fn connect_any(
    ips: &[IpAddr],
    port: u16,
    deadline: Deadline,
) -> Result<(TcpStream, SocketAddr), NetFailure> {
    let mut errors = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        let addr = SocketAddr::new(*ip, port);
        let left = u32::try_from(ips.len() - i).unwrap_or(u32::MAX);
        let share = deadline.at().saturating_duration_since(Instant::now()) / left;
        let attempt = tokio::time::timeout(share, TcpStream::connect(addr)).await;
        match attempt {
            Ok(Ok(stream)) => return Ok((stream, addr)),
            Ok(Err(e)) => errors.push(format!("connecting to {addr}: {e}")),
            Err(_) if Instant::now() >= deadline.at() => {
                return Err(deadline.expired(&format!("connecting to {addr}")));
            }
            Err(_) => errors.push(format!(
                "connecting to {addr}: no answer in {}ms",
                share.as_millis()
            )),
        }
    }
    if errors.is_empty() {
        errors.push("no address to connect to".to_owned());
    }
    Err(NetFailure::new(ErrorKind::Connect, errors.join("; ")))
}
