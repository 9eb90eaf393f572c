//! Why a network step could not be carried out, with what was measured and
//! seen until then, and the deadline that bounds every phase.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use scenarios::wire::{ErrorKind, StepError, TlsInfo};
use tokio::time::Instant;

use super::timings::PhaseTimings;

/// A step that failed below the assertions: DNS, connect, TLS, timeout,
/// protocol, I/O, body too large or the target guard.
#[derive(Debug, Clone, PartialEq)]
pub struct NetFailure {
    /// Bounded class, safe as a metric label.
    pub kind: ErrorKind,
    /// What happened, for people (no secrets: URLs are the caller's to redact).
    pub message: String,
    /// The phases measured until the failure; the phase that failed holds
    /// the time spent in it.
    pub phases: PhaseTimings,
    /// The server certificate when the TLS handshake got that far, also
    /// when verification failed.
    pub tls: Option<TlsInfo>,
    /// The address connected to, when a connection was made before the
    /// failure: evidence of which server answered badly.
    pub remote: Option<SocketAddr>,
    /// The status line and headers, when they came before the failure (a
    /// body cut by the deadline or the connection): what the server said.
    pub head: Option<Box<ResponseHead>>,
}

/// A response's status and headers, without its body.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseHead {
    pub status: u16,
    /// `HTTP/1.1` or `HTTP/2`.
    pub version: &'static str,
    /// In received order, as [`super::HttpResponse::headers`].
    pub headers: Vec<(String, String)>,
}

impl NetFailure {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            phases: PhaseTimings::default(),
            tls: None,
            remote: None,
            head: None,
        }
    }

    pub(crate) fn with_phases(mut self, phases: PhaseTimings) -> Self {
        self.phases = phases;
        self
    }

    pub(crate) fn with_remote(mut self, remote: SocketAddr) -> Self {
        self.remote = Some(remote);
        self
    }

    pub(crate) fn with_head(mut self, head: ResponseHead) -> Self {
        self.head = Some(Box::new(head));
        self
    }

    pub(crate) fn with_tls(mut self, tls: Option<TlsInfo>) -> Self {
        self.tls = tls;
        self
    }

    /// The wire error (`{"kind", "message"}`); redact secrets before sending it.
    #[must_use]
    pub fn to_step_error(&self) -> StepError {
        StepError {
            kind: self.kind,
            message: self.message.clone(),
        }
    }
}

impl fmt::Display for NetFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl StdError for NetFailure {}

/// An error and its sources as one line, skipping a source whose text the
/// line already holds (hyper and tokio-rustls often repeat their cause).
pub(crate) fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// The instant a step must be done by, and the budget it had when the
/// current call began (for "timed out after 1.0s …" messages).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    pub(crate) fn new(at: Instant) -> Self {
        Self {
            at,
            budget: at.saturating_duration_since(Instant::now()),
        }
    }

    pub(crate) fn at(self) -> Instant {
        self.at
    }

    /// Runs `fut` until the deadline; past it, a timeout naming `waiting`.
    pub(crate) async fn bound<F: Future>(
        self,
        waiting: &str,
        fut: F,
    ) -> Result<F::Output, NetFailure> {
        tokio::time::timeout_at(self.at, fut)
            .await
            .map_err(|_| self.expired(waiting))
    }

    /// The timeout failure, e.g. `timed out after 1.0s waiting for response headers`.
    pub(crate) fn expired(self, waiting: &str) -> NetFailure {
        NetFailure::new(
            ErrorKind::Timeout,
            format!("timed out after {} {waiting}", human(self.budget)),
        )
    }
}

/// `1.0s`, `250ms`. A deadline set just before the call leaves a hair
/// less than the step's timeout, which still reads as the timeout.
fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 0.95 {
        format!("{secs:.1}s")
    } else {
        format!("{}ms", (secs * 1000.0).round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deadline_names_budget_and_phase() {
        let deadline = Deadline::new(Instant::now() + Duration::from_millis(20));
        let failure = deadline
            .bound("waiting for response headers", std::future::pending::<()>())
            .await
            .expect_err("pending never finishes");
        assert_eq!(failure.kind, ErrorKind::Timeout);
        assert!(
            failure.message.ends_with("ms waiting for response headers"),
            "{}",
            failure.message
        );
        assert_eq!(human(Duration::from_millis(1000)), "1.0s");
        assert_eq!(human(Duration::from_micros(999_980)), "1.0s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn chain_skips_repeated_causes() {
        let inner = std::io::Error::other("reset");
        let outer = std::io::Error::other(inner);
        assert_eq!(chain(&outer), "reset");
    }
}
