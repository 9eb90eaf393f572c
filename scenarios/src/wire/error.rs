//! Why a step could not be carried out, with a bounded kind.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::run_result::Outcome;

/// Why a step could not be carried out: `{"kind": "…", "message": "…"}`.
///
/// A failed assertion is not an error: it is recorded in the step's
/// assertions and `error` stays `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepError {
    /// Bounded class of the error, safe as a metric label (`error_kind`).
    pub kind: ErrorKind,
    /// What happened, for people, e.g. `connection refused (os error 111)`;
    /// secrets redacted. Never used as a label.
    pub message: String,
}

/// The closed set of error classes. Adding one is a protocol change (the
/// scheduler must know it before probes send it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The target's host name did not resolve (NXDOMAIN, SERVFAIL, no
    /// address), or a `dns` step got no response at all. A `dns` step that
    /// gets an answer records its rcode as data instead.
    Dns,
    /// The TCP connection could not be opened (refused, unreachable, reset).
    Connect,
    /// The TLS handshake failed, including certificate verification when it
    /// is not disabled.
    Tls,
    /// The step's or the scenario's deadline passed.
    Timeout,
    /// The response body exceeded the probe's size limit.
    BodyTooLarge,
    /// A redirect led back to a URL already visited in this step.
    RedirectLoop,
    /// The step followed more redirects than allowed.
    TooManyRedirects,
    /// The target guard refused the address (loopback, private, link-local
    /// or metadata range not opened with `--allow-target`).
    TargetRefused,
    /// The peer broke the protocol: malformed HTTP or DNS response, HTTP/2
    /// error, connection closed before the response, a WebSocket upgrade
    /// answered with anything but 101, a gRPC call answered with an error
    /// status (the message names the code) or not with gRPC at all.
    Protocol,
    /// Reading or writing an established connection failed (e.g. reset
    /// while the body was transferred).
    Io,
    /// A `capture` found nothing in the response.
    Capture,
    /// The request could not be built once templates were rendered
    /// (invalid URL, header value or body).
    InvalidRequest,
    /// A fault in the probe itself (a bug, out of file descriptors).
    Internal,
    /// An `icmp` step could open neither a datagram ICMP socket (the probe's
    /// group outside `net.ipv4.ping_group_range`) nor a raw one (no
    /// CAP_NET_RAW).
    IcmpUnavailable,
    /// A `browser` step ran on a probe started without `--browser` or
    /// `--browser-path`, or the browser could not be started or reached.
    NoBrowser,
    /// A browser action failed: a selector matched nothing, an `eval` was
    /// not `true`, the page could not be driven.
    Browser,
}

impl ErrorKind {
    /// Every kind, in the order above (to pre-register metric labels).
    pub const ALL: [ErrorKind; 16] = [
        ErrorKind::Dns,
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::BodyTooLarge,
        ErrorKind::RedirectLoop,
        ErrorKind::TooManyRedirects,
        ErrorKind::TargetRefused,
        ErrorKind::Protocol,
        ErrorKind::Io,
        ErrorKind::Capture,
        ErrorKind::InvalidRequest,
        ErrorKind::Internal,
        ErrorKind::IcmpUnavailable,
        ErrorKind::NoBrowser,
        ErrorKind::Browser,
    ];

    /// The wire and metric label form, e.g. `body_too_large`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::RedirectLoop => "redirect_loop",
            ErrorKind::TooManyRedirects => "too_many_redirects",
            ErrorKind::TargetRefused => "target_refused",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Io => "io",
            ErrorKind::Capture => "capture",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Internal => "internal",
            ErrorKind::IcmpUnavailable => "icmp_unavailable",
            ErrorKind::NoBrowser => "no_browser",
            ErrorKind::Browser => "browser",
        }
    }

    /// The run outcome a step that ends with this error gives: `timeout`
    /// for a deadline, `failure` for a capture that found nothing (the
    /// target answered, wrongly), `error` otherwise.
    pub fn outcome(self) -> Outcome {
        match self {
            ErrorKind::Timeout => Outcome::Timeout,
            ErrorKind::Capture => Outcome::Failure,
            _ => Outcome::Error,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde() {
        for kind in ErrorKind::ALL {
            let json = serde_json::to_string(&kind).expect("serializes");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            let back: ErrorKind = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, kind);
        }
    }

    #[test]
    fn outcome_of_kinds() {
        assert_eq!(ErrorKind::Timeout.outcome(), Outcome::Timeout);
        assert_eq!(ErrorKind::Capture.outcome(), Outcome::Failure);
        assert_eq!(ErrorKind::Connect.outcome(), Outcome::Error);
    }
}
