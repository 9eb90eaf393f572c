//! Inline SVG: latency over time per region, and a run's step waterfall.

use std::fmt::Write as _;

use scenarios::wire::{Outcome, RunResult, StepStatus};

use super::render::{escape, ms};

/// Line colours, one per region in order.
pub const PALETTE: [&str; 8] = [
    "#0969da", "#bf3989", "#1a7f37", "#bc4c00", "#8250df", "#0550ae", "#953800", "#116329",
];

/// Phase names and colours of the waterfall.
pub const PHASES: [(&str, &str); 5] = [
    ("dns", "#8c959f"),
    ("connect", "#bf8700"),
    ("tls", "#8250df"),
    ("ttfb", "#0969da"),
    ("transfer", "#1a7f37"),
];

const W: f64 = 720.0;
const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// Latency of `series` (region, runs newest first as the API lists them)
/// over time: one line per region, failed runs marked with a red dot, and
/// each region's latency anomaly baseline (ms, in `baselines` by the same
/// index, when judged) as a dashed line of its colour.
pub fn latency_chart(series: &[(String, Vec<RunResult>)], baselines: &[Option<f64>]) -> String {
    let points = series.iter().flat_map(|(_, runs)| runs.iter());
    let (mut t0, mut t1, mut max) = (i64::MAX, i64::MIN, 0.0_f64);
    for b in baselines.iter().flatten() {
        max = max.max(*b);
    }
    for r in points {
        let t = r.started_at.timestamp_millis();
        t0 = t0.min(t);
        t1 = t1.max(t);
        max = max.max(r.duration_ms);
    }
    if t0 > t1 {
        return "<p class=\"muted-text\">No runs yet.</p>".into();
    }
    let span = (t1 - t0).max(1) as f64;
    let top = nice_max(max);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |t: i64| LEFT + (t - t0) as f64 / span * pw;
    let y = |v: f64| TOP + ph - v / top * ph;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="latency over time per region">"#
    );
    for i in 0..=4 {
        let v = top * f64::from(i) / 4.0;
        let yy = y(v);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}" stroke="#d0d7de" stroke-width="1"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{label}</text>"##,
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = yy + 4.0,
            label = escape(&ms(v)),
        );
    }
    let time = |t: i64| {
        chrono::DateTime::from_timestamp_millis(t)
            .map(|d| d.format("%H:%M:%S UTC").to_string())
            .unwrap_or_default()
    };
    let _ = write!(
        svg,
        r#"<text x="{LEFT}" y="{b}">{a}</text><text x="{r}" y="{b}" text-anchor="end">{z}</text>"#,
        b = H - 8.0,
        r = W - RIGHT,
        a = time(t0),
        z = time(t1),
    );
    for (i, (region, runs)) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let mut sorted: Vec<&RunResult> = runs.iter().collect();
        sorted.sort_by_key(|r| r.started_at);
        let line: Vec<String> = sorted
            .iter()
            .map(|r| {
                format!(
                    "{:.1},{:.1}",
                    x(r.started_at.timestamp_millis()),
                    y(r.duration_ms)
                )
            })
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"><title>{}</title></polyline>"#,
            line.join(" "),
            escape(region)
        );
        if let Some(Some(b)) = baselines.get(i) {
            let _ = write!(
                svg,
                r#"<line x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}" stroke="{colour}" stroke-width="1" stroke-dasharray="5 4"><title>{} usual latency {}</title></line>"#,
                escape(region),
                escape(&ms(*b)),
                x2 = W - RIGHT,
                yy = y(*b),
            );
        }
        for r in sorted.iter().filter(|r| r.outcome != Outcome::Success) {
            let _ = write!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#cf222e"><title>{} {}: {}</title></circle>"##,
                x(r.started_at.timestamp_millis()),
                y(r.duration_ms),
                escape(region),
                r.outcome,
                escape(&ms(r.duration_ms)),
            );
        }
    }
    svg.push_str("</svg><div class=\"legend\">");
    for (i, (region, runs)) in series.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<span><i style="background:{}"></i>{} ({} runs)</span>"#,
            PALETTE[i % PALETTE.len()],
            escape(region),
            runs.len()
        );
    }
    svg.push_str(
        r##"<span><i style="background:#cf222e;border-radius:50%"></i>failed run</span>"##,
    );
    if baselines.iter().any(Option::is_some) {
        svg.push_str(r#"<span>dashed: usual latency (anomaly baseline)</span>"#);
    }
    svg.push_str("</div>");
    svg
}

