//! Raw settings → [`Config`], collecting every problem.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scenarios::diagnostic::Diagnostic;

use super::error::Problem;
use super::raw::{RawConfig, RawNotify, RawProbe};
use super::settings::{EnvLookup, Origin, Reader, Setting};
use super::{
    Config, DEFAULT_INGEST_RATE, DEFAULT_LISTEN, DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_CLOCK_SKEW,
    DEFAULT_PROBE_SILENCE, DEFAULT_RETENTION, DEFAULT_SHUTDOWN_GRACE, MIN_HEARTBEAT, NotifierKind,
    NotifyEntry, ProbeEntry, ReadAccess, TlsFiles, WebhookSecret, default_burst, host_name,
    is_valid_name, is_valid_replica,
};

pub(super) fn compile(
    source: &str,
    base: &Path,
    env: EnvLookup<'_>,
) -> Result<Config, Vec<Problem>> {
    let raw: RawConfig = toml::from_str(source).map_err(|e| vec![toml_problem(source, &e)])?;
    let mut r = Reader::new(source, env);
    let listen = r.string("listen", raw.listen);
    let listen = listen.map_or(Some(default_listen()), |s| address(&mut r, &s));
    let public_url = r
        .string("public_url", raw.public_url)
        .and_then(|s| public_url(&mut r, &s));
    let trace_url = r
        .string("trace_url", raw.trace_url)
        .and_then(|s| trace_url(&mut r, &s));
    let data_dir = required_path(&mut r, "data_dir", raw.data_dir, base);
    let scenarios_dir = required_path(&mut r, "scenarios_dir", raw.scenarios_dir, base);
    let database_url = r
        .string("database_url", raw.database_url)
        .and_then(|s| database_url(&mut r, &s));
    if let Some(dir) = &scenarios_dir
        && !dir.value.is_dir()
    {
        let shown = dir.value.display();
        r.error(
            &dir.origin,
            format!("`{shown}` is not a directory"),
            "expected the directory of the scenario files",
        );
    }
    let retention = duration(
        &mut r,
        "retention",
        raw.retention,
        DEFAULT_RETENTION,
        Duration::from_secs(3600),
    );
    let probe_silence = duration(
        &mut r,
        "probe_silence",
        raw.probe_silence,
        DEFAULT_PROBE_SILENCE,
        Duration::from_secs(1),
    );
    let shutdown_grace = duration(
        &mut r,
        "shutdown_grace",
        raw.shutdown_grace,
        DEFAULT_SHUTDOWN_GRACE,
        Duration::ZERO,
    );
    let max_clock_skew = duration(
        &mut r,
        "max_clock_skew",
        raw.max_clock_skew,
        DEFAULT_MAX_CLOCK_SKEW,
        Duration::from_secs(1),
    );
    let read_access = read_access(&mut r, raw.read_access);
    let replica = replica(&mut r, raw.replica);
    let tls = tls_files(&mut r, raw.tls_cert, raw.tls_key, base);
    let max_batch_bytes = integer(
        &mut r,
        "max_batch_bytes",
        raw.max_batch_bytes,
        1024,
        DEFAULT_MAX_BATCH_BYTES as i64,
    );
    let ingest_rate = integer(
        &mut r,
        "ingest_rate",
        raw.ingest_rate,
        1,
        i64::from(DEFAULT_INGEST_RATE),
    );
    let rate = u32::try_from(ingest_rate).unwrap_or(u32::MAX);
    let ingest_burst = integer(
        &mut r,
        "ingest_burst",
        raw.ingest_burst,
        1,
        i64::from(default_burst(rate)),
    );
    let probes = probes(&mut r, raw.probe);
    let notify = raw
        .notify
        .into_iter()
        .filter_map(|n| notifier(&mut r, n))
        .collect();
    let notify = name_notifiers(&mut r, notify);
    let maintenance = super::maintenance::windows(&mut r, raw.maintenance);
    let server = server_limits(&mut r, raw.server.unwrap_or_default());
    if !r.problems.is_empty() {
        return Err(r.problems);
    }
    // Every `None` above pushed a problem, so these are all present here.
    match (listen, data_dir, scenarios_dir) {
        (Some(listen), Some(data_dir), Some(scenarios_dir)) => Ok(Config {
            listen,
            public_url,
            trace_url,
            data_dir: data_dir.value,
            database_url,
            scenarios_dir: scenarios_dir.value,
            retention,
            probe_silence,
            tls,
            max_batch_bytes: usize::try_from(max_batch_bytes).unwrap_or(usize::MAX),
            ingest_rate: rate,
            ingest_burst: u32::try_from(ingest_burst).unwrap_or(u32::MAX),
            shutdown_grace,
            max_clock_skew,
            read_access,
            probes,
            notify,
            maintenance,
            server,
            replica,
        }),
        _ => Err(vec![Problem::General("incomplete configuration".into())]),
    }
}

