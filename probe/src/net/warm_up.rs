//! Work a process does once, done before the first timed step.
//!
//! A fresh process pays on its first request for things that are not the
//! network: code paged in on first use, the runtime's first socket
//! registration and task spawn, hyper's first handshake, the allocator
//! growing, a TLS client config with its root store. A step's phases
//! would count all of it (about 0.8 ms on loopback, four times curl's
//! whole request), so `probe run`, `probe bench` and the agent do it here,
//! before any clock starts: TLS configs for every trust and ALPN the
//! scenarios use are built, and one HTTP/1.1 exchange runs through the same
//! connect, handshake, request and body code against a listener of this
//! process on loopback. Nothing leaves the process; a failure here only
//! means the first step pays as before.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bytes::Bytes;
use scenarios::model::{Action, Scenario};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::Net;
use super::body::{Encoding, read_body};
use super::connect::connect_any;
use super::failure::Deadline;
use super::http::{HttpCall, build_request, start};
use super::tls::Alpn;

/// Longest the warm-up may take before it is given up.
const BOUND: Duration = Duration::from_secs(1);

/// What the in-process listener answers.
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok";

impl Net {
    /// Readies the process for `scenarios` (see the module comment).
    pub async fn warm_up<'a>(&self, scenarios: impl IntoIterator<Item = &'a Scenario>) {
        for scenario in scenarios {
            for step in &scenario.steps {
                let (tls, alpn) = match &step.action {
                    Action::Http(req) => (&req.tls, Alpn::for_version(req.version)),
                    Action::Tls(t) => (&t.tls, Alpn::Both),
                    Action::Websocket(w) => (&w.tls, Alpn::Http1),
                    Action::Grpc(g) => (&g.tls, Alpn::Http2),
                    _ => continue,
                };
                let ca_pem = tls.ca_file.as_ref().and_then(|n| scenario.files.get(n));
                self.tls.prepare(ca_pem.map(Vec::as_slice), alpn);
            }
        }
        let _ = tokio::time::timeout(BOUND, exchange(self)).await;
    }
}

/// One GET through the step code path to a listener of this process.
async fn exchange(net: &Net) -> Option<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.ok()?;
    let port = listener.local_addr().ok()?.port();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.ok()?;
        let mut request = Vec::with_capacity(512);
        let mut buf = [0u8; 512];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            request.extend_from_slice(&buf[..n]);
        }
        stream.write_all(ANSWER).await.ok()?;
        // Hold the connection until the client is done with it.
        let _ = stream.read(&mut buf).await;
        Some(())
    });
    let deadline = Deadline::new(Instant::now() + BOUND);
    let call = HttpCall {
        method: "GET",
        url: format!("http://127.0.0.1:{port}/").parse().ok()?,
        headers: Vec::new(),
        body: Bytes::new(),
        version: None,
        tls: scenarios::model::TlsOptions::default(),
        ca_pem: None,
        max_body_bytes: 1024,
    };
    // The same steps as a session's first request, without the guard:
    // the address is this process's own listener.
    let _ = net.resolve_until("127.0.0.1", deadline).await;
    let (tcp, remote) = connect_any(&[IpAddr::V4(Ipv4Addr::LOCALHOST)], port, deadline)
        .await
        .ok()?;
    let _ = tcp.set_nodelay(true);
    let mut conn = start(tcp, false, remote, None).await.ok()?;
    let request = build_request(&call, false, &net.user_agent).ok()?;
    let response = conn.sender.send(request).await.ok()?;
    let (parts, body) = response.into_parts();
    let encoding = Encoding::of(&call.headers, &parts.headers);
    let _ = read_body(body, encoding, call.max_body_bytes, deadline).await;
    drop(conn);
    server.await.ok().flatten()
}
