//! What one step reports: status, phase timings, HTTP, TLS and DNS details,
//! assertions and error.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::StepError;
use super::evidence::Evidence;
use super::time;

/// The result of one step. Every field is always written; what does not
/// apply is `null` (or an empty list), so the schema is stable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// The step's name from the scenario, unique within it.
    pub name: String,
    /// What kind of step it is.
    pub kind: StepKind,
    /// Whether it passed, failed or was skipped.
    pub status: StepStatus,
    /// The step's total time in milliseconds; `null` when skipped.
    pub duration_ms: Option<f64>,
    /// Time per network phase; `null` when skipped.
    pub phases: Option<Phases>,
    /// The request and its response; `null` for other kinds and when skipped.
    pub http: Option<HttpInfo>,
    /// The TLS session; `null` without TLS and when skipped. Present when
    /// verification failed.
    pub tls: Option<TlsInfo>,
    /// The DNS answer of a `dns` step; `null` otherwise (and when absent).
    #[serde(default)]
    pub dns: Option<DnsInfo>,
    /// The page of a `browser` step and the time of each action; `null`
    /// for other kinds and when skipped.
    #[serde(default)]
    pub browser: Option<BrowserInfo>,
    /// Every assertion that was evaluated, in the scenario's order.
    pub assertions: Vec<AssertionResult>,
    /// Names of the values captured (never the values: they may be tokens).
    pub captures: Vec<String>,
    /// Why the step could not be carried out; `null` when it was (a failed
    /// assertion is not an error).
    pub error: Option<StepError>,
    /// What the response looked like when an HTTP step failed; `null` when
    /// it passed, was skipped, or is of another kind.
    #[serde(default)]
    pub evidence: Option<Evidence>,
}

impl StepResult {
    /// A step that did not run because an earlier one failed.
    pub fn skipped(name: impl Into<String>, kind: StepKind) -> Self {
        StepResult {
            name: name.into(),
            kind,
            status: StepStatus::Skipped,
            duration_ms: None,
            phases: None,
            http: None,
            tls: None,
            dns: None,
            browser: None,
            assertions: Vec::new(),
            captures: Vec::new(),
            error: None,
            evidence: None,
        }
    }
}

/// What a step does: the model's kind, serialized as `http`, `dns`, `tcp`, `tls`.
pub use crate::model::StepKind;

/// Whether a step passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It ran, and every assertion held.
    Passed,
    /// It ran and an assertion failed, or it could not be carried out
    /// (then `error` says why). The run stops here.
    Failed,
    /// It did not run because an earlier step failed.
    Skipped,
}

impl StepStatus {
    /// The wire form: `passed`, `failed`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Time per network phase in milliseconds. A phase that did not happen is
/// `null`: an IP-literal host has no `dns`, plain HTTP no `tls`, a reused
/// connection none of the three; a step cut short lacks the later ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// Resolving the host name.
    pub dns_ms: Option<f64>,
    /// Opening the TCP connection.
    pub connect_ms: Option<f64>,
    /// The TLS handshake.
    pub tls_ms: Option<f64>,
    /// From sending the request to the first byte of the response.
    pub ttfb_ms: Option<f64>,
    /// From the first byte to the end of the response body.
    pub transfer_ms: Option<f64>,
}

impl Phases {
    /// The phases that happened, added up: a step with phases reports this
    /// as its `duration_ms`, so nothing outside a phase is counted.
    #[must_use]
    pub fn total_ms(&self) -> f64 {
        [
            self.dns_ms,
            self.connect_ms,
            self.tls_ms,
            self.ttfb_ms,
            self.transfer_ms,
        ]
        .into_iter()
        .flatten()
        .sum()
    }
}

/// The HTTP request of a step and the status of its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpInfo {
    /// Request method, e.g. `POST`.
    pub method: String,
    /// The URL requested (after the last redirect), recorded from a
    /// rendering with each secret as `***`.
    pub url: String,
    /// Response status code; `null` when no response came.
    pub status: Option<u16>,
    /// Protocol version of the response (`HTTP/1.1`, `HTTP/2`), or the one
    /// asked for when no response came.
    pub version: String,
}

