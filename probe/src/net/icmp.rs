//! `icmp` steps: echo requests to one resolved, guarded address, on a
//! datagram ICMP socket (the kernel picks the identifier and hands back
//! only our replies) where `net.ipv4.ping_group_range` allows the probe's
//! group, else on a raw socket (CAP_NET_RAW), else a clear error.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use scenarios::wire::ErrorKind;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::time::Instant;

use super::Net;
use super::failure::{Deadline, NetFailure};
use super::timings::{Clock, PhaseTimings};

/// How long one echo waits for its reply before it counts as lost.
const REPLY_WAIT: Duration = Duration::from_secs(1);
/// Bytes after the ICMP header, as `ping` sends by default it is 56; a
/// few are enough to recognise the reply.
const PAYLOAD: &[u8] = b"sonde-probe-echo";

/// What the echoes found: `dns` and the echo time (`transfer`) phases.
#[derive(Debug, Clone)]
pub struct IcmpReport {
    pub phases: PhaseTimings,
    pub sent: u32,
    pub received: u32,
    /// Mean round trip of the replies; `None` when none came back.
    pub rtt: Option<Duration>,
}

impl IcmpReport {
    /// Echoes without a reply, 0 to 100.
    #[must_use]
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        f64::from(self.sent - self.received) * 100.0 / f64::from(self.sent)
    }
}

impl Net {
    /// Sends `count` echo requests to `host`, `interval` apart.
    ///
    /// # Errors
    /// `Dns`, `TargetRefused`, `IcmpUnavailable` when no ICMP socket can be
    /// opened, `Io` when sending fails, `Timeout` when `deadline` passes
    /// before every echo was answered or given up on.
    pub async fn icmp_echo(
        &self,
        host: &str,
        count: u32,
        interval: Duration,
        deadline: Instant,
    ) -> Result<IcmpReport, NetFailure> {
        let deadline = Deadline::new(deadline);
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let mut clock = Clock::start();
        let mut phases = PhaseTimings::default();
        let ips = match self.resolve_until(host, deadline).await {
            Ok((ips, dns)) => {
                if dns.is_some() {
                    phases.dns = Some(clock.lap());
                }
                ips
            }
            Err(f) => {
                phases.dns = Some(clock.lap());
                return Err(f.with_phases(phases));
            }
        };
        let allowed = self.guarded(&ips).map_err(|f| f.with_phases(phases))?;
        let Some(&ip) = allowed.first() else {
            return Err(
                NetFailure::new(ErrorKind::Dns, format!("{host} has no address"))
                    .with_phases(phases),
            );
        };
        let at = deadline.at();
        let echoed = tokio::task::spawn_blocking(move || echo(ip, count, interval, at)).await;
        phases.transfer = Some(clock.lap());
        let remote = SocketAddr::new(ip, 0);
        match echoed {
            Ok(Ok((received, rtt))) => Ok(IcmpReport {
                phases,
                sent: count,
                received,
                rtt,
            }),
            Ok(Err(f)) => Err(f.with_phases(phases).with_remote(remote)),
            Err(e) => Err(
                NetFailure::new(ErrorKind::Internal, format!("ICMP task: {e}")).with_phases(phases),
            ),
        }
    }
}

/// An open ICMP socket and whether it is raw (replies carry the IPv4
/// header and every ICMP packet of the host arrives, ours to pick out).
struct Pinger {
    socket: Socket,
    raw: bool,
    v6: bool,
    /// Ours on a raw socket; the kernel's on a datagram one.
    id: u16,
}

