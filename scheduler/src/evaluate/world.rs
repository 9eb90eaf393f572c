//! The engine's [`World`], captured from the running scheduler.

use crate::alert::{ProbeView, World};
use crate::app::App;

/// The world now, as `app` sees it.
pub fn capture(app: &App) -> World {
    let now = app.clock.now();
    let grace =
        chrono::Duration::from_std(app.config.probe_silence).unwrap_or(chrono::Duration::MAX);
    let starting = now.signed_duration_since(app.alerts.started()) <= grace;
    let probes = app
        .fleet
        .probes()
        .into_iter()
        .map(|(p, live)| ProbeView {
            presumed_live: live || starting,
            live,
            last_seen: p.last_seen,
            clock: p.clock,
            spool: p.spool,
            capabilities: p.capabilities,
            name: p.name,
            region: p.region,
        })
        .collect();
    World {
        now,
        catalog: app.catalog.current(),
        probes,
        regions: app.fleet.regions(),
        starting,
        base_url: app.alerts.base_url().to_owned(),
        trace_url: app.config.trace_url.clone(),
        max_clock_skew: app.config.max_clock_skew,
    }
}
