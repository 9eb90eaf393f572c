//! Expressions rendered back as the language writes them, so an
//! assertion's `expected` text reads like the expression the user wrote.

use std::fmt::{self, Display, Formatter};
use std::time::Duration;

use super::ast::{Assertion, Filter, Predicate, Query, Subject, Value};

const NANOS_PER_MS: u128 = 1_000_000;
/// Units from the largest, in nanoseconds.
const UNITS: [(&str, u128); 4] = [
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
];

impl Predicate {
    /// What a passing result looks like: `200` for `== 200`, `< 800ms`,
    /// `contains "Welcome"`, `exists`, `in [200, 201]`.
    pub fn expected_text(&self) -> String {
        match self {
            Predicate::Eq(v) => v.to_string(),
            other => other.to_string(),
        }
    }
}

impl Display for Predicate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::Eq(v) => write!(f, "== {v}"),
            Predicate::Ne(v) => write!(f, "!= {v}"),
            Predicate::Lt(v) => write!(f, "< {v}"),
            Predicate::Le(v) => write!(f, "<= {v}"),
            Predicate::Gt(v) => write!(f, "> {v}"),
            Predicate::Ge(v) => write!(f, ">= {v}"),
            Predicate::Contains(v) => write!(f, "contains {v}"),
            Predicate::NotContains(v) => write!(f, "not contains {v}"),
            Predicate::Matches(p) => write!(f, "matches {}", quote(p.as_str())),
            Predicate::Exists => f.write_str("exists"),
            Predicate::NotExists => f.write_str("not exists"),
            Predicate::In(values) => write!(f, "in {}", List(values)),
        }
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => f.write_str(&quote(s)),
            Value::Duration(d) => f.write_str(&format_duration(*d)),
            Value::Percent(p) => write!(f, "{p}%"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Null => f.write_str("null"),
            Value::List(values) => write!(f, "{}", List(values)),
        }
    }
}

struct List<'a>(&'a [Value]);

impl Display for List<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}")?;
        }
        f.write_str("]")
    }
}

impl Display for Subject {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let arg = match self {
            Subject::Header(s) | Subject::Cookie(s) => s.as_str(),
            Subject::JsonPath(p) => p.as_str(),
            Subject::Regex(p) => p.as_str(),
            _ => return f.write_str(self.name()),
        };
        write!(f, "{} {}", self.name(), quote(arg))
    }
}

impl Display for Filter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Regex(p) => write!(f, "regex {}", quote(p.as_str())),
            _ => f.write_str(self.name()),
        }
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.subject)?;
        for filter in &self.filters {
            write!(f, " {filter}")?;
        }
        Ok(())
    }
}

impl Display for Assertion {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.query, self.predicate)
    }
}

/// A double-quoted string literal that parses back to `s`. Backslashes
/// are doubled only when one of them would read as an escape, so a regex
/// such as `\d+` stays as written.
pub(super) fn quote(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let double_backslashes = chars.iter().enumerate().any(|(i, &c)| {
        c == '\\' && matches!(chars.get(i + 1), None | Some('"' | '\\' | 'n' | 't'))
    });
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in chars {
        match c {
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' if double_backslashes => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A duration in the largest unit that shows it whole, seconds with up to
/// three decimals (`800ms`, `1.5s`, `90s`, `30d`), as users write them.
pub(super) fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    for (unit, size) in UNITS {
        let decimals = if unit == "s" { 3 } else { 0 };
        if nanos >= size && (nanos * 10u128.pow(decimals)).is_multiple_of(size) {
            return format!("{}{unit}", decimal(nanos, size, decimals));
        }
    }
    format!("{}ms", decimal(nanos, NANOS_PER_MS, 6))
}

/// `n / unit` with up to `digits` decimals, trailing zeros trimmed.
fn decimal(n: u128, unit: u128, digits: u32) -> String {
    let whole = n / unit;
    let frac = (n % unit) * 10u128.pow(digits) / unit;
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0width$}", width = digits as usize);
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// A measured time in milliseconds, for `actual`: `13.2ms`, `1.234s`,
/// `2m 30s`, `29d 23h`, negative for an expired certificate. Truncated,
/// never rounded up, so `29d 23h` cannot read as `30d`.
pub(super) fn format_ms(ms: f64) -> String {
    if ms.is_nan() {
        return "NaN".to_owned();
    }
    if ms < 0.0 {
        return format!("-{}", format_ms(-ms));
    }
    if ms < 1.0 {
        return format!("{}ms", trimmed(ms, 3));
    }
    if ms < 1000.0 {
        return format!("{}ms", trimmed(ms, 1));
    }
    if ms < 60_000.0 {
        return format!("{}s", trimmed(ms / 1000.0, 3));
    }
    // Whole seconds from here on; the two largest units are enough.
    let secs = (ms / 1000.0) as u64;
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3_600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    let first = parts.iter().position(|p| p.0 > 0).unwrap_or(3);
    let mut out = format!("{}{}", parts[first].0, parts[first].1);
    if let Some((n, unit)) = parts.get(first + 1).filter(|p| p.0 > 0) {
        out.push_str(&format!(" {n}{unit}"));
    }
    out
}

/// `x` truncated to `digits` decimals, trailing zeros trimmed.
fn trimmed(x: f64, digits: i32) -> String {
    let scale = 10f64.powi(digits);
    let t = (x * scale).trunc() / scale;
    let s = format!("{t:.prec$}", prec = digits as usize);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_render_in_the_largest_exact_unit() {
        let cases = [
            (Duration::from_millis(800), "800ms"),
            (Duration::from_secs(2), "2s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(30 * 86_400), "30d"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(36 * 3600), "36h"),
            (Duration::from_secs(25 * 3600), "25h"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_nanos(1), "0.000001ms"),
            (Duration::ZERO, "0ms"),
        ];
        for (d, want) in cases {
            assert_eq!(format_duration(d), want);
        }
    }

    #[test]
    fn measured_times_render_short() {
        let cases = [
            (13.27, "13.2ms"),
            (0.0421, "0.042ms"),
            (0.0, "0ms"),
            (999.99, "999.9ms"),
            (1234.5678, "1.234s"),
            (2000.0, "2s"),
            (150_500.0, "2m 30s"),
            (3_600_000.0, "1h"),
            (86_400_000.0 * 30.0 - 1.0, "29d 23h"),
            (-86_400_000.0 * 3.0, "-3d"),
        ];
        for (ms, want) in cases {
            assert_eq!(format_ms(ms), want, "{ms}");
        }
    }

    #[test]
    fn quote_escapes_only_what_the_lexer_reads_as_escapes() {
        let cases = [
            ("Welcome", r#""Welcome""#),
            (r"\d+", r#""\d+""#),
            ("say \"hi\"", r#""say \"hi\"""#),
            (r"a\\b", r#""a\\\\b""#),
            (r"a\nb", r#""a\\nb""#),
            ("tab\there", r#""tab\there""#),
            (r"end\", r#""end\\""#),
            (r"\d\n", r#""\\d\\n""#),
        ];
        for (s, want) in cases {
            assert_eq!(quote(s), want, "{s}");
        }
    }

    #[test]
    fn values_render_like_the_language() {
        let cases = [
            (Value::Number(200.0), "200"),
            (Value::Number(-1.5), "-1.5"),
            (Value::String("1.3".into()), r#""1.3""#),
            (Value::Bool(true), "true"),
            (Value::Null, "null"),
            (
                Value::List(vec![Value::Number(200.0), Value::Number(201.0)]),
                "[200, 201]",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(v.to_string(), want);
        }
    }
}
