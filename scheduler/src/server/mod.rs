//! Serving the router on a TCP listener, plain or TLS (rustls with the
//! ring provider), HTTP/1.1 and HTTP/2, with a graceful drain: at shutdown
//! no new connection is accepted and in-flight requests get the grace
//! period to finish. The `[server]` limits hold: a connection cap below
//! the open-file limit, a deadline for each request head and body, and
//! idle connections closed (`connections`).

mod connections;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::RequestBodyTimeoutLayer;

use self::connections::{Admission, Connection, Connections};
use crate::app::StartError;
use crate::config::{ServerLimits, TlsFiles};

/// File descriptors kept free below the open-file limit for the store,
/// the scenario directory watch and outgoing notifications.
const SPARE_FILES: u64 = 64;

/// A client has this long to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS acceptor for the listener's certificate and key.
///
/// # Errors
/// When the PEM files cannot be read or do not form a usable identity.
pub fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, StartError> {
    let tls_err = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        StartError::Tls(format!("{what} `{}`: {e}", path.display()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| tls_err("cannot read certificates from", &files.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls_err("bad certificate in", &files.cert, &e))?;
    if certs.is_empty() {
        return Err(tls_err("no certificate in", &files.cert, &"empty"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| tls_err("cannot read the private key from", &files.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The connection cap: `max_connections`, but never more than the
/// process's open-file limit minus [`SPARE_FILES`].
pub fn connection_cap(limits: &ServerLimits) -> usize {
    let files = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    let by_files = usize::try_from(files.saturating_sub(SPARE_FILES).max(1)).unwrap_or(usize::MAX);
    limits.max_connections.min(by_files)
}

/// Serves `router` until `stop`, then drains for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
    grace: Duration,
    limits: ServerLimits,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.request_timeout));
    let cap = connection_cap(&limits);
    let connections = Connections::new(cap);
    tracing::info!(max_connections = cap, "Connection limits set.");
    tokio::spawn(sweep(Arc::clone(&connections), limits, stop.clone()));
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment.
                    tracing::warn!(error = %e, "Accepting a connection failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let conn = match connections.admit(Instant::now()) {
            (Admission::Refused, _) | (_, None) => {
                tracing::warn!(
                    max_connections = cap,
                    "Every connection is busy; a new one was refused."
                );
                continue;
            }
            (Admission::Evicted, Some(conn)) => {
                tracing::debug!(
                    "At the connection cap: the longest-waiting connection was closed."
                );
                conn
            }
            (Admission::Admitted, Some(conn)) => conn,
        };
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let (builder, router, tls) = (builder.clone(), router.clone(), tls.clone());
        tokio::spawn(async move {
            let conn = Arc::new(conn);
            let close = conn.close.clone();
            let service = Tracked {
                inner: TowerToHyperService::new(router),
                conn: Arc::clone(&conn),
            };
            let served = async {
                match tls {
                    None => {
                        let c =
                            builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        watcher.watch(c.into_owned()).await
                    }
                    Some(acceptor) => match handshake(&acceptor, stream).await {
                        Some(tls_stream) => {
                            let c = builder
                                .serve_connection_with_upgrades(TokioIo::new(tls_stream), service);
                            watcher.watch(c.into_owned()).await
                        }
                        None => Ok(()),
                    },
                }
            };
            // Closing drops the connection, and with it the socket.
            let result = tokio::select! {
                r = served => r,
                () = close.cancelled() => Ok(()),
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "Connection ended with an error.");
            }
            drop(conn);
        });
    }
    drop(listener);
    let open = graceful.count();
    tracing::info!(connections = open, "Draining in-flight requests.");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_s = grace.as_secs_f64(),
            "Requests still running after the grace period were cut."
        );
    }
}

/// Closes connections that sent no request in time, until `stop`.
async fn sweep(connections: Arc<Connections>, limits: ServerLimits, stop: CancellationToken) {
    let every =
        (limits.header_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let closed = connections.sweep(Instant::now(), limits.header_timeout, limits.idle_timeout);
        if closed > 0 {
            tracing::debug!(
                closed,
                open = connections.count(),
                "Closed connections that sent no request in time."
            );
        }
    }
}

/// The router's service on one connection, telling the connection table
/// when a request is in flight (a busy connection is never evicted).
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    conn: Arc<Connection>,
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<hyper::Request<Incoming>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        self.conn.begin();
        let conn = Arc::clone(&self.conn);
        let fut = self.inner.call(req);
        Box::pin(async move {
            let out = fut.await;
            conn.end(Instant::now());
            out
        })
    }
}

async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed.");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out.");
            None
        }
    }
}