/// `read_access`: `open` (the default) or `token`.
fn read_access(r: &mut Reader<'_>, raw: Option<toml::Spanned<String>>) -> ReadAccess {
    let Some(setting) = r.string("read_access", raw) else {
        return ReadAccess::default();
    };
    ReadAccess::parse(&setting.value).unwrap_or_else(|| {
        r.error(
            &setting.origin,
            format!("invalid value `{}` for `read_access`", setting.value),
            "expected `open` (anyone may read) or `token` (a viewer or operator token)",
        );
        ReadAccess::default()
    })
}

/// `replica`, else the host name.
fn replica(r: &mut Reader<'_>, raw: Option<toml::Spanned<String>>) -> String {
    match r.string("replica", raw) {
        Some(s) if is_valid_replica(&s.value) => s.value,
        Some(s) => {
            r.error(
                &s.origin,
                format!("invalid replica name `{}`", s.value),
                "expected 1 to 253 printable characters without spaces (e.g. `sched-a`)",
            );
            String::new()
        }
        None => host_name(),
    }
}

fn database_url(r: &mut Reader<'_>, s: &Setting<String>) -> Option<super::DatabaseUrl> {
    match super::DatabaseUrl::parse(&s.value) {
        Ok(url) => Some(url),
        Err(message) => {
            r.error(&s.origin, "invalid `database_url`", message);
            None
        }
    }
}

fn toml_problem(source: &str, error: &toml::de::Error) -> Problem {
    let message = error.message().trim().to_owned();
    let span = error.span().unwrap_or(0..0);
    // serde's "unknown field `x`, expected one of …" reads better split.
    let (title, label) = match message.split_once(", expected ") {
        Some((title, rest)) => (title.to_owned(), format!("expected {rest}")),
        None => (message.clone(), "here".to_owned()),
    };
    let span = if span.is_empty() && !source.is_empty() {
        span.start..(span.start + 1).min(source.len())
    } else {
        span
    };
    Problem::At(Diagnostic::new(title, span, label))
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 9470)))
}

fn address(r: &mut Reader<'_>, s: &Setting<String>) -> Option<SocketAddr> {
    match s.value.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            r.error(
                &s.origin,
                format!("invalid listen address `{}`", s.value),
                "expected an IP address and port, like `127.0.0.1:9470`",
            );
            None
        }
    }
}

/// An absolute `http(s)` URL without a trailing slash, query or fragment.
fn public_url(r: &mut Reader<'_>, s: &Setting<String>) -> Option<String> {
    match url::Url::parse(&s.value) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.has_host()
                && u.query().is_none()
                && u.fragment().is_none() =>
        {
            Some(s.value.trim_end_matches('/').to_owned())
        }
        _ => {
            r.error(
                &s.origin,
                format!("invalid public_url `{}`", s.value),
                "expected an http or https URL users reach the scheduler at, like `https://sonde.example.com`",
            );
            None
        }
    }
}

/// An `http(s)` URL template with `{trace_id}` in it.
fn trace_url(r: &mut Reader<'_>, s: &Setting<String>) -> Option<String> {
    let sample = s
        .value
        .replace(TRACE_ID, "4bf92f3577b34da6a3ce929d0e0e4736");
    match url::Url::parse(&sample) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.has_host()
                && s.value.contains(TRACE_ID) =>
        {
            Some(s.value.clone())
        }
        _ => {
            r.error(
                &s.origin,
                format!("invalid trace_url `{}`", s.value),
                "expected an http or https URL with `{trace_id}` where the run's trace id goes, like `https://jaeger.example.com/trace/{trace_id}`",
            );
            None
        }
    }
}

