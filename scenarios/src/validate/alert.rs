//! `[alert]`: thresholds in range, the latency objective's mini-grammar,
//! the SLO.

use std::time::Duration;

use toml::Spanned;

use super::ctx::Ctx;
use super::retry;
use super::threshold;
use crate::duration;
use crate::model::{
    AlertPolicy, AnomalyPolicy, LatencyObjective, Schedule, Severity, SloObjective,
};
use crate::raw::RawAlert;
use crate::threshold::Threshold;

pub const KEYS: [&str; 10] = [
    "after",
    "recover_after",
    "global_regions",
    "severity",
    "runbook",
    "confirm",
    "latency",
    "slo",
    "retry",
    "anomaly",
];

/// `regions` and `run` (the schedule and timeout) come from the header,
/// when it validated.
pub fn check(
    ctx: &mut Ctx<'_>,
    raw: Option<&RawAlert>,
    regions: Option<usize>,
    run: Option<(&Schedule, Duration)>,
) -> AlertPolicy {
    let mut policy = AlertPolicy::default();
    let Some(raw) = raw else {
        if let Some(n) = regions {
            policy.global_regions = policy.global_regions.min(n as u32);
        }
        return policy;
    };
    policy.after = raw
        .after
        .as_ref()
        .and_then(|v| threshold::check(ctx, v, "after"))
        .unwrap_or(policy.after);
    policy.recover_after = match &raw.recover_after {
        Some(v) => threshold::check(ctx, v, "recover_after").unwrap_or(policy.recover_after),
        None => default_recovery(policy.after),
    };
    let max_regions = regions.map_or(1000, |n| n as i64);
    match &raw.global_regions {
        Some(g) if *g.get_ref() > max_regions && regions.is_some() => ctx.error(
            format!(
                "`global_regions` is {} but the scenario lists {max_regions} regions",
                g.get_ref()
            ),
            g.span(),
            format!("expected at most {max_regions}"),
        ),
        Some(g) => {
            policy.global_regions = ctx
                .bounded(g, "global_regions", 1, 1000)
                .unwrap_or(policy.global_regions)
        }
        None => policy.global_regions = policy.global_regions.min(max_regions as u32),
    }
    if let Some(s) = &raw.severity {
        policy.severity = severity(ctx, s).unwrap_or(policy.severity);
    }
    if let Some(r) = &raw.runbook {
        match url::Url::parse(r.get_ref()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                policy.runbook = Some(r.get_ref().clone())
            }
            _ => ctx.error(
                "invalid runbook URL",
                r.span(),
                "expected an absolute http(s) URL",
            ),
        }
    }
    policy.confirm = raw.confirm.unwrap_or(policy.confirm);
    policy.latency = raw.latency.as_ref().and_then(|l| latency(ctx, l));
    policy.slo = raw.slo.as_ref().and_then(|s| slo(ctx, s.get_ref()));
    policy.retry = raw.retry.as_ref().and_then(|r| retry::check(ctx, r, run));
    policy.anomaly = raw.anomaly.as_ref().and_then(|a| anomaly(ctx, a.get_ref()));
    policy
}

/// Fewer runs than this make a median and a MAD of noise.
const MIN_ANOMALY_RUNS: i64 = 10;

fn anomaly(ctx: &mut Ctx<'_>, raw: &crate::raw::RawAnomaly) -> Option<AnomalyPolicy> {
    let mut policy = AnomalyPolicy::default();
    let mut ok = true;
    if let Some(s) = &raw.sensitivity {
        let v = *s.get_ref();
        if v.is_finite() && v > 0.0 {
            policy.sensitivity = v;
        } else {
            ctx.error(
                "`anomaly.sensitivity` is out of range",
                s.span(),
                "expected a number above 0, like 3.0",
            );
            ok = false;
        }
    }
    if let Some(m) = &raw.min_runs {
        match ctx.bounded(m, "anomaly.min_runs", MIN_ANOMALY_RUNS, 100_000) {
            Some(n) => policy.min_runs = n,
            None => ok = false,
        }
    }
    if let Some(s) = &raw.severity {
        match severity(ctx, s) {
            Some(v) => policy.severity = v,
            None => ok = false,
        }
    }
    ok.then_some(policy)
}