/// The TLS session of a step, present even when verification failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// Negotiated protocol version, `1.2` or `1.3` (as `tls_version`
    /// assertions compare it); `null` when the handshake failed before.
    pub version: Option<String>,
    /// End of the server certificate's validity (the `cert_expiry`
    /// subject); `null` when no certificate was received.
    #[serde(default, with = "time::option")]
    pub cert_not_after: Option<DateTime<Utc>>,
    /// Subject of the server certificate as an RFC 4514 string, e.g.
    /// `CN=shop.sonde.test`; `null` when no certificate was received.
    pub cert_subject: Option<String>,
    /// Whether the chain and the name verified against the trusted roots;
    /// `false` when verification failed or was turned off (`insecure`).
    pub verified: bool,
    /// Why verification failed; `null` when it passed or was turned off.
    pub verify_error: Option<String>,
}

/// The answer to a `dns` step's query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsInfo {
    /// Response code, e.g. `NOERROR`, `NXDOMAIN`.
    pub rcode: String,
    /// Answer records' data as text (e.g. `127.0.0.1`), in response order.
    pub answers: Vec<String>,
}

/// What a `browser` step did in its page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrowserInfo {
    /// The page's URL when the step ended, secrets as `***`; `null` before
    /// the first `goto` loaded anything.
    pub url: Option<String>,
    /// Status of the main document's last response; `null` when none came.
    pub status: Option<u16>,
    /// The actions that ran, in order; one cut short is the last.
    pub actions: Vec<ActionTiming>,
}

/// How long one browser action took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionTiming {
    /// `goto`, `click`, `fill`, `select`, `press`, `wait_for` or `eval`.
    pub action: String,
    /// Milliseconds from its start until it completed or was cut short.
    pub duration_ms: f64,
}

/// One evaluated assertion: what was expected and what was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssertionResult {
    /// The expression as written in `expect`, e.g. `status == 200`.
    pub expr: String,
    /// Whether it held.
    pub passed: bool,
    /// The predicate and value, e.g. `< 800ms`, `contains "Welcome"`.
    pub expected: String,
    /// What was seen, secrets redacted and cut at
    /// [`ACTUAL_MAX_CHARS`](super::ACTUAL_MAX_CHARS) characters.
    pub actual: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_step_writes_every_field_as_null_or_empty() {
        let json = serde_json::to_string(&StepResult::skipped("checkout", StepKind::Http))
            .expect("serializes");
        assert_eq!(
            json,
            r#"{"name":"checkout","kind":"http","status":"skipped","duration_ms":null,"phases":null,"http":null,"tls":null,"dns":null,"browser":null,"assertions":[],"captures":[],"error":null,"evidence":null}"#
        );
    }

    #[test]
    fn dns_info_round_trips() {
        let mut step = StepResult::skipped("resolve", StepKind::Dns);
        step.status = StepStatus::Passed;
        step.dns = Some(DnsInfo {
            rcode: "NOERROR".into(),
            answers: vec!["127.0.0.1".into()],
        });
        let json = serde_json::to_string(&step).expect("serializes");
        assert!(json.contains(r#""dns":{"rcode":"NOERROR","answers":["127.0.0.1"]}"#));
        let back: StepResult = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, step);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let json = r#"{"name":"x","kind":"tcp","status":"passed","duration_ms":1.5,
            "phases":null,"http":null,"tls":null,"assertions":[],"captures":[],
            "error":null,"added_later":{"a":1}}"#;
        let step: StepResult = serde_json::from_str(json).expect("parses");
        assert_eq!(step.kind, StepKind::Tcp);
        assert_eq!(step.dns, None);
    }

    #[test]
    fn kind_and_status_as_str_match_serde() {
        for kind in [
            StepKind::Http,
            StepKind::Dns,
            StepKind::Tcp,
            StepKind::Tls,
            StepKind::Websocket,
            StepKind::Icmp,
            StepKind::Grpc,
            StepKind::Browser,
        ] {
            let json = serde_json::to_string(&kind).expect("serializes");
            assert_eq!(json, format!("\"{kind}\""));
        }
        for status in [StepStatus::Passed, StepStatus::Failed, StepStatus::Skipped] {
            let json = serde_json::to_string(&status).expect("serializes");
            assert_eq!(json, format!("\"{status}\""));
        }
    }
}
