//! The HTTP server loop shared by the test target and the demo shop:
//! accept, optionally terminate TLS (or sniff for it), and serve HTTP/1.1
//! and HTTP/2 with hyper-util's auto builder until cancelled.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Response body of every test server.
pub type RespBody = UnsyncBoxBody<Bytes, Infallible>;

/// A boxed future answering one request.
pub(crate) type RespFuture = Pin<Box<dyn Future<Output = Response<RespBody>> + Send>>;

/// Answers one request.
pub(crate) type Handler = Arc<dyn Fn(Request<Incoming>) -> RespFuture + Send + Sync>;

/// A TLS handshake that does not finish in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a listener's connections are carried.
#[derive(Clone)]
pub(crate) enum Transport {
    Plain,
    Tls(TlsAcceptor),
    /// TLS when the first byte is a TLS handshake record, plain otherwise,
    /// so one port answers both `http://` and `https://`.
    Sniff(TlsAcceptor),
}

/// Everything a server loop needs besides its listener.
#[derive(Clone)]
pub(crate) struct ServeOptions {
    pub transport: Transport,
    pub handler: Handler,
    pub token: CancellationToken,
    /// Time in-flight requests get after cancellation.
    pub grace: Duration,
}

/// A fixed body.
pub(crate) fn full(body: impl Into<Bytes>) -> RespBody {
    http_body_util::Full::new(body.into()).boxed_unsync()
}

/// Spawns the accept loop on `tracker`; it stops when the token is cancelled.
pub(crate) fn spawn(listener: TcpListener, options: ServeOptions, tracker: &TaskTracker) {
    let conns = tracker.clone();
    tracker.spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = options.token.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _peer)) => {
                    conns.spawn(connection(stream, options.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "Accept failed.");
                    // EMFILE and friends: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
}

async fn connection(stream: TcpStream, options: ServeOptions) {
    let _ = stream.set_nodelay(true);
    let acceptor = match &options.transport {
        Transport::Plain => None,
        Transport::Tls(acceptor) => Some(acceptor.clone()),
        Transport::Sniff(acceptor) => {
            let mut first = [0u8; 1];
            let peeked = tokio::select! {
                () = options.token.cancelled() => return,
                peeked = stream.peek(&mut first) => peeked,
            };
            match peeked {
                Ok(1) if first[0] == 0x16 => Some(acceptor.clone()),
                Ok(1) => None,
                _ => return,
            }
        }
    };
    match acceptor {
        None => serve(TokioIo::new(stream), options).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
            let tls = tokio::select! {
                () = options.token.cancelled() => return,
                tls = handshake => tls,
            };
            match tls {
                Ok(Ok(tls)) => serve(TokioIo::new(tls), options).await,
                Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed."),
                Err(_) => tracing::debug!("TLS handshake timed out."),
            }
        }
    }
}

async fn serve<I>(io: TokioIo<I>, options: ServeOptions)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let handler = options.handler.clone();
    let service = hyper::service::service_fn(move |req| {
        let answer = handler(req);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "Connection ended with an error.");
            }
        }
        () = options.token.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(options.grace, conn).await;
        }
    }
}
