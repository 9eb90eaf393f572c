//! Metrics exposition for the scheduler and the probe agent.
//!
//! prometheus-client writes OpenMetrics only. Prometheus scrapes that when
//! it asks for it (`Accept: application/openmetrics-text`); everything else
//! (older scrapers, `curl`, `promtool check metrics`) gets the classic text
//! format 0.0.4, converted here: counter metadata renamed to the `_total`
//! name, `_created` series, `# UNIT` lines, exemplars and `# EOF` dropped,
//! `info` families turned into gauges and `unknown` into `untyped`.
//!
//! [`RunDurations`] is the run-duration histogram both expose, with a
//! `trace_id` exemplar on each bucket.

mod run_duration;

use std::collections::HashMap;

pub use run_duration::{DURATION_BUCKETS, RunDurations, RunSample, is_trace_id};

/// The two text formats a scraper may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Classic,
}

/// OpenMetrics when the `Accept` header asks for it, else classic text.
pub fn negotiate(accept: Option<&str>) -> Format {
    match accept {
        Some(a)
            if a.to_ascii_lowercase()
                .contains("application/openmetrics-text") =>
        {
            Format::OpenMetrics
        }
        _ => Format::Classic,
    }
}

/// The `Content-Type` of a format.
pub fn content_type(format: Format) -> &'static str {
    match format {
        Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        Format::Classic => "text/plain; version=0.0.4; charset=utf-8",
    }
}

/// Renders prometheus-client output in the asked format.
pub fn render(openmetrics: &str, format: Format) -> String {
    match format {
        Format::OpenMetrics => openmetrics.to_string(),
        Format::Classic => to_classic(openmetrics),
    }
}

/// Converts OpenMetrics text to the classic Prometheus text format 0.0.4.
pub fn to_classic(openmetrics: &str) -> String {
    let mut types: HashMap<&str, &str> = HashMap::new();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            types.insert(name, kind);
            let (name, kind) = classic_family(name, kind);
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            // HELP comes before TYPE, so the family's kind is looked up ahead.
            out.push_str(&format!("# HELP {} {help}\n", help_name(openmetrics, name)));
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let sample = strip_exemplar(line);
        let metric = sample.split(['{', ' ']).next().unwrap_or("");
        if is_created(metric, &types) {
            continue;
        }
        out.push_str(sample);
        out.push('\n');
    }
    out
}

/// The classic name and type of a family.
fn classic_family<'a>(name: &'a str, kind: &'a str) -> (String, &'a str) {
    match kind {
        "counter" if !name.ends_with("_total") => (format!("{name}_total"), "counter"),
        "info" => (format!("{name}_info"), "gauge"),
        "unknown" => (name.to_string(), "untyped"),
        "gaugehistogram" => (name.to_string(), "histogram"),
        "stateset" => (name.to_string(), "gauge"),
        _ => (name.to_string(), kind),
    }
}

/// The classic name for a HELP line, found from the family's TYPE line.
fn help_name(openmetrics: &str, name: &str) -> String {
    let kind = openmetrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("# TYPE ")
                .and_then(|r| r.strip_prefix(name))
                .and_then(|r| r.strip_prefix(' '))
        })
        .unwrap_or("unknown");
    classic_family(name, kind).0
}

/// `_created` samples of counters, histograms and summaries: classic text
/// has no such series.
fn is_created(metric: &str, types: &HashMap<&str, &str>) -> bool {
    metric
        .strip_suffix("_created")
        .and_then(|family| types.get(family))
        .is_some_and(|kind| {
            matches!(
                *kind,
                "counter" | "histogram" | "summary" | "gaugehistogram"
            )
        })
}

/// Drops a trailing ` # {labels} value [timestamp]` exemplar.
fn strip_exemplar(line: &str) -> &str {
    // Label values may contain " # ", so look only after the label set.
    let after_labels = match line.find('{') {
        Some(open) => closing_brace(line, open).map_or(0, |c| c + 1),
        None => 0,
    };
    match line[after_labels..].find(" # ") {
        Some(i) => &line[..after_labels + i],
        None => line,
    }
}

/// The index of the `}` closing the label set opened at `open`, skipping
/// quoted label values.
fn closing_brace(line: &str, open: usize) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line[open..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return Some(open + i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_text_renames_counters_and_drops_openmetrics_only_lines() {
        let om = super::tests_support::sample();
        assert!(om.contains("# EOF") && om.contains("# UNIT"), "{om}");
        let classic = to_classic(&om);
        assert!(
            classic.contains("# TYPE sonde_scenario_runs_total counter"),
            "{classic}"
        );
        assert!(
            classic.contains("# HELP sonde_scenario_runs_total Runs per scenario"),
            "{classic}"
        );
        assert!(
            classic
                .contains("sonde_scenario_runs_total{scenario=\"checkout\",outcome=\"success\"} 1"),
            "{classic}"
        );
        assert!(
            classic.contains("# TYPE sonde_scenario_duration_seconds histogram"),
            "{classic}"
        );
        assert!(
            classic.contains("sonde_scenario_duration_seconds_bucket{le=\"0.5\"} 1"),
            "{classic}"
        );
        assert!(
            !classic.contains("# EOF")
                && !classic.contains("# UNIT")
                && !classic.contains("_created")
        );
    }

    #[test]
    fn exemplars_and_created_series_are_dropped() {
        let om = "# TYPE a counter\na_total{x=\"a # b\"} 1 # {trace_id=\"abc\"} 1.0 1.5\na_created 17.0\n# EOF\n";
        assert_eq!(
            to_classic(om),
            "# TYPE a_total counter\na_total{x=\"a # b\"} 1\n"
        );
    }

    #[test]
    fn negotiates_by_accept_header() {
        assert_eq!(
            negotiate(Some("application/openmetrics-text; version=1.0.0")),
            Format::OpenMetrics
        );
        assert_eq!(negotiate(Some("text/plain")), Format::Classic);
        assert_eq!(negotiate(None), Format::Classic);
    }
}

#[cfg(test)]
mod promtool {
    /// The converted text passes the reference linter when it is installed
    /// (CI installs Debian's `prometheus`, which ships it).
    #[test]
    fn classic_text_passes_promtool_check_metrics() {
        use std::io::Write;
        let Ok(mut child) = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("promtool is not installed; skipping the lint of the classic format");
            return;
        };
        let text = super::to_classic(&super::tests_support::sample());
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("written");
        let out = child.wait_with_output().expect("promtool ran");
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[cfg(test)]
mod tests_support {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::{Registry, Unit};

    pub fn sample() -> String {
        let mut registry = Registry::default();
        let runs = Family::<Vec<(String, String)>, Counter>::default();
        registry.register(
            "sonde_scenario_runs",
            "Runs per scenario, region and outcome",
            runs.clone(),
        );
        runs.get_or_create(&vec![
            ("scenario".into(), "checkout".into()),
            ("outcome".into(), "success".into()),
        ])
        .inc();
        let up = Gauge::<i64>::default();
        registry.register("sonde_probe_up", "Probe is live", up.clone());
        up.set(1);
        let hist = Histogram::new([0.1, 0.5, 1.0]);
        registry.register_with_unit(
            "sonde_scenario_duration",
            "Whole-run durations",
            Unit::Seconds,
            hist.clone(),
        );
        hist.observe(0.2);
        let mut text = String::new();
        encode(&mut text, &registry).expect("encodes");
        text
    }
}
