//! A WebSocket server on loopback for `websocket` steps: `/echo` sends
//! every text message back, `/refuse` answers the upgrade with 403, and
//! `/silent` upgrades and then never sends anything. Over plain TCP
//! (`ws://`) or TLS with a test-CA leaf (`wss://`).

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_util::task::AbortOnDropHandle;

use crate::certs::{TlsKind, test_ca};

/// A running WebSocket server; stops when dropped.
#[derive(Debug)]
pub struct WebSocketServer {
    addr: SocketAddr,
    secure: bool,
    _accept: AbortOnDropHandle<()>,
}

impl WebSocketServer {
    /// Listens on an ephemeral loopback port.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        Self::listen(None).await
    }

    /// Listens for `wss://`, presenting a valid leaf of the test CA.
    ///
    /// # Errors
    /// When the leaf cannot be issued or the port cannot be bound.
    pub async fn start_tls() -> anyhow::Result<Self> {
        let config = test_ca().leaf(TlsKind::Valid)?.server_config()?;
        Ok(Self::listen(Some(TlsAcceptor::from(Arc::clone(&config)))).await?)
    }

    async fn listen(tls: Option<TlsAcceptor>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let secure = tls.is_some();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve(stream).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream).await;
                            }
                        }
                    }
                });
            }
        });
        Ok(Self {
            addr,
            secure,
            _accept: AbortOnDropHandle::new(accept),
        })
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:PORT{path}`, or `wss://` when started with TLS.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}{path}", self.addr)
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: S) {
    let mut path = String::new();
    #[expect(
        clippy::result_large_err,
        reason = "the refusal is tungstenite's callback type"
    )]
    let route = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        path = request.uri().path().to_owned();
        if path == "/refuse" {
            let mut refusal = ErrorResponse::new(Some("no upgrade here".to_owned()));
            *refusal.status_mut() = StatusCode::FORBIDDEN;
            return Err(refusal);
        }
        Ok(response)
    };
    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, route).await else {
        return;
    };
    if path == "/silent" {
        // Keeps the connection open without a word until the client leaves.
        while let Some(Ok(_)) = socket.next().await {}
        return;
    }
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message
            && socket.send(Message::Text(text)).await.is_err()
        {
            return;
        }
    }
}
