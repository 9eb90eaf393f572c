//! The predicate part of the grammar, `[PREDICATE [VALUE]]`, with its
//! literals and the type checks that tie a value to the query.

use std::ops::Range;

use super::ast::{Predicate, Query, Subject, Value};
use super::error::{ExprError, did_you_mean, one_of};
use super::lexer::{CmpOp, Tok, Token};
use super::parser::{FILTERS, Parser, blame_span, located, pattern};
use super::types::{self, Type};

const PREDICATES: [&str; 12] = [
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "not contains",
    "matches",
    "exists",
    "not exists",
    "in",
];
const KEYWORDS: [&str; 5] = ["contains", "not", "matches", "exists", "in"];
const VALUE_LABEL: &str =
    "expected a number, a \"string\", a duration, `true`, `false`, `null` or a [list]";

/// Whether `tok` begins a predicate (or a near miss such as `=`).
pub(super) fn starts_predicate(tok: &Tok) -> bool {
    match tok {
        Tok::Op(_) | Tok::Assign | Tok::Bang => true,
        Tok::Ident(w) => is_keyword(w),
        _ => false,
    }
}

pub(super) fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// A literal with its span, and the spans of a list's elements.
struct Literal {
    value: Value,
    span: Range<usize>,
    items: Vec<Range<usize>>,
}

