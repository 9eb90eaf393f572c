//! PagerDuty Events API v2: trigger and resolve, `dedup_key` = the alert
//! id, so re-sent triggers update one incident and the resolve closes it.

use chrono::{DateTime, Utc};
use scenarios::model::Severity;
use serde_json::{Map, Value, json};

use super::channel::{Attempt, BoxFuture, Channel, Notification, post};
use super::text;
use crate::alert::{Alert, AlertStatus};
use crate::config::NotifierKind;

/// Where events go unless the entry gives a `url`.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// PagerDuty's limit on `payload.summary`.
const SUMMARY_CHARS: usize = 1024;

#[derive(Debug)]
pub struct Pagerduty {
    client: reqwest::Client,
    url: String,
    routing_key: String,
}

impl Pagerduty {
    pub fn new(client: reqwest::Client, url: Option<String>, routing_key: String) -> Pagerduty {
        let url = url.unwrap_or_else(|| DEFAULT_URL.to_owned());
        Pagerduty {
            client,
            url,
            routing_key,
        }
    }
}

/// The event for one notification; the same on every retry.
pub fn event(routing_key: &str, status: AlertStatus, alert: &Alert) -> Value {
    let mut event = json!({
        "routing_key": routing_key,
        "dedup_key": alert.id,
    });
    if status == AlertStatus::Resolved {
        event["event_action"] = json!("resolve");
        return event;
    }
    event["event_action"] = json!("trigger");
    event["payload"] = json!({
        "summary": text::cut(&alert.summary, SUMMARY_CHARS),
        "source": "sonde",
        "severity": severity(alert.severity),
        "timestamp": text::time(alert.started_at),
        "component": alert.scenario.as_deref().or(alert.probe.as_deref()),
        "group": alert.regions.join(","),
        "class": alert.scope.as_str(),
        "custom_details": details(alert),
    });
    let links: Vec<Value> = [
        ("Runbook", &alert.runbook),
        ("Failing run", &alert.page_url),
        ("Trace", &alert.trace_url),
        ("Scenario", &alert.url),
    ]
    .into_iter()
    .filter_map(|(name, href)| href.as_ref().map(|h| json!({"href": h, "text": name})))
    .collect();
    if !links.is_empty() {
        event["links"] = Value::Array(links);
    }
    event["client"] = json!("Sonde");
    if let Some(url) = &alert.url {
        event["client_url"] = json!(url);
    }
    event
}

/// PagerDuty's word for a severity (it also knows `error`, which no
/// Sonde severity maps to).
fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn details(alert: &Alert) -> Value {
    let mut map = Map::new();
    map.insert("alert_id".into(), json!(alert.id));
    for (name, value) in text::facts(alert, AlertStatus::Firing) {
        map.insert(name.to_lowercase().replace(' ', "_"), json!(value));
    }
    if let Some(runbook) = &alert.runbook {
        map.insert("runbook".into(), json!(runbook));
    }
    for (k, v) in &alert.labels {
        map.entry(format!("label_{k}")).or_insert_with(|| json!(v));
    }
    Value::Object(map)
}

impl Channel for Pagerduty {
    fn kind(&self) -> NotifierKind {
        NotifierKind::Pagerduty
    }

    fn send<'a>(&'a self, n: &'a Notification, _now: DateTime<Utc>) -> BoxFuture<'a, Attempt> {
        let body = event(&self.routing_key, n.event.status, &n.event.alert);
        Box::pin(post(self.client.post(&self.url).json(&body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notify::testing::alert;

    #[test]
    fn trigger_and_resolve() {
        let a = alert();
        let t = event("R0UT1NG", AlertStatus::Firing, &a);
        assert_eq!(t["event_action"], "trigger");
        assert_eq!(t["dedup_key"], "checkout/region/eu-west-1");
        assert_eq!(t["payload"]["source"], "sonde");
        assert_eq!(t["payload"]["severity"], "critical");
        assert_eq!(t["payload"]["component"], "checkout");
        assert_eq!(t["payload"]["group"], "eu-west-1");
        assert_eq!(t["payload"]["custom_details"]["step"], "checkout");
        assert_eq!(
            t["links"][0]["href"],
            "https://runbooks.example.com/checkout"
        );
        let r = event("R0UT1NG", AlertStatus::Resolved, &a);
        assert_eq!(r["event_action"], "resolve");
        assert_eq!(r["dedup_key"], t["dedup_key"]);
        assert!(r.get("payload").is_none());
    }

    #[test]
    fn dedup_key_is_the_alert_id_whatever_its_regions() {
        let mut a = alert();
        a.id = "checkout/global".into();
        a.scope = crate::alert::Scope::Global;
        let keys: Vec<Value> = [
            (vec!["eu-west-1", "us-east-1"], AlertStatus::Firing),
            (
                vec!["eu-west-1", "us-east-1", "ap-southeast-1"],
                AlertStatus::Firing,
            ),
            (vec!["us-east-1"], AlertStatus::Firing),
            (vec!["us-east-1"], AlertStatus::Resolved),
        ]
        .into_iter()
        .map(|(regions, status)| {
            a.regions = regions.into_iter().map(str::to_owned).collect();
            event("R0UT1NG", status, &a)["dedup_key"].clone()
        })
        .collect();
        assert!(keys.iter().all(|k| k == "checkout/global"), "{keys:?}");
    }
}
