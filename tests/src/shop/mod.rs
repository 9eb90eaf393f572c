//! The demo shop: the target of the example journeys and the local fleet.
//!
//! Plain HTTP and HTTPS serve the same JSON API (`GET /`, `/index.html`
//! redirected to it, `/healthz`, `POST /api/login` with JSON or a form,
//! `GET /api/products`, `POST /api/cart`, `POST /api/checkout`, and
//! `/app`, the same shop as a JavaScript page); a DNS responder answers
//! `shop.sonde.test`; faults are injected per region through `/_faults`
//! ([`Fault`]). The HTTPS leaf is
//! issued by a CA kept in `<state-dir>/demo-ca.pem` (and `demo-ca-key.pem`),
//! reused across restarts so probes that loaded it keep trusting the shop.

mod api;
mod app;
mod faults;
mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use api::REGION_HEADER;
pub use faults::{Fault, Faults, Injection};
pub use store::{PRODUCTS, Product};

use crate::certs::{CertError, TestCa, TlsKind};
use crate::dns::{DnsError, DnsResponder, RunningDns};
use crate::serve::{self, ServeOptions, Transport};

/// The name the shop's DNS answers and its certificate covers.
pub const SHOP_HOST: &str = "shop.sonde.test";

/// File name of the CA certificate in the state directory.
pub const CA_FILE: &str = "demo-ca.pem";

/// File name of the CA key in the state directory.
pub const CA_KEY_FILE: &str = "demo-ca-key.pem";

/// Time in-flight requests get to finish on shutdown.
const GRACE: Duration = Duration::from_secs(5);

/// Where and how the shop runs; every flag also reads `SHOP_*` from the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct ShopOptions {
    /// Plain HTTP listen address.
    #[arg(long, env = "SHOP_HTTP", default_value = "127.0.0.1:9480")]
    pub http: SocketAddr,
    /// HTTPS listen address (leaf for shop.sonde.test, localhost, 127.0.0.1).
    #[arg(long, env = "SHOP_HTTPS", default_value = "127.0.0.1:9443")]
    pub https: SocketAddr,
    /// DNS (UDP and TCP) listen address; answers shop.sonde.test.
    #[arg(long, env = "SHOP_DNS", default_value = "127.0.0.1:9453")]
    pub dns: SocketAddr,
    /// Directory for the CA files (created when missing).
    #[arg(long, env = "SHOP_STATE_DIR", default_value = ".sonde-local")]
    pub state_dir: PathBuf,
    /// Password every user logs in with.
    #[arg(
        long,
        env = "SHOP_PASSWORD",
        default_value = "demo",
        hide_env_values = true
    )]
    pub password: String,
}

impl ShopOptions {
    /// Options for tests: every listener on `127.0.0.1:0`, password `demo`.
    #[must_use]
    pub fn for_tests(state_dir: impl Into<PathBuf>) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            http: any,
            https: any,
            dns: any,
            state_dir: state_dir.into(),
            password: "demo".to_owned(),
        }
    }
}

/// Error starting the shop.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// A listener could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The state directory or CA files could not be read or written.
    #[error("{path}: {source}")]
    State {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Certificates could not be made or loaded.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// The DNS responder could not start.
    #[error(transparent)]
    Dns(#[from] DnsError),
}

/// A running shop; dropping it stops the listeners at once, [`RunningShop::stop`] drains.
pub struct RunningShop {
    http: SocketAddr,
    https: SocketAddr,
    ca_path: PathBuf,
    ca_pem: String,
    token: CancellationToken,
    tracker: TaskTracker,
    dns: RunningDns,
}

impl std::fmt::Debug for RunningShop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningShop")
            .field("http", &self.http)
            .field("https", &self.https)
            .field("dns", &self.dns.addr())
            .finish_non_exhaustive()
    }
}

