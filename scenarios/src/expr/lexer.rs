//! Tokens of an expression, read one at a time so that errors come out in
//! the order they appear in the text.

use std::ops::Range;
use std::time::Duration;

use super::error::ExprError;

const UNIT_NAMES: [&str; 5] = ["ms", "s", "m", "h", "d"];

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Str(String),
    Number(f64),
    Duration(Duration),
    /// `20%`.
    Percent(f64),
    Op(CmpOp),
    LBracket,
    RBracket,
    Comma,
    /// A lone `=`, kept to suggest `==`.
    Assign,
    /// A lone `!`, kept to suggest `!=`.
    Bang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

#[derive(Debug)]
pub(super) struct Lexer<'t> {
    text: &'t str,
    /// Always on a `char` boundary.
    pos: usize,
}

impl<'t> Lexer<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Self { text, pos: 0 }
    }

    fn peek_char(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.text[self.pos..].chars().nth(1)
    }

    /// Advances past the chars that satisfy `keep` and returns them.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'t str {
        let start = self.pos;
        while let Some(c) = self.peek_char().filter(|&c| keep(c)) {
            self.pos += c.len_utf8();
        }
        &self.text[start..self.pos]
    }

    /// The next token, `None` at the end.
    pub(super) fn next_token(&mut self) -> Result<Option<Token>, ExprError> {
        self.take_while(char::is_whitespace);
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok(None);
        };
        let tok = match c {
            '"' => self.string()?,
            c if c.is_ascii_digit() => self.number()?,
            '-' if self.peek_second().is_some_and(|c| c.is_ascii_digit()) => self.number()?,
            c if c.is_alphabetic() || c == '_' => Tok::Ident(
                self.take_while(|c| c.is_alphanumeric() || c == '_')
                    .to_owned(),
            ),
            '=' | '!' | '<' | '>' => self.operator(c),
            '[' | ']' | ',' => {
                self.pos += 1;
                match c {
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    _ => Tok::Comma,
                }
            }
            c => return Err(unexpected_char(c, start)),
        };
        Ok(Some(Token {
            tok,
            span: start..self.pos,
        }))
    }

    fn operator(&mut self, first: char) -> Tok {
        self.pos += 1;
        let eq = self.peek_char() == Some('=');
        if eq {
            self.pos += 1;
        }
        match (first, eq) {
            ('=', true) => Tok::Op(CmpOp::Eq),
            ('=', false) => Tok::Assign,
            ('!', true) => Tok::Op(CmpOp::Ne),
            ('!', false) => Tok::Bang,
            ('<', true) => Tok::Op(CmpOp::Le),
            ('<', false) => Tok::Op(CmpOp::Lt),
            (_, true) => Tok::Op(CmpOp::Ge),
            (_, false) => Tok::Op(CmpOp::Gt),
        }
    }

    /// A double-quoted string. `\"`, `\\`, `\n` and `\t` are escapes; any
    /// other backslash is kept as written, so regexes read naturally
    /// (`"\d+"` is the regex `\d+`).
    fn string(&mut self) -> Result<Tok, ExprError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek_char() else {
                return Err(ExprError::new(
                    "unterminated string",
                    start..self.pos,
                    "this string has no closing `\"`",
                ));
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(Tok::Str(out)),
                '\\' => match self.peek_char() {
                    Some(e @ ('"' | '\\' | 'n' | 't')) => {
                        self.pos += 1;
                        out.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            e => e,
                        });
                    }
                    _ => out.push('\\'),
                },
                c => out.push(c),
            }
        }
    }

    /// A number, or a duration when a unit follows without a space.
    fn number(&mut self) -> Result<Tok, ExprError> {
        let start = self.pos;
        if self.peek_char() == Some('-') {
            self.pos += 1;
        }
        self.take_while(|c| c.is_ascii_digit());
        if self.peek_char() == Some('.') {
            if !self.peek_second().is_some_and(|c| c.is_ascii_digit()) {
                let dot = self.pos;
                return Err(ExprError::new(
                    "expected digits after `.`",
                    dot..dot + 1,
                    "a decimal needs digits on both sides of `.`",
                ));
            }
            self.pos += 1;
            self.take_while(|c| c.is_ascii_digit());
        }
        let digits = &self.text[start..self.pos];
        if self.peek_char() == Some('%') {
            self.pos += 1;
            return parse_percent(digits, start..self.pos).map(Tok::Percent);
        }
        let unit = self.take_while(|c| c.is_alphanumeric() || c == '_');
        let span = start..self.pos;
        if unit.is_empty() {
            return parse_number(digits, span).map(Tok::Number);
        }
        parse_duration(digits, unit, span).map(Tok::Duration)
    }
}

fn parse_number(digits: &str, span: Range<usize>) -> Result<f64, ExprError> {
    match digits.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => Err(ExprError::new(
            "number out of range",
            span,
            "too large to compare",
        )),
    }
}

