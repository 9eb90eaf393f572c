//! A snapshot of what the engine decides on besides results: the time,
//! the catalog and which probes are live. Taken before a store job
//! (`crate::evaluate::capture`), so the job itself never touches the
//! fleet.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use scenarios::wire::Capabilities;

use crate::assignment;
use crate::catalog::{Catalog, CatalogScenario};

/// One probe as the engine sees it.
#[derive(Debug, Clone)]
pub struct ProbeView {
    pub name: String,
    pub region: String,
    /// Live by `probe_silence`.
    pub live: bool,
    /// Live, or the engine started less than `probe_silence` ago: right
    /// after a restart every probe looks silent until it calls again, and
    /// that must not page.
    pub presumed_live: bool,
    pub last_seen: DateTime<Utc>,
    /// What its latest results said about its clock.
    pub clock: ProbeClock,
    /// What it last said about its spool's disk.
    pub spool: ProbeSpool,
    /// What it announced on its latest plan request.
    pub capabilities: Capabilities,
}

impl ProbeView {
    /// Whether it counts for a scenario that needs `needs`: it is live
    /// with them, or presumed live and not heard from since the engine
    /// started, so what it has is not known yet (that must not page
    /// either).
    fn counts_for(&self, needs: &Capabilities) -> bool {
        if self.live {
            self.capabilities.covers(needs)
        } else {
            self.presumed_live
        }
    }
}

/// A probe's clock, as its latest results showed it (kept in memory only:
/// after a restart it is unknown until the probe delivers again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProbeClock {
    /// No result since the scheduler started.
    #[default]
    Unknown,
    /// Its latest results were within `max_clock_skew`.
    InTime,
    /// Its latest results started this far ahead of the scheduler's
    /// clock, beyond `max_clock_skew`, and were rejected.
    Ahead(chrono::Duration),
}

/// A probe's spool, as it last told (`X-Sonde-Spool-Full`; kept in memory
/// only: after a restart it is unknown until the probe calls again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProbeSpool {
    /// It has not told since the scheduler started.
    #[default]
    Unknown,
    /// Its spool takes results.
    Fine,
    /// Its spool's disk is full: it drops its oldest results to keep the
    /// newest.
    Full,
}

/// The engine's view of the world at one instant.
#[derive(Debug, Clone)]
pub struct World {
    pub now: DateTime<Utc>,
    pub catalog: Arc<Catalog>,
    pub probes: Vec<ProbeView>,
    /// Every region that has had a probe.
    pub regions: BTreeSet<String>,
    /// The engine started less than `probe_silence` ago: probes may not
    /// have called yet.
    pub starting: bool,
    /// `{public_url}/api/v1/scenarios/`.
    pub base_url: String,
    /// `trace_url`, with `{trace_id}` for the run's trace id.
    pub trace_url: Option<String>,
    /// `max_clock_skew`, for the clock alert's summary.
    pub max_clock_skew: std::time::Duration,
}

impl World {
    /// The regions `s` runs in (every region with a probe when it names none).
    pub fn regions_of(&self, s: &CatalogScenario) -> Vec<String> {
        match &s.regions {
            Some(regions) => regions.clone(),
            None => self.regions.iter().cloned().collect(),
        }
    }

    /// What the probe that runs `scenario` must have (nothing for a
    /// scenario not in the catalog).
    pub fn needs(&self, scenario: &str) -> Capabilities {
        self.catalog
            .get(scenario)
            .map_or(Capabilities::NONE, |s| s.needs)
    }

    /// Whether `region` has a live probe that has `needs`.
    pub fn live(&self, region: &str, needs: &Capabilities) -> bool {
        self.capable(region, needs).next().is_some()
    }

    /// The live probes of `region` that have `needs`.
    fn capable<'a>(
        &'a self,
        region: &'a str,
        needs: &'a Capabilities,
    ) -> impl Iterator<Item = &'a ProbeView> {
        self.probes
            .iter()
            .filter(move |p| p.region == region && p.live && p.capabilities.covers(needs))
    }

    /// Whether `region` has a probe presumed live that can run a scenario
    /// needing `needs`: what is seen there counts; without one the region
    /// is unknown, never down.
    pub fn presumed_live(&self, region: &str, needs: &Capabilities) -> bool {
        self.probes
            .iter()
            .any(|p| p.region == region && p.counts_for(needs))
    }

    /// The live probe that runs `scenario` in `region`: among those that
    /// have what it needs.
    pub fn owner(&self, scenario: &str, region: &str) -> Option<String> {
        let needs = self.needs(scenario);
        let live = self.capable(region, &needs).map(|p| p.name.as_str());
        assignment::owner(scenario, region, live).map(str::to_owned)
    }

    /// The API link of a scenario.
    pub fn scenario_url(&self, scenario: &str) -> String {
        format!("{}/api/v1/scenarios/{scenario}", self.base_url)
    }

    /// `scenario`'s status page: its latest run per region with the
    /// failing step's evidence.
    pub fn scenario_page_url(&self, scenario: &str) -> String {
        format!("{}/scenarios/{scenario}", self.base_url)
    }

    /// A run's trace in the operator's tracing UI, when `trace_url` is set.
    pub fn trace_link(&self, trace_id: &str) -> Option<String> {
        trace_link(self.trace_url.as_deref()?, trace_id)
    }
}

/// `template` (a `trace_url`) for the run with `trace_id`; `None` for an
/// id that is not a trace id (32 hex digits), so nothing else is spliced
/// into the URL.
pub fn trace_link(template: &str, trace_id: &str) -> Option<String> {
    let hex = trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| template.replace(crate::config::TRACE_ID, trace_id))
}
