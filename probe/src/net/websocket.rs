//! `websocket` steps: the upgrade and the first message, over a stream the
//! probe dialled itself, so the target guard, the deadline and the
//! `dns`/`connect`/`tls` phases are those of every other step.

use futures_util::{SinkExt, StreamExt};
use scenarios::model::TlsOptions;
use scenarios::wire::{ErrorKind, TlsInfo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use url::Url;

use super::Net;
use super::failure::{Deadline, NetFailure, chain};
use super::open::Endpoint;
use super::timings::{Clock, PhaseTimings};
use super::tls::Alpn;

/// What a `websocket` step asks for, once rendered.
#[derive(Debug, Clone, Copy)]
pub struct WebSocketCall<'a> {
    /// `ws://` or `wss://`.
    pub url: &'a Url,
    pub headers: &'a [(String, String)],
    /// A text message sent once the upgrade is done.
    pub send: Option<&'a str>,
    pub tls: &'a TlsOptions,
    pub ca_pem: Option<&'a [u8]>,
}

/// The first message received, with the phases: `ttfb` until the `101`
/// answer, `transfer` until the message.
#[derive(Debug, Clone)]
pub struct WebSocketReply {
    pub phases: PhaseTimings,
    pub message: String,
    pub tls: Option<TlsInfo>,
}

impl Net {
    /// Connects, upgrades, sends `call.send` and waits for the first data
    /// message (pings and pongs are skipped; binary messages are read as
    /// lossy UTF-8).
    ///
    /// # Errors
    /// As [`Net::tcp_check`] and [`Net::tls_check`], plus `Protocol` for a
    /// refused upgrade (naming the status) or a connection closed before a
    /// message, `Io` when the connection breaks, `Timeout` past `deadline`.
    pub async fn websocket(
        &self,
        call: WebSocketCall<'_>,
        deadline: Instant,
    ) -> Result<WebSocketReply, NetFailure> {
        let deadline = Deadline::new(deadline);
        let to = Endpoint::of_url(call.url, ["ws", "wss"], call.tls, call.ca_pem, Alpn::Http1)?;
        let opened = self.open(to, deadline).await?;
        let remote = opened.remote;
        exchange(
            opened.stream,
            call,
            deadline,
            opened.clock,
            opened.phases,
            opened.tls,
        )
        .await
        .map_err(|f| f.with_remote(remote))
    }
}

async fn exchange<S>(
    stream: S,
    call: WebSocketCall<'_>,
    deadline: Deadline,
    mut clock: Clock,
    mut phases: PhaseTimings,
    tls: Option<TlsInfo>,
) -> Result<WebSocketReply, NetFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let fail = |kind, message: String, phases: PhaseTimings| {
        NetFailure::new(kind, message)
            .with_phases(phases)
            .with_tls(tls.clone())
    };
    let request = upgrade_request(&call).map_err(|m| fail(ErrorKind::InvalidRequest, m, phases))?;
    let upgraded = deadline
        .bound(
            "for the WebSocket upgrade",
            tokio_tungstenite::client_async(request, stream),
        )
        .await;
    phases.ttfb = Some(clock.lap());
    let mut socket = match upgraded {
        Err(timeout) => return Err(timeout.with_phases(phases).with_tls(tls.clone())),
        Ok(Err(WsError::Http(response))) => {
            let status = response.status();
            let message = format!(
                "WebSocket upgrade refused: the server answered {status} instead of 101 Switching Protocols"
            );
            return Err(fail(ErrorKind::Protocol, message, phases));
        }
        Ok(Err(e)) => return Err(fail(kind_of(&e), upgrade_failed(&e), phases)),
        Ok(Ok((socket, _response))) => socket,
    };
    let received = deadline
        .bound("for the first WebSocket message", async {
            if let Some(text) = call.send {
                socket.send(Message::text(text)).await?;
            }
            first_message(&mut socket).await
        })
        .await;
    phases.transfer = Some(clock.lap());
    // The step is done either way; a polite close is not worth waiting for.
    drop(socket);
    match received {
        Err(timeout) => Err(timeout.with_phases(phases).with_tls(tls.clone())),
        Ok(Err(e)) => Err(fail(
            kind_of(&e),
            format!("WebSocket: {}", chain(&e)),
            phases,
        )),
        Ok(Ok(None)) => Err(fail(
            ErrorKind::Protocol,
            "WebSocket closed before a message was received".to_owned(),
            phases,
        )),
        Ok(Ok(Some(message))) => Ok(WebSocketReply {
            phases,
            message,
            tls,
        }),
    }
}

/// The first text or binary message; `None` when the server closes first.
async fn first_message<S>(
    socket: &mut tokio_tungstenite::WebSocketStream<S>,
) -> Result<Option<String>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(frame) = socket.next().await {
        match frame? {
            Message::Text(text) => return Ok(Some(text.as_str().to_owned())),
            Message::Binary(bytes) => {
                return Ok(Some(String::from_utf8_lossy(&bytes).into_owned()));
            }
            Message::Close(_) => return Ok(None),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
    Ok(None)
}

fn upgrade_request(
    call: &WebSocketCall<'_>,
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, String> {
    let mut request = call
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("invalid WebSocket URL {}: {e}", call.url))?;
    for (name, value) in call.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("invalid header name {name:?}: {e}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| format!("invalid value for header {name}: {e}"))?;
        request.headers_mut().append(name, value);
    }
    Ok(request)
}

fn upgrade_failed(e: &WsError) -> String {
    format!("WebSocket upgrade failed: {}", chain(e))
}

fn kind_of(e: &WsError) -> ErrorKind {
    match e {
        WsError::Io(_) | WsError::ConnectionClosed | WsError::AlreadyClosed => ErrorKind::Io,
        _ => ErrorKind::Protocol,
    }
}