fn open(ip: IpAddr) -> Result<Pinger, NetFailure> {
    let (domain, protocol, v6) = match ip {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4, false),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6, true),
    };
    let id = std::process::id() as u16;
    let dgram = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(socket) => {
            return Ok(Pinger {
                socket,
                raw: false,
                v6,
                id,
            });
        }
        Err(e) => e,
    };
    match Socket::new(domain, Type::RAW, Some(protocol)) {
        Ok(socket) => Ok(Pinger {
            socket,
            raw: true,
            v6,
            id,
        }),
        Err(raw) => {
            let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
                .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|_| "unreadable".to_owned());
            Err(NetFailure::new(
                ErrorKind::IcmpUnavailable,
                format!(
                    "cannot open an ICMP socket: a datagram socket needs the probe's group \
                     in net.ipv4.ping_group_range (now `{range}`): {dgram}; a raw socket \
                     needs CAP_NET_RAW: {raw}"
                ),
            ))
        }
    }
}

/// Runs the echoes on a blocking thread: the replies received and their
/// mean round trip.
fn echo(
    ip: IpAddr,
    count: u32,
    interval: Duration,
    deadline: Instant,
) -> Result<(u32, Option<Duration>), NetFailure> {
    let pinger = open(ip)?;
    let to = SockAddr::from(SocketAddr::new(ip, 0));
    let io_failed =
        |e: io::Error| NetFailure::new(ErrorKind::Io, format!("ICMP echo to {ip}: {e}"));
    let mut received = 0u32;
    let mut total = Duration::ZERO;
    for seq in 0..count {
        let seq = seq as u16;
        let sent_at = Instant::now();
        pinger
            .socket
            .send_to(&request(pinger.v6, pinger.id, seq), &to)
            .map_err(io_failed)?;
        let give_up = (sent_at + REPLY_WAIT).min(deadline);
        if let Some(rtt) = wait_reply(&pinger, seq, give_up).map_err(io_failed)? {
            received += 1;
            total += rtt;
        }
        if Instant::now() >= deadline && u32::from(seq) + 1 < count {
            return Err(timed_out(u32::from(seq) + 1, count));
        }
        if u32::from(seq) + 1 < count {
            let next = sent_at + interval;
            if next > deadline {
                return Err(timed_out(u32::from(seq) + 1, count));
            }
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }
    Ok((received, (received > 0).then(|| total / received)))
}

fn timed_out(done: u32, count: u32) -> NetFailure {
    NetFailure::new(
        ErrorKind::Timeout,
        format!("the step's deadline passed after {done} of {count} ICMP echoes"),
    )
}

/// Reads until the reply to `seq` arrives (its round trip) or `give_up`.
fn wait_reply(pinger: &Pinger, seq: u16, give_up: Instant) -> io::Result<Option<Duration>> {
    let started = Instant::now();
    let mut buf = [0u8; 1500];
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        pinger.socket.set_read_timeout(Some(left))?;
        let n = match (&pinger.socket).read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let packet = buf.get(..n).unwrap_or_default();
        if is_reply(pinger, packet, seq) {
            return Ok(Some(started.elapsed()));
        }
    }
}

/// Whether `packet` is the echo reply to our `seq`.
fn is_reply(pinger: &Pinger, packet: &[u8], seq: u16) -> bool {
    // A raw IPv4 socket hands over the IP header too.
    let icmp = if pinger.raw && !pinger.v6 {
        let header = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
        packet.get(header..).unwrap_or_default()
    } else {
        packet
    };
    let reply_type = if pinger.v6 { 129 } else { 0 };
    let [kind, _code, _, _, id_hi, id_lo, seq_hi, seq_lo, ..] = *icmp else {
        return false;
    };
    let id_matches = !pinger.raw || u16::from_be_bytes([id_hi, id_lo]) == pinger.id;
    kind == reply_type && id_matches && u16::from_be_bytes([seq_hi, seq_lo]) == seq
}

/// An echo request: type 8 (ICMPv6: 128), code 0, checksum, id, seq,
/// payload. The kernel fills in the ICMPv6 checksum (it covers the IPv6
/// pseudo-header) and, on a datagram socket, the id.
fn request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(PAYLOAD);
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The Internet checksum (RFC 1071).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_request_verifies_to_zero() {
        let packet = request(false, 0x1234, 7);
        assert_eq!(checksum(&packet), 0);
        assert_eq!(&packet[4..8], &[0x12, 0x34, 0, 7]);
    }
}
