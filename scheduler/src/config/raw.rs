//! The serde layer of `scheduler.toml`: every key as written, with its
//! span, unknown keys denied. `compile` turns it into a [`super::Config`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The top level of `scheduler.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub listen: Option<Spanned<String>>,
    pub public_url: Option<Spanned<String>>,
    pub trace_url: Option<Spanned<String>>,
    pub data_dir: Option<Spanned<String>>,
    pub database_url: Option<Spanned<String>>,
    pub scenarios_dir: Option<Spanned<String>>,
    pub retention: Option<Spanned<String>>,
    pub probe_silence: Option<Spanned<String>>,
    pub tls_cert: Option<Spanned<String>>,
    pub tls_key: Option<Spanned<String>>,
    pub max_batch_bytes: Option<Spanned<i64>>,
    pub ingest_rate: Option<Spanned<i64>>,
    pub ingest_burst: Option<Spanned<i64>>,
    pub shutdown_grace: Option<Spanned<String>>,
    pub max_clock_skew: Option<Spanned<String>>,
    pub read_access: Option<Spanned<String>>,
    pub replica: Option<Spanned<String>>,
    #[serde(default)]
    pub probe: Vec<RawProbe>,
    #[serde(default)]
    pub notify: Vec<RawNotify>,
    #[serde(default)]
    pub maintenance: Vec<RawMaintenance>,
    pub server: Option<RawServer>,
}

/// `[server]`: the listener's limits.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub max_connections: Option<Spanned<i64>>,
    pub header_timeout: Option<Spanned<String>>,
    pub idle_timeout: Option<Spanned<String>>,
    pub request_timeout: Option<Spanned<String>>,
}

/// A `[[maintenance]]` window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMaintenance {
    pub name: Spanned<String>,
    pub start: Option<Spanned<String>>,
    pub cron: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub duration: Spanned<String>,
    pub scenarios: Option<Spanned<Vec<String>>>,
    #[serde(rename = "match", default)]
    pub match_labels: BTreeMap<String, Spanned<String>>,
    pub regions: Option<Spanned<Vec<String>>>,
    pub exclude_from_slo: Option<bool>,
}

/// A `[[probe]]` entry: a probe token declared in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbe {
    pub name: Spanned<String>,
    pub region: Spanned<String>,
    pub token_sha256: Spanned<String>,
}

/// A `[[notify]]` entry; the alert engine uses them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    pub name: Option<Spanned<String>>,
    pub kind: Spanned<String>,
    pub url: Option<Spanned<String>>,
    #[serde(rename = "match", default)]
    pub match_labels: BTreeMap<String, Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    pub routing_key: Option<Spanned<String>>,
    pub resend_interval: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
}
