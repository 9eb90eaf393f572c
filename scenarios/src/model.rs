//! The validated scenario: every value has its real type, every template and
//! expression is parsed, every cross-field rule has been checked. Built only
//! by `validate`; the probe runs it and the scheduler schedules it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::expr::{Assertion, Query};
use crate::template::{JsonTemplate, Template};
pub use crate::threshold::Threshold;

/// A user journey: a named, scheduled list of steps.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `[a-z0-9][a-z0-9_.-]{0,62}`; defaults to the file stem.
    pub name: String,
    pub description: Option<String>,
    pub schedule: Schedule,
    /// Budget for the whole run.
    pub timeout: Duration,
    /// `None`: every region of the fleet.
    pub regions: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    /// `depends_on`: scenarios whose being down in a region suppresses
    /// this one's alert there, in file order, each once, never itself.
    pub depends_on: Vec<String>,
    /// `[vars]`, in file order; each may use built-ins and secrets.
    pub vars: Vec<(String, Template)>,
    pub steps: Vec<Step>,
    pub alert: AlertPolicy,
    /// Files the scenario names (`tls.ca_file`), by the name written in the
    /// scenario, with their contents; they count in the version.
    pub files: BTreeMap<String, Vec<u8>>,
    /// `sha256:` over the source and the files it names.
    pub version: String,
}

/// When a scenario runs.
#[derive(Debug, Clone)]
pub enum Schedule {
    Interval(Duration),
    Cron {
        /// The expression as written, for display.
        expr: String,
        cron: Box<croner::Cron>,
        timezone: chrono_tz::Tz,
        /// The shortest gap between two firings, which bounds the timeout.
        min_gap: Duration,
    },
}

impl Schedule {
    /// The time between two runs: the interval, or the cron expression's
    /// shortest gap.
    pub fn period(&self) -> Duration {
        match self {
            Schedule::Interval(d) => *d,
            Schedule::Cron { min_gap, .. } => *min_gap,
        }
    }
}

/// What a step does; `http` unless `kind` says otherwise.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// One HTTP request (the default).
    Http,
    /// One DNS query.
    Dns,
    /// A TCP connect.
    Tcp,
    /// A TCP connect and a TLS handshake.
    Tls,
    /// A WebSocket upgrade, an optional message sent and the first one received.
    Websocket,
    /// ICMP echoes: `loss` and `rtt`.
    Icmp,
    /// A gRPC health check (`grpc.health.v1.Health/Check`): `status`.
    Grpc,
    /// Actions in a headless Chromium page: `goto`, `fill`, `click`, `wait_for`…
    Browser,
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Http => "http",
            StepKind::Dns => "dns",
            StepKind::Tcp => "tcp",
            StepKind::Tls => "tls",
            StepKind::Websocket => "websocket",
            StepKind::Icmp => "icmp",
            StepKind::Grpc => "grpc",
            StepKind::Browser => "browser",
        }
    }
}

/// One step of a journey.
#[derive(Debug, Clone)]
pub struct Step {
    /// Unique within the scenario, at most 64 characters.
    pub name: String,
    pub timeout: Duration,
    pub action: Action,
    pub expect: Vec<Assertion>,
    /// Values taken from the response for later steps, in file order.
    pub capture: Vec<Capture>,
}

impl Step {
    pub fn kind(&self) -> StepKind {
        match self.action {
            Action::Http(_) => StepKind::Http,
            Action::Dns(_) => StepKind::Dns,
            Action::Tcp(_) => StepKind::Tcp,
            Action::Tls(_) => StepKind::Tls,
            Action::Websocket(_) => StepKind::Websocket,
            Action::Icmp(_) => StepKind::Icmp,
            Action::Grpc(_) => StepKind::Grpc,
            Action::Browser(_) => StepKind::Browser,
        }
    }
}

/// The request or check a step performs.
#[derive(Debug, Clone)]
pub enum Action {
    Http(HttpRequest),
    Dns(DnsQuery),
    Tcp(TcpConnect),
    Tls(TlsHandshake),
    Websocket(WebSocketExchange),
    Icmp(IcmpEcho),
    Grpc(GrpcHealthCheck),
    Browser(BrowserJourney),
}

/// A named value taken from a step's response.
#[derive(Debug, Clone)]
pub struct Capture {
    pub name: String,
    pub query: Query,
}

