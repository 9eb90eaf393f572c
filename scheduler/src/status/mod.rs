//! The status page at `/` and `/scenarios/{name}`: server-rendered HTML
//! with inline CSS and SVG, readable on a laptop and a phone, refreshed
//! every 10 s by a few lines of script that keep the scroll position.
//!
//! The page shows the API's data only: every section renders the typed
//! views the read API serializes (`crate::views`), so the page and the
//! API can never disagree.

mod evidence;
mod render;
mod svg;
mod uptime_bars;

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use scenarios::wire::{Outcome, RunResult, StepStatus};

use crate::alert::{AlertStatus, RegionState};
use crate::api::ApiError;
use crate::app::App;
use crate::store::StoreError;
use crate::views::{self, AlertView, FileStatus, Percentiles, RegionSummary, ScheduleView};
pub use render::escape;
use render::{age, encode, ms};

/// Runs per region in the latency chart.
const CHART_RUNS: usize = 100;
/// Resolved alerts listed per scenario.
const RECENT_ALERTS: usize = 10;

/// Why a page could not be built.
#[derive(Debug)]
enum PageError {
    /// The scenario is not in the catalog (any more).
    NotFound,
    /// Anything else: the status and message the API would answer.
    Api(StatusCode, String),
}

impl PageError {
    /// The store failed reading what the API serves at `path`.
    fn store(path: &str) -> impl FnOnce(StoreError) -> PageError + '_ {
        move |e| {
            let e = ApiError::from(e);
            PageError::Api(e.status, format!("{path}: {}", e.message))
        }
    }
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// What every HTML answer carries: no inline or foreign script (the page's
/// one script is `/status.js`), no framing, no sniffing, no referrer.
const SECURITY_HEADERS: [(header::HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; \
         img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// `GET /status.js`: the status page's refresh.
pub async fn script() -> Response {
    let mut response = render::SCRIPT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// What the page says while the store cannot be written (a database that
/// is down, a full disk): what waits and what does not happen meanwhile.
fn store_notice(app: &App) -> String {
    match app.store.health().unwritable() {
        Some(reason) => format!(
            "<section class=\"notice\" id=\"store-unwritable\"><strong>The store cannot be written</strong>: {}. \
             Probes keep their results in their spools and send them once it is back; \
             alerts are neither evaluated nor sent meanwhile, so what this page shows may be old.</section>",
            escape(&reason)
        ),
        None => String::new(),
    }
}

fn error_page(app: &App, e: PageError, what: &str) -> Response {
    match e {
        PageError::NotFound => html(
            StatusCode::NOT_FOUND,
            render::page(
                "Not found · Sonde",
                &format!(
                    "<h1>Not found</h1><section><p>{}</p><p><a href=\"/\">Back to the overview</a></p></section>",
                    escape(what)
                ),
            ),
        ),
        PageError::Api(status, message) => html(
            status,
            render::page(
                "Error · Sonde",
                &format!(
                    "<h1>The status page could not be built</h1>{}<section><pre>{}</pre></section>",
                    store_notice(app),
                    escape(&message)
                ),
            ),
        ),
    }
}

/// `GET /`: the scenarios × regions grid, open alerts, probes and catalog
/// errors.
pub async fn page(State(app): State<Arc<App>>) -> Response {
    match overview(&app).await {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => error_page(&app, e, "no such page"),
    }
}

/// `GET /scenarios/{name}`: one scenario in detail; 404 for an unknown one.
pub async fn scenario_page(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    match detail(&app, &name).await {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => error_page(
            &app,
            e,
            &format!("There is no scenario `{name}` in the catalog."),
        ),
    }
}

async fn overview(app: &Arc<App>) -> Result<String, PageError> {
    let list = views::scenario_list(app, views::DEFAULT_WINDOW)
        .await
        .map_err(PageError::store("/api/v1/scenarios"))?;
    let alerts = views::alert_list(app)
        .await
        .map_err(PageError::store("/api/v1/alerts"))?;
    let probes = views::probe_list(app);
    let catalog = views::catalog_view(&app.catalog.current());
    let now = app.clock.now();

    let mut main = store_notice(app);
    let down = list
        .scenarios
        .iter()
        .flat_map(|s| &s.regions)
        .filter(|r| r.state == RegionState::Down)
        .count();
    let _ = write!(
        main,
        "<h1>Fleet status</h1><p class=\"muted-text\">{} scenarios · {} probes ({} up) · {} open alerts · {} regions down · stats over {}</p>",
        list.scenarios.len(),
        probes.probes.len(),
        probes.probes.iter().filter(|p| p.up).count(),
        alerts.open.len(),
        down,
        escape(&list.window),
    );

    // The grid: regions in the order scenarios list them.
    let mut regions: Vec<&str> = Vec::new();
    for r in list.scenarios.iter().flat_map(|s| &s.regions) {
        if !regions.contains(&r.region.as_str()) {
            regions.push(&r.region);
        }
    }
    main.push_str("<h2>Scenarios</h2><section>");
    if list.scenarios.is_empty() {
        main.push_str("<p class=\"muted-text\">No scenarios in the catalog.</p>");
    } else {
        let _ = write!(
            main,
            "<div class=\"grid\" style=\"--cols:{}\"><div class=\"head\">scenario</div>",
            regions.len().max(1)
        );
        for r in &regions {
            let _ = write!(main, "<div class=\"head\">{}</div>", escape(r));
        }
        for s in &list.scenarios {
            let _ = write!(
                main,
                "<div class=\"name\"><a href=\"/scenarios/{}\">{}</a><small>{}{}</small></div>",
                encode(&s.name),
                escape(&s.name),
                escape(&s.schedule.to_string()),
                s.description
                    .as_deref()
                    .map(|d| format!(" · {}", escape(d)))
                    .unwrap_or_default(),
            );
            for region in &regions {
                match s.regions.iter().find(|r| r.region == *region) {
                    Some(r) => main.push_str(&cell(&s.name, r, now)),
                    None => {
                        let _ = write!(
                            main,
                            "<div class=\"cell cell-none\"><span class=\"r\">{}</span>not run here</div>",
                            escape(region)
                        );
                    }
                }
            }
        }
        main.push_str("</div>");
    }
    main.push_str("</section>");

    let _ = write!(
        main,
        "<h2>Open alerts ({})</h2><section>",
        alerts.open.len()
    );
    main.push_str(&alert_table(alerts.open.iter(), now, "No open alerts."));
    main.push_str("</section>");

    let maintenance = views::maintenance_list(app);
    if !maintenance.maintenance.is_empty() {
        main.push_str("<h2>Maintenance</h2><section>");
        main.push_str(&maintenance_table(&maintenance));
        main.push_str("</section>");
    }

    main.push_str("<h2>Probes</h2><section>");
    if probes.probes.is_empty() {
        main.push_str("<p class=\"muted-text\">No probe has registered yet.</p>");
    } else {
        main.push_str("<table><thead><tr><th>probe</th><th>region</th><th>version</th><th>last seen</th><th>up</th><th>assigned scenarios</th><th>spool backlog</th></tr></thead><tbody>");
        for p in &probes.probes {
            let _ = write!(
                main,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td title=\"{}\">{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                escape(&p.name),
                escape(&p.region),
                escape(p.version.as_deref().unwrap_or("–")),
                escape(&p.last_seen),
                escape(&age(&p.last_seen, now)),
                if p.up { "ok" } else { "bad" },
                if p.up { "up" } else { "silent" },
                if p.assigned.is_empty() {
                    "–".to_owned()
                } else {
                    p.assigned
                        .iter()
                        .map(|a| escape(a))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                p.spool_depth
                    .map_or_else(|| "–".to_owned(), |d| d.to_string()),
            );
        }
        main.push_str("</tbody></table>");
    }
    let orphaned: Vec<_> = probes
        .regions
        .iter()
        .filter(|r| !r.unassigned.is_empty())
        .collect();
    for r in orphaned {
        let _ = write!(
            main,
            "<p class=\"bad\">No live probe in {} ({} known): {} run nowhere there.</p>",
            escape(&r.region),
            r.probes,
            r.unassigned
                .iter()
                .map(|a| escape(a))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    main.push_str("</section>");

    let _ = write!(
        main,
        "<h2>Catalog errors ({})</h2><section>",
        catalog.invalid_files
    );
    let invalid: Vec<_> = catalog
        .files
        .iter()
        .filter(|f| f.status != FileStatus::Valid)
        .collect();
    if invalid.is_empty() {
        let _ = write!(
            main,
            "<p class=\"ok\">All {} files validate (generation {}, {} scenarios).</p>",
            catalog.files.len(),
            catalog.generation,
            catalog.scenarios
        );
    }
    for f in invalid {
        let _ = write!(
            main,
            "<h3><code>{}</code></h3><p class=\"muted-text\">{}</p><pre>{}</pre>",
            escape(&f.path),
            match (&f.scenario, f.serving_last_good) {
                (Some(s), true) => format!("the last good version of {} keeps running", escape(s)),
                _ => "never validated: not scheduled".to_owned(),
            },
            escape(f.diagnostics.as_deref().unwrap_or(""))
        );
    }
    main.push_str("</section>");
    Ok(render::page("Sonde status", &main))
}

/// Maintenance windows: name, when, what they cover.
fn maintenance_table(list: &views::MaintenanceList) -> String {
    let mut out = String::from(
        "<table><thead><tr><th>window</th><th>state</th><th>opens</th><th>closes</th><th>scenarios</th><th>regions</th><th>source</th></tr></thead><tbody>",
    );
    let time = |t: Option<DateTime<Utc>>| {
        t.map_or_else(|| "–".to_owned(), |t| scenarios::wire::time::format(&t))
    };
    for w in &list.maintenance {
        let scenarios = match (&w.spec.scenarios, w.spec.match_labels.is_empty()) {
            (Some(names), _) => names.join(", "),
            (None, false) => w
                .spec
                .match_labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            (None, true) => "every scenario".to_owned(),
        };
        let regions = w
            .spec
            .regions
            .as_ref()
            .map_or_else(|| "every region".to_owned(), |r| r.join(", "));
        let _ = write!(
            out,
            "<tr data-window=\"{name}\"><td>{name}</td><td>{state}</td><td>{opens}</td><td>{closes}</td><td>{scenarios}</td><td>{regions}</td><td>{source}</td></tr>",
            name = escape(&w.spec.name),
            state = if w.active { "open" } else { "scheduled" },
            opens = escape(&time(w.opens_at)),
            closes = escape(&time(w.closes_at)),
            scenarios = escape(&scenarios),
            regions = escape(&regions),
            source = match w.source {
                crate::maintenance::Source::Config => "scheduler.toml",
                crate::maintenance::Source::Api => "API",
            },
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// One grid cell: state, last run age, p95.
fn cell(scenario: &str, r: &RegionSummary, now: DateTime<Utc>) -> String {
    let state = r.state.as_str();
    let last = r.stats.last_run_at.as_deref().map_or_else(
        || "no run yet".to_owned(),
        |t| format!("last {}", age(t, now)),
    );
    let p95 = r
        .stats
        .duration_ms
        .map(|Percentiles { p95, .. }| format!(" · p95 {}", ms(p95)))
        .unwrap_or_default();
    let probe = if r.live_probes == 0 {
        " · no live probe".to_owned()
    } else {
        String::new()
    };
    format!(
        "<a class=\"cell cell-{state}\" data-scenario=\"{s}\" data-region=\"{reg}\" data-state=\"{state}\" href=\"/scenarios/{href}\" style=\"text-decoration:none\" title=\"{s} in {reg}: {state}\"><span class=\"r\">{reg}</span><b>{state}</b>{last}{p95}{probe}</a>",
        s = escape(scenario),
        reg = escape(&r.region),
        href = encode(scenario),
        last = escape(&last),
        p95 = escape(&p95),
        probe = escape(&probe),
    )
}

fn alert_table<'a>(
    alerts: impl Iterator<Item = &'a AlertView>,
    now: DateTime<Utc>,
    empty: &str,
) -> String {
    let mut rows = String::new();
    for a in alerts {
        let al = &a.alert;
        let what = match (&al.step, &al.expected, &al.actual) {
            (Some(step), Some(e), Some(x)) => format!(
                "step <b>{}</b>: expected <code>{}</code>, got <code>{}</code>",
                escape(step),
                escape(e),
                escape(x)
            ),
            (Some(step), _, _) => format!(
                "step <b>{}</b>{}",
                escape(step),
                al.error
                    .as_deref()
                    .map(|e| format!(": {}", escape(e)))
                    .unwrap_or_default()
            ),
            _ => al.error.as_deref().map(escape).unwrap_or_default(),
        };
        let started = scenarios::wire::time::format(&al.started_at);
        let _ = write!(
            rows,
            "<tr><td><span class=\"pill\" style=\"background:var(--{})\">{}</span></td><td>{}</td><td>{}<br>{}</td><td title=\"{}\">{}{}</td><td>{}{}</td></tr>",
            match (a.status, a.muted) {
                (AlertStatus::Firing, true) => "muted",
                (AlertStatus::Firing, false) => "down",
                (AlertStatus::Resolved, _) => "up",
            },
            status_name(a.status),
            escape(al.severity.as_str()),
            escape(&al.summary),
            what,
            escape(&started),
            escape(&age(&started, now)),
            match (a.grouped, a.suppressed) {
                (true, _) => " · grouped",
                (false, true) => " · suppressed (depends_on)",
                (false, false) => "",
            },
            al.runbook
                .as_deref()
                .map(|r| format!("<a href=\"{}\" rel=\"noopener\">runbook</a>", escape(r)))
                .unwrap_or_default(),
            // The scenario view holds the latest run per region and its
            // evidence: why the alert fired.
            al.scenario
                .as_deref()
                .map(|n| format!(" <a href=\"/scenarios/{}\">failing run</a>", encode(n)))
                .unwrap_or_default(),
        );
    }
    if rows.is_empty() {
        return format!("<p class=\"muted-text\">{}</p>", escape(empty));
    }
    format!(
        "<table><thead><tr><th>status</th><th>severity</th><th>alert</th><th>since</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

async fn detail(app: &Arc<App>, name: &str) -> Result<String, PageError> {
    let enc = encode(name);
    let d = views::scenario_detail(app, name, views::DEFAULT_WINDOW)
        .await
        .map_err(PageError::store(&format!("/api/v1/scenarios/{enc}")))?
        .ok_or(PageError::NotFound)?;
    let alerts = views::alert_list(app)
        .await
        .map_err(PageError::store("/api/v1/alerts"))?;
    let mut series: Vec<(String, Vec<RunResult>)> = Vec::new();
    for r in &d.summary.regions {
        let path = format!(
            "/api/v1/scenarios/{enc}/runs?region={}&limit={CHART_RUNS}",
            encode(&r.region)
        );
        let runs = views::run_list(app, name, Some(r.region.clone()), CHART_RUNS)
            .await
            .map_err(PageError::store(&path))?
            .ok_or(PageError::NotFound)?;
        series.push((r.region.clone(), runs.runs));
    }
    let now = app.clock.now();
    let s = &d.summary;

    let mut main = format!(
        "{}<p><a href=\"/\">← all scenarios</a></p><h1>{}</h1>",
        store_notice(app),
        escape(&s.name)
    );
    if let Some(desc) = &s.description {
        let _ = write!(main, "<p>{}</p>", escape(desc));
    }
    let _ = write!(
        main,
        "<p class=\"muted-text\"><code>{}</code> · {} · timeout {} · alert after {} failed runs, recovers after {} good runs · severity {}{}{}</p>",
        escape(&s.path),
        match &s.schedule {
            ScheduleView::Cron { .. } => escape(&s.schedule.to_string()),
            ScheduleView::Interval(_) => format!("every {}", escape(&s.schedule.to_string())),
        },
        escape(&d.timeout),
        d.alert.after,
        d.alert.recover_after,
        escape(d.alert.severity.as_str()),
        d.alert
            .runbook
            .as_deref()
            .map(|r| format!(" · <a href=\"{}\" rel=\"noopener\">runbook</a>", escape(r)))
            .unwrap_or_default(),
        s.labels
            .iter()
            .map(|(k, v)| format!(" · {}={}", escape(k), escape(v)))
            .collect::<String>(),
    );

    let _ = write!(
        main,
        "<section><div class=\"grid\" style=\"--cols:{}\"><div class=\"head\">steps</div>",
        s.regions.len().max(1)
    );
    for r in &s.regions {
        let _ = write!(main, "<div class=\"head\">{}</div>", escape(&r.region));
    }
    let _ = write!(
        main,
        "<div class=\"name\">{}<small>over {}</small></div>",
        d.steps
            .iter()
            .map(|st| format!(
                "{} <small style=\"display:inline\">({})</small>",
                escape(&st.name),
                escape(st.kind.as_str())
            ))
            .collect::<Vec<_>>()
            .join(" → "),
        escape(&d.window)
    );
    for r in &s.regions {
        main.push_str(&cell(&s.name, r, now));
    }
    main.push_str("</div><table><thead><tr><th>region</th><th>probe</th><th>runs</th><th>success</th><th>p50</th><th>p95</th><th>p99</th><th>last outcome</th></tr></thead><tbody>");
    for r in &s.regions {
        let p = |f: fn(&Percentiles) -> f64| {
            r.stats
                .duration_ms
                .as_ref()
                .map_or_else(|| "–".into(), |d| ms(f(d)))
        };
        let _ = write!(
            main,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.region),
            escape(r.probe.as_deref().unwrap_or("none live")),
            r.stats.runs,
            r.stats
                .success_ratio
                .map_or_else(|| "–".into(), |x| format!("{:.1}%", x * 100.0)),
            p(|d| d.p50),
            p(|d| d.p95),
            p(|d| d.p99),
            escape(r.stats.last_outcome.map_or("–", Outcome::as_str)),
        );
    }
    main.push_str("</tbody></table></section>");

    main.push_str(&uptime_section(app, name, now).await?);

    // The API's baselines, judged from the store: alike on every replica.
    let baselines: Vec<Option<f64>> = series
        .iter()
        .map(|(region, _)| {
            d.anomaly
                .as_ref()?
                .regions
                .iter()
                .find(|r| &r.region == region)?
                .verdict
                .as_ref()
                .map(|v| v.baseline_ms)
        })
        .collect();
    let _ = write!(
        main,
        "<h2>Latency (last {CHART_RUNS} runs per region)</h2><section>{}</section>",
        svg::latency_chart(&series, &baselines)
    );

    main.push_str("<h2>Latest run per region</h2><div class=\"charts\">");
    for (region, runs) in &series {
        let _ = write!(main, "<section><h3>{}</h3>", escape(region));
        match runs.first() {
            None => main.push_str("<p class=\"muted-text\">No run yet.</p>"),
            Some(run) => {
                let started = scenarios::wire::time::format(&run.started_at);
                let _ = write!(
                    main,
                    "<p><span class=\"{}\">{}</span> · {} · {} by {} · trace {}</p>{}{}",
                    if run.outcome == Outcome::Success {
                        "ok"
                    } else {
                        "bad"
                    },
                    run.outcome,
                    escape(&ms(run.duration_ms)),
                    escape(&age(&started, now)),
                    escape(&run.probe),
                    trace(app.config.trace_url.as_deref(), &run.trace_id),
                    svg::waterfall(run),
                    failure(run),
                );
            }
        }
        main.push_str("</section>");
    }
    main.push_str("</div>");
    main.push_str(&svg::phase_legend());

    let open: Vec<&crate::alert::Alert> = d.alerts.iter().collect();
    let _ = write!(main, "<h2>Open alerts ({})</h2><section>", open.len());
    let open_views: Vec<&AlertView> = alerts
        .open
        .iter()
        .filter(|a| a.alert.scenario.as_deref() == Some(name))
        .collect();
    if open.is_empty() {
        main.push_str("<p class=\"muted-text\">No open alerts.</p>");
    } else if open_views.len() == open.len() {
        main.push_str(&alert_table(open_views.into_iter(), now, ""));
    } else {
        // The engine's view moved between the two reads: show its list.
        main.push_str("<ul>");
        for a in open {
            let _ = write!(main, "<li>{}</li>", escape(&a.summary));
        }
        main.push_str("</ul>");
    }
    main.push_str("</section><h2>Recent alerts</h2><section>");
    main.push_str(&alert_table(
        alerts
            .recent
            .iter()
            .filter(|a| {
                a.alert.scenario.as_deref() == Some(name) && a.status != AlertStatus::Firing
            })
            .take(RECENT_ALERTS),
        now,
        "No resolved alerts.",
    ));
    main.push_str("</section>");

    if let Some(slo) = &d.slo {
        let _ = write!(
            main,
            "<h2>SLO</h2><section><p>Objective {}% over {} · <b class=\"{}\">{}</b> · {}</p>",
            slo.availability,
            escape(&slo.window),
            if slo.budget_remaining > 0.0 {
                "ok"
            } else {
                "bad"
            },
            escape(&slo.budget_left),
            if slo.deploy_ok {
                "<span class=\"ok\">deploys OK</span>"
            } else {
                "<span class=\"bad\">hold deploys</span>"
            },
        );
        if !slo.burn_rates.is_empty() {
            main.push_str(
                "<table><thead><tr><th>window</th><th>burn rate</th></tr></thead><tbody>",
            );
            for (w, rate) in &slo.burn_rates {
                let _ = write!(main, "<tr><td>{}</td><td>{rate:.2}×</td></tr>", escape(w));
            }
            main.push_str("</tbody></table>");
        }
        main.push_str("</section>");
    }
    Ok(render::page(&format!("{} · Sonde", s.name), &main))
}

/// The last 90 days of availability, every region together.
async fn uptime_section(app: &App, name: &str, now: DateTime<Utc>) -> Result<String, PageError> {
    let from = uptime_bars::first_day(now);
    let report = views::uptime_report(app, Some(name), from, now)
        .await
        .map_err(PageError::store("/api/v1/reports/uptime"))?;
    let days = report
        .scenarios
        .iter()
        .find(|s| s.scenario == name)
        .map(views::ScenarioUptime::all_regions)
        .unwrap_or_default();
    Ok(format!(
        "<h2>Availability (last {} days)</h2><section>{}<p class=\"muted-text\">Passing runs of those counted per UTC day, every region together; grey: no runs. Maintenance with <code>exclude_from_slo</code> is left out.</p></section>",
        uptime_bars::DAYS,
        uptime_bars::bars(&days, now)
    ))
}

/// `firing` or `resolved`, as the API spells it.
fn status_name(status: AlertStatus) -> &'static str {
    match status {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    }
}

/// The failing step of `run`: its error, the failed assertions'
/// expected vs actual, and the response it saw.
fn failure(run: &RunResult) -> String {
    let Some(step) = run.steps.iter().find(|s| s.status == StepStatus::Failed) else {
        return String::new();
    };
    let mut out = format!(
        "<div class=\"failure\"><p class=\"bad\">Step <b>{}</b> failed{}</p>",
        escape(&step.name),
        step.http
            .as_ref()
            .map(|h| format!(
                ": {} {} → {}",
                escape(&h.method),
                escape(&h.url),
                h.status
                    .map_or_else(|| "no status".into(), |s| s.to_string())
            ))
            .unwrap_or_default()
    );
    if let Some(e) = &step.error {
        let kind = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = write!(out, "<pre>{}: {}</pre>", escape(&kind), escape(&e.message));
    }
    let failed: Vec<_> = step.assertions.iter().filter(|a| !a.passed).collect();
    if !failed.is_empty() {
        out.push_str("<table><thead><tr><th>assertion</th><th>expected</th><th>actual</th></tr></thead><tbody>");
        for a in failed {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                escape(&a.expr),
                escape(&a.expected),
                escape(&a.actual)
            );
        }
        out.push_str("</tbody></table>");
    }
    if let Some(e) = &step.evidence {
        out.push_str(&evidence::section(e));
    }
    out.push_str("</div>");
    out
}

/// A run's trace id, a link to the tracing UI when `trace_url` is set.
fn trace(template: Option<&str>, trace_id: &str) -> String {
    let code = format!("<code>{}</code>", escape(trace_id));
    match template.and_then(|t| crate::alert::trace_link(t, trace_id)) {
        Some(url) => format!("<a href=\"{}\">{code}</a>", escape(&url)),
        None => code,
    }
}
