//! A WebSocket server on loopback for `websocket` steps: `/echo` sends
//! every text message back, `/refuse` answers the upgrade with 403, and
//! `/silent` upgrades and then never sends anything.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_util::task::AbortOnDropHandle;

/// A running WebSocket server; stops when dropped.
#[derive(Debug)]
pub struct WebSocketServer {
    addr: SocketAddr,
    _accept: AbortOnDropHandle<()>,
}

impl WebSocketServer {
    /// Listens on an ephemeral loopback port.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream));
            }
        });
        Ok(Self {
            addr,
            _accept: AbortOnDropHandle::new(accept),
        })
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:PORT{path}`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }
}

async fn serve(stream: TcpStream) {
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
