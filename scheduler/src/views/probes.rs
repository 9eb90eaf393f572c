//! Probes with region, version, last seen, liveness and assignments, and
//! every region with its live probe count.

use serde::Serialize;

use crate::alert::{ProbeClock, ProbeSpool};
use crate::app::App;

#[derive(Debug, Serialize)]
pub struct ProbeView {
    pub name: String,
    pub region: String,
    pub version: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    /// Called within `probe_silence`.
    pub up: bool,
    /// Scenarios it runs now.
    pub assigned: Vec<String>,
    /// Results waiting in its spool, as it last reported (`X-Sonde-Spool`).
    pub spool_depth: Option<i64>,
    /// How far ahead of the scheduler's clock its latest results started,
    /// when that was beyond `max_clock_skew` and they were rejected.
    pub clock_ahead_s: Option<f64>,
    /// It said its spool's disk is full (`X-Sonde-Spool-Full`): it drops
    /// its oldest undelivered results to keep the newest.
    pub spool_full: bool,
    /// What it announced on its latest plan request
    /// (`X-Sonde-Capabilities`), e.g. `["browser"]`.
    pub capabilities: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct RegionView {
    pub region: String,
    pub probes: usize,
    pub live_probes: usize,
    /// Scenarios that should run here but have no live probe to run them,
    /// or none with a capability they need.
    pub unassigned: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ProbeList {
    pub probes: Vec<ProbeView>,
    pub regions: Vec<RegionView>,
}

/// Every known probe, and every region a probe or a scenario names.
pub fn probe_list(app: &App) -> ProbeList {
    let catalog = app.catalog.current();
    let all = app.fleet.probes();
    let probes = all
        .iter()
        .map(|(p, up)| ProbeView {
            name: p.name.clone(),
            region: p.region.clone(),
            version: p.version.clone(),
            first_seen: scenarios::wire::time::format(&p.first_seen),
            last_seen: scenarios::wire::time::format(&p.last_seen),
            up: *up,
            assigned: app.fleet.assigned(&p.name, &catalog).to_vec(),
            spool_depth: p.spool_depth,
            clock_ahead_s: match p.clock {
                ProbeClock::Ahead(d) => Some(d.num_milliseconds() as f64 / 1_000.0),
                ProbeClock::Unknown | ProbeClock::InTime => None,
            },
            spool_full: p.spool == ProbeSpool::Full,
            capabilities: p.capabilities.names(),
        })
        .collect();
    let mut names = app.fleet.regions();
    for s in catalog.scenarios.values() {
        names.extend(s.regions.iter().flatten().cloned());
    }
    let regions = names
        .into_iter()
        .map(|region| {
            let in_region: Vec<_> = all.iter().filter(|(p, _)| p.region == region).collect();
            let live_probes = in_region.iter().filter(|(_, up)| *up).count();
            let unassigned = catalog
                .scenarios
                .values()
                .filter(|s| app.fleet.regions_of(s).contains(&region))
                .filter(|s| live_probes == 0 || app.fleet.unassigned_reason(s, &region).is_some())
                .map(|s| s.name.clone())
                .collect();
            RegionView {
                probes: in_region.len(),
                live_probes,
                unassigned,
                region,
            }
        })
        .collect();
    ProbeList { probes, regions }
}
