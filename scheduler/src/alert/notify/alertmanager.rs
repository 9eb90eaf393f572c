//! Alertmanager API v2: `POST {url}/api/v2/alerts`. Like Prometheus, a
//! firing alert is sent again every `resend_interval` with `endsAt` four
//! intervals ahead (so Alertmanager resolves it by itself if the
//! scheduler dies), and a resolved one with its real `endsAt`. Its labels
//! are the same from the first send to the resolve (`route::labels`), so
//! Alertmanager sees one alert however its regions change.
//!
//! Every round of re-sends also carries `SondeWatchdog` ([`watchdog`]),
//! an alert that fires for as long as the leader sends, so a dead man's
//! switch behind Alertmanager pages when the scheduler fleet is down.

use std::collections::BTreeMap;
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
/// The always-firing alert's `alertname`.
pub const WATCHDOG: &str = "SondeWatchdog";

#[derive(Debug)]
pub struct Alertmanager {
    client: reqwest::Client,
    endpoint: String,
    resend: Duration,
    /// The entry's `match` labels, which the watchdog carries too.
    match_labels: BTreeMap<String, String>,
}

impl Alertmanager {
    pub fn new(
        client: reqwest::Client,
        url: &str,
        resend: Duration,
        match_labels: BTreeMap<String, String>,
    ) -> Alertmanager {
        let endpoint = format!("{}/api/v2/alerts", url.trim_end_matches('/'));
        Alertmanager {
            client,
            endpoint,
            resend,
            match_labels,
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
        AlertStatus::Firing => firing_until(now, resend),
        AlertStatus::Resolved => alert.ended_at.unwrap_or(now),
    };
    // Labels are the alert's identity in Alertmanager and never change;
    // what changes while it fires is told here.
    let mut annotations = json!({
        "summary": alert.summary,
        "description": description(alert, event.status),
    });
    if !alert.regions.is_empty() {
        annotations["regions"] = json!(route::regions(alert));
    }
    if !alert.dependents.is_empty() {
        annotations["dependents"] = json!(alert.dependents.join(","));
    }
    if let Some(runbook) = &alert.runbook {
        annotations["runbook_url"] = json!(runbook);
    }
    if let Some(trace) = &alert.trace_url {
        annotations["trace_url"] = json!(trace);
    }
    if let Some(page) = &alert.page_url {
        annotations["page_url"] = json!(page);
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

/// `endsAt` of a firing alert sent at `now`: four re-send intervals
/// ahead, so Alertmanager resolves it by itself once the sends stop.
fn firing_until(now: DateTime<Utc>, resend: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(resend * 4).unwrap_or_default()
}

/// The always-firing `SondeWatchdog`: `alertname`, `severity = "none"`
/// (no one is paged for it) and the entry's `match` labels (so
/// Alertmanager's routes see it where this entry's alerts go), and none
/// that could change, so it stays one alert across restarts and replicas.
/// It never resolves: it expires at `endsAt` when re-sends stop.
pub fn watchdog(
    match_labels: &BTreeMap<String, String>,
    now: DateTime<Utc>,
    resend: Duration,
) -> Value {
    let mut labels = match_labels.clone();
    labels.insert("alertname".into(), WATCHDOG.into());
    labels.insert("severity".into(), "none".into());
    json!({
        "labels": labels,
        "annotations": {
            "summary": "The Sonde scheduler is sending alerts; this alert always fires",
            "description": "Sent by the leading scheduler with every re-send of firing alerts. \
                If it stops arriving, the schedulers are down or cannot reach Alertmanager: \
                route it to a dead man's switch, which pages when it goes missing.",
        },
        "startsAt": text::time(now),
        "endsAt": text::time(firing_until(now, resend)),
    })
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
            // The watchdog goes first, so it arrives even when a later
            // batch fails.
            let mut alerts = vec![watchdog(&self.match_labels, now, self.resend)];
            let mut events = events.iter().peekable();
            loop {
                alerts.extend(
                    events
                        .by_ref()
                        .take(BATCH - alerts.len())
                        .map(|e| postable(e, now, self.resend)),
                );
                let attempt = self.post_alerts(&alerts).await;
                if attempt != Attempt::Sent || events.peek().is_none() {
                    return attempt;
                }
                alerts.clear();
            }
        })
    }

