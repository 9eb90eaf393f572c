//! Queries evaluated against what a step observed. Pure and synchronous:
//! the probe gathers an [`Observation`], this reads it; `check.rs` judges.
//!
//! Results are JSON values so captures keep their type; a duration is a
//! number of milliseconds (as on the wire), which the query's static type
//! says to read as a duration.

use std::time::Duration;

use serde_json::Value as Json;

use super::ast::{Filter, Query, Subject};
use super::display::quote;

/// What one step saw; `None` where the step kind has no such thing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Observation<'a> {
    pub status: Option<u16>,
    pub duration: Duration,
    pub body: Option<&'a [u8]>,
    /// The body parsed once by the caller; `None` if it is not JSON.
    pub json: Option<&'a Json>,
    pub headers: &'a [(String, String)],
    pub cookies: &'a [(String, String)],
    /// Negative once the certificate has expired.
    pub cert_expiry: Option<chrono::TimeDelta>,
    pub redirects: Option<u32>,
    pub tls_version: Option<&'a str>,
    pub rcode: Option<&'a str>,
    pub answers: Option<&'a [String]>,
    /// The first WebSocket message received.
    pub message: Option<&'a str>,
    /// The serving status a gRPC health check answered, such as `SERVING`.
    pub serving_status: Option<&'a str>,
    /// ICMP echoes without a reply, 0 to 100.
    pub loss_percent: Option<f64>,
    /// Mean round trip of the ICMP replies; `None` when none came back.
    pub rtt: Option<Duration>,
    /// A browser page's web vitals and state at the end of the step.
    pub page: Option<&'a PageObservation>,
}

/// What a browser step saw of its page once its actions ran.
#[derive(Debug, Clone, Default)]
pub struct PageObservation {
    /// Largest contentful paint; `None` if the page painted no content.
    pub lcp: Option<Duration>,
    /// Cumulative layout shift.
    pub cls: Option<f64>,
    /// Time to the main document's first byte (Navigation Timing).
    pub ttfb: Option<Duration>,
    /// Console errors plus uncaught exceptions.
    pub console_errors: u32,
    /// `document.body.innerText`.
    pub text: Option<String>,
    pub url: Option<String>,
}

/// Why a query could not be evaluated; its text is the `actual` of a
/// failed assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("body is not JSON")]
    NotJson,
    #[error("no body")]
    NoBody,
    #[error("`{filter}` needs {needs}, got {got}")]
    FilterInput {
        filter: &'static str,
        needs: &'static str,
        got: &'static str,
    },
}

/// A query's result, or why there is none.
pub(super) enum Found {
    Value(Json),
    /// Says what is missing: "no `X-Token` header".
    Absent(String),
}

impl Query {
    /// The query's value, `None` when the subject is absent (a missing
    /// header, a JSONPath that selects nothing, a regex that does not match).
    ///
    /// # Errors
    /// When the body is needed as JSON and is not, or a filter gets a value
    /// it cannot take.
    pub fn evaluate(&self, obs: &Observation) -> Result<Option<Json>, EvalError> {
        Ok(match self.find(obs)? {
            Found::Value(v) => Some(v),
            Found::Absent(_) => None,
        })
    }

    pub(super) fn find(&self, obs: &Observation) -> Result<Found, EvalError> {
        let mut found = subject(&self.subject, obs)?;
        for filter in &self.filters {
            found = apply(filter, found)?;
        }
        Ok(found)
    }
}

fn subject(subject: &Subject, obs: &Observation) -> Result<Found, EvalError> {
    let absent = |why: &str| Ok(Found::Absent(why.to_owned()));
    let found = |v: Option<Json>, why: &str| match v {
        Some(v) => Ok(Found::Value(v)),
        None => absent(why),
    };
    match subject {
        Subject::Status => found(obs.status.map(Json::from), "no HTTP status"),
        Subject::Duration => Ok(Found::Value(ms(duration_ms(obs.duration)))),
        Subject::Body => found(obs.body.map(|b| text(b).into()), "no body"),
        Subject::Header(name) => {
            let value = obs
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name));
            found(
                value.map(|(_, v)| v.as_str().into()),
                &format!("no `{name}` header"),
            )
        }
        Subject::Cookie(name) => {
            let value = obs.cookies.iter().find(|(n, _)| n == name);
            found(
                value.map(|(_, v)| v.as_str().into()),
                &format!("no cookie `{name}`"),
            )
        }
        Subject::JsonPath(path) => {
            let json = match (obs.json, obs.body) {
                (Some(json), _) => json,
                (None, Some(b)) if !b.iter().all(u8::is_ascii_whitespace) => {
                    return Err(EvalError::NotJson);
                }
                (None, _) => return Err(EvalError::NoBody),
            };
            let nodes = path.path().query(json).all();
            // One node stands for itself, several for the list of them, so
            // `count` counts an array's elements or else the nodes.
            Ok(match nodes.as_slice() {
                [] => Found::Absent(format!("`{}` selected nothing", path.as_str())),
                [one] => Found::Value((*one).clone()),
                many => Found::Value(Json::Array(many.iter().map(|&v| v.clone()).collect())),
            })
        }
        Subject::Regex(pattern) => {
            let Some(body) = obs.body else {
                return absent("no body");
            };
            let group = pattern
                .regex()
                .captures(&text(body))
                .and_then(|c| c.get(1).map(|m| m.as_str().to_owned()));
            found(
                group.map(Json::from),
                &format!("no match for regex {}", quote(pattern.as_str())),
            )
        }
        Subject::CertExpiry => found(obs.cert_expiry.map(delta_ms), "no certificate"),
        Subject::Redirects => found(obs.redirects.map(Json::from), "no redirect count"),
        Subject::TlsVersion => found(obs.tls_version.map(Json::from), "no TLS"),
        Subject::Rcode => found(obs.rcode.map(Json::from), "no DNS response"),
        Subject::Answers => found(
            obs.answers
                .map(|a| a.iter().map(|s| Json::from(s.as_str())).collect()),
            "no DNS answers",
        ),
        Subject::Message => found(obs.message.map(Json::from), "no WebSocket message"),
        Subject::ServingStatus => {
            found(obs.serving_status.map(Json::from), "no gRPC serving status")
        }
        Subject::Loss => found(obs.loss_percent.map(Json::from), "no ICMP echo sent"),
        Subject::Rtt => found(obs.rtt.map(|d| ms(duration_ms(d))), "no ICMP reply"),
        Subject::Lcp => found(
            obs.page.and_then(|p| p.lcp).map(|d| ms(duration_ms(d))),
            "no largest contentful paint",
        ),
        Subject::Cls => found(
            obs.page.and_then(|p| p.cls).map(Json::from),
            "no layout shift data",
        ),
        Subject::Ttfb => found(
            obs.page.and_then(|p| p.ttfb).map(|d| ms(duration_ms(d))),
            "no navigation timing",
        ),
        Subject::ConsoleErrors => found(obs.page.map(|p| p.console_errors.into()), "no page"),
        Subject::Text => found(
            obs.page.and_then(|p| p.text.as_deref()).map(Json::from),
            "no page text",
        ),
        Subject::Url => found(
            obs.page.and_then(|p| p.url.as_deref()).map(Json::from),
            "no page",
        ),
    }
}

