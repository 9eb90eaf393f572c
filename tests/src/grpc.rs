//! A gRPC server on loopback for `grpc` steps: tonic-health's health
//! service over HTTP/2, without TLS (`http://`) or with a test-CA leaf and
//! ALPN `h2` (`https://`), whose serving statuses a test sets. Also a gRPC
//! server without the health service, which answers every call
//! `UNIMPLEMENTED` as gRPC servers do for a method they lack.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::AbortOnDropHandle;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::certs::{TlsKind, test_ca};

/// A running gRPC server; stops when dropped.
#[derive(Debug)]
pub struct GrpcServer {
    addr: SocketAddr,
    secure: bool,
    /// `None` for the server without the health service.
    reporter: Option<HealthReporter>,
    _accept: AbortOnDropHandle<()>,
}

impl GrpcServer {
    /// The health service over plain HTTP/2; the server as a whole
    /// (service `""`) is `SERVING`.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        Self::listen(None, true).await
    }

    /// As [`GrpcServer::start`], over TLS presenting a valid leaf of the
    /// test CA.
    ///
    /// # Errors
    /// When the leaf cannot be issued or the port cannot be bound.
    pub async fn start_tls() -> anyhow::Result<Self> {
        let config = test_ca().leaf(TlsKind::Valid)?.server_config()?;
        Ok(Self::listen(Some(TlsAcceptor::from(Arc::clone(&config))), true).await?)
    }

    /// A gRPC server that has no health service.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn without_health() -> std::io::Result<Self> {
        Self::listen(None, false).await
    }

    async fn listen(tls: Option<TlsAcceptor>, health: bool) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let secure = tls.is_some();
        let (reporter, service) = tonic_health::server::health_reporter();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tls = tls.clone();
                let service = service.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve(stream, service, health).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, service, health).await;
                            }
                        }
                    }
                });
            }
        });
        Ok(Self {
            addr,
            secure,
            reporter: health.then_some(reporter),
            _accept: AbortOnDropHandle::new(accept),
        })
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, or `https://` when started with TLS.
    #[must_use]
    pub fn address(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Sets what the health service answers for `service` (`""`: the
    /// server as a whole).
    ///
    /// # Panics
    /// On the server without the health service.
    pub async fn set(&self, service: &str, status: ServingStatus) {
        let reporter = self
            .reporter
            .as_ref()
            .expect("this server has no health service");
        reporter.set_service_status(service, status).await;
    }
}

async fn serve<S, H>(stream: S, health: H, with_health: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: tonic::codegen::Service<
            hyper::Request<Incoming>,
            Response = hyper::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    H::Future: Send + 'static,
{
    let builder = http2::Builder::new(TokioExecutor::new());
    let io = TokioIo::new(stream);
    if with_health {
        let _ = builder
            .serve_connection(io, TowerToHyperService::new(health))
            .await;
        return;
    }
    let unimplemented = hyper::service::service_fn(|_request: hyper::Request<Incoming>| async {
        Ok::<_, Infallible>(tonic::Status::unimplemented("").into_http::<tonic::body::Body>())
    });
    let _ = builder.serve_connection(io, unimplemented).await;
}