/// Where a run's trace id goes in `trace_url`.
pub const TRACE_ID: &str = "{trace_id}";

fn resolve(base: &Path, value: &str) -> PathBuf {
    let path = Path::new(value);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn required_path(
    r: &mut Reader<'_>,
    key: &str,
    raw: Option<toml::Spanned<String>>,
    base: &Path,
) -> Option<Setting<PathBuf>> {
    let Some(s) = r.string(key, raw) else {
        r.problems.push(Problem::General(format!(
            "missing `{key}` (set it in the file or as {})",
            Reader::env_var(key)
        )));
        return None;
    };
    if s.value.is_empty() {
        r.error(
            &s.origin,
            format!("`{key}` is empty"),
            "expected a directory",
        );
        return None;
    }
    Some(Setting {
        value: resolve(base, &s.value),
        origin: s.origin,
    })
}

/// `[server]`, each key with its `SONDE_SCHEDULER_SERVER_*` override.
fn server_limits(r: &mut Reader<'_>, raw: super::raw::RawServer) -> super::ServerLimits {
    let d = super::ServerLimits::default();
    let second = Duration::from_secs(1);
    super::ServerLimits {
        max_connections: usize::try_from(integer(
            r,
            "server.max_connections",
            raw.max_connections,
            16,
            d.max_connections as i64,
        ))
        .unwrap_or(d.max_connections),
        header_timeout: duration(
            r,
            "server.header_timeout",
            raw.header_timeout,
            d.header_timeout,
            second,
        ),
        idle_timeout: duration(
            r,
            "server.idle_timeout",
            raw.idle_timeout,
            d.idle_timeout,
            second,
        ),
        request_timeout: duration(
            r,
            "server.request_timeout",
            raw.request_timeout,
            d.request_timeout,
            second,
        ),
    }
}

fn duration(
    r: &mut Reader<'_>,
    key: &str,
    raw: Option<toml::Spanned<String>>,
    default: Duration,
    min: Duration,
) -> Duration {
    let Some(s) = r.string(key, raw) else {
        return default;
    };
    match scenarios::duration::parse(&s.value) {
        Ok(d) if d >= min => d,
        Ok(_) => {
            let min = scenarios::duration::Human(min);
            r.error(
                &s.origin,
                format!("`{key}` is too short"),
                format!("expected at least {min}"),
            );
            default
        }
        Err(e) => {
            r.error(
                &s.origin,
                format!("invalid duration `{}` for `{key}` ({e})", s.value),
                scenarios::duration::EXPECTED,
            );
            default
        }
    }
}

fn integer(
    r: &mut Reader<'_>,
    key: &str,
    raw: Option<toml::Spanned<i64>>,
    min: i64,
    default: i64,
) -> i64 {
    let Some(s) = r.integer(key, raw) else {
        return default;
    };
    if s.value < min || s.value > i64::from(u32::MAX) * 16 {
        r.error(
            &s.origin,
            format!("`{key}` is out of range"),
            format!("expected an integer from {min}"),
        );
        return default;
    }
    s.value
}

fn tls_files(
    r: &mut Reader<'_>,
    cert: Option<toml::Spanned<String>>,
    key: Option<toml::Spanned<String>>,
    base: &Path,
) -> Option<TlsFiles> {
    let cert = r.string("tls_cert", cert);
    let key = r.string("tls_key", key);
    match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: resolve(base, &cert.value),
            key: resolve(base, &key.value),
        }),
        (Some(one), None) | (None, Some(one)) => {
            r.error(
                &one.origin,
                "`tls_cert` and `tls_key` go together",
                "set both, or neither for plain HTTP",
            );
            None
        }
    }
}

