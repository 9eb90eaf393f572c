//! Entry points and the query part of the grammar:
//! `SUBJECT [FILTER]…`. Predicates and values are in `predicate.rs`.

use std::ops::Range;

use super::ast::{Assertion, Filter, JsonPathExpr, Pattern, Query, Subject};
use super::error::{ExprError, did_you_mean, one_of};
use super::lexer::{Lexer, Tok, Token};
use super::types::{self, Blame, TypeError};
use crate::model::StepKind;

pub(super) const SUBJECTS: [&str; 21] = [
    "status",
    "duration",
    "body",
    "header",
    "cookie",
    "jsonpath",
    "regex",
    "cert_expiry",
    "redirects",
    "tls_version",
    "rcode",
    "answers",
    "message",
    "loss",
    "rtt",
    "lcp",
    "cls",
    "ttfb",
    "console_errors",
    "text",
    "url",
];
pub(super) const FILTERS: [&str; 3] = ["count", "regex", "length"];
/// Deeper JSONPaths are refused before parsing, whose recursion could
/// otherwise exhaust the stack.
const MAX_JSONPATH_DEPTH: usize = 64;

/// Parses an `expect` entry: a query and a predicate.
///
/// # Errors
/// When the text is not an expression, a regex or JSONPath does not
/// compile, the predicate is missing, or value and query types clash
/// (`duration < 800`).
pub fn parse_assertion(text: &str) -> Result<Assertion, ExprError> {
    parse_assertion_for(text, StepKind::Http)
}

/// As [`parse_assertion`], in a step of `kind`: `status` is the HTTP
/// status code in most, the serving status name in `grpc` steps.
///
/// # Errors
/// As [`parse_assertion`].
pub fn parse_assertion_for(text: &str, kind: StepKind) -> Result<Assertion, ExprError> {
    let mut p = Parser::new(text, kind);
    let query = p.query()?;
    let Some(predicate) = p.predicate(&query)? else {
        return Err(p.missing_predicate(&query));
    };
    p.end(&predicate)?;
    Ok(Assertion {
        source: text.to_owned(),
        query,
        predicate,
    })
}

/// Parses a `capture` entry: a query without a predicate.
///
/// # Errors
/// As [`parse_assertion`], and when a predicate follows the query.
pub fn parse_capture(text: &str) -> Result<Query, ExprError> {
    parse_capture_for(text, StepKind::Http)
}

/// As [`parse_capture`], in a step of `kind` (see [`parse_assertion_for`]).
///
/// # Errors
/// As [`parse_capture`].
pub fn parse_capture_for(text: &str, kind: StepKind) -> Result<Query, ExprError> {
    let mut p = Parser::new(text, kind);
    let query = p.query()?;
    match p.bump()? {
        None => Ok(query),
        Some(tok) => Err(p.after_capture(tok)),
    }
}

/// The byte range of the subject keyword of an expression (its first word),
/// for errors about the subject as a whole, such as one the step kind does
/// not have.
pub fn subject_range(text: &str) -> Range<usize> {
    let start = text.len() - text.trim_start().len();
    let len = text[start..]
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len() - start);
    start..start + len
}