fn severity(ctx: &mut Ctx<'_>, s: &Spanned<String>) -> Option<Severity> {
    match s.get_ref().as_str() {
        "critical" => Some(Severity::Critical),
        "warning" => Some(Severity::Warning),
        "info" => Some(Severity::Info),
        other => {
            ctx.error(
                format!("unknown severity `{other}`"),
                s.span(),
                "expected `critical`, `warning` or `info`",
            );
            None
        }
    }
}

/// `recover_after` when the file leaves it out: one good run after a
/// consecutive `after`; after `"N of M"`, N good runs in a row, so a
/// region that fails every other run stays down instead of resolving on
/// each pass (see docs/alerting.md).
fn default_recovery(after: Threshold) -> Threshold {
    if after.is_consecutive() {
        AlertPolicy::default().recover_after
    } else {
        Threshold::consecutive(after.runs)
    }
}

/// `pNN < DURATION over WINDOW`.
fn latency(ctx: &mut Ctx<'_>, value: &Spanned<String>) -> Option<LatencyObjective> {
    const SHAPE: &str = "expected `pNN < DURATION over WINDOW`, like `p95 < 1500ms over 10m`";
    let text = value.get_ref();
    let words: Vec<(usize, &str)> = text
        .split_whitespace()
        .map(|w| (offset_in(text, w), w))
        .collect();
    let [(p_at, p), (_, "<"), (t_at, t), (_, "over"), (w_at, w)] = words.as_slice() else {
        ctx.error("invalid latency objective", value.span(), SHAPE);
        return None;
    };
    let at = |ctx: &Ctx<'_>, start: usize, word: &str| {
        ctx.inner_span(value, &(start..start + word.len()))
    };
    let percentile = p
        .strip_prefix('p')
        .and_then(|n| n.parse::<f64>().ok())
        .filter(|n| (50.0..=99.9).contains(n));
    let Some(percentile) = percentile else {
        let span = at(ctx, *p_at, p);
        ctx.error(
            format!("invalid percentile `{p}`"),
            span,
            "expected `p50` to `p99.9`",
        );
        return None;
    };
    let threshold = duration::parse(t);
    let window = duration::parse(w);
    match (threshold, window) {
        (Ok(threshold), Ok(window)) if window >= Duration::from_secs(60) => {
            Some(LatencyObjective {
                percentile,
                threshold,
                window,
            })
        }
        (Ok(_), Ok(_)) => {
            let span = at(ctx, *w_at, w);
            ctx.error(
                "latency window is shorter than 1m",
                span,
                "expected a window of at least `1m`",
            );
            None
        }
        (Err(e), _) => {
            let span = at(ctx, *t_at, t);
            ctx.error(
                format!("invalid latency threshold: {e}"),
                span,
                duration::EXPECTED,
            );
            None
        }
        (_, Err(e)) => {
            let span = at(ctx, *w_at, w);
            ctx.error(
                format!("invalid latency window: {e}"),
                span,
                duration::EXPECTED,
            );
            None
        }
    }
}

pub(super) fn offset_in(text: &str, word: &str) -> usize {
    word.as_ptr() as usize - text.as_ptr() as usize
}

fn slo(ctx: &mut Ctx<'_>, raw: &crate::raw::RawSlo) -> Option<SloObjective> {
    let availability = *raw.availability.get_ref();
    let mut ok = true;
    if !(availability > 0.0 && availability < 100.0) {
        ctx.error(
            "SLO availability out of range",
            raw.availability.span(),
            "expected a percentage above 0 and below 100, like 99.9",
        );
        ok = false;
    }
    let window = ctx.duration(&raw.window, "slo.window");
    if window.is_some_and(|w| w < Duration::from_secs(86_400)) {
        ctx.error(
            "SLO window is shorter than 1d",
            raw.window.span(),
            "expected at least `1d`, like `30d`",
        );
        ok = false;
    }
    Some(SloObjective {
        availability,
        window: window?,
    })
    .filter(|_| ok)
}
