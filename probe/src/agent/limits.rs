//! The two limits on runs: a global bound on concurrent runs, and a rate
//! limit per target host (`governor`) so that many scenarios against one
//! host do not hit it at once.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::Clock as _;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use scenarios::Scenario;
use scenarios::model::Action;
use scenarios::template::{Ref, Scope, Template};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Governor's view of tokio's clock, so paused-clock tests pace it too.
#[derive(Debug, Clone, Copy)]
struct TokioTime {
    origin: Instant,
}

impl governor::clock::Clock for TokioTime {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.origin.elapsed())
    }
}

type HostLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, TokioTime, NoOpMiddleware<Nanos>>;

/// Concurrency slots and per-host rate limits shared by every run.
#[derive(Debug)]
pub struct Limits {
    slots: Arc<Semaphore>,
    hosts: Option<HostLimiter>,
    clock: TokioTime,
}

impl Limits {
    /// `concurrency` runs at once; `per_host_per_second` run starts per
    /// target host and second (0: unlimited).
    pub fn new(concurrency: usize, per_host_per_second: u32) -> Self {
        let clock = TokioTime {
            origin: Instant::now(),
        };
        let hosts = NonZeroU32::new(per_host_per_second).map(|n| {
            RateLimiter::new(
                Quota::per_second(n),
                DefaultKeyedStateStore::default(),
                clock,
            )
        });
        Self {
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            hosts,
            clock,
        }
    }

    /// A concurrency slot, if one is free.
    pub fn try_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Waits for a concurrency slot until `deadline`.
    pub async fn slot_by(&self, deadline: Instant) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    /// Waits until `host` may be hit again; false (without waiting) when
    /// that would be after `deadline`.
    pub async fn host_ready_by(&self, host: &str, deadline: Instant) -> bool {
        let Some(limiter) = &self.hosts else {
            return true;
        };
        let key = host.to_string();
        loop {
            match limiter.check_key(&key) {
                Ok(()) => return true,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    if Instant::now() + wait > deadline {
                        return false;
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Forgets hosts not hit lately, so the limiter's memory stays small.
    pub fn tidy(&self) {
        if let Some(limiter) = &self.hosts {
            limiter.retain_recent();
        }
    }
}

/// The rate-limit key of a scenario: the host its first step talks to.
/// When the host is only known at run time (a template), the scenario
/// gets a key of its own.
pub fn host_key(scenario: &Scenario, region: &str) -> String {
    let scope = PlanScope {
        vars: &scenario.vars,
        region,
    };
    let host = scenario.steps.first().and_then(|step| match &step.action {
        Action::Http(req) => url_host(&req.url.render(&scope).ok()?),
        Action::Tcp(t) => address_host(&t.address.render(&scope).ok()?),
        Action::Tls(t) => address_host(&t.address.render(&scope).ok()?),
        Action::Icmp(e) => Some(e.host.render(&scope).ok()?),
        Action::Websocket(w) => url_host(&w.url.render(&scope).ok()?),
        Action::Grpc(g) => url_host(&g.address.render(&scope).ok()?),
        Action::Browser(b) => b.actions.iter().find_map(|a| match a {
            scenarios::model::BrowserAction::Goto(url) => url_host(&url.render(&scope).ok()?),
            _ => None,
        }),
        Action::Dns(q) => Some(
            q.server
                .map_or_else(|| "dns".to_string(), |s| s.ip().to_string()),
        ),
    });
    host.unwrap_or_else(|| format!("scenario:{}", scenario.name))
}

fn url_host(url: &str) -> Option<String> {
    url::Url::parse(url).ok()?.host_str().map(str::to_string)
}

fn address_host(address: &str) -> Option<String> {
    let (host, _port) = address.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty() && !host.contains(UNKNOWN)).then(|| host.to_string())
}

/// Stands in for values known only at run time. A space cannot be part of
/// a URL's host, so a host that depends on one fails to parse.
const UNKNOWN: &str = " ";

/// What is known before a run: the region, and vars built from it and
/// from plain text. A var sees only the vars above it, so rendering ends.
struct PlanScope<'a> {
    vars: &'a [(String, Template)],
    region: &'a str,
}

impl Scope for PlanScope<'_> {
    fn lookup(&self, reference: &Ref) -> Option<serde_json::Value> {
        let text = match reference {
            Ref::Region => Some(self.region.to_string()),
            Ref::Name(name) => self.vars.iter().position(|(n, _)| n == name).and_then(|i| {
                let earlier = PlanScope {
                    vars: &self.vars[..i],
                    region: self.region,
                };
                self.vars[i].1.render(&earlier).ok()
            }),
            _ => None,
        };
        Some(serde_json::Value::String(
            text.unwrap_or_else(|| UNKNOWN.to_string()),
        ))
    }
}