/// The HTTP methods a step may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Head,
        Method::Options,
    ];

    /// The lower-case key that names it in a step (`get = "/"`).
    pub fn key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
            Method::Head => "head",
            Method::Options => "options",
        }
    }

    /// The upper-case token sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }

    pub fn from_token(s: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

/// HTTP protocol version a step asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    Http1,
    Http2,
}

/// An HTTP request step.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: Method,
    /// The full URL template (`base_url` already joined to a relative path).
    pub url: Template,
    /// Request headers, defaults first, in file order.
    pub headers: Vec<(String, Template)>,
    pub body: Option<Body>,
    pub follow_redirects: bool,
    /// Keep `Authorization`, `Proxy-Authorization`, `Cookie` and the
    /// headers made from secrets on a redirect to another origin (scheme,
    /// host or port); by default they are dropped, as curl and browsers do.
    pub forward_headers: bool,
    /// Hops followed before the step fails with a redirect error.
    pub max_redirects: u32,
    pub tls: TlsOptions,
    /// `None`: HTTP/2 when ALPN offers it on TLS, else HTTP/1.1.
    pub version: Option<HttpVersion>,
    /// Response bodies above this many bytes (after decompression) fail the step.
    pub max_body_bytes: u64,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// Sent as `application/json`; a string that is exactly one template
    /// keeps the JSON type of the value it takes.
    Json(JsonTemplate),
    /// Sent as `application/x-www-form-urlencoded`.
    Form(Vec<(String, Template)>),
    /// Sent as is.
    Raw(Template),
}

/// TLS settings of a step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Skip certificate verification (the result still reports why it would fail).
    pub insecure: bool,
    /// Name of a PEM file in [`Scenario::files`] whose certificates are trusted.
    pub ca_file: Option<String>,
    /// Name sent in SNI and verified, instead of the URL's host.
    pub server_name: Option<String>,
}

/// DNS record types a `dns` step may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Ns,
    Txt,
    Srv,
    Caa,
}

impl RecordType {
    pub const ALL: [RecordType; 8] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Cname,
        RecordType::Mx,
        RecordType::Ns,
        RecordType::Txt,
        RecordType::Srv,
        RecordType::Caa,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Ns => "NS",
            RecordType::Txt => "TXT",
            RecordType::Srv => "SRV",
            RecordType::Caa => "CAA",
        }
    }
}

/// A `dns` step: one query, answers asserted.
#[derive(Debug, Clone)]
pub struct DnsQuery {
    pub query: Template,
    pub record_type: RecordType,
    /// `None`: the probe's resolver.
    pub server: Option<std::net::SocketAddr>,
}

/// A `tcp` step: passes when it connects.
#[derive(Debug, Clone)]
pub struct TcpConnect {
    /// `host:port`.
    pub address: Template,
}

/// A `tls` step: a handshake whose certificate is inspected.
#[derive(Debug, Clone)]
pub struct TlsHandshake {
    /// `host:port`.
    pub address: Template,
    pub tls: TlsOptions,
}

/// A `websocket` step: the upgrade, then `send` (if any), then the first
/// message received is the `message` subject.
#[derive(Debug, Clone)]
pub struct WebSocketExchange {
    /// `ws://` or `wss://`.
    pub url: Template,
    /// A text message sent once connected.
    pub send: Option<Template>,
    /// Sent on the upgrade request, in file order.
    pub headers: Vec<(String, Template)>,
    /// For `wss://`.
    pub tls: TlsOptions,
}

/// An `icmp` step: `count` echo requests to `host`, `interval` apart.
#[derive(Debug, Clone)]
pub struct IcmpEcho {
    /// A host name or IP address, without a port.
    pub host: Template,
    /// 1 to 100.
    pub count: u32,
    pub interval: Duration,
}

/// A `grpc` step: one call of the gRPC health-checking protocol
/// (`grpc.health.v1.Health/Check`); the serving status answered is the
/// `status` subject.
#[derive(Debug, Clone)]
pub struct GrpcHealthCheck {
    /// `http://host:port` (HTTP/2 without TLS) or `https://host:port`
    /// (TLS, ALPN `h2`).
    pub address: Template,
    /// The service asked about; empty for the server as a whole.
    pub service: Template,
    /// Sent as request metadata, in file order.
    pub headers: Vec<(String, Template)>,
    /// For `https://`.
    pub tls: TlsOptions,
}

