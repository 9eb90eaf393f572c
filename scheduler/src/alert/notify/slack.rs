//! Slack incoming webhooks: a Block Kit message (header, the facts as
//! fields, links) with a plain-text fallback for notifications.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::channel::{Attempt, BoxFuture, Channel, Notification, post};
use super::text;
use crate::alert::{Alert, AlertStatus};
use crate::config::NotifierKind;

/// Block Kit limits: header text, fields per section, field text.
const HEADER_CHARS: usize = 150;
const FIELDS_PER_SECTION: usize = 10;
const FIELD_CHARS: usize = 1900;

#[derive(Debug)]
pub struct Slack {
    client: reqwest::Client,
    url: String,
}

impl Slack {
    pub fn new(client: reqwest::Client, url: String) -> Slack {
        Slack { client, url }
    }
}

/// The message for one notification.
pub fn message(status: AlertStatus, alert: &Alert) -> Value {
    let title = match status {
        AlertStatus::Firing => format!(":red_circle: Firing: {}", alert.summary),
        AlertStatus::Resolved => format!(":large_green_circle: Resolved: {}", alert.summary),
    };
    let facts = text::facts(alert, status);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": text::cut(&title, HEADER_CHARS), "emoji": true},
    })];
    for chunk in facts.chunks(FIELDS_PER_SECTION) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|(name, value)| {
                let value = text::cut(&escape(value), FIELD_CHARS);
                json!({"type": "mrkdwn", "text": format!("*{name}*\n{value}")})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let buttons: Vec<Value> = [
        ("Runbook", &alert.runbook),
        ("Failing run", &alert.page_url),
        ("Trace", &alert.trace_url),
        ("Scenario in the API", &alert.url),
    ]
    .into_iter()
    .filter_map(|(name, url)| {
        let url = url.as_ref()?;
        Some(json!({
            "type": "button",
            "text": {"type": "plain_text", "text": name},
            "url": url,
        }))
    })
    .collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    let fallback: Vec<String> = std::iter::once(title)
        .chain(facts.iter().map(|(k, v)| format!("{k}: {v}")))
        .chain(alert.runbook.iter().map(|r| format!("Runbook: {r}")))
        .collect();
    json!({"text": escape(&fallback.join("\n")), "blocks": blocks})
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Channel for Slack {
    fn kind(&self) -> NotifierKind {
        NotifierKind::Slack
    }

    fn send<'a>(&'a self, n: &'a Notification, _now: DateTime<Utc>) -> BoxFuture<'a, Attempt> {
        let body = message(n.event.status, &n.event.alert);
        Box::pin(post(self.client.post(&self.url).json(&body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notify::testing::alert;

    #[test]
    fn message_has_header_fields_and_links() {
        let mut a = alert();
        a.actual = Some("<html>".into());
        let m = message(AlertStatus::Firing, &a);
        assert_eq!(m["blocks"][0]["type"], "header");
        let fields = m["blocks"][1]["fields"].to_string();
        assert!(fields.contains("*Step*\\ncheckout"), "{fields}");
        assert!(
            fields.contains("expected 200, got &lt;html&gt;"),
            "{fields}"
        );
        assert_eq!(
            m["blocks"][2]["elements"][0]["url"],
            "https://runbooks.example.com/checkout"
        );
        assert!(
            m["text"]
                .as_str()
                .unwrap()
                .starts_with(":red_circle: Firing")
        );
    }

    #[test]
    fn resolve_says_how_long() {
        let mut a = alert();
        a.ended_at = Some(a.started_at + chrono::Duration::seconds(245));
        let m = message(AlertStatus::Resolved, &a);
        assert!(m.to_string().contains("*Duration*\\n4m 5s"), "{m}");
    }
}
