//! Assertions judged: the predicate applied to a query's result, and the
//! `expected` / `actual` texts of the report.

use std::cmp::Ordering;

use serde_json::Value as Json;

use super::ast::{Assertion, Predicate, Query, Subject, Value};
use super::display::{format_ms, quote};
use super::eval::{Found, Observation, as_text, duration_ms};
use super::types::Type;

/// The result of one assertion, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertOutcome {
    pub passed: bool,
    /// `200`, `< 800ms`, `contains "Welcome"`.
    pub expected: String,
    /// What was seen, whole: the report cuts it once secrets are masked
    /// in it (a secret cut in half, encoded, is no longer recognisable).
    pub actual: String,
}

impl Assertion {
    /// Whether the step passes this assertion, with texts for the report.
    pub fn check(&self, obs: &Observation) -> AssertOutcome {
        let expected = self.predicate.expected_text();
        let (passed, actual) = match self.query.find(obs) {
            Err(e) => (false, e.to_string()),
            Ok(Found::Absent(why)) => (self.predicate == Predicate::NotExists, why),
            // `exists` asks only whether there is a value, so the value (often
            // a session token) is not copied into the result.
            Ok(Found::Value(_)) if self.predicate == Predicate::Exists => {
                (true, "exists".to_string())
            }
            Ok(Found::Value(v)) => (test(&self.predicate, &v), actual_text(&self.query, &v)),
        };
        AssertOutcome {
            passed,
            expected,
            actual,
        }
    }
}

fn test(predicate: &Predicate, actual: &Json) -> bool {
    let ordered = |want: &Value, ok: fn(Ordering) -> bool| order(actual, want).is_some_and(ok);
    match predicate {
        Predicate::Eq(v) => equal(actual, v),
        Predicate::Ne(v) => !equal(actual, v),
        Predicate::Lt(v) => ordered(v, Ordering::is_lt),
        Predicate::Le(v) => ordered(v, Ordering::is_le),
        Predicate::Gt(v) => ordered(v, Ordering::is_gt),
        Predicate::Ge(v) => ordered(v, Ordering::is_ge),
        Predicate::Contains(v) => contains(actual, v),
        Predicate::NotContains(v) => !contains(actual, v),
        Predicate::Matches(p) => as_text(actual).is_some_and(|s| p.regex().is_match(&s)),
        Predicate::Exists => true,
        Predicate::NotExists => false,
        Predicate::In(values) => values.iter().any(|v| equal(actual, v)),
    }
}

/// Numbers compare numerically (`200 == 200.0`); a duration compares with
/// the milliseconds that stand for it.
fn equal(actual: &Json, want: &Value) -> bool {
    match (actual, want) {
        (Json::Number(_), Value::Number(_) | Value::Duration(_) | Value::Percent(_)) => {
            order(actual, want) == Some(Ordering::Equal)
        }
        (Json::String(a), Value::String(b)) => a == b,
        (Json::Bool(a), Value::Bool(b)) => a == b,
        (Json::Null, Value::Null) => true,
        (Json::Array(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y))
        }
        _ => false,
    }
}

fn order(actual: &Json, want: &Value) -> Option<Ordering> {
    let a = actual.as_f64()?;
    let b = match want {
        Value::Number(n) => *n,
        Value::Duration(d) => duration_ms(*d),
        Value::Percent(p) => *p,
        _ => return None,
    };
    a.partial_cmp(&b)
}

fn contains(actual: &Json, want: &Value) -> bool {
    match (actual, want) {
        (Json::String(s), Value::String(part)) => s.contains(part.as_str()),
        (Json::Array(items), _) => items.iter().any(|item| equal(item, want)),
        _ => false,
    }
}