impl Parser<'_> {
    /// The predicate after `query`, `None` at the end of the text.
    pub(super) fn predicate(&mut self, query: &Query) -> Result<Option<Predicate>, ExprError> {
        let Some(tok) = self.bump()? else {
            return Ok(None);
        };
        let mut span = tok.span.clone();
        let predicate = match &tok.tok {
            Tok::Op(op) => self.comparison(query, *op, span)?,
            Tok::Ident(w) if w == "contains" => {
                Predicate::Contains(self.contains_value(query, "contains", span)?)
            }
            Tok::Ident(w) if w == "not" => match self.bump()? {
                Some(Token {
                    tok: Tok::Ident(next),
                    span: next_span,
                }) if next == "contains" || next == "exists" => {
                    span.end = next_span.end;
                    if next == "exists" {
                        Predicate::NotExists
                    } else {
                        Predicate::NotContains(self.contains_value(query, "not contains", span)?)
                    }
                }
                other => {
                    let at = other.map_or_else(|| self.end_span(), |t| t.span);
                    return Err(ExprError::new(
                        "expected `contains` or `exists` after `not`",
                        at,
                        one_of(&["contains", "exists"]),
                    ));
                }
            },
            Tok::Ident(w) if w == "matches" => {
                types::check_matches(query).map_err(|e| located(e, span))?;
                let (source, arg) = self.string_arg("matches", r#"body matches "^OK""#)?;
                Predicate::Matches(pattern(&source, arg)?)
            }
            Tok::Ident(w) if w == "exists" => Predicate::Exists,
            Tok::Ident(w) if w == "in" => Predicate::In(self.in_list(query, span)?),
            _ => return Err(self.not_a_predicate(&tok)),
        };
        Ok(Some(predicate))
    }

    fn comparison(
        &mut self,
        query: &Query,
        op: CmpOp,
        span: Range<usize>,
    ) -> Result<Predicate, ExprError> {
        let lit = self.value(op.as_str())?;
        let checked = match op {
            CmpOp::Eq | CmpOp::Ne => types::check_equality(query, &lit.value),
            _ => types::check_ordering(query, op.as_str(), &lit.value),
        };
        checked.map_err(|e| {
            let at = blame_span(&e, &span, &lit.span);
            located(e, at)
        })?;
        let v = lit.value;
        Ok(match op {
            CmpOp::Eq => Predicate::Eq(v),
            CmpOp::Ne => Predicate::Ne(v),
            CmpOp::Lt => Predicate::Lt(v),
            CmpOp::Le => Predicate::Le(v),
            CmpOp::Gt => Predicate::Gt(v),
            CmpOp::Ge => Predicate::Ge(v),
        })
    }

    fn contains_value(
        &mut self,
        query: &Query,
        name: &str,
        span: Range<usize>,
    ) -> Result<Value, ExprError> {
        let lit = self.value(name)?;
        types::check_contains(query, &lit.value).map_err(|e| {
            let at = blame_span(&e, &span, &lit.span);
            located(e, at)
        })?;
        Ok(lit.value)
    }

    fn in_list(&mut self, query: &Query, span: Range<usize>) -> Result<Vec<Value>, ExprError> {
        let lit = self.value("in")?;
        let Value::List(values) = lit.value else {
            return Err(ExprError::new(
                "`in` needs a list",
                lit.span,
                format!("this is {}", types::describe(&lit.value)),
            )
            .help(format!("write a list: `in [{}]`", lit.value)));
        };
        for (v, at) in values.iter().zip(&lit.items) {
            types::check_equality(query, v).map_err(|e| {
                let at = blame_span(&e, &span, at);
                located(e, at)
            })?;
        }
        Ok(values)
    }

    /// A literal after the predicate `after`.
    fn value(&mut self, after: &str) -> Result<Literal, ExprError> {
        let Some(tok) = self.bump()? else {
            return Err(ExprError::new(
                format!("expected a value after `{after}`"),
                self.end_span(),
                VALUE_LABEL,
            ));
        };
        if tok.tok == Tok::LBracket {
            return self.list(tok.span);
        }
        let span = tok.span.clone();
        let value = scalar(tok)?;
        Ok(Literal {
            value,
            span,
            items: Vec::new(),
        })
    }

    /// The rest of a list after its `[`. Lists do not nest.
    fn list(&mut self, open: Range<usize>) -> Result<Literal, ExprError> {
        let mut values = Vec::new();
        let mut items = Vec::new();
        let unclosed = |p: &Self| {
            ExprError::new(
                "unclosed list",
                open.start..p.end_span().end,
                "expected `]`",
            )
        };
        loop {
            let tok = match self.bump()? {
                Some(t) if t.tok == Tok::RBracket && values.is_empty() => {
                    return Ok(list_literal(values, open.start..t.span.end, items));
                }
                Some(t) if t.tok == Tok::LBracket => {
                    return Err(ExprError::new(
                        "lists cannot be nested",
                        t.span,
                        "expected a number, a string, a duration, `true`, `false` or `null`",
                    ));
                }
                Some(t) => t,
                None => return Err(unclosed(self)),
            };
            items.push(tok.span.clone());
            values.push(scalar(tok)?);
            match self.bump()? {
                Some(t) if t.tok == Tok::Comma => {
                    if self.peek()?.is_some_and(|t| t.tok == Tok::RBracket) {
                        let close = self.bump()?.map_or(open.end, |t| t.span.end);
                        return Ok(list_literal(values, open.start..close, items));
                    }
                }
                Some(t) if t.tok == Tok::RBracket => {
                    return Ok(list_literal(values, open.start..t.span.end, items));
                }
                Some(t) => {
                    return Err(ExprError::new(
                        "expected `,` or `]`",
                        t.span,
                        "in this list",
                    ));
                }
                None => return Err(unclosed(self)),
            }
        }
    }

    /// The error for an assertion that ends after its query.
    pub(super) fn missing_predicate(&self, query: &Query) -> ExprError {
        let example = match query.ty() {
            Type::Number if !query.filters.is_empty() => ">= 1",
            Type::Number if query.subject == Subject::Redirects => "<= 3",
            Type::Number => "== 200",
            Type::Duration => "< 1s",
            Type::Percent => "< 20%",
            Type::String | Type::List => "contains \"…\"",
            Type::Json => "exists",
        };
        ExprError::new("expected a predicate", self.end_span(), one_of(&PREDICATES)).help(format!(
            "an `expect` entry needs a check, e.g. `{query} {example}`"
        ))
    }

    fn not_a_predicate(&self, tok: &Token) -> ExprError {
        let text = self.text.get(tok.span.clone()).unwrap_or_default();
        let help = match &tok.tok {
            Tok::Assign => Some("did you mean `==`?".to_owned()),
            Tok::Bang => Some("did you mean `!=`?".to_owned()),
            Tok::Ident(w) => keyword_help(w),
            Tok::Number(_) | Tok::Duration(_) | Tok::Percent(_) | Tok::Str(_) | Tok::LBracket => {
                Some(format!("did you mean `== {text}`?"))
            }
            _ => None,
        };
        ExprError::new(
            "expected a predicate",
            tok.span.clone(),
            one_of(&PREDICATES),
        )
        .help_opt(help)
    }

    /// Checks that nothing follows the predicate.
    pub(super) fn end(&mut self, predicate: &Predicate) -> Result<(), ExprError> {
        let Some(tok) = self.bump()? else {
            return Ok(());
        };
        if matches!(predicate, Predicate::Exists | Predicate::NotExists) {
            return Err(ExprError::new(
                format!("`{predicate}` takes no value"),
                tok.span.start..self.end_span().end,
                "remove this",
            ));
        }
        let text = self.text.get(tok.span.clone()).unwrap_or_default();
        let help = match &tok.tok {
            Tok::Ident(w) if ["and", "or"].contains(&w.as_str()) => {
                Some("write one check per `expect` entry".to_owned())
            }
            _ => None,
        };
        Err(ExprError::new(
            format!("unexpected `{text}` after the predicate"),
            tok.span,
            "expected the end of the expression",
        )
        .help_opt(help))
    }
}

fn list_literal(values: Vec<Value>, span: Range<usize>, items: Vec<Range<usize>>) -> Literal {
    Literal {
        value: Value::List(values),
        span,
        items,
    }
}

