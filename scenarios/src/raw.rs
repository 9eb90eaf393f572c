//! The serde layer: structs that mirror the TOML exactly. Every struct
//! denies unknown fields and none uses `flatten` (which silently disables
//! that check); every value that a later rule checks keeps its span.
//!
//! The file is deserialized in sections (the top level, `[defaults]`,
//! `[vars]`, `[alert]`, each `[[steps]]`) so that an error in one section
//! does not hide errors in the others.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// Top-level keys other than the sections.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub name: Option<Spanned<String>>,
    pub description: Option<String>,
    pub interval: Option<Spanned<String>>,
    pub cron: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub regions: Option<Spanned<Vec<Spanned<String>>>>,
    pub labels: Option<BTreeMap<String, Spanned<String>>>,
    pub depends_on: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Keys of the top level, sections included, for suggestions.
pub const HEADER_KEYS: [&str; 13] = [
    "name",
    "description",
    "interval",
    "cron",
    "timezone",
    "timeout",
    "regions",
    "labels",
    "depends_on",
    "defaults",
    "vars",
    "steps",
    "alert",
];

/// `[defaults]`, applied to every step.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    pub base_url: Option<Spanned<String>>,
    pub headers: Option<BTreeMap<String, Spanned<String>>>,
    pub timeout: Option<Spanned<String>>,
    pub follow_redirects: Option<bool>,
    pub max_redirects: Option<Spanned<i64>>,
    pub tls: Option<Spanned<RawTls>>,
    pub http: Option<Spanned<String>>,
}

/// `tls = { insecure, ca_file, server_name }`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub insecure: Option<bool>,
    pub ca_file: Option<Spanned<String>>,
    pub server_name: Option<Spanned<String>>,
}

/// One `[[steps]]` table, whatever its kind; which fields a kind allows is
/// checked in validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: Option<Spanned<String>>,
    pub kind: Option<Spanned<String>>,
    pub get: Option<Spanned<String>>,
    pub post: Option<Spanned<String>>,
    pub put: Option<Spanned<String>>,
    pub patch: Option<Spanned<String>>,
    pub delete: Option<Spanned<String>>,
    pub head: Option<Spanned<String>>,
    pub options: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub json: Option<Spanned<toml::Value>>,
    pub form: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub body: Option<Spanned<String>>,
    pub headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub timeout: Option<Spanned<String>>,
    pub follow_redirects: Option<Spanned<bool>>,
    pub forward_headers: Option<Spanned<bool>>,
    pub max_redirects: Option<Spanned<i64>>,
    pub max_body_bytes: Option<Spanned<i64>>,
    pub tls: Option<Spanned<RawTls>>,
    pub http: Option<Spanned<String>>,
    pub query: Option<Spanned<String>>,
    #[serde(rename = "type")]
    pub record_type: Option<Spanned<String>>,
    pub server: Option<Spanned<String>>,
    pub address: Option<Spanned<String>>,
    pub send: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub count: Option<Spanned<i64>>,
    pub interval: Option<Spanned<String>>,
    pub service: Option<Spanned<String>>,
    pub actions: Option<Spanned<Vec<Spanned<RawBrowserAction>>>>,
    pub expect: Option<Spanned<Vec<Spanned<String>>>>,
    pub capture: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
}

/// One entry of a browser step's `actions`: exactly one key is set, which
/// validation checks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBrowserAction {
    pub goto: Option<Spanned<String>>,
    pub click: Option<Spanned<String>>,
    pub fill: Option<Spanned<RawFieldValue>>,
    pub select: Option<Spanned<RawFieldValue>>,
    pub press: Option<Spanned<String>>,
    pub wait_for: Option<Spanned<String>>,
    pub eval: Option<Spanned<String>>,
}

/// `{ selector = "#user", value = "…" }` of `fill` and `select`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFieldValue {
    pub selector: Spanned<String>,
    pub value: Spanned<String>,
}

/// Keys a step may have, for suggestions.
pub const STEP_KEYS: [&str; 34] = [
    "name",
    "kind",
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "options",
    "method",
    "url",
    "json",
    "form",
    "body",
    "headers",
    "timeout",
    "follow_redirects",
    "forward_headers",
    "max_redirects",
    "max_body_bytes",
    "tls",
    "http",
    "query",
    "type",
    "server",
    "address",
    "send",
    "host",
    "count",
    "interval",
    "service",
    "actions",
    "expect",
    "capture",
];

/// `[alert]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlert {
    /// A whole number or `"N of M"`.
    pub after: Option<Spanned<toml::Value>>,
    pub recover_after: Option<Spanned<toml::Value>>,
    pub global_regions: Option<Spanned<i64>>,
    pub severity: Option<Spanned<String>>,
    pub runbook: Option<Spanned<String>>,
    pub confirm: Option<bool>,
    pub latency: Option<Spanned<String>>,
    pub slo: Option<Spanned<RawSlo>>,
    pub retry: Option<Spanned<RawRetry>>,
    pub anomaly: Option<Spanned<RawAnomaly>>,
}

/// `anomaly = { sensitivity, min_runs, severity }`, all optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnomaly {
    pub sensitivity: Option<Spanned<f64>>,
    pub min_runs: Option<Spanned<i64>>,
    pub severity: Option<Spanned<String>>,
}

/// `retry = { attempts, delay }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub attempts: Spanned<i64>,
    pub delay: Spanned<String>,
}

/// `slo = { availability, window }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    pub availability: Spanned<f64>,
    pub window: Spanned<String>,
}