    fn has_watchdog(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Scope;
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
    fn the_watchdog_fires_with_the_entrys_labels_and_expires_four_intervals_ahead() {
        let labels = [
            ("team".to_owned(), "shop".to_owned()),
            ("severity".to_owned(), "critical".to_owned()),
        ]
        .into();
        let v = watchdog(&labels, t0(), Duration::from_secs(60));
        assert_eq!(
            v["labels"],
            json!({"alertname": "SondeWatchdog", "severity": "none", "team": "shop"})
        );
        assert_eq!(v["startsAt"], "2026-11-24T10:02:00.000Z");
        assert_eq!(v["endsAt"], "2026-11-24T10:06:00.000Z");
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

    /// A global alert as it fires, spreads, shrinks and resolves: each
    /// stage with its regions and summary, as the engine updates them.
    fn global_life() -> Vec<AlertEvent> {
        let stage = |regions: &[&str], status: AlertStatus, step: &str| {
            let mut a = alert();
            a.id = "checkout/global".into();
            a.scope = Scope::Global;
            a.regions = regions.iter().map(|r| (*r).to_owned()).collect();
            a.summary = format!("checkout is down in {}", regions.join(", "));
            a.step = Some(step.into());
            a.confirmation = None;
            if status == AlertStatus::Resolved {
                a.ended_at = Some(a.started_at + chrono::Duration::seconds(300));
            }
            AlertEvent {
                status,
                alert: a,
                muted: false,
            }
        };
        vec![
            stage(
                &["eu-west-1", "ap-southeast-1"],
                AlertStatus::Firing,
                "home",
            ),
            stage(
                &["eu-west-1", "ap-southeast-1", "us-east-1"],
                AlertStatus::Firing,
                "cart",
            ),
            stage(&["ap-southeast-1"], AlertStatus::Firing, "cart"),
            stage(&["ap-southeast-1"], AlertStatus::Resolved, "cart"),
        ]
    }

    #[test]
    fn labels_stay_the_same_for_an_alerts_whole_life() {
        let posted: Vec<Value> = global_life()
            .iter()
            .map(|e| postable(e, t0(), DEFAULT_RESEND))
            .collect();
        let first = &posted[0]["labels"];
        for p in &posted {
            assert_eq!(&p["labels"], first, "{p}");
        }
        assert_eq!(first["alert_id"], "checkout/global");
        assert_eq!(first["alertname"], "SondeScenarioGlobalDown");
        assert_eq!(first["scope"], "global");
        assert_eq!(first["team"], "shop");
        assert!(first.get("regions").is_none(), "{first}");
        assert!(first.get("region").is_none(), "{first}");
        // What changes is told in the annotations.
        let regions: Vec<&str> = posted
            .iter()
            .filter_map(|p| p["annotations"]["regions"].as_str())
            .collect();
        assert_eq!(
            regions,
            [
                "eu-west-1,ap-southeast-1",
                "eu-west-1,ap-southeast-1,us-east-1",
                "ap-southeast-1",
                "ap-southeast-1"
            ]
        );
        assert_eq!(
            posted[2]["annotations"]["summary"],
            "checkout is down in ap-southeast-1"
        );
    }

    #[test]
    fn a_regional_alert_keeps_its_region_label() {
        let event = AlertEvent {
            status: AlertStatus::Firing,
            alert: alert(),
            muted: false,
        };
        let v = postable(&event, t0(), DEFAULT_RESEND);
        assert_eq!(v["labels"]["region"], "eu-west-1");
        assert_eq!(v["labels"]["alert_id"], "checkout/region/eu-west-1");
        assert_eq!(v["annotations"]["regions"], "eu-west-1");
        assert!(v["annotations"].get("dependents").is_none(), "{v}");
    }

    #[test]
    fn dependents_are_an_annotation_never_a_label() {
        let event = AlertEvent {
            status: AlertStatus::Firing,
            alert: Alert {
                dependents: vec!["checkout".into(), "search".into()],
                ..alert()
            },
            muted: false,
        };
        let v = postable(&event, t0(), DEFAULT_RESEND);
        assert_eq!(v["annotations"]["dependents"], "checkout,search");
        assert!(v["labels"].get("dependents").is_none(), "{v}");
    }
}