fn apply(filter: &Filter, found: Found) -> Result<Found, EvalError> {
    let value = match (filter, found) {
        // Nothing selected counts as zero; other filters keep the reason.
        (Filter::Count, Found::Absent(_)) => return Ok(Found::Value(0.into())),
        (_, absent @ Found::Absent(_)) => return Ok(absent),
        (_, Found::Value(v)) => v,
    };
    Ok(match (filter, value) {
        (Filter::Count, Json::Array(items)) => Found::Value(items.len().into()),
        (Filter::Count, _) => Found::Value(1.into()),
        (Filter::Length, Json::String(s)) => Found::Value(s.chars().count().into()),
        (Filter::Length, Json::Array(items)) => Found::Value(items.len().into()),
        (Filter::Length, other) => {
            return Err(EvalError::FilterInput {
                filter: "length",
                needs: "a string or a list",
                got: kind(&other),
            });
        }
        (Filter::Regex(pattern), value) => {
            let Some(s) = as_text(&value) else {
                return Err(EvalError::FilterInput {
                    filter: "regex",
                    needs: "a string",
                    got: kind(&value),
                });
            };
            let regex = pattern.regex();
            // Group 1 when the regex has groups, else the whole match.
            let group = usize::from(regex.captures_len() > 1);
            match regex.captures(&s).and_then(|c| c.get(group)) {
                Some(m) => Found::Value(m.as_str().into()),
                None => Found::Absent(format!("no match for regex {}", quote(pattern.as_str()))),
            }
        }
    })
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

/// Strings as they are, numbers as written, so a regex applies to both.
pub(super) fn as_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn ms(millis: f64) -> Json {
    serde_json::Number::from_f64(millis).map_or(Json::Null, Json::Number)
}

fn delta_ms(delta: chrono::TimeDelta) -> Json {
    match delta.num_microseconds() {
        Some(us) => ms(us as f64 / 1000.0),
        None => ms(delta.num_milliseconds() as f64),
    }
}

pub(super) fn duration_ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::parse_capture;
    use super::*;

    #[test]
    fn captures_evaluate_to_json() {
        let json = json!({"token": "abc", "items": [{"id": 7}, {"id": 8}]});
        let headers = [("X-Count".to_owned(), "42".to_owned())];
        let answers = ["127.0.0.1".to_owned(), "::1".to_owned()];
        let obs = Observation {
            status: Some(200),
            duration: Duration::from_micros(13_200),
            json: Some(&json),
            headers: &headers,
            answers: Some(&answers),
            ..Observation::default()
        };
        let cases = [
            (r#"jsonpath "$.token""#, Some(json!("abc"))),
            (r#"jsonpath "$.items[0].id""#, Some(json!(7))),
            (r#"jsonpath "$.items[*].id""#, Some(json!([7, 8]))),
            (r#"jsonpath "$.none""#, None),
            (r#"header "x-count""#, Some(json!("42"))),
            (r#"header "X-None""#, None),
            ("duration", Some(json!(13.2))),
            ("status", Some(json!(200))),
            ("answers count", Some(json!(2))),
        ];
        for (text, want) in cases {
            let q = parse_capture(text).expect(text);
            assert_eq!(q.evaluate(&obs), Ok(want), "{text}");
        }
        let html = Observation {
            body: Some(b"<p>"),
            ..Observation::default()
        };
        let q = parse_capture(r#"jsonpath "$.token""#).expect("parses");
        assert_eq!(q.evaluate(&html), Err(EvalError::NotJson));
    }
}
