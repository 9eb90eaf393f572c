//! The readable report of `probe run`: one line per step with its phases,
//! then what failed, expected against seen.

use std::fmt::Write as _;

use scenarios::wire::{Phases, RunResult, StepResult, StepStatus};

pub mod junit;
pub mod tap;
pub(crate) mod verdict;

/// Renders one run as text.
pub fn text(result: &RunResult) -> String {
    let mut out = String::new();
    // A retry says which attempt it is, so a failure then a pass reads as
    // one run that recovered.
    let attempt = if result.attempt > 1 {
        format!(", attempt {}", result.attempt)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{} [{}] {} in {:.1} ms{attempt} (trace {})",
        result.scenario,
        result.region,
        result.outcome.as_str().to_uppercase(),
        result.duration_ms,
        result.trace_id
    );
    let width = result
        .steps
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(4);
    for step in &result.steps {
        let _ = writeln!(out, "  {}", step_line(step, width));
    }
    for step in result
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
    {
        out.push_str(&failure(step));
    }
    out
}

fn step_line(step: &StepResult, width: usize) -> String {
    let mark = match step.status {
        StepStatus::Passed => "PASS",
        StepStatus::Failed => "FAIL",
        StepStatus::Skipped => "SKIP",
    };
    let mut line = format!("{mark}  {:width$}", step.name);
    if step.status == StepStatus::Skipped {
        return line;
    }
    let status = step
        .http
        .as_ref()
        .and_then(|h| h.status)
        .map_or_else(|| "   ".to_string(), |s| s.to_string());
    let _ = write!(
        line,
        "  {status}  {:>9}",
        step.duration_ms
            .map_or_else(String::new, |d| format!("{d:.1} ms"))
    );
    if let Some(p) = &step.phases {
        let _ = write!(line, "  {}", phases(p));
    }
    line.trim_end().to_string()
}

/// `dns 1.2  connect 0.3  tls -  ttfb 12.0  transfer 0.4`, `-` for a phase
/// that did not happen.
pub fn phases(p: &Phases) -> String {
    let f = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
    format!(
        "dns {}  connect {}  tls {}  ttfb {}  transfer {}",
        f(p.dns_ms),
        f(p.connect_ms),
        f(p.tls_ms),
        f(p.ttfb_ms),
        f(p.transfer_ms)
    )
}

/// What went wrong in a failed step: its request, error, certificate
/// trouble and each failed assertion as expected against actual.
pub(crate) fn failure(step: &StepResult) -> String {
    let mut out = format!("\nstep `{}` failed", step.name);
    if let Some(http) = &step.http {
        let _ = write!(out, ": {} {}", http.method, http.url);
    }
    out.push('\n');
    if let Some(e) = &step.error {
        let _ = writeln!(out, "  error ({}): {}", e.kind.as_str(), e.message);
    }
    if let Some(tls) = &step.tls {
        if let Some(why) = &tls.verify_error {
            let _ = writeln!(out, "  certificate: {why}");
        }
        if let Some(t) = tls.cert_not_after {
            let _ = writeln!(
                out,
                "  certificate expires: {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
        }
    }
    for a in step.assertions.iter().filter(|a| !a.passed) {
        let _ = writeln!(
            out,
            "  {}\n    expected: {}\n    actual:   {}",
            a.expr, a.expected, a.actual
        );
    }
    out
}
