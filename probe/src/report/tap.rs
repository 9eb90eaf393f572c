//! `probe run --format tap`: TAP version 13, one test point per step over
//! every scenario, `scenario › step`; a failed step carries a YAML block
//! with the message, expected, actual and its duration.

use std::fmt::Write as _;

use scenarios::wire::{RunResult, StepResult};

use super::verdict::{SKIP_REASON, Verdict, failed_assertions};

/// Renders the runs (the last attempt of each scenario) as one TAP stream.
pub fn tap(results: &[RunResult]) -> String {
    let total: usize = results.iter().map(|r| r.steps.len()).sum();
    let mut out = format!("TAP version 13\n1..{total}\n");
    let mut number = 0;
    for result in results {
        for step in &result.steps {
            number += 1;
            point(&mut out, number, &result.scenario, step);
        }
    }
    out
}

fn point(out: &mut String, number: usize, scenario: &str, step: &StepResult) {
    let description = format!("{} › {}", description(scenario), description(&step.name));
    match Verdict::of(step) {
        Verdict::Passed => {
            let _ = writeln!(out, "ok {number} - {description}");
        }
        Verdict::Skipped => {
            let _ = writeln!(out, "ok {number} - {description} # SKIP {SKIP_REASON}");
        }
        Verdict::Failure { kind, message } | Verdict::Error { kind, message } => {
            let _ = writeln!(out, "not ok {number} - {description}");
            out.push_str("  ---\n");
            field(out, "message", &message);
            field(out, "kind", &kind);
            let failed = failed_assertions(step);
            if let Some(first) = failed.first() {
                field(out, "expected", &first.expected);
                field(out, "actual", &first.actual);
            }
            if failed.len() > 1 {
                out.push_str("  assertions:\n");
                for a in &failed {
                    let _ = writeln!(out, "    - expr: {}", scalar(&a.expr));
                    let _ = writeln!(out, "      expected: {}", scalar(&a.expected));
                    let _ = writeln!(out, "      actual: {}", scalar(&a.actual));
                }
            }
            if let Some(http) = &step.http {
                field(out, "request", &format!("{} {}", http.method, http.url));
            }
            if let Some(ms) = step.duration_ms {
                let _ = writeln!(out, "  duration_ms: {ms:.1}");
            }
            out.push_str("  ...\n");
        }
    }
}

fn field(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "  {key}: {}", scalar(value));
}

/// A YAML double-quoted scalar. A JSON string is one (YAML 1.2 is a
/// superset of JSON), with every control character escaped.
fn scalar(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| String::from("\"\""))
}

/// A test point's description: one line, and `#` escaped so a name cannot
/// read as a directive (`# SKIP`, `# TODO`).
fn description(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('\\', "\\\\")
        .replace('#', "\\#")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_in_a_name_is_not_a_directive() {
        assert_eq!(description("step #1 \\ a\nb"), "step \\#1 \\\\ a b");
    }

    #[test]
    fn yaml_values_are_quoted_and_escaped() {
        assert_eq!(scalar("a \"b\"\n\u{1b}é"), r#""a \"b\"\n\u001bé""#);
    }
}
