//! Static types of queries, so that `duration < 800` or `status < 2s` is
//! rejected when the scenario is validated, not when it runs.
//!
//! A subject has a type, each filter maps a type to another, and each
//! predicate accepts some value types for some query types. Errors say
//! which part is to blame; the parser turns that into a span.

use super::ast::{Filter, Query, Subject, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Type {
    Number,
    Duration,
    /// `loss`: compared with `20%`.
    Percent,
    String,
    List,
    /// Whatever a JSONPath selects; known only when it runs.
    Json,
}

impl Type {
    fn described(self) -> &'static str {
        match self {
            Type::Number => "a number",
            Type::Duration => "a duration",
            Type::Percent => "a percentage",
            Type::String => "a string",
            Type::List => "a list",
            Type::Json => "a JSON value",
        }
    }
}

/// Which part of the expression a type error points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blame {
    Filter,
    Predicate,
    Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TypeError {
    pub blame: Blame,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

impl TypeError {
    fn new(blame: Blame, message: String, label: impl Into<String>) -> Self {
        Self {
            blame,
            message,
            label: label.into(),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

pub(super) fn subject_type(subject: &Subject) -> Type {
    match subject {
        Subject::Status | Subject::Redirects | Subject::Cls | Subject::ConsoleErrors => {
            Type::Number
        }
        Subject::Duration | Subject::CertExpiry | Subject::Rtt | Subject::Lcp | Subject::Ttfb => {
            Type::Duration
        }
        Subject::Loss => Type::Percent,
        Subject::Body
        | Subject::Header(_)
        | Subject::Cookie(_)
        | Subject::Regex(_)
        | Subject::TlsVersion
        | Subject::Rcode
        | Subject::Message
        | Subject::ServingStatus
        | Subject::Text
        | Subject::Url => Type::String,
        Subject::Answers => Type::List,
        Subject::JsonPath(_) => Type::Json,
    }
}

impl Query {
    /// The type of the query's result.
    pub(super) fn ty(&self) -> Type {
        let mut ty = subject_type(&self.subject);
        for filter in &self.filters {
            ty = filter_output(filter);
        }
        ty
    }
}

fn filter_output(filter: &Filter) -> Type {
    match filter {
        Filter::Count | Filter::Length => Type::Number,
        Filter::Regex(_) => Type::String,
    }
}

/// The type after `filter`, applied to `query` (of type `ty`).
pub(super) fn apply_filter(query: &Query, ty: Type, filter: &Filter) -> Result<Type, TypeError> {
    let accepts = match filter {
        Filter::Count => matches!(ty, Type::List | Type::Json),
        Filter::Length => matches!(ty, Type::String | Type::List | Type::Json),
        Filter::Regex(_) => matches!(ty, Type::String | Type::Json),
    };
    if accepts {
        return Ok(filter_output(filter));
    }
    let needs = match filter {
        Filter::Count => "a list",
        Filter::Length => "a string or a list",
        Filter::Regex(_) => "a string",
    };
    let name = filter.name();
    let err = TypeError::new(
        Blame::Filter,
        format!(
            "`{name}` needs {needs}, but `{query}` is {}",
            ty.described()
        ),
        format!("cannot apply `{name}` to {}", ty.described()),
    );
    Err(match (filter, ty) {
        (Filter::Count, Type::String) => err.help("use `length` for the number of characters"),
        _ => err,
    })
}

/// `==`, `!=` and each element of `in`.
pub(super) fn check_equality(query: &Query, value: &Value) -> Result<(), TypeError> {
    let ty = query.ty();
    let ok = match (ty, value) {
        (Type::Duration, Value::Duration(_))
        | (Type::Percent, Value::Percent(_))
        | (Type::Number, Value::Number(_))
        | (Type::String, Value::String(_))
        | (Type::List, Value::List(_)) => true,
        (Type::Json, Value::Duration(_) | Value::Percent(_)) => false,
        (Type::Json, _) => true,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(mismatch(query, ty, value))
}

/// `<`, `<=`, `>`, `>=`: numbers with numbers, durations with durations.
pub(super) fn check_ordering(query: &Query, op: &str, value: &Value) -> Result<(), TypeError> {
    let ty = query.ty();
    if !matches!(
        value,
        Value::Number(_) | Value::Duration(_) | Value::Percent(_)
    ) {
        let err = TypeError::new(
            Blame::Value,
            format!("`{op}` needs a number, a duration or a percentage"),
            format!("this is {}", describe(value)),
        );
        return Err(with_unquote_help(err, value));
    }
    match ty {
        Type::String | Type::List => {
            let err = TypeError::new(
                Blame::Predicate,
                format!("`{op}` cannot order {}", ty.described()),
                format!("`{query}` is {}", ty.described()),
            );
            Err(err.help(match ty {
                Type::List => "add `count` to compare the number of elements",
                _ => "add `length` to compare its length, or use `==` or `matches`",
            }))
        }
        _ => check_equality(query, value),
    }
}

/// `contains` and `not contains`: a substring of a string, an element of a
/// list.
pub(super) fn check_contains(query: &Query, value: &Value) -> Result<(), TypeError> {
    let ty = query.ty();
    match (ty, value) {
        (Type::Number | Type::Duration | Type::Percent, _) => Err(TypeError::new(
            Blame::Predicate,
            format!(
                "`contains` needs a string or a list, but `{query}` is {}",
                ty.described()
            ),
            format!("`{query}` is {}", ty.described()),
        )
        .help("compare it with `==`, `<`, … or `in [..]`")),
        (Type::String, Value::String(_)) => Ok(()),
        (Type::String, _) => Err(TypeError::new(
            Blame::Value,
            format!(
                "a string can only contain a string, not {}",
                describe(value)
            ),
            "expected a quoted string",
        )),
        (_, Value::Duration(_) | Value::Percent(_)) | (Type::List, Value::List(_)) => {
            Err(TypeError::new(
                Blame::Value,
                format!("a list cannot contain {}", describe(value)),
                "expected a string, a number, `true`, `false` or `null`",
            ))
        }
        _ => Ok(()),
    }
}

/// `matches`: only strings are matched against a regex.
pub(super) fn check_matches(query: &Query) -> Result<(), TypeError> {
    let ty = query.ty();
    if matches!(ty, Type::String | Type::Json) {
        return Ok(());
    }
    Err(TypeError::new(
        Blame::Predicate,
        format!(
            "`matches` needs a string, but `{query}` is {}",
            ty.described()
        ),
        format!("`{query}` is {}", ty.described()),
    )
    .help("compare it with `==`, `<`, … or `in [..]`"))
}

fn mismatch(query: &Query, ty: Type, value: &Value) -> TypeError {
    let message = match (ty, value) {
        (Type::Duration, Value::Number(_)) => "cannot compare a duration with a bare number".into(),
        (Type::Json, _) => "JSON has no durations".into(),
        _ => format!("cannot compare {} with {}", ty.described(), describe(value)),
    };
    let label = match (ty, value) {
        (Type::Duration, Value::Number(_)) => "add a unit".into(),
        _ => format!("`{query}` is {}", ty.described()),
    };
    let err = TypeError::new(Blame::Value, message, label);
    match (ty, value) {
        (Type::Duration, Value::Number(n)) => {
            let unit = if query.subject == Subject::CertExpiry {
                "d"
            } else {
                "ms"
            };
            err.help(format!(
                "write a duration such as `{n}{unit}` (units: ms, s, m, h, d)"
            ))
        }
        (Type::Number, Value::Duration(_)) => err.help("write the number without a unit"),
        (Type::Percent, _) => err.help("write a percentage such as `20%` or `0%`"),
        (Type::Json, _) => err.help("compare with a number"),
        (Type::String, Value::Number(n)) => err.help(format!("quote it: `\"{n}\"`")),
        (Type::List, _) => err.help("use `contains` to look for an element"),
        (Type::Number, Value::String(_)) => with_unquote_help(err, value),
        _ => err,
    }
}

/// Suggests dropping the quotes of a string that holds a number.
fn with_unquote_help(err: TypeError, value: &Value) -> TypeError {
    match value {
        Value::String(s) if s.trim().parse::<f64>().is_ok() => {
            err.help(format!("remove the quotes: `{}`", s.trim()))
        }
        _ => err,
    }
}

pub(super) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Duration(_) => "a duration",
        Value::Percent(_) => "a percentage",
        Value::Bool(_) => "a boolean",
        Value::Null => "`null`",
        Value::List(_) => "a list",
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_assertion;
    use super::super::tests::{ErrorCase, assert_errors};

    #[test]
    fn type_errors_point_at_the_culprit() {
        // (text, message, range, help)
        let cases: &[ErrorCase] = &[
            (
                "duration < 800",
                "cannot compare a duration with a bare number",
                11..14,
                Some("write a duration such as `800ms` (units: ms, s, m, h, d)"),
            ),
            (
                "cert_expiry > 30",
                "cannot compare a duration with a bare number",
                14..16,
                Some("write a duration such as `30d` (units: ms, s, m, h, d)"),
            ),
            (
                "status < 2s",
                "cannot compare a number with a duration",
                9..11,
                None,
            ),
            (
                "status == 2s",
                "cannot compare a number with a duration",
                10..12,
                None,
            ),
            (
                r#"status < "200""#,
                "`<` needs a number, a duration or a percentage",
                9..14,
                Some("remove the quotes: `200`"),
            ),
            (
                "status >= true",
                "`>=` needs a number, a duration or a percentage",
                10..14,
                None,
            ),
            (
                "status > null",
                "`>` needs a number, a duration or a percentage",
                9..13,
                None,
            ),
            (
                "status > [1]",
                "`>` needs a number, a duration or a percentage",
                9..12,
                None,
            ),
            (r#"body < 3"#, "`<` cannot order a string", 5..6, None),
            (
                r#"answers > 3"#,
                "`>` cannot order a list",
                8..9,
                Some("add `count` to compare the number of elements"),
            ),
            (
                r#"tls_version == 1.3"#,
                "cannot compare a string with a number",
                15..18,
                Some(r#"quote it: `"1.3"`"#),
            ),
            (
                r#"jsonpath "$.a" < 1s"#,
                "JSON has no durations",
                17..19,
                None,
            ),
            (
                "status in [200, 2s]",
                "cannot compare a number with a duration",
                16..18,
                None,
            ),
            (
                r#"status in [200, "201"]"#,
                "cannot compare a number with a string",
                16..21,
                Some("remove the quotes: `201`"),
            ),
            (
                r#"status contains "2""#,
                "`contains` needs a string or a list",
                7..15,
                None,
            ),
            (
                r#"duration not contains "2""#,
                "`contains` needs a string or a list",
                9..21,
                None,
            ),
            (
                r#"body contains 2"#,
                "a string can only contain a string",
                14..15,
                None,
            ),
            (
                r#"answers contains 2s"#,
                "a list cannot contain a duration",
                17..19,
                None,
            ),
            (
                r#"status matches "2..""#,
                "`matches` needs a string",
                7..14,
                None,
            ),
            (
                r#"status matches 200"#,
                "`matches` needs a string",
                7..14,
                None,
            ),
            (
                r#"body matches 200"#,
                "`matches` needs a string in double quotes",
                13..16,
                None,
            ),
            (
                "status count > 1",
                "`count` needs a list, but `status` is a number",
                7..12,
                None,
            ),
            (
                "body count > 1",
                "`count` needs a list",
                5..10,
                Some("use `length` for the number of characters"),
            ),
            (
                "duration length > 1",
                "`length` needs a string or a list",
                9..15,
                None,
            ),
            (
                r#"status regex "2" exists"#,
                "`regex` needs a string",
                7..16,
                None,
            ),
            (
                "answers count length > 1",
                "`length` needs a string or a list, but `answers count` is a number",
                14..20,
                None,
            ),
            (
                "answers == \"a\"",
                "cannot compare a list with a string",
                11..14,
                Some("use `contains` to look for an element"),
            ),
        ];
        assert_errors(cases, |t| parse_assertion(t).map(drop));
    }

    #[test]
    fn well_typed_expressions_pass() {
        let cases = [
            "duration >= 0ms",
            "status != 404",
            r#"jsonpath "$.n" > 3"#,
            r#"jsonpath "$.a" == null"#,
            r#"jsonpath "$.a" contains [1]"#,
            r#"jsonpath "$.tags" contains "x""#,
            r#"jsonpath "$.name" regex "^(\w)" == "b""#,
            r#"jsonpath "$.s" length < 10"#,
            r#"answers == ["1.2.3.4"]"#,
            r#"header "X" matches "^a""#,
            r#"body regex "v(\d+)" length == 1"#,
            "cert_expiry in [1d, 2d]",
        ];
        for text in cases {
            if let Err(e) = parse_assertion(text) {
                panic!("{text}: {e:?}");
            }
        }
    }
}
