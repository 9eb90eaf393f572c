//! The `dns` step: one query to one server, answered with an rcode (data,
//! even NXDOMAIN) and the records' text. Messages are built and read with
//! hickory-proto and carried over UDP (TCP when the answer is truncated), so
//! nothing retries or caches behind the step's back.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType as WireType};
use scenarios::model::RecordType;
use scenarios::wire::ErrorKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

use super::Net;
use super::failure::{Deadline, NetFailure};
use super::timings::PhaseTimings;

/// A UDP query unanswered this long is sent again.
const RETRANSMIT: Duration = Duration::from_secs(1);
/// EDNS payload size that avoids IP fragmentation (DNS flag day 2020).
const EDNS_PAYLOAD: u16 = 1232;

/// The answer to a `dns` step.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsAnswer {
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`, …
    pub rcode: String,
    /// The answer section's records of the asked type, as zone-file RDATA
    /// text (`127.0.0.1`, `10 mail.example.com.`, TXT text), in order.
    pub answers: Vec<String>,
    /// From sending the query to reading the answer.
    pub duration: Duration,
}

/// Why one server gave no usable answer.
enum Unanswered {
    /// Nothing came back in this server's share of the time.
    Silent,
    /// The server could not be reached (ICMP port unreachable, …).
    Io(String),
    /// Something came back that is not a DNS answer to our query.
    Malformed(String),
}

impl Net {
    /// Sends one `rtype` query for `name` to `server` (default: the probe's
    /// resolver) and returns its rcode and answers. NXDOMAIN, SERVFAIL and
    /// REFUSED are answers, not errors. A `server` the step names is a
    /// target like any other and passes the target guard first (else any
    /// address could be reached on port 53); the probe's own resolver is
    /// the operator's choice and is not checked.
    ///
    /// # Errors
    /// `Timeout` when no answer came by `deadline`, `Dns` when no server
    /// could be reached, `Protocol` for a malformed answer, `InvalidRequest`
    /// for a name that is not a domain name.
    pub async fn dns_query(
        &self,
        name: &str,
        rtype: RecordType,
        server: Option<SocketAddr>,
        deadline: Instant,
    ) -> Result<DnsAnswer, NetFailure> {
        if let Some(server) = server {
            self.guard.check(server.ip())?;
        }
        let deadline = Deadline::new(deadline);
        let started = Instant::now();
        let servers = server.map_or_else(|| self.dns_servers.clone(), |s| vec![s]);
        let (id, query) = encode_query(name, rtype)?;
        let timed = |f: NetFailure| {
            f.with_phases(PhaseTimings {
                dns: Some(started.elapsed()),
                ..PhaseTimings::default()
            })
        };
        let mut problems = Vec::new();
        for (i, server) in servers.iter().enumerate() {
            let left = u32::try_from(servers.len() - i).unwrap_or(u32::MAX);
            let share = deadline.at().saturating_duration_since(Instant::now()) / left;
            match ask(*server, &query, id, Instant::now() + share, deadline).await {
                Ok(response) => {
                    return Ok(DnsAnswer {
                        rcode: rcode_name(response.metadata.response_code),
                        answers: answers(&response, rtype),
                        duration: started.elapsed(),
                    });
                }
                Err(Unanswered::Malformed(why)) => {
                    return Err(timed(NetFailure::new(
                        ErrorKind::Protocol,
                        format!("{server}: {why}"),
                    )));
                }
                Err(Unanswered::Silent) if Instant::now() >= deadline.at() => {
                    return Err(timed(
                        deadline.expired(&format!("waiting for a DNS answer from {server}")),
                    ));
                }
                Err(Unanswered::Silent) => problems.push(format!("no answer from {server}")),
                Err(Unanswered::Io(why)) => problems.push(format!("asking {server}: {why}")),
            }
        }
        if problems.is_empty() {
            problems.push("no DNS server configured".to_owned());
        }
        Err(timed(NetFailure::new(ErrorKind::Dns, problems.join("; "))))
    }
}

fn encode_query(name: &str, rtype: RecordType) -> Result<(u16, Vec<u8>), NetFailure> {
    let invalid = |why: String| NetFailure::new(ErrorKind::InvalidRequest, why);
    let mut qname =
        Name::from_str(name).map_err(|e| invalid(format!("invalid DNS name {name:?}: {e}")))?;
    // A `dns` step asks for exactly the name written: no search domains.
    qname.set_fqdn(true);
    let mut message = Message::query();
    message.add_query(Query::query(qname, wire_type(rtype)));
    message.metadata.recursion_desired = true;
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    message.set_edns(edns);
    let bytes = message.to_vec().map_err(|e| {
        NetFailure::new(ErrorKind::Internal, format!("encoding the DNS query: {e}"))
    })?;
    Ok((message.metadata.id, bytes))
}

/// Asks one server over UDP until `until`, and again over TCP when the
/// answer is truncated (bounded by the step's deadline).
async fn ask(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    until: Instant,
    deadline: Deadline,
) -> Result<Message, Unanswered> {
    let response = ask_udp(server, query, id, until.min(deadline.at())).await?;
    if !response.metadata.truncation {
        return Ok(response);
    }
    match tokio::time::timeout_at(deadline.at(), ask_tcp(server, query, id)).await {
        Ok(answer) => answer,
        Err(_) => Err(Unanswered::Silent),
    }
}

async fn ask_udp(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    until: Instant,
) -> Result<Message, Unanswered> {
    let io = |e: std::io::Error| Unanswered::Io(e.to_string());
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    // Connected, so ICMP "port unreachable" ends the wait at once.
    socket.connect(server).await.map_err(io)?;
    let mut buf = vec![0u8; 65_535];
    loop {
        socket.send(query).await.map_err(io)?;
        let resend_at = (Instant::now() + RETRANSMIT).min(until);
        loop {
            let received = tokio::time::timeout_at(resend_at, socket.recv(&mut buf)).await;
            let len = match received {
                Err(_) if resend_at >= until => return Err(Unanswered::Silent),
                Err(_) => break,
                Ok(received) => received.map_err(io)?,
            };
            if let Some(answer) = decode(&buf[..len], id)? {
                return Ok(answer);
            }
        }
    }
}

async fn ask_tcp(server: SocketAddr, query: &[u8], id: u16) -> Result<Message, Unanswered> {
    let io = |e: std::io::Error| Unanswered::Io(format!("over TCP: {e}"));
    let mut stream = TcpStream::connect(server).await.map_err(io)?;
    let len = u16::try_from(query.len()).map_err(|_| Unanswered::Io("query too long".into()))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(io)?;
    loop {
        let len = stream.read_u16().await.map_err(io)?;
        let mut buf = vec![0u8; usize::from(len)];
        stream.read_exact(&mut buf).await.map_err(io)?;
        if let Some(answer) = decode(&buf, id)? {
            return Ok(answer);
        }
    }
}

/// The answer to query `id`, `None` for a stray datagram (another id).
fn decode(bytes: &[u8], id: u16) -> Result<Option<Message>, Unanswered> {
    match bytes {
        [hi, lo, ..] if u16::from_be_bytes([*hi, *lo]) == id => {}
        _ => return Ok(None),
    }
    let message = Message::from_vec(bytes)
        .map_err(|e| Unanswered::Malformed(format!("malformed DNS answer: {e}")))?;
    if message.metadata.message_type != MessageType::Response {
        return Err(Unanswered::Malformed(
            "the server sent a query, not an answer".into(),
        ));
    }
    Ok(Some(message))
}

fn answers(response: &Message, rtype: RecordType) -> Vec<String> {
    let wanted = wire_type(rtype);
    response
        .answers
        .iter()
        .filter(|r| r.record_type() == wanted)
        .map(|r| r.data.to_string())
        .collect()
}

fn wire_type(rtype: RecordType) -> WireType {
    match rtype {
        RecordType::A => WireType::A,
        RecordType::Aaaa => WireType::AAAA,
        RecordType::Cname => WireType::CNAME,
        RecordType::Mx => WireType::MX,
        RecordType::Ns => WireType::NS,
        RecordType::Txt => WireType::TXT,
        RecordType::Srv => WireType::SRV,
        RecordType::Caa => WireType::CAA,
    }
}

/// The rcode's mnemonic as dig prints it (`NXDOMAIN`, `SERVFAIL`).
pub(crate) fn rcode_name(code: ResponseCode) -> String {
    let name = match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        ResponseCode::BADVERS => "BADVERS",
        ResponseCode::BADSIG => "BADSIG",
        ResponseCode::BADKEY => "BADKEY",
        ResponseCode::BADTIME => "BADTIME",
        ResponseCode::BADMODE => "BADMODE",
        ResponseCode::BADNAME => "BADNAME",
        ResponseCode::BADALG => "BADALG",
        ResponseCode::BADTRUNC => "BADTRUNC",
        ResponseCode::BADCOOKIE => "BADCOOKIE",
        other => return format!("RCODE{}", u16::from(other)),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rcodes_read_like_dig() {
        assert_eq!(rcode_name(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(rcode_name(ResponseCode::NoError), "NOERROR");
        assert_eq!(rcode_name(ResponseCode::Unknown(3841)), "RCODE3841");
    }

    #[test]
    fn query_round_trips_and_strays_are_ignored() {
        let (id, bytes) = encode_query("shop.sonde.test", RecordType::Mx).expect("encodes");
        let parsed = Message::from_vec(&bytes).expect("parses");
        assert_eq!(parsed.queries[0].query_type(), WireType::MX);
        assert!(parsed.queries[0].name().is_fqdn());
        assert!(matches!(decode(&bytes, id.wrapping_add(1)), Ok(None)));
        assert!(matches!(decode(&bytes, id), Err(Unanswered::Malformed(_))));
        assert!(encode_query("bad..name", RecordType::A).is_err());
    }
}
