//! Keeping secrets and long bodies out of results.
//!
//! The probe redacts an `actual` before cutting it, so that no secret is cut
//! in half; [`RunResult::redact`] also masks the start of a secret left at
//! the end of a cut text, for results built in the other order.

use super::run_result::RunResult;
use super::step::StepResult;

/// What a secret value is replaced with.
pub const REDACTED: &str = "***";

/// How many characters of an assertion's `actual` are kept.
pub const ACTUAL_MAX_CHARS: usize = 200;

/// Appended to a cut `actual`.
const ELLIPSIS: &str = "…";

/// Cuts `s` to its first [`ACTUAL_MAX_CHARS`] characters (not bytes) and
/// appends `…`; shorter text is returned unchanged.
pub fn truncate_actual(s: &str) -> String {
    match s.char_indices().nth(ACTUAL_MAX_CHARS) {
        Some((end, _)) => format!("{}{ELLIPSIS}", &s[..end]),
        None => s.to_owned(),
    }
}

/// Replaces every occurrence of each non-empty secret in `text` with `***`.
/// Where secrets overlap, the longest one that starts first wins, so no part
/// of a longer secret is left behind.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    redact_sorted(text, &longest_first(secrets))
}

impl RunResult {
    /// Redacts `secrets` in every string that can carry data from the
    /// target or from templates: assertions (`expr`, `expected`,
    /// `actual`), error messages, certificate subjects and verification
    /// errors, DNS answers, evidence (status line, headers, body). The URL is left as it is: it describes the
    /// request, and the probe records it from a rendering with each secret
    /// as `***` (masking afterwards would also hit a secret's text where the
    /// secret was never put, and miss it where the URL parser rewrote it).
    pub fn redact(&mut self, secrets: &[&str]) {
        let secrets = longest_first(secrets);
        if secrets.is_empty() {
            return;
        }
        for step in &mut self.steps {
            redact_step(step, &secrets);
        }
    }
}

fn redact_step(step: &mut StepResult, secrets: &[&str]) {
    if let Some(tls) = &mut step.tls {
        tls.cert_subject.iter_mut().for_each(|s| scrub(s, secrets));
        tls.verify_error.iter_mut().for_each(|s| scrub(s, secrets));
    }
    if let Some(browser) = &mut step.browser {
        // The page's own URL: a form sent with GET puts what was typed in it.
        browser.url.iter_mut().for_each(|s| scrub(s, secrets));
    }
    if let Some(dns) = &mut step.dns {
        dns.answers.iter_mut().for_each(|s| scrub(s, secrets));
    }
    for assertion in &mut step.assertions {
        scrub(&mut assertion.expr, secrets);
        scrub(&mut assertion.expected, secrets);
        assertion.actual = redact_cut(&assertion.actual, secrets);
    }
    if let Some(error) = &mut step.error {
        scrub(&mut error.message, secrets);
    }
    if let Some(evidence) = &mut step.evidence {
        evidence
            .status_line
            .iter_mut()
            .for_each(|s| scrub(s, secrets));
        for (name, value) in &mut evidence.headers {
            scrub(name, secrets);
            scrub(value, secrets);
        }
        if let Some(body) = &mut evidence.body {
            scrub(body, secrets);
            // A cut body may end in a secret's beginning.
            if evidence.body_truncated
                && let Some(start) = cut_secret_start(body, secrets)
            {
                body.truncate(start);
                body.push_str(REDACTED);
            }
        }
    }
}

fn scrub(s: &mut String, secrets: &[&str]) {
    *s = redact_sorted(s, secrets);
}

/// Non-empty secrets without repeats, longest first.
fn longest_first<'a>(secrets: &[&'a str]) -> Vec<&'a str> {
    let mut sorted: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    sorted.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    sorted.dedup();
    sorted
}

/// Replaces each secret as written, then in every form it can come back in
/// (percent-encoded, JSON-escaped, base64, case-folded: `encoded`).
fn redact_sorted(text: &str, secrets: &[&str]) -> String {
    if secrets.is_empty() {
        return text.to_owned();
    }
    let exact = redact_exact(text, secrets);
    let spans = super::encoded::encoded_spans(&exact, secrets);
    if spans.is_empty() {
        return exact;
    }
    let mut out = String::with_capacity(exact.len());
    let mut at = 0;
    for span in spans {
        // Spans fall on character boundaries: they start and end at ASCII
        // escapes or at the edges of whole decoded characters.
        if let (Some(before), true) = (exact.get(at..span.start), exact.is_char_boundary(span.end))
        {
            out.push_str(before);
            out.push_str(REDACTED);
            at = span.end;
        }
    }
    out.push_str(exact.get(at..).unwrap_or_default());
    out
}

