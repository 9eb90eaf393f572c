//! `[[notify]]` entries as the notifiers get them: the kind, the URL and
//! routing key as written, and the webhook secret already decoded, so the
//! notifiers use what was checked here and parse nothing again.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

/// Where the alert engine can send notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifierKind {
    Alertmanager,
    Pagerduty,
    Slack,
    Webhook,
    /// A dead man's switch: pinged every `interval`, told no alerts.
    Heartbeat,
}

impl NotifierKind {
    /// Every kind, in the order of the metrics' label values.
    pub const ALL: [NotifierKind; 5] = [
        NotifierKind::Alertmanager,
        NotifierKind::Pagerduty,
        NotifierKind::Slack,
        NotifierKind::Webhook,
        NotifierKind::Heartbeat,
    ];

    /// The config and metric label form.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifierKind::Alertmanager => "alertmanager",
            NotifierKind::Pagerduty => "pagerduty",
            NotifierKind::Slack => "slack",
            NotifierKind::Webhook => "webhook",
            NotifierKind::Heartbeat => "heartbeat",
        }
    }
}

/// A `[[notify]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyEntry {
    /// What operators call it (`scheduler notify test --notifier NAME`):
    /// `name` as written, else the kind, numbered (`webhook-2`) when several
    /// entries share it. Not part of its queue's key, so naming an entry
    /// later keeps its queue.
    pub name: String,
    pub kind: NotifierKind,
    pub url: Option<String>,
    /// Labels an alert must carry to go to this notifier.
    pub match_labels: BTreeMap<String, String>,
    /// Signing key of a webhook, decoded.
    pub secret: Option<WebhookSecret>,
    /// PagerDuty routing key.
    pub routing_key: Option<String>,
    /// Alertmanager: how often firing alerts are sent again (default 60s).
    pub resend_interval: Option<Duration>,
    /// Heartbeat: how often the URL is pinged (default 1m).
    pub interval: Option<Duration>,
}

/// Default `interval` of a heartbeat.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(60);
/// The shortest heartbeat `interval`: dead man's switch services count
/// in minutes, and a faster ping only adds load.
pub const MIN_HEARTBEAT: Duration = Duration::from_secs(10);

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Decodes secrets with or without `=` padding (both are shared around).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a webhook secret is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with `whsec_`")]
    Prefix,
    #[error("the part after `whsec_` is not valid base64: {0}")]
    Base64(String),
    #[error("the webhook secret is empty after `whsec_`")]
    Empty,
}

/// The key bytes of a `whsec_` + base64 webhook secret. Its `Debug` never
/// shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    /// Decodes `whsec_` + base64.
    ///
    /// # Errors
    /// When the prefix is missing, the rest is not base64 or it is empty.
    pub fn parse(secret: &str) -> Result<WebhookSecret, SecretError> {
        let encoded = secret
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Prefix)?;
        let bytes = LENIENT
            .decode(encoded)
            .map_err(|e| SecretError::Base64(e.to_string()))?;
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(WebhookSecret(bytes))
    }

    /// The HMAC key.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_secrets() {
        let cases = [
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"),
            ("whsec_not base64!", "base64"),
            ("whsec_", "empty"),
        ];
        for (secret, want) in cases {
            let err = WebhookSecret::parse(secret).unwrap_err().to_string();
            assert!(err.contains(want), "{secret}: {err}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
    }
}
