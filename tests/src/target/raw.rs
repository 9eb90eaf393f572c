//! Targets below HTTP: a listener that accepts and then stays silent, and
//! a port where nothing listens.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};

/// A TCP listener that accepts connections and never reads or writes
/// (the TLS handshake or HTTP request of a client hangs); it closes them
/// when dropped.
#[derive(Debug)]
pub struct HangingListener {
    addr: SocketAddr,
    _stop: DropGuard,
}

impl HangingListener {
    /// The bound address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Starts a [`HangingListener`] on `127.0.0.1:0`.
///
/// # Errors
/// When binding fails.
pub async fn hang_after_accept() -> std::io::Result<HangingListener> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let token = CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        held.push(stream);
                    }
                }
            }
        }
    });
    Ok(HangingListener {
        addr,
        _stop: token.drop_guard(),
    })
}

/// A loopback port with nothing listening on it, so connecting is refused.
/// (Another process could take it in between; on loopback in a test run
/// that is rare enough.)
///
/// # Errors
/// When binding a probe socket fails.
pub fn free_port_refused() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(port)
}
