//! A test notification to each receiver (`scheduler notify test`,
//! `POST /api/v1/notify/test`): proves the paging path before a shift.
//!
//! It goes straight to the receivers, once each and without the queue's
//! retries, so the answer printed is the receiver's own. It carries
//! `scope = "test"`, a summary that says it is a test, and the labels of
//! the entry's `match`, so the receiver's own routing sends it where a
//! real alert for that entry would go.

use chrono::{DateTime, Utc};
use scenarios::model::Severity;
use serde::Serialize;

use super::channel::{Attempt, Notification};
use super::{DeliveryOptions, NotifyError, Target, targets};
use crate::alert::{Alert, AlertEvent, AlertStatus, Scope};
use crate::config::NotifyEntry;

/// How one receiver answered the test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrialAnswer {
    /// The entry's name.
    pub notifier: String,
    /// `alertmanager`, `pagerduty`, `slack`, `webhook` or `heartbeat`.
    pub kind: &'static str,
    /// Scheme, host and port of its URL: the path of a Slack or webhook
    /// URL may hold a secret, so it is never shown.
    pub target: String,
    pub accepted: bool,
    /// The receiver's answer or the network error, when not accepted.
    pub error: Option<String>,
}

/// Why a test could not be sent at all.
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    #[error(transparent)]
    Notifiers(#[from] NotifyError),
    #[error("no notifier is named `{wanted}`; configured: {known}")]
    UnknownNotifier { wanted: String, known: String },
    #[error("no `[[notify]]` entry is configured")]
    NoNotifiers,
}

/// Sends a test alert to every entry of `entries`, or only to the one
/// named `only`, one at a time, and says how each answered.
///
/// # Errors
/// An unknown `only`, no entries, or entries that cannot be used.
pub async fn send_test(
    entries: &[NotifyEntry],
    options: &DeliveryOptions,
    only: Option<&str>,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<Vec<TrialAnswer>, TrialError> {
    if entries.is_empty() {
        return Err(TrialError::NoNotifiers);
    }
    if let Some(wanted) = only
        && !entries.iter().any(|e| e.name == wanted)
    {
        return Err(TrialError::UnknownNotifier {
            wanted: wanted.to_owned(),
            known: entries
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let chosen: Vec<NotifyEntry> = entries
        .iter()
        .filter(|e| only.is_none_or(|wanted| e.name == wanted))
        .cloned()
        .collect();
    let mut answers = Vec::with_capacity(chosen.len());
    for (entry, target) in chosen.iter().zip(targets(&chosen, options)?) {
        answers.push(try_one(entry, &target, base_url, now).await);
    }
    Ok(answers)
}

async fn try_one(
    entry: &NotifyEntry,
    target: &Target,
    base_url: &str,
    now: DateTime<Utc>,
) -> TrialAnswer {
    let notification = Notification {
        // No outbox row: a negative id, unique per test, so a receiver
        // that drops repeated `webhook-id`s takes every test.
        event_id: -now.timestamp_millis().max(1),
        event: AlertEvent {
            status: AlertStatus::Firing,
            alert: test_alert(entry, base_url, now),
            muted: false,
        },
    };
    let (accepted, error) = match target.channel.send(&notification, now).await {
        Attempt::Sent => (true, None),
        Attempt::Retry { reason, .. } | Attempt::Failed { reason } => (false, Some(reason)),
    };
    TrialAnswer {
        notifier: entry.name.clone(),
        kind: entry.kind.as_str(),
        target: origin(entry),
        accepted,
        error,
    }
}

/// The test alert for `entry`: its `match` labels (and severity, when it
/// matches on one), so its routing takes it.
fn test_alert(entry: &NotifyEntry, base_url: &str, now: DateTime<Utc>) -> Alert {
    let severity = entry
        .match_labels
        .get("severity")
        .and_then(|s| Severity::ALL.into_iter().find(|v| v.as_str() == s))
        .unwrap_or(Severity::Critical);
    let mut labels = entry.match_labels.clone();
    labels.remove("severity");
    let regions = labels.remove("region").into_iter().collect();
    Alert {
        summary: format!(
            "TEST from the Sonde scheduler: notifier `{}` reaches this receiver; no action needed",
            entry.name
        ),
        regions,
        labels,
        url: Some(format!("{base_url}/api/v1/alerts")),
        ..Alert::new(format!("test/{}", entry.name), Scope::Test, severity, now)
    }
}

/// `scheme://host:port` of the entry's URL (PagerDuty's default when it
/// has none).
fn origin(entry: &NotifyEntry) -> String {
    let url = entry.url.as_deref().unwrap_or(super::PAGERDUTY_URL);
    reqwest::Url::parse(url).map_or_else(
        |_| "(invalid URL)".to_owned(),
        |u| u.origin().ascii_serialization(),
    )
}
