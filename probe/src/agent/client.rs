//! The probe side of the scheduler protocol: `GET /api/v1/plan` (long-poll
//! with `If-None-Match`) and `POST /api/v1/results`.
//!
//! Every request carries the probe's bearer token, `X-Sonde-Probe`,
//! `X-Sonde-Region`, `User-Agent: sonde-probe/VERSION` and
//! `X-Sonde-Spool-Full` (`1` while the spool's disk is full, else `0`).
//! A plan request also announces the probe's capabilities in
//! `X-Sonde-Capabilities` (`browser` with `--browser` or `--browser-path`),
//! so the scheduler gives browser scenarios only to probes that can run them.

use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Response, StatusCode};
use scenarios::wire::{CAPABILITIES_HEADER, Capabilities, IngestAck, Plan};
use url::Url;

/// Body text kept from an error answer, for the log line.
const ERROR_BODY_CHARS: usize = 200;
/// Slack on top of the long-poll wait before the plan request gives up.
const POLL_SLACK: Duration = Duration::from_secs(10);
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Header telling the scheduler whether the spool's disk is full.
const SPOOL_FULL_HEADER: &str = "X-Sonde-Spool-Full";

/// Who this probe is to the scheduler.
#[derive(Clone)]
pub struct Identity {
    /// `--name`.
    pub name: String,
    /// `--region`.
    pub region: String,
    /// The contents of `--token-file`, trimmed.
    pub token: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("name", &self.name)
            .field("region", &self.region)
            .field("token", &"***")
            .finish()
    }
}

/// An HTTP client bound to one scheduler and identity.
#[derive(Debug, Clone)]
pub struct SchedulerClient {
    http: reqwest::Client,
    /// The base URL as logs and metrics show it (without a password).
    display: String,
    plan_url: Url,
    results_url: Url,
    /// Announced on every plan request.
    capabilities: Capabilities,
}

/// The answer to a plan request.
#[derive(Debug)]
pub enum PlanFetch {
    /// 304: the plan with the ETag sent is still current.
    NotModified,
    /// 200: a new plan and its ETag.
    Changed {
        plan: Box<Plan>,
        etag: Option<String>,
    },
}

/// Why a call to the scheduler did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("scheduler unreachable: {0}")]
    Unreachable(String),
    #[error("rate limited by the scheduler (Retry-After: {0:?})")]
    RateLimited(Option<Duration>),
    #[error(
        "the scheduler refused the probe's credentials ({0}); check --token-file, --name and --region"
    )]
    Auth(StatusCode),
    #[error("batch too large for the scheduler (413)")]
    TooLarge,
    #[error("the scheduler refused the request ({0}): {1}")]
    BadRequest(StatusCode, String),
    #[error("scheduler error ({0})")]
    Server(StatusCode),
    #[error("unreadable answer from the scheduler: {0}")]
    Malformed(String),
}

/// The scheduler URL, token or CA could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid --scheduler URL `{0}`")]
    Url(String),
    #[error("the token or identity is not a valid header value")]
    Header,
    #[error("cannot read the CA certificates: {0}")]
    Ca(String),
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