/// Binds every listener and starts serving.
///
/// # Errors
/// When a listener cannot be bound or the CA cannot be loaded or written.
pub async fn start(options: ShopOptions) -> Result<RunningShop, ShopError> {
    let ca = load_or_make_ca(&options.state_dir)?;
    let tls = ca.leaf(TlsKind::Valid)?.server_config()?;
    let dns = DnsResponder::new()
        .bind(options.dns)
        .a(SHOP_HOST, "127.0.0.1")
        .aaaa(SHOP_HOST, "::1")
        .cname(&format!("www.{SHOP_HOST}"), SHOP_HOST)
        .txt(SHOP_HOST, "sonde demo shop")
        .start()
        .await?;
    let http_listener = bind(options.http).await?;
    let https_listener = bind(options.https).await?;
    let shop = Arc::new(api::Shop {
        password: options.password,
        store: Mutex::new(store::Store::default()),
        faults: Mutex::new(Faults::default()),
    });
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    let serve_options = ServeOptions {
        transport: Transport::Plain,
        handler: Arc::new(move |req| Box::pin(api::handle(shop.clone(), req))),
        token: token.clone(),
        grace: GRACE,
    };
    let running = RunningShop {
        http: local_addr(&http_listener, options.http)?,
        https: local_addr(&https_listener, options.https)?,
        ca_path: options.state_dir.join(CA_FILE),
        ca_pem: ca.cert_pem().to_owned(),
        token,
        tracker,
        dns,
    };
    let tls_options = ServeOptions {
        transport: Transport::Tls(TlsAcceptor::from(tls)),
        ..serve_options.clone()
    };
    serve::spawn(http_listener, serve_options, &running.tracker);
    serve::spawn(https_listener, tls_options, &running.tracker);
    Ok(running)
}

impl RunningShop {
    /// Plain HTTP address.
    #[must_use]
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// HTTPS address.
    #[must_use]
    pub fn https_addr(&self) -> SocketAddr {
        self.https
    }

    /// DNS address (UDP and TCP).
    #[must_use]
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns.addr()
    }

    /// `http://ADDR{path}`.
    #[must_use]
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// `https://ADDR{path}` (an IP in the leaf's SANs).
    #[must_use]
    pub fn https_url(&self, path: &str) -> String {
        format!("https://{}{path}", self.https)
    }

    /// Path of the CA certificate (PEM) written to the state directory.
    #[must_use]
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// The CA certificate, PEM.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Stops accepting, lets in-flight requests finish (at most 5 s), and
    /// returns whether everything finished in time.
    pub async fn stop(self) -> bool {
        self.token.cancel();
        self.tracker.close();
        tokio::time::timeout(GRACE + Duration::from_secs(1), self.tracker.wait())
            .await
            .is_ok()
    }
}

impl Drop for RunningShop {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ShopError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ShopError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, ShopError> {
    listener
        .local_addr()
        .map_err(|source| ShopError::Bind { addr, source })
}

/// Reuses the CA in `dir` when both files parse; otherwise makes and saves one.
fn load_or_make_ca(dir: &Path) -> Result<TestCa, ShopError> {
    let state = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ShopError::State { path, source }
    };
    std::fs::create_dir_all(dir).map_err(state(dir))?;
    let cert_path = dir.join(CA_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    if let (Ok(cert), Ok(key)) = (
        std::fs::read_to_string(&cert_path),
        std::fs::read_to_string(&key_path),
    ) {
        match TestCa::from_pem(&cert, &key) {
            Ok(ca) => return Ok(ca),
            Err(error) => tracing::warn!(%error, "Saved CA unreadable; making a new one."),
        }
    }
    let ca = TestCa::generate()?;
    write_private(&key_path, ca.key_pem()).map_err(state(&key_path))?;
    ca.write_pem(&cert_path).map_err(state(&cert_path))?;
    Ok(ca)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// The plain-HTTP base URL (`http://127.0.0.1:PORT`, no trailing slash) a
/// started `demo-shop` binary prints once it listens.
///
/// # Errors
/// When the shop exits or prints nothing like it within `deadline`.
pub async fn printed_http_base(
    shop: &mut crate::ChildGuard,
    deadline: Duration,
) -> Result<String, crate::HarnessError> {
    let line = shop.wait_for_stdout("demo-shop http ", deadline).await?;
    Ok(line
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned())
}
