//! `probe run --format junit`: JUnit XML as GitLab, GitHub and Jenkins test
//! reporters read it. One `<testsuite>` per scenario, one `<testcase>` per
//! step; a failed check is a `<failure>` listing expected against actual, a
//! step that could not run an `<error>`, a step after a failure `<skipped>`.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use scenarios::wire::{RunResult, StepResult};

use super::verdict::{SKIP_REASON, Verdict};

/// Renders the runs (the last attempt of each scenario) as one JUnit
/// document.
pub fn junit(results: &[RunResult]) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into memory cannot fail; an error would only mean a bug in
    // the writer, and then the partial document is still printed.
    let _ = document(&mut writer, results);
    let mut out = String::from_utf8_lossy(&writer.into_inner()).into_owned();
    out.push('\n');
    out
}

#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Counts {
    fn of(steps: &[StepResult]) -> Counts {
        let mut counts = Counts::default();
        for step in steps {
            counts.tests += 1;
            match Verdict::of(step) {
                Verdict::Passed => {}
                Verdict::Skipped => counts.skipped += 1,
                Verdict::Failure { .. } => counts.failures += 1,
                Verdict::Error { .. } => counts.errors += 1,
            }
        }
        counts
    }

    fn add(&mut self, other: &Counts) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
    }
}

fn document(w: &mut Writer<Vec<u8>>, results: &[RunResult]) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut total = Counts::default();
    for r in results {
        total.add(&Counts::of(&r.steps));
    }
    let time: f64 = results.iter().map(|r| r.duration_ms).sum();
    w.create_element("testsuites")
        .with_attribute(("name", "probe run"))
        .with_attribute(("tests", total.tests.to_string().as_str()))
        .with_attribute(("failures", total.failures.to_string().as_str()))
        .with_attribute(("errors", total.errors.to_string().as_str()))
        .with_attribute(("skipped", total.skipped.to_string().as_str()))
        .with_attribute(("time", seconds(time).as_str()))
        .write_inner_content(|w| results.iter().try_for_each(|r| suite(w, r)))?;
    Ok(())
}

fn suite(w: &mut Writer<Vec<u8>>, result: &RunResult) -> io::Result<()> {
    let counts = Counts::of(&result.steps);
    // The Ant and Jenkins schemas want a timestamp without a zone; it is UTC.
    let timestamp = result.started_at.format("%Y-%m-%dT%H:%M:%S").to_string();
    let name = xml_text(&result.scenario);
    w.create_element("testsuite")
        .with_attribute(("name", name.as_str()))
        .with_attribute(("tests", counts.tests.to_string().as_str()))
        .with_attribute(("failures", counts.failures.to_string().as_str()))
        .with_attribute(("errors", counts.errors.to_string().as_str()))
        .with_attribute(("skipped", counts.skipped.to_string().as_str()))
        .with_attribute(("time", seconds(result.duration_ms).as_str()))
        .with_attribute(("timestamp", timestamp.as_str()))
        .with_attribute(("hostname", xml_text(&result.probe).as_str()))
        .write_inner_content(|w| {
            properties(w, result)?;
            result.steps.iter().try_for_each(|s| case(w, &name, s))
        })?;
    Ok(())
}

