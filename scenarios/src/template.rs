//! `{{name}}` templates: vars, captures, `secret.NAME`, `region`, `probe`,
//! `uuid`, `now`. Parsed once at validation (so an unknown name is an error
//! before anything runs) and rendered per run by the probe.

use std::ops::Range;

use crate::wire::REDACTED;

/// What a `{{…}}` refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    /// A `[vars]` entry or a value captured by an earlier step.
    Name(String),
    /// `{{secret.NAME}}`, resolved on the probe only and redacted in output.
    Secret(String),
    Region,
    Probe,
    /// A fresh UUIDv7 at every use.
    Uuid,
    /// RFC 3339 UTC with milliseconds.
    Now,
}

/// Built-in names, which vars and captures may not shadow.
pub const BUILTINS: [&str; 4] = ["region", "probe", "uuid", "now"];

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Ref(Ref),
}

/// A parsed template; text with no `{{` is a single literal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pub segments: Vec<Segment>,
}

/// A reference and where it sits in the template text (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    pub reference: Ref,
    /// The name as written, for messages.
    pub written: String,
    /// Range of the name inside the template text.
    pub range: Range<usize>,
}

/// A malformed template, with the byte range inside its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub range: Range<usize>,
    pub label: String,
}

/// Parses a template, returning it and every placeholder it holds.
///
/// # Errors
/// An unclosed `{{`, an empty `{{}}`, or a name that is not an identifier.
pub fn parse(text: &str) -> Result<(Template, Vec<Placeholder>), TemplateError> {
    let mut segments = Vec::new();
    let mut placeholders = Vec::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find("{{").map(|i| i + rest) {
        if open > rest {
            segments.push(Segment::Literal(text[rest..open].to_string()));
        }
        let close = text[open + 2..]
            .find("}}")
            .map(|i| i + open + 2)
            .ok_or_else(|| TemplateError {
                message: "unclosed `{{` in template".into(),
                range: open..open + 2,
                label: "expected `}}` after the name".into(),
            })?;
        let inner = &text[open + 2..close];
        let lead = inner.len() - inner.trim_start().len();
        let written = inner.trim();
        let range = open + 2 + lead..open + 2 + lead + written.len();
        let reference = parse_ref(written).map_err(|label| TemplateError {
            message: if written.is_empty() {
                "empty `{{}}` in template".into()
            } else {
                format!("invalid template name `{written}`")
            },
            range: if written.is_empty() {
                open..close + 2
            } else {
                range.clone()
            },
            label,
        })?;
        segments.push(Segment::Ref(reference.clone()));
        placeholders.push(Placeholder {
            reference,
            written: written.to_string(),
            range,
        });
        rest = close + 2;
    }
    if rest < text.len() {
        segments.push(Segment::Literal(text[rest..].to_string()));
    }
    Ok((Template { segments }, placeholders))
}

fn parse_ref(written: &str) -> Result<Ref, String> {
    const EXPECTED: &str =
        "expected a var, a capture, `secret.NAME`, `region`, `probe`, `uuid` or `now`";
    if let Some(secret) = written.strip_prefix("secret.") {
        return if is_identifier(secret) {
            Ok(Ref::Secret(secret.to_string()))
        } else {
            Err("expected a secret name of letters, digits and `_`".into())
        };
    }
    if !is_identifier(written) {
        return Err(EXPECTED.into());
    }
    Ok(match written {
        "region" => Ref::Region,
        "probe" => Ref::Probe,
        "uuid" => Ref::Uuid,
        "now" => Ref::Now,
        name => Ref::Name(name.to_string()),
    })
}

/// `[A-Za-z_][A-Za-z0-9_]*`, the shape of var, capture and secret names.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Supplies values for references while rendering.
pub trait Scope {
    /// The value of a reference, or `None` when it is unknown at run time
    /// (a missing secret), which fails the step.
    fn lookup(&self, reference: &Ref) -> Option<serde_json::Value>;