fn probes(r: &mut Reader<'_>, raw: Vec<RawProbe>) -> Vec<ProbeEntry> {
    let mut out: Vec<ProbeEntry> = Vec::new();
    for entry in raw {
        let name = r.file_string(entry.name);
        let region = r.file_string(entry.region);
        let hash = r.file_string(entry.token_sha256);
        for s in [&name, &region] {
            if !is_valid_name(&s.value) {
                r.error(
                    &s.origin,
                    format!("invalid name `{}`", s.value),
                    "expected lowercase letters, digits, `_`, `.` or `-` (at most 63)",
                );
            }
        }
        let hex = hash.value.trim().to_ascii_lowercase();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            r.error(
                &hash.origin,
                "invalid `token_sha256`",
                "expected 64 hex digits (`scheduler token create --print-config` prints them)",
            );
        }
        if out.iter().any(|p| p.name == name.value) {
            r.error(
                &name.origin,
                format!("duplicate probe `{}`", name.value),
                "each `[[probe]]` needs its own name",
            );
        }
        out.push(ProbeEntry {
            name: name.value,
            region: region.value,
            token_sha256: hex,
        });
    }
    out
}

/// A notifier as read, with the name it was given, if any.
struct ReadNotifier {
    name: Option<Setting<String>>,
    /// Where its `kind` is: errors about an unnamed entry point there.
    at: Origin,
    entry: NotifyEntry,
}

fn notifier(r: &mut Reader<'_>, raw: RawNotify) -> Option<ReadNotifier> {
    let name = raw.name.map(|n| r.file_string(n));
    if let Some(n) = &name
        && !is_valid_name(&n.value)
    {
        r.error(
            &n.origin,
            format!("invalid notifier name `{}`", n.value),
            "expected lowercase letters, digits, `-`, `_` or `.` (e.g. `oncall-pager`)",
        );
    }
    let kind_setting = r.file_string(raw.kind);
    let kind = NotifierKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind_setting.value);
    let url = raw.url.map(|u| r.file_string(u).value);
    let secret = raw.secret.map(|s| r.file_string(s));
    let routing_key = raw.routing_key.map(|s| r.file_string(s).value);
    let resend_interval = raw.resend_interval.map(|s| {
        let s = r.file_string(s);
        notify_duration(r, s, "resend_interval", Duration::from_secs(1))
    });
    let interval = raw.interval.map(|s| {
        let s = r.file_string(s);
        notify_duration(r, s, "interval", MIN_HEARTBEAT)
    });
    let match_labels = raw
        .match_labels
        .into_iter()
        .map(|(k, v)| (k, r.file_string(v).value))
        .collect::<std::collections::BTreeMap<_, _>>();
    let match_labels_empty = match_labels.is_empty();
    let Some(kind) = kind else {
        r.error(
            &kind_setting.origin,
            format!("unknown notifier kind `{}`", kind_setting.value),
            "expected `alertmanager`, `pagerduty`, `slack`, `webhook` or `heartbeat`",
        );
        return None;
    };
    if kind != NotifierKind::Pagerduty && url.is_none() {
        r.error(
            &Origin::File(kind_setting.origin_span()),
            format!("a `{}` notifier needs `url`", kind.as_str()),
            "add `url = \"…\"` to this entry",
        );
    }
    let secret = check_notifier(
        r,
        kind,
        &kind_setting,
        &secret,
        &routing_key,
        &resend_interval,
    );
    if kind != NotifierKind::Heartbeat && interval.is_some() {
        r.error(
            &Origin::File(kind_setting.origin_span()),
            format!("`interval` is for heartbeats, not `{}`", kind.as_str()),
            "remove it (Alertmanager re-sends every `resend_interval`)",
        );
    }
    if kind == NotifierKind::Heartbeat && !match_labels_empty {
        r.error(
            &Origin::File(kind_setting.origin_span()),
            "a `heartbeat` notifier gets no alerts, so `match` means nothing",
            "remove `match` from this entry",
        );
    }
    Some(ReadNotifier {
        name,
        at: Origin::File(kind_setting.origin_span()),
        entry: NotifyEntry {
            name: String::new(),
            kind,
            url,
            match_labels,
            secret,
            routing_key,
            resend_interval: resend_interval.flatten(),
            interval: interval.flatten(),
        },
    })
}

