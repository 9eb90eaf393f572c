//! Sonde's test kit, used as a dev-dependency by every crate's tests, and
//! the demo shop behind the `demo-shop` binary. It depends on neither
//! `probe` nor `scheduler`: end-to-end suites run their built binaries.
//!
//! Module map:
//!
//! - [`target`] — [`TestTarget`], a fake HTTP(S) server on `127.0.0.1:0`
//!   with normal routes and hostile ones (hang, trickle, huge body,
//!   redirect loop) and an echo of the request, recording the requests it
//!   sees; [`hang_after_accept`]
//!   and [`free_port_refused`] for failures below HTTP.
//! - [`certs`] — rcgen certificates: a process-wide test CA ([`test_ca`],
//!   [`ca_pem`]) and leaves of every [`TlsKind`].
//! - [`disk`] — [`SmallDisk`], a small tmpfs to fill up (ENOSPC).
//! - [`dns`] — [`DnsResponder`], an authoritative DNS server on loopback.
//! - [`client`] — [`TestClient`], a small HTTP(S) client for assertions and
//!   readiness checks, and [`tls_handshake`].
//! - [`harness`] — find built binaries, start them with captured output
//!   ([`Spawn`], [`ChildGuard`]), free ports, wait for readiness.
//! - [`fleet`] — a whole fleet (scheduler and probe binaries) in a temp
//!   directory, for the end-to-end suites; [`metrics`] reads scrapes.
//! - [`otlp`] — [`OtlpReceiver`], an OTLP/HTTP trace collector decoding
//!   what it receives with the OpenTelemetry proto definitions.
//! - [`shop`] — the demo shop (JSON API, per-region fault injection, HTTPS
//!   with its own CA, DNS for `shop.sonde.test`).
//!
//! Everything listens on loopback only. Tests assert order, lower bounds
//! and that deadlines cut hangs; never a speed.

// Tests may unwrap; library code must not (on network input above all).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod certs;
pub mod client;
pub mod disk;
pub mod dns;
pub mod fleet;
pub mod grpc;
pub mod harness;
pub mod metrics;
pub mod otlp;
pub mod postgres;
mod serve;
pub mod shop;
pub mod target;
pub mod websocket;

pub use certs::{CertError, LeafCert, TestCa, TlsKind, ca_pem, test_ca, write_ca_pem};
pub use client::{ClientError, TestClient, TestResponse, tls_handshake};
pub use disk::SmallDisk;
pub use dns::{DnsError, DnsResponder, RunningDns};
pub use grpc::GrpcServer;
pub use harness::{
    ChildGuard, HarnessError, Spawn, binary_path, free_addr, free_port, wait_for_http, wait_for_tcp,
};
pub use otlp::{OtlpReceiver, ReceivedSpan, RunningReceiver};
pub use target::{
    HangingListener, Reply, RunningTarget, SeenRequest, TargetError, TestTarget, free_port_refused,
    hang_after_accept,
};
pub use websocket::WebSocketServer;