/// A `browser` step: actions run in order in one fresh browser context.
#[derive(Debug, Clone)]
pub struct BrowserJourney {
    pub actions: Vec<BrowserAction>,
}

/// One thing done in the page. Selectors are CSS selectors.
#[derive(Debug, Clone)]
pub enum BrowserAction {
    /// Load a URL (a path joined to `base_url`) and wait for it to load.
    Goto(Template),
    Click(Template),
    /// Type `value` into the field, replacing what it held.
    Fill {
        selector: Template,
        value: Template,
    },
    /// Choose the `<option>` of that value in a `<select>`.
    Select {
        selector: Template,
        value: Template,
    },
    /// Press a key (`Enter`, `Tab`, `a`…) in the focused element.
    Press(Template),
    /// Until the page shows `text=…` or has an element matching a selector.
    WaitFor(Template),
    /// A JavaScript expression that must evaluate to `true`.
    Eval(String),
}

impl BrowserAction {
    /// The key that names it in `actions` and in results.
    pub fn name(&self) -> &'static str {
        match self {
            BrowserAction::Goto(_) => "goto",
            BrowserAction::Click(_) => "click",
            BrowserAction::Fill { .. } => "fill",
            BrowserAction::Select { .. } => "select",
            BrowserAction::Press(_) => "press",
            BrowserAction::WaitFor(_) => "wait_for",
            BrowserAction::Eval(_) => "eval",
        }
    }
}

/// Alert severities, from most to least urgent. Serialized as
/// [`Severity::as_str`] (alerts in the API, notifications and the store).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    /// Every severity, most urgent first (to pre-register metric labels).
    pub const ALL: [Severity; 3] = [Severity::Critical, Severity::Warning, Severity::Info];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// `[alert]`: when failures become alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPolicy {
    /// Failed runs (among the last few) before a region counts as down.
    pub after: Threshold,
    /// Good runs (among the last few) before a down region counts as up
    /// again.
    pub recover_after: Threshold,
    /// Regions down at once that make it a global incident.
    pub global_regions: u32,
    pub severity: Severity,
    pub runbook: Option<String>,
    /// On a regional failure, re-run at once from another region.
    pub confirm: bool,
    pub latency: Option<LatencyObjective>,
    pub slo: Option<SloObjective>,
    /// Run a failed run again on the same probe before it counts.
    pub retry: Option<RetryPolicy>,
    /// Latency judged against a baseline learned from its own history.
    pub anomaly: Option<AnomalyPolicy>,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            after: Threshold::consecutive(2),
            recover_after: Threshold::consecutive(1),
            global_regions: 2,
            severity: Severity::Critical,
            runbook: None,
            confirm: true,
            latency: None,
            slo: None,
            retry: None,
            anomaly: None,
        }
    }
}

/// `latency = "p95 < 1500ms over 10m"`.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyObjective {
    /// 50 to 99.9.
    pub percentile: f64,
    pub threshold: Duration,
    pub window: Duration,
}

/// `anomaly = { sensitivity = 3.0, min_runs = 50 }`: alert when a
/// region's latency leaves the band its own history draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnomalyPolicy {
    /// How many (robust) standard deviations above the median is too slow;
    /// above 0.
    pub sensitivity: f64,
    /// Successful runs of history before anything is judged; at least 10.
    pub min_runs: u32,
    /// The anomaly alerts' severity: a slow region is not down, so
    /// `warning` unless set.
    pub severity: Severity,
}

impl Default for AnomalyPolicy {
    fn default() -> Self {
        Self {
            sensitivity: 3.0,
            min_runs: 50,
            severity: Severity::Warning,
        }
    }
}

/// `retry = { attempts = 1, delay = "5s" }`: after a failed run, up to
/// `attempts` more runs, `delay` apart, stopping at the first success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Runs after the first one, 1 to 10.
    pub attempts: u32,
    /// Wait between a failed attempt and the next.
    pub delay: Duration,
}

impl RetryPolicy {
    /// Whether a failed result of attempt `attempt` (1 = the first run)
    /// will be followed by another attempt, so it does not count yet.
    pub fn will_retry(&self, attempt: u32) -> bool {
        attempt <= self.attempts
    }
}

/// `slo = { availability = 99.9, window = "30d" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct SloObjective {
    /// Percentage below 100.
    pub availability: f64,
    /// At least one day.
    pub window: Duration,
}