    /// The value of a reference and the one shown in place of it where the
    /// request is described: `***` for a secret, the value itself for
    /// anything else. A scope that holds values made from secrets (a var
    /// set to `{{secret.NAME}}`) gives their masked form instead.
    fn lookup_shown(&self, reference: &Ref) -> Option<Shown<serde_json::Value>> {
        let sent = self.lookup(reference)?;
        let shown = match reference {
            Ref::Secret(_) => serde_json::Value::String(REDACTED.into()),
            _ => sent.clone(),
        };
        Some(Shown { sent, shown })
    }
}

/// One rendering read two ways: `sent` with every value, to go on the
/// wire, and `shown` with each secret as `***`, to record. Both come from
/// the same lookups, so a `{{uuid}}` or `{{now}}` is the same in each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shown<T> {
    pub sent: T,
    pub shown: T,
}

/// A reference that had no value when rendering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no value for `{{{{{0}}}}}`")]
pub struct RenderError(pub String);

impl Template {
    /// A template that is only this text.
    pub fn literal(text: impl Into<String>) -> Self {
        Template {
            segments: vec![Segment::Literal(text.into())],
        }
    }

    /// True when rendering needs no scope.
    pub fn is_literal(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Literal(_)))
    }

    /// The text when the template has no references.
    pub fn as_literal(&self) -> Option<String> {
        self.is_literal()
            .then(|| self.render_with(&|_| None).unwrap_or_default())
    }

    /// Joins two templates (a base URL and a path).
    #[must_use]
    pub fn concat(mut self, other: Template) -> Template {
        self.segments.extend(other.segments);
        self
    }

    /// Renders to text: strings as they are, other JSON values as JSON.
    ///
    /// # Errors
    /// When the scope has no value for a reference.
    pub fn render(&self, scope: &dyn Scope) -> Result<String, RenderError> {
        self.render_with(&|r| scope.lookup(r))
    }

    /// Renders to the text to send and, from the same values, the text to
    /// record, in which each secret stands as `***` where its `{{…}}` was
    /// (so a secret that is also common text, like `1`, masks nothing else).
    ///
    /// # Errors
    /// When the scope has no value for a reference.
    pub fn render_shown(&self, scope: &dyn Scope) -> Result<Shown<String>, RenderError> {
        let mut out = Shown::<String>::default();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => {
                    out.sent.push_str(text);
                    out.shown.push_str(text);
                }
                Segment::Ref(r) => {
                    let value = scope
                        .lookup_shown(r)
                        .ok_or_else(|| RenderError(ref_name(r)))?;
                    push_text(&mut out.sent, value.sent);
                    push_text(&mut out.shown, value.shown);
                }
            }
        }
        Ok(out)
    }

    fn render_with(
        &self,
        lookup: &dyn Fn(&Ref) -> Option<serde_json::Value>,
    ) -> Result<String, RenderError> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Ref(r) => {
                    push_text(&mut out, lookup(r).ok_or_else(|| RenderError(ref_name(r)))?);
                }
            }
        }
        Ok(out)
    }

    /// Whether rendering it puts a `{{secret.NAME}}` in the text (a
    /// redirect to another origin drops such headers).
    pub fn uses_secret(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Ref(Ref::Secret(_))))
    }

    /// The single reference when the template is exactly one `{{…}}`.
    pub fn sole_ref(&self) -> Option<&Ref> {
        match self.segments.as_slice() {
            [Segment::Ref(r)] => Some(r),
            _ => None,
        }
    }
}

/// Text substitution: a string as it is, any other JSON value as JSON.
fn push_text(out: &mut String, value: serde_json::Value) {
    match value {
        serde_json::Value::String(s) => out.push_str(&s),
        other => out.push_str(&other.to_string()),
    }
}

/// The name of a reference as a user writes it.
pub fn ref_name(r: &Ref) -> String {
    match r {
        Ref::Name(n) => n.clone(),
        Ref::Secret(n) => format!("secret.{n}"),
        Ref::Region => "region".into(),
        Ref::Probe => "probe".into(),
        Ref::Uuid => "uuid".into(),
        Ref::Now => "now".into(),
    }
}