/// `0%` to `100%`: a share of something, such as ICMP echoes lost.
fn parse_percent(digits: &str, span: Range<usize>) -> Result<f64, ExprError> {
    match digits.parse::<f64>() {
        Ok(n) if (0.0..=100.0).contains(&n) => Ok(n),
        _ => Err(ExprError::new(
            "percentage out of range",
            span,
            "expected a percentage from `0%` to `100%`",
        )),
    }
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    })
}

/// `1.5` and `s` as a `Duration`, in exact integer arithmetic so `0.1s`
/// is exactly 100ms.
fn parse_duration(digits: &str, unit: &str, span: Range<usize>) -> Result<Duration, ExprError> {
    let Some(size) = unit_nanos(unit) else {
        let err = ExprError::new(
            format!("unknown duration unit `{unit}`"),
            span,
            super::error::one_of(&UNIT_NAMES),
        );
        let help = unit_alias(unit).map_or_else(
            || "durations read like `800ms`, `2s`, `1.5m`, `1h` or `30d`".to_owned(),
            |u| format!("did you mean `{digits}{u}`?"),
        );
        return Err(err.help(help));
    };
    if digits.starts_with('-') {
        return Err(ExprError::new(
            "a duration cannot be negative",
            span,
            "expected a duration such as `800ms`",
        ));
    }
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    nanos(whole, frac, size)
        .and_then(|n| u64::try_from(n / 1_000_000_000).ok().map(|s| (s, n)))
        .map(|(secs, n)| Duration::new(secs, (n % 1_000_000_000) as u32))
        .ok_or_else(|| ExprError::new("duration out of range", span, "too large"))
}

fn nanos(whole: &str, frac: &str, size: u128) -> Option<u128> {
    let whole: u128 = whole.parse().ok()?;
    let mut n = whole.checked_mul(size)?;
    // Digits past nanosecond precision of a day cannot change the result.
    let frac = &frac[..frac.len().min(18)];
    if !frac.is_empty() {
        let scale = 10u128.pow(frac.len() as u32);
        let f: u128 = frac.parse().ok()?;
        n = n.checked_add(f.checked_mul(size)? / scale)?;
    }
    Some(n)
}

/// The unit meant by a common spelling (`sec`, `mins`, `hours`, `MS`).
fn unit_alias(unit: &str) -> Option<&'static str> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "ms" | "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" => "ms",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "d" | "day" | "days" => "d",
        _ => return None,
    })
}

fn unexpected_char(c: char, at: usize) -> ExprError {
    let err = ExprError::new(
        format!("unexpected character `{c}`"),
        at..at + c.len_utf8(),
        "not part of an expression",
    );
    let help = match c {
        '\'' | '“' | '”' => "strings are written in straight double quotes: \"…\"",
        '≥' => "did you mean `>=`?",
        '≤' => "did you mean `<=`?",
        '≠' => "did you mean `!=`?",
        '&' | '|' => "write one check per `expect` entry",
        _ => return err,
    };
    err.help(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> Result<Vec<Tok>, ExprError> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        while let Some(t) = lexer.next_token()? {
            out.push(t.tok);
        }
        Ok(out)
    }

    #[test]
    fn tokens() {
        let ms = |n| Tok::Duration(Duration::from_millis(n));
        let cases = [
            (
                "duration < 800ms",
                vec![Tok::Ident("duration".into()), Tok::Op(CmpOp::Lt), ms(800)],
            ),
            (
                "1.5s 0.1s 30d",
                vec![ms(1500), ms(100), ms(30 * 86_400_000)],
            ),
            ("-2 3.25", vec![Tok::Number(-2.0), Tok::Number(3.25)]),
            (
                "= == != ! <= >=",
                vec![
                    Tok::Assign,
                    Tok::Op(CmpOp::Eq),
                    Tok::Op(CmpOp::Ne),
                    Tok::Bang,
                    Tok::Op(CmpOp::Le),
                    Tok::Op(CmpOp::Ge),
                ],
            ),
            (r#""a\"b\\c\n\d""#, vec![Tok::Str("a\"b\\c\n\\d".into())]),
            (
                "[1,]",
                vec![Tok::LBracket, Tok::Number(1.0), Tok::Comma, Tok::RBracket],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(lex(text).expect(text), want, "{text}");
        }
    }

    #[test]
    fn errors() {
        let cases = [
            ("\"abc", "unterminated string", 0..4, None),
            (
                "2secs",
                "unknown duration unit `secs`",
                0..5,
                Some("did you mean `2s`?"),
            ),
            ("2x", "unknown duration unit `x`", 0..2, None),
            ("-2s", "a duration cannot be negative", 0..3, None),
            ("1.", "expected digits after `.`", 1..2, None),
            (
                "a ≥ 1",
                "unexpected character `≥`",
                2..5,
                Some("did you mean `>=`?"),
            ),
            (
                "99999999999999999999999999999999999999999d",
                "duration out of range",
                0..42,
                None,
            ),
        ];
        for (text, message, range, help) in cases {
            let err = lex(text).expect_err(text);
            assert_eq!(err.message, message, "{text}");
            assert_eq!(err.range, range, "{text}");
            if let Some(help) = help {
                assert_eq!(err.help.as_deref(), Some(help), "{text}");
            }
        }
    }
}