/// Gives every entry its name: the one written, else its kind, numbered by
/// its place among the entries of that kind when there are several. Two
/// entries with one name are an error at the second.
fn name_notifiers(r: &mut Reader<'_>, read: Vec<ReadNotifier>) -> Vec<NotifyEntry> {
    let of_kind = |kind: NotifierKind| read.iter().filter(|n| n.entry.kind == kind).count();
    let mut seen_of_kind = std::collections::BTreeMap::new();
    let mut names = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(read.len());
    for n in &read {
        let kind = n.entry.kind;
        let place = seen_of_kind.entry(kind.as_str()).or_insert(0usize);
        *place += 1;
        let name = match &n.name {
            Some(written) => written.value.clone(),
            None if of_kind(kind) == 1 => kind.as_str().to_owned(),
            None => format!("{}-{place}", kind.as_str()),
        };
        if !names.insert(name.clone()) {
            let origin = n.name.as_ref().map_or(&n.at, |w| &w.origin);
            r.error(
                origin,
                format!("two notifiers are named `{name}`"),
                "give each `[[notify]]` entry its own `name`",
            );
        }
        out.push(NotifyEntry {
            name,
            ..n.entry.clone()
        });
    }
    out
}

/// Each kind's own keys: a webhook needs a usable `whsec_` secret (its
/// decoded key is returned), PagerDuty a `routing_key`; `resend_interval`
/// is Alertmanager's.
fn check_notifier(
    r: &mut Reader<'_>,
    kind: NotifierKind,
    kind_setting: &Setting<String>,
    secret: &Option<Setting<String>>,
    routing_key: &Option<String>,
    resend_interval: &Option<Option<Duration>>,
) -> Option<WebhookSecret> {
    let here = Origin::File(kind_setting.origin_span());
    let mut key = None;
    match (kind, secret) {
        (NotifierKind::Webhook, None) => r.error(
            &here,
            "a `webhook` notifier needs `secret`",
            "add `secret = \"{{env.WEBHOOK_SECRET}}\"` (whsec_ + base64)",
        ),
        (NotifierKind::Webhook, Some(s)) => match WebhookSecret::parse(&s.value) {
            Ok(decoded) => key = Some(decoded),
            Err(e) => r.error(
                &s.origin,
                format!("invalid webhook secret: {e}"),
                "expected whsec_ + base64",
            ),
        },
        (_, Some(s)) => r.error(
            &s.origin,
            format!("`secret` is for webhooks, not `{}`", kind.as_str()),
            "remove it (PagerDuty takes `routing_key`)",
        ),
        (_, None) => {}
    }
    if kind == NotifierKind::Pagerduty && routing_key.is_none() {
        r.error(
            &here,
            "a `pagerduty` notifier needs `routing_key`",
            "add `routing_key = \"{{env.PAGERDUTY_ROUTING_KEY}}\"`",
        );
    }
    if kind != NotifierKind::Pagerduty && routing_key.is_some() {
        r.error(
            &here,
            format!("`routing_key` is for PagerDuty, not `{}`", kind.as_str()),
            "remove it",
        );
    }
    if kind != NotifierKind::Alertmanager && resend_interval.is_some() {
        r.error(
            &here,
            format!(
                "`resend_interval` is for Alertmanager, not `{}`",
                kind.as_str()
            ),
            "remove it",
        );
    }
    key
}

fn notify_duration(
    r: &mut Reader<'_>,
    s: Setting<String>,
    key: &str,
    min: Duration,
) -> Option<Duration> {
    match scenarios::duration::parse(&s.value) {
        Ok(d) if d >= min => Some(d),
        Ok(_) => {
            r.error(
                &s.origin,
                format!("`{key}` is too short"),
                format!("expected at least {}s", min.as_secs()),
            );
            None
        }
        Err(e) => {
            r.error(
                &s.origin,
                format!("invalid duration `{}` for `{key}` ({e})", s.value),
                scenarios::duration::EXPECTED,
            );
            None
        }
    }
}

impl Setting<String> {
    fn origin_span(&self) -> std::ops::Range<usize> {
        match &self.origin {
            Origin::File(span) => span.clone(),
            Origin::Env(_) => 0..0,
        }
    }
}
