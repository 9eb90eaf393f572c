//! Notifiers: Alertmanager, PagerDuty, Slack and signed webhooks, fed from
//! a durable queue in the store.
