//! Alertmanager API v2: `POST {url}/api/v2/alerts`. Like Prometheus, a
//! firing alert is sent again every `resend_interval` with `endsAt` four
//! intervals ahead (so Alertmanager resolves it by itself if the
//! scheduler dies), and a resolved one with its real `endsAt`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::channel::{Attempt, BoxFuture, Channel, Notification, post};
use super::route;
use super::text;
use crate::alert::{Alert, AlertEvent, AlertStatus};
use crate::config::NotifierKind;

/// Default `resend_interval`.
pub const DEFAULT_RESEND: Duration = Duration::from_secs(60);
/// Alerts per request when re-sending.
const BATCH: usize = 100;

#[derive(Debug)]
pub struct Alertmanager {
    client: reqwest::Client,
    endpoint: String,
    resend: Duration,
}

impl Alertmanager {
    pub fn new(client: reqwest::Client, url: &str, resend: Duration) -> Alertmanager {
        let endpoint = format!("{}/api/v2/alerts", url.trim_end_matches('/'));
        Alertmanager {
            client,
            endpoint,
            resend,
        }
    }

    fn post_alerts(&self, alerts: &[Value]) -> BoxFuture<'_, Attempt> {
        let request = self.client.post(&self.endpoint).json(alerts);
        Box::pin(post(request))
    }
}

/// One postable alert.
pub fn postable(event: &AlertEvent, now: DateTime<Utc>, resend: Duration) -> Value {
    let alert = &event.alert;
    let ends_at = match event.status {
        AlertStatus::Firing => now + chrono::Duration::from_std(resend * 4).unwrap_or_default(),
        AlertStatus::Resolved => alert.ended_at.unwrap_or(now),
    };
    let mut annotations = json!({
        "summary": alert.summary,
        "description": description(alert, event.status),
    });
    if let Some(runbook) = &alert.runbook {
        annotations["runbook_url"] = json!(runbook);
    }
    let mut out = json!({
        "labels": route::labels(alert),
        "annotations": annotations,
        "startsAt": text::time(alert.started_at),
        "endsAt": text::time(ends_at),
    });
    if let Some(url) = &alert.url {
        out["generatorURL"] = json!(url);
    }
    out
}

/// The summary, then one line per fact.
fn description(alert: &Alert, status: AlertStatus) -> String {
    let lines: Vec<String> = text::facts(alert, status)
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    format!("{}\n{}", alert.summary, lines.join("\n"))
}

impl Channel for Alertmanager {
    fn kind(&self) -> NotifierKind {
        NotifierKind::Alertmanager
    }

    fn send<'a>(&'a self, n: &'a Notification, now: DateTime<Utc>) -> BoxFuture<'a, Attempt> {
        let alerts = [postable(&n.event, now, self.resend)];
        Box::pin(async move { self.post_alerts(&alerts).await })
    }

    fn resend_every(&self) -> Option<Duration> {
        Some(self.resend)
    }

    fn resend<'a>(
        &'a self,
        events: &'a [AlertEvent],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            for chunk in events.chunks(BATCH) {
                let alerts: Vec<Value> = chunk
                    .iter()
                    .map(|e| postable(e, now, self.resend))
                    .collect();
                let attempt = self.post_alerts(&alerts).await;
                if attempt != Attempt::Sent {
                    return attempt;
                }
            }
            Attempt::Sent
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notify::testing::{alert, t0};

    #[test]
    fn firing_ends_four_intervals_ahead() {
        let event = AlertEvent {
            status: AlertStatus::Firing,
            alert: alert(),
            muted: false,
        };
        let v = postable(&event, t0(), Duration::from_secs(60));
        assert_eq!(v["labels"]["alertname"], "SondeScenarioDown");
        assert_eq!(v["labels"]["region"], "eu-west-1");
        assert_eq!(v["labels"]["team"], "shop");
        assert_eq!(v["startsAt"], "2026-11-24T10:02:10.900Z");
        assert_eq!(v["endsAt"], "2026-11-24T10:06:00.000Z");
        assert_eq!(
            v["annotations"]["runbook_url"],
            "https://runbooks.example.com/checkout"
        );
        let description = v["annotations"]["description"].as_str().unwrap();
        assert!(description.contains("Step: checkout"), "{description}");
        assert!(
            description.contains("expected 200, got 503"),
            "{description}"
        );
        assert_eq!(
            v["generatorURL"],
            "http://127.0.0.1:9470/api/v1/scenarios/checkout"
        );
    }

    #[test]
    fn resolved_ends_when_it_ended() {
        let mut a = alert();
        let ended = a.started_at + chrono::Duration::seconds(90);
        a.ended_at = Some(ended);
        let event = AlertEvent {
            status: AlertStatus::Resolved,
            alert: a,
            muted: false,
        };
        let v = postable(&event, t0(), Duration::from_secs(60));
        assert_eq!(v["endsAt"], "2026-11-24T10:03:40.900Z");
    }
}