/// The `actual` text: the body as is, durations as `13.2ms`, other values
/// as the language writes them.
fn actual_text(query: &Query, value: &Json) -> String {
    match (query.ty(), value) {
        (Type::Duration, Json::Number(n)) => format_ms(n.as_f64().unwrap_or(f64::NAN)),
        (Type::Percent, Json::Number(n)) => format!("{}%", n.as_f64().unwrap_or(f64::NAN)),
        (_, Json::String(s)) if query.subject == Subject::Body && query.filters.is_empty() => {
            s.clone()
        }
        _ => render(value),
    }
}

fn render(value: &Json) -> String {
    match value {
        Json::String(s) => quote(s),
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::parse_assertion;
    use super::*;

    const BODY: &str =
        r#"{"token":"abc","items":[{"id":7},{"id":8}],"n":200.0,"name":"Welcome bob"}"#;

    struct Fixture {
        json: Json,
        headers: Vec<(String, String)>,
        cookies: Vec<(String, String)>,
        answers: Vec<String>,
        page: super::super::PageObservation,
    }

    impl Fixture {
        fn new() -> Self {
            let pairs = |p: &[(&str, &str)]| {
                p.iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect()
            };
            Self {
                json: serde_json::from_str(BODY).expect("BODY is JSON"),
                headers: pairs(&[("Content-Type", "application/json"), ("X-Count", "42")]),
                cookies: pairs(&[("sid", "s1")]),
                answers: vec!["127.0.0.1".into(), "::1".into()],
                page: super::super::PageObservation {
                    lcp: Some(Duration::from_millis(640)),
                    cls: Some(0.02),
                    ttfb: Some(Duration::from_micros(8_500)),
                    console_errors: 2,
                    text: Some("Thank you for your order".into()),
                    url: Some("http://127.0.0.1:9480/app".into()),
                },
            }
        }

        fn obs(&self) -> Observation<'_> {
            Observation {
                status: Some(200),
                duration: Duration::from_micros(13_200),
                body: Some(BODY.as_bytes()),
                json: Some(&self.json),
                headers: &self.headers,
                cookies: &self.cookies,
                cert_expiry: Some(chrono::TimeDelta::days(90)),
                redirects: Some(1),
                tls_version: Some("1.3"),
                rcode: Some("NOERROR"),
                answers: Some(&self.answers),
                message: Some("price EURUSD 1.08"),
                loss_percent: Some(33.333333333333336),
                rtt: Some(Duration::from_micros(1500)),
                serving_status: Some("NOT_SERVING"),
                page: Some(&self.page),
            }
        }
    }

    fn check(text: &str, obs: &Observation) -> AssertOutcome {
        parse_assertion(text)
            .unwrap_or_else(|e| panic!("{text}: {e:?}"))
            .check(obs)
    }

    #[test]
    fn assertions() {
        let f = Fixture::new();
        let obs = f.obs();
        // (expression, passed, expected, actual)
        let cases = [
            ("status == 200", true, "200", "200"),
            ("status == 200.0", true, "200", "200"),
            ("status == 201", false, "201", "200"),
            ("status != 200", false, "!= 200", "200"),
            ("status in [200, 201]", true, "in [200, 201]", "200"),
            ("status in [301, 302]", false, "in [301, 302]", "200"),
            ("duration < 800ms", true, "< 800ms", "13.2ms"),
            ("duration > 1s", false, "> 1s", "13.2ms"),
            ("duration >= 13.2ms", true, ">= 13.2ms", "13.2ms"),
            (
                r#"body contains "Welcome""#,
                true,
                r#"contains "Welcome""#,
                BODY,
            ),
            (
                r#"body not contains "Welcome""#,
                false,
                r#"not contains "Welcome""#,
                BODY,
            ),
            (r#"body matches "^\{""#, true, r#"matches "^\{""#, BODY),
            (
                r#"header "content-type" == "application/json""#,
                true,
                r#""application/json""#,
                r#""application/json""#,
            ),
            (
                r#"header "X-Missing" exists"#,
                false,
                "exists",
                "no `X-Missing` header",
            ),
            (
                r#"header "X-Missing" not exists"#,
                true,
                "not exists",
                "no `X-Missing` header",
            ),
            (
                r#"header "X-Count" not exists"#,
                false,
                "not exists",
                r#""42""#,
            ),
            (
                r#"header "X-Count" regex "\d" == "4""#,
                true,
                r#""4""#,
                r#""4""#,
            ),
            (r#"cookie "sid" == "s1""#, true, r#""s1""#, r#""s1""#),
            (r#"cookie "SID" exists"#, false, "exists", "no cookie `SID`"),
            (r#"jsonpath "$.token" exists"#, true, "exists", "exists"),
            (r#"jsonpath "$.items" count >= 1"#, true, ">= 1", "2"),
            (r#"jsonpath "$.items[*].id" count == 2"#, true, "2", "2"),
            (r#"jsonpath "$.token" count == 1"#, true, "1", "1"),
            (r#"jsonpath "$.nothing" count == 0"#, true, "0", "0"),
            (
                r#"jsonpath "$.nothing" == 1"#,
                false,
                "1",
                "`$.nothing` selected nothing",
            ),
            (r#"jsonpath "$.n" == 200"#, true, "200", "200.0"),
            (r#"jsonpath "$.n" > 199.5"#, true, "> 199.5", "200.0"),
            (r#"jsonpath "$.token" > 1"#, false, "> 1", r#""abc""#),
            (
                r#"jsonpath "$.items[*].id" contains 8"#,
                true,
                "contains 8",
                "[7, 8]",
            ),
            (r#"jsonpath "$.items[0]" == 7"#, false, "7", r#"{"id":7}"#),
            (
                r#"jsonpath "$.token" matches "^a""#,
                true,
                r#"matches "^a""#,
                r#""abc""#,
            ),
            (r#"jsonpath "$.items" length == 2"#, true, "2", "2"),
            (r#"jsonpath "$.token" length > 5"#, false, "> 5", "3"),
            (
                r#"jsonpath "$.n" length > 1"#,
                false,
                "> 1",
                "`length` needs a string or a list, got a number",
            ),
            (
                r#"regex "\"name\":\"(\w+)" == "Welcome""#,
                true,
                r#""Welcome""#,
                r#""Welcome""#,
            ),
            (
                r#"regex "nomatch(\d)" exists"#,
                false,
                "exists",
                r#"no match for regex "nomatch(\d)""#,
            ),
            (
                r#"body regex "id\":(\d+)" == "7""#,
                true,
                r#""7""#,
                r#""7""#,
            ),
            (r#"body regex "\d+" == "7""#, true, r#""7""#, r#""7""#),
            (
                r#"body regex "zzz" length == 0"#,
                false,
                "0",
                r#"no match for regex "zzz""#,
            ),
            (r#"body length == 74"#, true, "74", "74"),
            ("cert_expiry > 30d", true, "> 30d", "90d"),
            ("redirects == 1", true, "1", "1"),
            (r#"tls_version == "1.3""#, true, r#""1.3""#, r#""1.3""#),
            (
                r#"rcode == "NOERROR""#,
                true,
                r#""NOERROR""#,
                r#""NOERROR""#,
            ),
            ("answers count >= 1", true, ">= 1", "2"),
            (
                r#"answers contains "127.0.0.1""#,
                true,
                r#"contains "127.0.0.1""#,
                r#"["127.0.0.1", "::1"]"#,
            ),
            (
                r#"answers contains "10.0.0.1""#,
                false,
                r#"contains "10.0.0.1""#,
                r#"["127.0.0.1", "::1"]"#,
            ),
            (
                r#"message matches "^price EURUSD""#,
                true,
                r#"matches "^price EURUSD""#,
                r#""price EURUSD 1.08""#,
            ),
            (
                r#"message == "price GBPUSD""#,
                false,
                r#""price GBPUSD""#,
                r#""price EURUSD 1.08""#,
            ),
            ("loss < 50%", true, "< 50%", "33.333333333333336%"),
            ("loss == 0%", false, "0%", "33.333333333333336%"),
            ("rtt < 1ms", false, "< 1ms", "1.5ms"),
            ("lcp < 2.5s", true, "< 2.5s", "640ms"),
            ("ttfb < 5ms", false, "< 5ms", "8.5ms"),
            ("cls < 0.1", true, "< 0.1", "0.02"),
            ("console_errors == 0", false, "0", "2"),
            (
                r#"text contains "Thank you""#,
                true,
                r#"contains "Thank you""#,
                r#""Thank you for your order""#,
            ),
            (
                r#"url contains "/checkout""#,
                false,
                r#"contains "/checkout""#,
                r#""http://127.0.0.1:9480/app""#,
            ),
        ];
        for (text, passed, expected, actual) in cases {
            let want = AssertOutcome {
                passed,
                expected: expected.into(),
                actual: actual.into(),
            };
            assert_eq!(check(text, &obs), want, "{text}");
        }
    }

    #[test]
    fn status_of_grpc_steps_is_the_serving_status() {
        let f = Fixture::new();
        let obs = f.obs();
        let cases = [
            (r#"status == "SERVING""#, false, r#""SERVING""#),
            (r#"status == "NOT_SERVING""#, true, r#""NOT_SERVING""#),
            (
                r#"status in ["NOT_SERVING", "UNKNOWN"]"#,
                true,
                r#"in ["NOT_SERVING", "UNKNOWN"]"#,
            ),
            (r#"status != "SERVING""#, true, r#"!= "SERVING""#),
        ];
        for (text, passed, expected) in cases {
            let got = crate::expr::parse_assertion_for(text, crate::model::StepKind::Grpc)
                .unwrap_or_else(|e| panic!("{text}: {e:?}"))
                .check(&obs);
            let want = AssertOutcome {
                passed,
                expected: expected.into(),
                actual: r#""NOT_SERVING""#.into(),
            };
            assert_eq!(got, want, "{text}");
        }
        let nothing = crate::expr::parse_assertion_for(
            r#"status == "SERVING""#,
            crate::model::StepKind::Grpc,
        )
        .expect("parses")
        .check(&Observation::default());
        assert_eq!(nothing.actual, "no gRPC serving status");
    }

    #[test]
    fn missing_parts_of_an_observation() {
        let expired = Observation {
            cert_expiry: Some(chrono::TimeDelta::days(-3)),
            ..Observation::default()
        };
        let html = Observation {
            body: Some(b"<html>Welcome</html>"),
            ..Observation::default()
        };
        let empty = Observation {
            body: Some(b"  "),
            ..Observation::default()
        };
        let cases = [
            ("cert_expiry > 0ms", &expired, false, "-3d"),
            (r#"jsonpath "$.a" exists"#, &html, false, "body is not JSON"),
            (r#"jsonpath "$.a" exists"#, &empty, false, "no body"),
            ("status == 200", &html, false, "no HTTP status"),
            ("cert_expiry > 30d", &html, false, "no certificate"),
            (r#"answers contains "x""#, &html, false, "no DNS answers"),
            (
                r#"body contains "Welcome""#,
                &html,
                true,
                "<html>Welcome</html>",
            ),
        ];
        for (text, obs, passed, actual) in cases {
            let got = check(text, obs);
            assert_eq!(
                (got.passed, got.actual.as_str()),
                (passed, actual),
                "{text}"
            );
        }
    }

    #[test]
    fn actual_is_the_whole_text() {
        let body = "é".repeat(500);
        let obs = Observation {
            body: Some(body.as_bytes()),
            ..Observation::default()
        };
        let got = check(r#"body contains "x""#, &obs);
        assert_eq!(got.actual, body);
    }
}
