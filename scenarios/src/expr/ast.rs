//! The parsed expression: `SUBJECT [FILTER]… [PREDICATE [VALUE]]`.

use std::time::Duration;

use crate::model::StepKind;

/// A checked `expect` entry: a query and what its result must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    /// The expression as written, for results and reports.
    pub source: String,
    pub query: Query,
    pub predicate: Predicate,
}

/// What to take from a step's response: a subject, then filters in order.
/// A `capture` entry is a query alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub subject: Subject,
    pub filters: Vec<Filter>,
}

/// Where a query starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// The HTTP status code, a number.
    Status,
    /// The step's total time.
    Duration,
    /// The response body as text (lossy UTF-8).
    Body,
    /// The first header of that name, compared case-insensitively.
    Header(String),
    /// The cookie of that name set by the response or earlier steps.
    Cookie(String),
    /// The nodes a JSONPath selects in the JSON body.
    JsonPath(JsonPathExpr),
    /// Capture group 1 of the first match on the body.
    Regex(Pattern),
    /// Time left on the server certificate (negative once expired).
    CertExpiry,
    /// Number of redirects followed.
    Redirects,
    /// The negotiated TLS version, such as `"1.3"`.
    TlsVersion,
    /// The DNS response code, such as `"NOERROR"`.
    Rcode,
    /// The DNS answers, as strings.
    Answers,
    /// The first WebSocket message received, as text.
    Message,
    /// ICMP echoes without a reply, as a percentage.
    Loss,
    /// The mean round trip of the ICMP replies.
    Rtt,
    /// `status` in `grpc` steps: the serving status answered, such as
    /// `"SERVING"`.
    ServingStatus,
    /// A browser step's largest contentful paint, a duration.
    Lcp,
    /// A browser step's cumulative layout shift, a number.
    Cls,
    /// A browser step's time to first byte of the main document.
    Ttfb,
    /// Console errors and uncaught exceptions of a browser step's page.
    ConsoleErrors,
    /// The page's visible text at the end of a browser step.
    Text,
    /// The page's URL at the end of a browser step.
    Url,
}

/// A step of a query after the subject.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Number of elements of a list (or nodes a JSONPath selects).
    Count,
    /// Group 1 of the first match, or the whole match without groups.
    Regex(Pattern),
    /// Characters of a string, or elements of a list.
    Length,
}

/// The test applied to a query's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    Eq(Value),
    Ne(Value),
    Lt(Value),
    Le(Value),
    Gt(Value),
    Ge(Value),
    /// Substring of a string, or element of a list.
    Contains(Value),
    NotContains(Value),
    Matches(Pattern),
    Exists,
    NotExists,
    In(Vec<Value>),
}

/// A literal in an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    String(String),
    Duration(Duration),
    /// `20%`, from 0 to 100.
    Percent(f64),
    Bool(bool),
    Null,
    List(Vec<Value>),
}