impl SchedulerClient {
    /// A client for the scheduler at `base`, trusting `ca_pem` (PEM, any
    /// number of certificates) in addition to the webpki roots.
    ///
    /// # Errors
    /// A bad URL, token, CA file or TLS set-up.
    pub fn new(
        base: &Url,
        identity: &Identity,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, ClientError> {
        let mut base = base.clone();
        let display = shown(&base);
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let join = |p: &str| base.join(p).map_err(|_| ClientError::Url(base.to_string()));
        let (plan_url, results_url) = (join("api/v1/plan")?, join("api/v1/results")?);
        let mut builder = reqwest::Client::builder()
            .default_headers(identity_headers(identity)?)
            .user_agent(crate::run::USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10));
        if let Some(pem) = ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| ClientError::Ca(e.to_string()))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(Self {
            http,
            display,
            plan_url,
            results_url,
            capabilities: Capabilities::NONE,
        })
    }

    /// This client, announcing `capabilities` on every plan request.
    #[must_use]
    pub fn announcing(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The scheduler's base URL, as logs and metrics show it.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Asks for the plan, waiting up to `wait` on the scheduler for a change
    /// from `etag`. `spooled` is sent as `X-Sonde-Spool`, `spool_full` as
    /// `X-Sonde-Spool-Full`, the capabilities as `X-Sonde-Capabilities`
    /// (left out when there are none).
    ///
    /// # Errors
    /// A [`CallError`] for anything but 200 or 304.
    pub async fn plan(
        &self,
        etag: Option<&str>,
        spooled: usize,
        spool_full: bool,
        wait: Duration,
    ) -> Result<PlanFetch, CallError> {
        let mut request = self
            .http
            .get(self.plan_url.clone())
            .query(&[("wait", format!("{}s", wait.as_secs()))])
            .header("X-Sonde-Spool", spooled)
            .header(SPOOL_FULL_HEADER, flag(spool_full))
            .timeout(wait + POLL_SLACK);
        if !self.capabilities.is_empty() {
            request = request.header(CAPABILITIES_HEADER, self.capabilities.to_string());
        }
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        let response = request.send().await.map_err(unreachable)?;
        match response.status() {
            StatusCode::NOT_MODIFIED => Ok(PlanFetch::NotModified),
            StatusCode::OK => {
                let etag = response
                    .headers()
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let plan = response
                    .json::<Plan>()
                    .await
                    .map_err(|e| CallError::Malformed(e.to_string()))?;
                Ok(PlanFetch::Changed {
                    plan: Box::new(plan),
                    etag,
                })
            }
            _ => Err(failure(response).await),
        }
    }

    /// Delivers one [`scenarios::wire::ResultBatch`] encoded as JSON (the deliverer encodes
    /// it first to keep it under its byte limit); 200 and 422 both carry an
    /// [`IngestAck`]. `spool_full` is sent as `X-Sonde-Spool-Full`.
    ///
    /// # Errors
    /// A [`CallError`] for every other answer.
    pub async fn deliver_json(
        &self,
        body: Vec<u8>,
        spool_full: bool,
    ) -> Result<IngestAck, CallError> {
        let response = self
            .http
            .post(self.results_url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(SPOOL_FULL_HEADER, flag(spool_full))
            .body(body)
            .timeout(DELIVERY_TIMEOUT)
            .send()
            .await
            .map_err(unreachable)?;
        match response.status() {
            StatusCode::OK | StatusCode::UNPROCESSABLE_ENTITY => response
                .json::<IngestAck>()
                .await
                .map_err(|e| CallError::Malformed(e.to_string())),
            _ => Err(failure(response).await),
        }
    }
}

/// `base` without a password, should one be written in the URL.
fn shown(base: &Url) -> String {
    let mut shown = base.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

fn identity_headers(identity: &Identity) -> Result<HeaderMap, ClientError> {
    let value = |s: &str| HeaderValue::from_str(s).map_err(|_| ClientError::Header);
    let mut auth = value(&format!("Bearer {}", identity.token))?;
    auth.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, auth);
    headers.insert("X-Sonde-Probe", value(&identity.name)?);
    headers.insert("X-Sonde-Region", value(&identity.region)?);
    Ok(headers)
}

fn unreachable(e: reqwest::Error) -> CallError {
    // Without the URL's query; the error chain says what failed (DNS,
    // connect, TLS, timeout).
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    CallError::Unreachable(message)
}

async fn failure(response: Response) -> CallError {
    let status = response.status();
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => CallError::Auth(status),
        StatusCode::PAYLOAD_TOO_LARGE => CallError::TooLarge,
        StatusCode::TOO_MANY_REQUESTS => CallError::RateLimited(retry_after(response.headers())),
        s if s.is_client_error() => {
            let body = response.text().await.unwrap_or_default();
            CallError::BadRequest(status, body.chars().take(ERROR_BODY_CHARS).collect())
        }
        _ => CallError::Server(status),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the
/// scheduler and falls back to back-off).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}