/// A JSON body whose strings are templates. A string that is exactly one
/// template takes the value with its JSON type, so a captured `42` stays a
/// number.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Renders to a JSON value.
    ///
    /// # Errors
    /// When the scope has no value for a reference.
    pub fn render(&self, scope: &dyn Scope) -> Result<serde_json::Value, RenderError> {
        use serde_json::Value;
        Ok(match self {
            JsonTemplate::Null => Value::Null,
            JsonTemplate::Bool(b) => Value::Bool(*b),
            JsonTemplate::Number(n) => Value::Number(n.clone()),
            JsonTemplate::String(t) => match t.sole_ref() {
                Some(r) => scope.lookup(r).ok_or_else(|| RenderError(ref_name(r)))?,
                None => Value::String(t.render(scope)?),
            },
            JsonTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(scope))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), v.render(scope)?)))
                    .collect::<Result<_, RenderError>>()?,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixed;
    impl Scope for Fixed {
        fn lookup(&self, r: &Ref) -> Option<serde_json::Value> {
            match r {
                Ref::Name(n) if n == "product" => Some(json!(42)),
                Ref::Name(n) if n == "user" => Some(json!("ann")),
                Ref::Region => Some(json!("eu-west-1")),
                Ref::Secret(n) if n == "ONE" => Some(json!("1")),
                _ => None,
            }
        }
    }

    #[test]
    fn parses_names_with_positions() {
        let (t, refs) = parse("Bearer {{ token }} in {{region}}").expect("valid");
        assert_eq!(t.segments.len(), 4);
        assert_eq!(refs[0].reference, Ref::Name("token".into()));
        assert_eq!(refs[0].range, 10..15);
        assert_eq!(refs[1].reference, Ref::Region);
        assert_eq!(
            parse("{{secret.SHOP_PASSWORD}}").expect("valid").1[0].reference,
            Ref::Secret("SHOP_PASSWORD".into())
        );
    }

    #[test]
    fn rejects_malformed_templates() {
        assert_eq!(parse("a {{b").expect_err("unclosed").range, 2..4);
        assert!(parse("{{}}").expect_err("empty").message.contains("empty"));
        assert_eq!(parse("{{ a-b }}").expect_err("bad name").range, 3..6);
        assert!(parse("{{secret.}}").is_err());
    }

    #[test]
    fn renders_text_and_typed_json() {
        let (t, _) = parse("user-{{user}}@{{region}}").expect("valid");
        assert_eq!(t.render(&Fixed).expect("rendered"), "user-ann@eu-west-1");
        let body = JsonTemplate::Object(vec![
            (
                "id".into(),
                JsonTemplate::String(parse("{{product}}").expect("valid").0),
            ),
            (
                "label".into(),
                JsonTemplate::String(parse("p{{product}}").expect("valid").0),
            ),
        ]);
        assert_eq!(
            body.render(&Fixed).expect("rendered"),
            json!({"id": 42, "label": "p42"})
        );
        let (missing, _) = parse("{{secret.X}}").expect("valid");
        assert_eq!(missing.render(&Fixed), Err(RenderError("secret.X".into())));
    }

    #[test]
    fn the_shown_rendering_masks_a_secret_where_it_was_written() {
        let (t, _) = parse("https://h/v1/x?n={{product}}&key={{secret.ONE}}").expect("valid");
        let both = t.render_shown(&Fixed).expect("rendered");
        assert_eq!(both.sent, "https://h/v1/x?n=42&key=1");
        assert_eq!(both.shown, "https://h/v1/x?n=42&key=***");
        let (host, _) = parse("https://{{secret.ONE}}.example.com/").expect("valid");
        assert_eq!(
            host.render_shown(&Fixed).expect("rendered").shown,
            "https://***.example.com/"
        );
        assert_eq!(
            missing_secret().render_shown(&Fixed),
            Err(RenderError("secret.X".into()))
        );
    }

    fn missing_secret() -> Template {
        parse("{{secret.X}}").expect("valid").0
    }
}