/// What identifies the run, to find it again in the fleet's history.
fn properties(w: &mut Writer<Vec<u8>>, result: &RunResult) -> io::Result<()> {
    let attempt = result.attempt.to_string();
    let props = [
        ("outcome", result.outcome.as_str()),
        ("region", result.region.as_str()),
        ("trace_id", result.trace_id.as_str()),
        ("version", result.version.as_str()),
        ("attempt", attempt.as_str()),
    ];
    w.create_element("properties").write_inner_content(|w| {
        for (name, value) in props {
            w.create_element("property")
                .with_attribute(("name", name))
                .with_attribute(("value", xml_text(value).as_str()))
                .write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

fn case(w: &mut Writer<Vec<u8>>, scenario: &str, step: &StepResult) -> io::Result<()> {
    let element = w
        .create_element("testcase")
        .with_attribute(("name", xml_text(&step.name).as_str()))
        .with_attribute(("classname", scenario))
        .with_attribute(("time", seconds(step.duration_ms.unwrap_or(0.0)).as_str()));
    let verdict = Verdict::of(step);
    if verdict == Verdict::Passed && step.phases.is_none() {
        element.write_empty()?;
        return Ok(());
    }
    element.write_inner_content(|w| {
        match &verdict {
            Verdict::Passed => {}
            Verdict::Skipped => {
                w.create_element("skipped")
                    .with_attribute(("message", SKIP_REASON))
                    .write_empty()?;
            }
            Verdict::Failure { kind, message } | Verdict::Error { kind, message } => {
                let tag = if matches!(verdict, Verdict::Error { .. }) {
                    "error"
                } else {
                    "failure"
                };
                let detail = xml_text(super::failure(step).trim());
                w.create_element(tag)
                    .with_attribute(("message", xml_text(message).as_str()))
                    .with_attribute(("type", kind.as_str()))
                    .write_text_content(BytesText::new(&detail))?;
            }
        }
        if let Some(p) = &step.phases {
            let mut out = super::phases(p);
            if let Some(status) = step.http.as_ref().and_then(|h| h.status) {
                out = format!("status {status}  {out}");
            }
            w.create_element("system-out")
                .write_text_content(BytesText::new(&out))?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Milliseconds as the seconds JUnit counts, to the millisecond.
fn seconds(ms: f64) -> String {
    format!("{:.3}", ms.max(0.0) / 1000.0)
}

/// `text` with every character XML 1.0 cannot carry (even as a character
/// reference: most C0 controls, U+FFFE, U+FFFF) written as `\u{…}`, so a
/// control byte in a response cannot make the report unreadable. The
/// writer escapes `<`, `&` and quotes itself.
fn xml_text(text: &str) -> String {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if text.chars().all(allowed) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if allowed(c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use scenarios::wire::{AssertionResult, Phases, StepKind, StepStatus};

    use super::*;

    fn result(steps: Vec<StepResult>) -> RunResult {
        let json = r#"{"id":"0193a6f2-6c1e-7b3a-9f1e-2d4c5b6a7e8f","scenario":"s",
            "version":"sha256:0","probe":"p","region":"r",
            "scheduled_at":"2026-11-24T10:00:00.000Z","started_at":"2026-11-24T10:00:00.000Z",
            "duration_ms":1234.0,"outcome":"failure","trace_id":"0","steps":[]}"#;
        let mut r: RunResult = serde_json::from_str(json).expect("parses");
        r.steps = steps;
        r
    }

    fn failed_with(actual: &str) -> StepResult {
        let mut step = StepResult::skipped("body <check>", StepKind::Http);
        step.status = StepStatus::Failed;
        step.duration_ms = Some(12.0);
        step.phases = Some(Phases::default());
        step.assertions = vec![AssertionResult {
            expr: r#"body contains "a & b""#.into(),
            passed: false,
            expected: r#"contains "a & b""#.into(),
            actual: actual.into(),
        }];
        step
    }

    #[test]
    fn markup_in_names_and_bodies_is_escaped() {
        let xml = junit(&[result(vec![failed_with("<html>]]></html> & \"q\"")])]);
        assert!(xml.contains(r#"name="body &lt;check&gt;""#), "{xml}");
        assert!(
            xml.contains("&lt;html&gt;]]&gt;&lt;/html&gt; &amp;"),
            "{xml}"
        );
        assert!(!xml.contains("<html>"), "{xml}");
        assert!(!xml.contains("]]>"), "{xml}");
    }

    #[test]
    fn control_characters_xml_forbids_are_written_visibly() {
        let xml = junit(&[result(vec![failed_with(
            "bell\u{7} nul\u{0} esc\u{1b} tab\t",
        )])]);
        assert!(xml.contains(r"bell\u{7} nul\u{0} esc\u{1b} tab"), "{xml}");
        let forbidden = |c: char| c < ' ' && !matches!(c, '\t' | '\n' | '\r');
        assert!(!xml.chars().any(forbidden), "{xml:?}");
    }

    #[test]
    fn non_ascii_is_kept_as_it_is() {
        let xml = junit(&[result(vec![failed_with("Grüße — 東京 🚀")])]);
        assert!(xml.contains("Grüße — 東京 🚀"), "{xml}");
        assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#));
    }

    #[test]
    fn counts_and_times_are_per_suite_and_in_seconds() {
        let mut passed = StepResult::skipped("home", StepKind::Http);
        passed.status = StepStatus::Passed;
        passed.duration_ms = Some(2.0);
        let xml = junit(&[result(vec![
            passed,
            failed_with("x"),
            StepResult::skipped("pay", StepKind::Http),
        ])]);
        assert!(
            xml.contains(r#"tests="3" failures="1" errors="0" skipped="1" time="1.234""#),
            "{xml}"
        );
        assert!(xml.contains(r#"timestamp="2026-11-24T10:00:00""#), "{xml}");
        assert!(
            xml.contains(r#"<testcase name="home" classname="s" time="0.002"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<skipped message="earlier step failed"/>"#),
            "{xml}"
        );
    }
}
