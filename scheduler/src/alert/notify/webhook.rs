//! The generic webhook: the body of `docs/alerting.md` ("Generic
//! webhook"), signed as Standard Webhooks says (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::channel::{Attempt, BoxFuture, Channel, Notification, post};
use super::sign::SigningKey;
use super::text;
use crate::alert::{Alert, AlertStatus};
use crate::config::NotifierKind;

/// The body of every webhook request.
#[derive(Debug, Serialize)]
pub struct WebhookBody<'a> {
    pub version: u32,
    pub status: AlertStatus,
    pub sent_at: String,
    pub alert: &'a Alert,
}

/// The `webhook-id` of a notification: the same on every retry. A test
/// notification has no outbox row; its negative id (see
/// [`super::trial`]) gives `msg_test_…`, never an event's id.
pub fn message_id(event_id: i64) -> String {
    if event_id < 0 {
        format!("msg_test_{}", event_id.unsigned_abs())
    } else {
        format!("msg_{event_id}")
    }
}

#[derive(Debug)]
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    key: SigningKey,
}

impl Webhook {
    pub fn new(client: reqwest::Client, url: String, key: SigningKey) -> Webhook {
        Webhook { client, url, key }
    }

    fn request(&self, n: &Notification, now: DateTime<Utc>) -> reqwest::RequestBuilder {
        let body = WebhookBody {
            version: 1,
            status: n.event.status,
            sent_at: text::time(now),
            alert: &n.event.alert,
        };
        // Serializing plain data into a Vec cannot fail.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let id = message_id(n.event_id);
        let timestamp = now.timestamp();
        let signature = self.key.sign(&id, timestamp, &body);
        self.client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
    }
}

impl Channel for Webhook {
    fn kind(&self) -> NotifierKind {
        NotifierKind::Webhook
    }

    fn send<'a>(&'a self, n: &'a Notification, now: DateTime<Utc>) -> BoxFuture<'a, Attempt> {
        Box::pin(post(self.request(n, now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notify::testing::alert;

    #[test]
    fn body_has_the_design_shape() {
        let a = alert();
        let body = WebhookBody {
            version: 1,
            status: AlertStatus::Firing,
            sent_at: "2026-11-24T10:02:11.250Z".into(),
            alert: &a,
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["status"], "firing");
        assert_eq!(v["alert"]["id"], "checkout/region/eu-west-1");
        assert_eq!(v["alert"]["regions"][0], "eu-west-1");
        assert_eq!(v["alert"]["confirmation"]["outcome"], "success");
        assert_eq!(v["alert"]["started_at"], "2026-11-24T10:02:10.900Z");
        assert!(v["alert"]["ended_at"].is_null());
    }
}