/// One left-to-right pass, so a replacement is never matched again (a
/// secret such as `*` cannot grow the output).
fn redact_exact(text: &str, secrets: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(secret) = secrets.iter().find(|s| rest.starts_with(**s)) {
            out.push_str(REDACTED);
            rest = &rest[secret.len()..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Like [`redact_sorted`], and when the text was cut (ends in `…`), also
/// masks a secret's beginning left just before the cut.
fn redact_cut(text: &str, secrets: &[&str]) -> String {
    let Some(body) = text.strip_suffix(ELLIPSIS) else {
        return redact_sorted(text, secrets);
    };
    let mut body = redact_sorted(body, secrets);
    if let Some(start) = cut_secret_start(&body, secrets) {
        body.truncate(start);
        body.push_str(REDACTED);
    }
    body.push_str(ELLIPSIS);
    body
}

/// Where the longest proper prefix of any secret that ends `text` starts.
fn cut_secret_start(text: &str, secrets: &[&str]) -> Option<usize> {
    secrets
        .iter()
        .flat_map(|secret| secret.char_indices().skip(1).map(|(i, _)| &secret[..i]))
        .filter(|prefix| text.ends_with(prefix))
        .map(|prefix| text.len() - prefix.len())
        .min()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::wire::{
        AssertionResult, ErrorKind, HttpInfo, Outcome, StepError, StepKind, StepStatus, TlsInfo,
    };

    #[test]
    fn replaces_every_occurrence_longest_first() {
        let secrets = ["hunter2", "", "hunter2-admin", "hunter2"];
        assert_eq!(
            redact("u=hunter2&p=hunter2-admin;hunter2", &secrets),
            "u=***&p=***;***"
        );
        assert_eq!(redact("nothing here", &secrets), "nothing here");
        assert_eq!(redact("a*b", &["*"]), "a***b");
        assert_eq!(redact("anything", &[]), "anything");
    }

    #[test]
    fn truncate_actual_counts_characters_not_bytes() {
        let short = "é".repeat(ACTUAL_MAX_CHARS);
        assert_eq!(truncate_actual(&short), short);
        let long = "€".repeat(ACTUAL_MAX_CHARS + 1);
        let cut = truncate_actual(&long);
        assert_eq!(cut, format!("{}…", "€".repeat(ACTUAL_MAX_CHARS)));
        assert_eq!(cut.chars().count(), ACTUAL_MAX_CHARS + 1);
        assert_eq!(truncate_actual("🦀 ok"), "🦀 ok");
    }

    #[test]
    fn a_secret_cut_in_half_is_masked() {
        let actual = truncate_actual(&format!("{}token=s3cr3t-value", "x".repeat(192)));
        assert!(actual.ends_with("token=s3…"), "{actual}");
        assert_eq!(
            redact_cut(&actual, &["s3cr3t-value"]),
            format!("{}token=***…", "x".repeat(192))
        );
    }

    fn result_with(secret: &str) -> RunResult {
        let mut step = StepResult::skipped("login", StepKind::Http);
        step.status = StepStatus::Failed;
        step.http = Some(HttpInfo {
            method: "POST".into(),
            // As the probe records it: rendered with the secret masked.
            url: "https://shop.test/v1/login?key=***".into(),
            status: Some(500),
            version: "HTTP/1.1".into(),
        });
        step.tls = Some(TlsInfo {
            version: Some("1.3".into()),
            cert_not_after: None,
            cert_subject: Some(format!("CN={secret}")),
            verified: false,
            verify_error: Some(format!("bad name {secret}")),
        });
        step.assertions.push(AssertionResult {
            expr: format!("body contains \"{secret}\""),
            passed: false,
            expected: format!("contains \"{secret}\""),
            actual: format!("{{\"error\":\"wrong password {secret}\"}}"),
        });
        step.error = Some(StepError {
            kind: ErrorKind::Protocol,
            message: format!("server said {secret}"),
        });
        let at = Utc
            .with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
            .single()
            .expect("valid date");
        RunResult {
            id: Uuid::nil(),
            scenario: "checkout".into(),
            version: "sha256:00".into(),
            probe: "p-eu-1".into(),
            region: "eu-west-1".into(),
            scheduled_at: at,
            started_at: at,
            duration_ms: 1.0,
            outcome: Outcome::Failure,
            trace_id: "0".repeat(32),
            run_request: None,
            attempt: 1,
            retry_of: None,
            steps: vec![step],
        }
    }

    #[test]
    fn run_result_redact_reaches_every_user_string() {
        let mut result = result_with("pa55word");
        result.redact(&["pa55word"]);
        let json = serde_json::to_string(&result).expect("serializes");
        assert!(!json.contains("pa55word"), "{json}");
        assert_eq!(json.matches(REDACTED).count(), 7, "{json}");
        let step = &result.steps[0];
        assert_eq!(
            step.assertions[0].actual,
            r#"{"error":"wrong password ***"}"#
        );
    }

    #[test]
    fn run_result_redact_leaves_the_recorded_url_alone() {
        let mut result = result_with("1");
        result.redact(&["1"]);
        let http = result.steps[0].http.as_ref().expect("http");
        assert_eq!(http.url, "https://shop.test/v1/login?key=***");
    }
}