/// A round axis maximum at or above `v` (1, 2 or 5 × 10ⁿ ms).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

/// The steps of `run` laid end to end, each split into its phases (or one
/// bar when the step reports none); skipped steps have no bar.
pub fn waterfall(run: &RunResult) -> String {
    const ROW: f64 = 22.0;
    const LABEL: f64 = 150.0;
    let total: f64 = run
        .steps
        .iter()
        .map(|s| s.duration_ms.unwrap_or(0.0))
        .sum::<f64>()
        .max(run.duration_ms)
        .max(0.001);
    let h = ROW * run.steps.len() as f64 + 24.0;
    let pw = W - LABEL - RIGHT;
    let scale = |v: f64| v / total * pw;
    let mut svg = format!(
        r#"<svg class="waterfall" viewBox="0 0 {W} {h}" role="img" aria-label="step waterfall">"#
    );
    let mut offset = 0.0;
    for (i, step) in run.steps.iter().enumerate() {
        let y = ROW * i as f64 + 4.0;
        let cls = match step.status {
            StepStatus::Failed => " class=\"bad\" style=\"fill:#cf222e;font-weight:600\"",
            _ => "",
        };
        let _ = write!(
            svg,
            r#"<text x="0" y="{:.1}"{cls}>{}</text>"#,
            y + 13.0,
            escape(&truncate(&step.name, 22))
        );
        let Some(d) = step
            .duration_ms
            .filter(|_| step.status != StepStatus::Skipped)
        else {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}">skipped</text>"#,
                LABEL + scale(offset),
                y + 13.0
            );
            continue;
        };
        let mut x = LABEL + scale(offset);
        let phases = step
            .phases
            .map(|p| [p.dns_ms, p.connect_ms, p.tls_ms, p.ttfb_ms, p.transfer_ms]);
        let mut drew = false;
        if let Some(phases) = phases {
            for ((name, colour), v) in PHASES.iter().zip(phases) {
                let Some(v) = v.filter(|v| *v > 0.0) else {
                    continue;
                };
                let w = scale(v).max(1.0);
                let _ = write!(
                    svg,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="16" fill="{colour}"><title>{} {name}: {}</title></rect>"#,
                    escape(&step.name),
                    escape(&ms(v))
                );
                x += w;
                drew = true;
            }
        }
        if !drew {
            let _ = write!(
                svg,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="16" fill="#57606a"><title>{}: {}</title></rect>"##,
                scale(d).max(1.0),
                escape(&step.name),
                escape(&ms(d))
            );
        }
        let end = LABEL + scale(offset + d);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}"{anchor}>{}</text>"#,
            if end > W - 80.0 { W - RIGHT } else { end + 4.0 },
            y + 13.0,
            escape(&ms(d)),
            anchor = if end > W - 80.0 {
                " text-anchor=\"end\""
            } else {
                ""
            },
        );
        offset += d;
    }
    svg.push_str("</svg>");
    svg
}

/// The waterfall's legend.
pub fn phase_legend() -> String {
    let mut out = String::from("<div class=\"legend\">");
    for (name, colour) in PHASES {
        let _ = write!(
            out,
            r#"<span><i style="background:{colour}"></i>{name}</span>"#
        );
    }
    out.push_str(r##"<span><i style="background:#57606a"></i>whole step</span></div>"##);
    out
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maximum_is_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(3.4), 5.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(1000.0), 1000.0);
    }

    #[test]
    fn no_runs_no_chart() {
        assert!(latency_chart(&[("eu".into(), Vec::new())], &[]).contains("No runs"));
    }

    #[test]
    fn truncates_long_names() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