#[derive(Debug)]
pub(super) struct Parser<'t> {
    pub(super) text: &'t str,
    lexer: Lexer<'t>,
    peeked: Option<Option<Token>>,
    /// Which `status` the expression means.
    kind: StepKind,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str, kind: StepKind) -> Self {
        Self {
            text,
            lexer: Lexer::new(text),
            peeked: None,
            kind,
        }
    }

    pub(super) fn peek(&mut self) -> Result<Option<&Token>, ExprError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        Ok(self.peeked.as_ref().and_then(Option::as_ref))
    }

    pub(super) fn bump(&mut self) -> Result<Option<Token>, ExprError> {
        match self.peeked.take() {
            Some(tok) => Ok(tok),
            None => self.lexer.next_token(),
        }
    }

    /// An empty range just after the last token.
    pub(super) fn end_span(&self) -> Range<usize> {
        let end = self.text.trim_end().len();
        end..end
    }

    fn query(&mut self) -> Result<Query, ExprError> {
        let subject = self.subject()?;
        let mut ty = types::subject_type(&subject);
        let mut query = Query {
            subject,
            filters: Vec::new(),
        };
        while let Some((filter, span)) = self.filter()? {
            ty = types::apply_filter(&query, ty, &filter).map_err(|e| located(e, span))?;
            query.filters.push(filter);
        }
        Ok(query)
    }

    fn subject(&mut self) -> Result<Subject, ExprError> {
        let Some(tok) = self.bump()? else {
            return Err(
                ExprError::new("empty expression", self.end_span(), one_of(&SUBJECTS))
                    .help("an expression starts with a subject, e.g. `status == 200`"),
            );
        };
        let Tok::Ident(word) = tok.tok else {
            return Err(
                ExprError::new("expected a subject", tok.span, one_of(&SUBJECTS))
                    .help("an expression starts with a subject, e.g. `status == 200`"),
            );
        };
        Ok(match word.as_str() {
            "status" if self.kind == StepKind::Grpc => Subject::ServingStatus,
            "status" => Subject::Status,
            "duration" => Subject::Duration,
            "body" => Subject::Body,
            "cert_expiry" => Subject::CertExpiry,
            "redirects" => Subject::Redirects,
            "tls_version" => Subject::TlsVersion,
            "rcode" => Subject::Rcode,
            "answers" => Subject::Answers,
            "message" => Subject::Message,
            "loss" => Subject::Loss,
            "rtt" => Subject::Rtt,
            "lcp" => Subject::Lcp,
            "cls" => Subject::Cls,
            "ttfb" => Subject::Ttfb,
            "console_errors" => Subject::ConsoleErrors,
            "text" => Subject::Text,
            "url" => Subject::Url,
            "header" => Subject::Header(self.name_arg("header", r#"header "Content-Type""#)?),
            "cookie" => Subject::Cookie(self.name_arg("cookie", r#"cookie "session""#)?),
            "jsonpath" => {
                let (source, span) = self.string_arg("jsonpath", r#"jsonpath "$.token""#)?;
                Subject::JsonPath(jsonpath(&source, span)?)
            }
            "regex" => {
                let (source, span) = self.string_arg("regex", r#"regex "id=(\d+)""#)?;
                Subject::Regex(subject_pattern(&source, span)?)
            }
            _ => return Err(unknown_subject(&word, tok.span)),
        })
    }

    /// The next filter and its span, if a filter comes next.
    fn filter(&mut self) -> Result<Option<(Filter, Range<usize>)>, ExprError> {
        let Some(Token {
            tok: Tok::Ident(word),
            span,
        }) = self.peek()?
        else {
            return Ok(None);
        };
        let span = span.clone();
        let filter = match word.as_str() {
            "count" => Filter::Count,
            "length" => Filter::Length,
            "regex" => {
                self.bump()?;
                let (source, arg) = self.string_arg("regex", r#"body regex "v(\d+)""#)?;
                let pattern = pattern(&source, arg.clone())?;
                return Ok(Some((Filter::Regex(pattern), span.start..arg.end)));
            }
            _ => return Ok(None),
        };
        self.bump()?;
        Ok(Some((filter, span)))
    }

    /// The quoted argument of `keyword`, and its span with the quotes.
    pub(super) fn string_arg(
        &mut self,
        keyword: &str,
        example: &str,
    ) -> Result<(String, Range<usize>), ExprError> {
        match self.bump()? {
            Some(Token {
                tok: Tok::Str(s),
                span,
            }) => Ok((s, span)),
            other => {
                let (span, help) = match other {
                    Some(Token {
                        tok: Tok::Ident(w),
                        span,
                    }) => (span, format!("quote it: `{keyword} \"{w}\"`")),
                    Some(t) => (t.span, format!("e.g. `{example}`")),
                    None => (self.end_span(), format!("e.g. `{example}`")),
                };
                Err(ExprError::new(
                    format!("`{keyword}` needs a string in double quotes"),
                    span,
                    "expected a quoted string",
                )
                .help(help))
            }
        }
    }

    /// A header or cookie name, which cannot be empty.
    fn name_arg(&mut self, keyword: &str, example: &str) -> Result<String, ExprError> {
        let (name, span) = self.string_arg(keyword, example)?;
        if name.trim().is_empty() {
            return Err(
                ExprError::new(format!("empty {keyword} name"), span, "expected a name")
                    .help(format!("e.g. `{example}`")),
            );
        }
        Ok(name)
    }

    /// The error for a token after a capture's query.
    fn after_capture(&self, tok: Token) -> ExprError {
        if super::predicate::starts_predicate(&tok.tok) {
            return ExprError::new(
                "a capture takes no predicate",
                tok.span.start..self.end_span().end,
                "remove this check",
            )
            .help("a capture names a value for later steps; checks go in `expect`");
        }
        let help = match &tok.tok {
            Tok::Ident(w) => did_you_mean(w, &FILTERS),
            _ => None,
        };
        ExprError::new("expected a filter", tok.span, one_of(&FILTERS)).help_opt(help)
    }
}

/// A type error, pointed at `span`.
pub(super) fn located(err: TypeError, span: Range<usize>) -> ExprError {
    ExprError {
        message: err.message,
        range: span,
        label: err.label,
        help: err.help,
    }
}

/// Which span a type error points at, given the spans of the parts.
pub(super) fn blame_span(
    err: &TypeError,
    predicate: &Range<usize>,
    value: &Range<usize>,
) -> Range<usize> {
    match err.blame {
        Blame::Value => value.clone(),
        Blame::Predicate | Blame::Filter => predicate.clone(),
    }
}

fn unknown_subject(word: &str, span: Range<usize>) -> ExprError {
    let help = did_you_mean(word, &SUBJECTS).or_else(|| {
        let starts_late = FILTERS.contains(&word) || super::predicate::is_keyword(word);
        starts_late.then(|| {
            format!("an expression starts with a subject, e.g. `jsonpath \"$.items\" {word} …`")
        })
    });
    ExprError::new(format!("unknown subject `{word}`"), span, one_of(&SUBJECTS)).help_opt(help)
}

pub(super) fn pattern(source: &str, span: Range<usize>) -> Result<Pattern, ExprError> {
    Pattern::try_new(source).map_err(|e| {
        let text = e.to_string();
        let reason = text
            .lines()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or_else(|| text.lines().next().unwrap_or("does not compile"));
        ExprError::new("invalid regex", span, reason.to_owned())
    })
}

/// The pattern of a `regex` subject, which must have a group to take.
fn subject_pattern(source: &str, span: Range<usize>) -> Result<Pattern, ExprError> {
    let p = pattern(source, span.clone())?;
    if p.regex().captures_len() < 2 {
        return Err(ExprError::new(
            "`regex` needs a capture group",
            span,
            "this regex has no group",
        )
        .help(r#"wrap the part to take in parentheses, e.g. `regex "id=(\d+)"`"#));
    }
    Ok(p)
}

fn jsonpath(source: &str, span: Range<usize>) -> Result<JsonPathExpr, ExprError> {
    if nesting(source) > MAX_JSONPATH_DEPTH {
        return Err(ExprError::new(
            "JSONPath nested too deeply",
            span,
            format!("at most {MAX_JSONPATH_DEPTH} levels of brackets"),
        ));
    }
    JsonPathExpr::try_new(source).map_err(|e| {
        // The position is a byte offset into the path, whatever its docs say.
        let at = source.get(..e.position()).map_or(0, |s| s.chars().count()) + 1;
        let reason = match e.message() {
            "parser error" => "not a valid JSONPath",
            m => m,
        };
        let label = format!("{reason} (at character {at} of the path)");
        let err = ExprError::new("invalid JSONPath", span, label);
        if source.trim_start().starts_with('$') {
            err
        } else {
            err.help("a JSONPath starts at the root `$`, e.g. `$.items[0].id`")
        }
    })
}

fn nesting(source: &str) -> usize {
    let mut depth = 0usize;
    let mut max = 0;
    for c in source.chars() {
        match c {
            '(' | '[' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ErrorCase, assert_errors};
    use super::*;

    #[test]
    fn parses_the_design_examples() {
        // (expression, subject, expected text); all are written canonically.
        let cases = [
            ("status == 200", "status", "200"),
            ("duration < 800ms", "duration", "< 800ms"),
            ("duration < 2s", "duration", "< 2s"),
            (
                r#"body contains "Welcome""#,
                "body",
                r#"contains "Welcome""#,
            ),
            (r#"jsonpath "$.token" exists"#, "jsonpath", "exists"),
            (r#"jsonpath "$.items" count >= 1"#, "jsonpath", ">= 1"),
            (r#"jsonpath "$.order_id" exists"#, "jsonpath", "exists"),
            ("status in [200, 201]", "status", "in [200, 201]"),
            ("cert_expiry > 30d", "cert_expiry", "> 30d"),
            (r#"tls_version == "1.3""#, "tls_version", r#""1.3""#),
            (r#"rcode == "NOERROR""#, "rcode", r#""NOERROR""#),
            ("answers count >= 1", "answers", ">= 1"),
            (
                r#"answers contains "127.0.0.1""#,
                "answers",
                r#"contains "127.0.0.1""#,
            ),
            ("duration < 100ms", "duration", "< 100ms"),
            (r#"header "X-Id" not exists"#, "header", "not exists"),
            (r#"cookie "sid" != "a\"b""#, "cookie", r#"!= "a\"b""#),
            ("redirects <= -1.5", "redirects", "<= -1.5"),
            (r#"regex "id=(\d+)" == "42""#, "regex", r#""42""#),
            (
                r#"body regex "v\d+" matches "^v""#,
                "body",
                r#"matches "^v""#,
            ),
            ("body length > 0", "body", "> 0"),
        ];
        for (text, subject, expected) in cases {
            let a = parse_assertion(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(a.source, text);
            assert_eq!(a.query.subject.name(), subject, "{text}");
            assert_eq!(a.predicate.expected_text(), expected, "{text}");
            assert_eq!(a.to_string(), text);
        }
    }

    #[test]
    fn parses_captures() {
        let cases = [
            r#"jsonpath "$.token""#,
            r#"jsonpath "$.items[0].id""#,
            r#"header "Location" regex "id=(\d+)""#,
            "answers count",
            "duration",
        ];
        for text in cases {
            let q = parse_capture(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(q.to_string(), text);
        }
    }

    #[test]
    fn query_errors() {
        let cases: &[ErrorCase] = &[
            (
                "stauts == 200",
                "unknown subject `stauts`",
                0..6,
                Some("did you mean `status`?"),
            ),
            (
                "stätus == 1",
                "unknown subject `stätus`",
                0..7,
                Some("did you mean `status`?"),
            ),
            ("count > 1", "unknown subject `count`", 0..5, None),
            ("", "empty expression", 0..0, None),
            ("   ", "empty expression", 0..0, None),
            ("== 200", "expected a subject", 0..2, None),
            (
                "header == 1",
                "`header` needs a string in double quotes",
                7..9,
                None,
            ),
            (
                "cookie",
                "`cookie` needs a string in double quotes",
                6..6,
                None,
            ),
            (
                "header Location == 1",
                "`header` needs a string",
                7..15,
                Some(r#"quote it: `header "Location"`"#),
            ),
            (r#"header "" exists"#, "empty header name", 7..9, None),
            (r#"regex "(" == "a""#, "invalid regex", 6..9, None),
            (
                r#"regex "\d+" == "a""#,
                "`regex` needs a capture group",
                6..11,
                None,
            ),
            (r#"body regex "*" exists"#, "invalid regex", 11..14, None),
            (
                r#"body regex exists"#,
                "`regex` needs a string",
                11..17,
                None,
            ),
            (r#"jsonpath "$.[" exists"#, "invalid JSONPath", 9..14, None),
            (
                r#"jsonpath "token" exists"#,
                "invalid JSONPath",
                9..16,
                Some("a JSONPath starts at the root `$`, e.g. `$.items[0].id`"),
            ),
            (r#"body contains "abc"#, "unterminated string", 14..18, None),
        ];
        assert_errors(cases, |t| parse_assertion(t).map(drop));
    }

    #[test]
    fn capture_errors() {
        let cases: &[ErrorCase] = &[
            (
                r#"jsonpath "$.token" exists"#,
                "a capture takes no predicate",
                19..25,
                None,
            ),
            (
                r#"jsonpath "$.a" == 1 "#,
                "a capture takes no predicate",
                15..19,
                None,
            ),
            (
                r#"header "X" lenght"#,
                "expected a filter",
                11..17,
                Some("did you mean `length`?"),
            ),
            (r#"header "X" "y""#, "expected a filter", 11..14, None),
            ("", "empty expression", 0..0, None),
        ];
        assert_errors(cases, |t| parse_capture(t).map(drop));
    }

    #[test]
    fn deep_jsonpaths_are_refused_before_parsing() {
        let text = format!("jsonpath \"$[?{}\" exists", "(".repeat(10_000));
        let err = parse_assertion(&text).expect_err("too deep");
        assert_eq!(err.message, "JSONPath nested too deeply");
    }

    #[test]
    fn subject_range_is_the_first_word() {
        let cases = [
            ("status == 200", 0..6),
            ("  header \"X\"", 2..8),
            ("", 0..0),
            ("éa b", 0..3),
            ("€", 0..0),
        ];
        for (text, range) in cases {
            assert_eq!(subject_range(text), range, "{text}");
        }
    }
}
