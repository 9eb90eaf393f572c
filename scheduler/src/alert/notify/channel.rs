//! One receiving system behind a `[[notify]]` entry, and how an HTTP
//! answer turns into sent, retry or failed.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::alert::AlertEvent;
use crate::config::NotifierKind;

/// A boxed future, so that channels can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One queued notification: an alert event and its stable id in the store.
#[derive(Debug, Clone)]
pub struct Notification {
    /// `alert_events.id`; the webhook's `webhook-id` is built from it.
    pub event_id: i64,
    pub event: AlertEvent,
}

/// How one delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver accepted it.
    Sent,
    /// Worth trying again (network error, timeout, 429, 5xx); `after` is the
    /// receiver's `Retry-After`, if any.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Never worth repeating (a 4xx other than 408 and 429).
    Failed { reason: String },
}

/// A receiving system. Object-safe so tests and future channels plug in.
pub trait Channel: Send + Sync + std::fmt::Debug {
    /// The `notifier` label of its metrics.
    fn kind(&self) -> NotifierKind;

    /// Delivers one notification; the same notification gives the same
    /// request body on every retry (webhook: the same `webhook-id`).
    fn send<'a>(&'a self, n: &'a Notification, now: DateTime<Utc>) -> BoxFuture<'a, Attempt>;

    /// How often the alerts this channel was told about are sent again
    /// (Alertmanager forgets alerts that stop arriving); `None`: never.
    fn resend_every(&self) -> Option<Duration> {
        None
    }

    /// Sends the current state of several alerts again.
    fn resend<'a>(
        &'a self,
        events: &'a [AlertEvent],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Attempt> {
        let _ = (events, now);
        Box::pin(async { Attempt::Sent })
    }

    /// Whether each re-send round also carries an always-firing watchdog
    /// alert (Alertmanager's `SondeWatchdog`), even with nothing firing.
    fn has_watchdog(&self) -> bool {
        false
    }

    /// A dead man's switch: told no alerts, pinged ([`Channel::beat`])
    /// this often instead; `None`: an alert channel.
    fn beat_every(&self) -> Option<Duration> {
        None
    }

    /// One ping of a dead man's switch from `replica`.
    fn beat<'a>(&'a self, replica: &'a str, now: DateTime<Utc>) -> BoxFuture<'a, Attempt> {
        let _ = (replica, now);
        Box::pin(async { Attempt::Sent })
    }
}

/// At most this much of an error response is kept for logs.
const REASON_BYTES: usize = 300;

/// Sends `request` and classifies the answer.
pub async fn post(request: reqwest::RequestBuilder) -> Attempt {
    let response = match request.send().await {
        Ok(r) => r,
        // The URL of a Slack webhook or a heartbeat holds its token: the
        // error, which is logged and printed, must not.
        Err(e) => {
            let e = e.without_url();
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            return Attempt::Retry {
                reason: format!("{what}: {}", error_chain(&e)),
                after: None,
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Attempt::Sent;
    }
    let after = retry_after(response.headers());
    let reason = format!("HTTP {}: {}", status.as_u16(), body_excerpt(response).await);
    classify(status.as_u16(), reason, after)
}

/// 2xx sent; 408, 429 and 5xx retried; everything else failed for good.
pub fn classify(status: u16, reason: String, after: Option<Duration>) -> Attempt {
    match status {
        200..=299 => Attempt::Sent,
        408 | 429 | 500..=599 => Attempt::Retry { reason, after },
        _ => Attempt::Failed { reason },
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The start of an error body, as text on one line.
async fn body_excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < REASON_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(REASON_BYTES);
    String::from_utf8_lossy(&bytes)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_network_error_never_shows_the_url() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/ping/s3cr3t-token");
        let attempt = post(reqwest::Client::new().post(&url)).await;
        let Attempt::Retry { reason, .. } = attempt else {
            panic!("expected a retry: {attempt:?}");
        };
        assert!(reason.starts_with("cannot connect"), "{reason}");
        assert!(!reason.contains("s3cr3t-token"), "{reason}");
    }

    #[test]
    fn classification() {
        let cases = [
            (200, "sent"),
            (202, "sent"),
            (400, "failed"),
            (401, "failed"),
            (404, "failed"),
            (408, "retry"),
            (429, "retry"),
            (500, "retry"),
            (503, "retry"),
            (301, "failed"),
        ];
        for (status, want) in cases {
            let got = match classify(status, String::new(), None) {
                Attempt::Sent => "sent",
                Attempt::Retry { .. } => "retry",
                Attempt::Failed { .. } => "failed",
            };
            assert_eq!(got, want, "{status}");
        }
    }
}