/// A literal that is not a list.
fn scalar(tok: Token) -> Result<Value, ExprError> {
    Ok(match tok.tok {
        Tok::Number(n) => Value::Number(n),
        Tok::Duration(d) => Value::Duration(d),
        Tok::Percent(p) => Value::Percent(p),
        Tok::Str(s) => Value::String(s),
        Tok::Ident(w) if w == "true" => Value::Bool(true),
        Tok::Ident(w) if w == "false" => Value::Bool(false),
        Tok::Ident(w) if w == "null" => Value::Null,
        Tok::Ident(w) => {
            return Err(ExprError::new(
                format!("expected a value, found `{w}`"),
                tok.span,
                VALUE_LABEL,
            )
            .help(format!("strings are written in double quotes: `\"{w}\"`")));
        }
        _ => return Err(ExprError::new("expected a value", tok.span, VALUE_LABEL)),
    })
}

/// A hint for a word where a predicate was expected.
fn keyword_help(word: &str) -> Option<String> {
    let alias = match word.to_ascii_lowercase().as_str() {
        "is" | "eq" | "equals" => Some("=="),
        "ne" | "isnt" => Some("!="),
        "lt" => Some("<"),
        "le" | "lte" => Some("<="),
        "gt" => Some(">"),
        "ge" | "gte" => Some(">="),
        "has" | "includes" => Some("contains"),
        "and" | "or" => return Some("write one check per `expect` entry".to_owned()),
        _ => None,
    };
    if let Some(alias) = alias {
        return Some(format!("did you mean `{alias}`?"));
    }
    let words: Vec<&str> = KEYWORDS.iter().chain(&FILTERS).copied().collect();
    did_you_mean(word, &words)
}

#[cfg(test)]
mod tests {
    use super::super::parse_assertion;
    use super::super::tests::{ErrorCase, assert_errors};

    #[test]
    fn renders_values_and_lists() {
        let cases = [
            (
                r#"jsonpath "$.a" == [1, "b", true, null,]"#,
                r#"jsonpath "$.a" == [1, "b", true, null]"#,
            ),
            (r#"jsonpath "$.a" in []"#, r#"jsonpath "$.a" in []"#),
            ("  status==200  ", "status == 200"),
            ("status == 200.0", "status == 200"),
            (
                r#"body contains "tab\there""#,
                r#"body contains "tab\there""#,
            ),
            ("cert_expiry < 1.5m", "cert_expiry < 90s"),
        ];
        for (text, rendered) in cases {
            let a = parse_assertion(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(a.to_string(), rendered);
        }
    }

    #[test]
    fn predicate_errors() {
        let cases: &[ErrorCase] = &[
            (
                "status = 200",
                "expected a predicate",
                7..8,
                Some("did you mean `==`?"),
            ),
            (
                "status ! 200",
                "expected a predicate",
                7..8,
                Some("did you mean `!=`?"),
            ),
            (
                "status",
                "expected a predicate",
                6..6,
                Some("an `expect` entry needs a check, e.g. `status == 200`"),
            ),
            (
                "status 200",
                "expected a predicate",
                7..10,
                Some("did you mean `== 200`?"),
            ),
            (
                "status is 200",
                "expected a predicate",
                7..9,
                Some("did you mean `==`?"),
            ),
            (
                r#"jsonpath "$.a" cont >= 1"#,
                "expected a predicate",
                15..19,
                Some("did you mean `count`?"),
            ),
            ("status ==", "expected a value after `==`", 9..9, None),
            (
                "rcode == NOERROR",
                "expected a value, found `NOERROR`",
                9..16,
                Some(r#"strings are written in double quotes: `"NOERROR"`"#),
            ),
            (r#"body matches "[a-""#, "invalid regex", 13..18, None),
            (
                r#"jsonpath "$.a" exists 1"#,
                "`exists` takes no value",
                22..23,
                None,
            ),
            (
                r#"jsonpath "$.a" not exists 1"#,
                "`not exists` takes no value",
                26..27,
                None,
            ),
            (
                r#"jsonpath "$.a" not 1"#,
                "expected `contains` or `exists` after `not`",
                19..20,
                None,
            ),
            (
                "status == 200 and duration < 1s",
                "unexpected `and`",
                14..17,
                Some("write one check per `expect` entry"),
            ),
            ("status in [200, 201", "unclosed list", 10..19, None),
            ("status in [200 201]", "expected `,` or `]`", 15..18, None),
            ("status in [[200]]", "lists cannot be nested", 11..12, None),
            ("status in [,]", "expected a value", 11..12, None),
            (
                "status in 200",
                "`in` needs a list",
                10..13,
                Some("write a list: `in [200]`"),
            ),
            (
                "status == 2secs",
                "unknown duration unit `secs`",
                10..15,
                Some("did you mean `2s`?"),
            ),
            ("status == 1 €", "unexpected character `€`", 12..15, None),
            ("status == 'x'", "unexpected character `'`", 10..11, None),
        ];
        assert_errors(cases, |t| parse_assertion(t).map(drop));
    }
}