/// A regex with the text it was compiled from.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles `source`.
    ///
    /// # Errors
    /// When `source` is not a valid regex or compiles too big.
    pub fn try_new(source: &str) -> Result<Self, regex::Error> {
        let regex = regex::Regex::new(source)?;
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn regex(&self) -> &regex::Regex {
        &self.regex
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// A JSONPath (RFC 9535) with the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPathExpr {
    source: String,
    path: serde_json_path::JsonPath,
}

impl JsonPathExpr {
    /// Parses `source`.
    ///
    /// # Errors
    /// When `source` is not a valid JSONPath.
    pub fn try_new(source: &str) -> Result<Self, serde_json_path::ParseError> {
        let path = serde_json_path::JsonPath::parse(source)?;
        Ok(Self {
            source: source.to_owned(),
            path,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn path(&self) -> &serde_json_path::JsonPath {
        &self.path
    }
}

impl Subject {
    /// The keyword that names it in an expression.
    pub fn name(&self) -> &'static str {
        match self {
            Subject::Status => "status",
            Subject::Duration => "duration",
            Subject::Body => "body",
            Subject::Header(_) => "header",
            Subject::Cookie(_) => "cookie",
            Subject::JsonPath(_) => "jsonpath",
            Subject::Regex(_) => "regex",
            Subject::CertExpiry => "cert_expiry",
            Subject::Redirects => "redirects",
            Subject::TlsVersion => "tls_version",
            Subject::Rcode => "rcode",
            Subject::Answers => "answers",
            Subject::Message => "message",
            Subject::Loss => "loss",
            Subject::Rtt => "rtt",
            Subject::ServingStatus => "status",
            Subject::Lcp => "lcp",
            Subject::Cls => "cls",
            Subject::Ttfb => "ttfb",
            Subject::ConsoleErrors => "console_errors",
            Subject::Text => "text",
            Subject::Url => "url",
        }
    }

    /// The step kinds whose results have this subject.
    pub fn kinds(&self) -> &'static [StepKind] {
        use StepKind::{Browser, Dns, Grpc, Http, Icmp, Tcp, Tls, Websocket};
        match self {
            Subject::Duration => &[Http, Dns, Tcp, Tls, Websocket, Icmp, Grpc, Browser],
            Subject::Status => &[Http, Browser],
            Subject::Message => &[Websocket],
            Subject::ServingStatus => &[Grpc],
            Subject::Lcp
            | Subject::Cls
            | Subject::Ttfb
            | Subject::ConsoleErrors
            | Subject::Text
            | Subject::Url => &[Browser],
            Subject::Loss | Subject::Rtt => &[Icmp],
            Subject::CertExpiry | Subject::TlsVersion => &[Http, Tls],
            Subject::Rcode | Subject::Answers => &[Dns],
            Subject::Body
            | Subject::Header(_)
            | Subject::Cookie(_)
            | Subject::JsonPath(_)
            | Subject::Regex(_)
            | Subject::Redirects => &[Http],
        }
    }

    /// Whether a step of `kind` has this subject.
    pub fn available_in(&self, kind: StepKind) -> bool {
        self.kinds().contains(&kind)
    }
}

impl Filter {
    /// The keyword that names it in an expression.
    pub fn name(&self) -> &'static str {
        match self {
            Filter::Count => "count",
            Filter::Regex(_) => "regex",
            Filter::Length => "length",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_capture, parse_capture_for};
    use super::*;

    #[test]
    fn subjects_by_step_kind() {
        use StepKind::{Browser, Dns, Grpc, Http, Icmp, Tcp, Tls, Websocket};
        let cases: [(&str, &[StepKind]); 21] = [
            ("status", &[Http, Browser]),
            (
                "duration",
                &[Http, Dns, Tcp, Tls, Websocket, Icmp, Grpc, Browser],
            ),
            ("lcp", &[Browser]),
            ("cls", &[Browser]),
            ("ttfb", &[Browser]),
            ("console_errors", &[Browser]),
            ("text", &[Browser]),
            ("url", &[Browser]),
            ("message", &[Websocket]),
            ("loss", &[Icmp]),
            ("rtt", &[Icmp]),
            ("body", &[Http]),
            (r#"header "A""#, &[Http]),
            (r#"cookie "a""#, &[Http]),
            (r#"jsonpath "$.a""#, &[Http]),
            (r#"regex "(a)""#, &[Http]),
            ("cert_expiry", &[Http, Tls]),
            ("redirects", &[Http]),
            ("tls_version", &[Http, Tls]),
            ("rcode", &[Dns]),
            ("answers", &[Dns]),
        ];
        for (text, kinds) in cases {
            let subject = parse_capture(text).expect(text).subject;
            for kind in [Http, Dns, Tcp, Tls, Websocket, Icmp, Grpc, Browser] {
                assert_eq!(
                    subject.available_in(kind),
                    kinds.contains(&kind),
                    "{text} {kind:?}"
                );
            }
            assert!(text.starts_with(subject.name()));
        }
    }

    #[test]
    fn status_in_grpc_steps_is_the_serving_status() {
        let grpc = parse_capture_for("status", StepKind::Grpc).expect("parses");
        assert_eq!(grpc.subject, Subject::ServingStatus);
        assert!(grpc.subject.available_in(StepKind::Grpc));
        assert!(!grpc.subject.available_in(StepKind::Http));
        let http = parse_capture_for("status", StepKind::Http).expect("parses");
        assert_eq!(http.subject, Subject::Status);
        assert!(!http.subject.available_in(StepKind::Grpc));
    }
}
