//! Times on the wire: RFC 3339 in UTC with exactly three fractional digits
//! and `Z`, e.g. `2026-11-24T10:00:00.004Z`.
//!
//! Use it as `#[serde(with = "scenarios::wire::time")]`, or
//! `scenarios::wire::time::option` for an `Option<DateTime<Utc>>`.
//! Writing truncates below the millisecond; reading accepts any RFC 3339
//! time (any offset, any precision) and converts it to UTC.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer, de};

/// Formats `t` the wire's way: `2026-11-24T10:00:00.004Z`.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 time with any offset into UTC.
///
/// # Errors
///
/// When `s` is not an RFC 3339 date and time.
pub fn parse(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

/// Serde `serialize_with` for a `DateTime<Utc>`.
///
/// # Errors
///
/// Only those of the serializer.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(t))
}

/// Serde `deserialize_with` for a `DateTime<Utc>`.
///
/// # Errors
///
/// When the value is not a string holding an RFC 3339 time.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(deserializer)?;
    parse_de(&s)
}

fn parse_de<E: de::Error>(s: &str) -> Result<DateTime<Utc>, E> {
    parse(s).map_err(|e| {
        E::custom(format_args!(
            "invalid time {s:?} ({e}); expected RFC 3339 such as \"2026-11-24T10:00:00.004Z\""
        ))
    })
}

/// The same format for an `Option<DateTime<Utc>>`; `None` is `null`.
pub mod option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serde `serialize_with` for an `Option<DateTime<Utc>>`.
    ///
    /// # Errors
    ///
    /// Only those of the serializer.
    pub fn serialize<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => serializer.serialize_some(&super::format(t)),
            None => serializer.serialize_none(),
        }
    }

    /// Serde `deserialize_with` for an `Option<DateTime<Utc>>`.
    ///
    /// # Errors
    ///
    /// When the value is neither `null` nor a string holding an RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|s| super::parse_de(&s))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct At {
        #[serde(with = "super")]
        at: DateTime<Utc>,
        #[serde(with = "super::option")]
        maybe: Option<DateTime<Utc>>,
    }

    fn ten_o_clock() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
            .single()
            .expect("valid date")
    }

    #[test]
    fn writes_three_millisecond_digits_and_z() {
        let at = At {
            at: ten_o_clock() + Duration::milliseconds(4),
            maybe: Some(ten_o_clock()),
        };
        let json = serde_json::to_string(&at).expect("serializes");
        assert_eq!(
            json,
            r#"{"at":"2026-11-24T10:00:00.004Z","maybe":"2026-11-24T10:00:00.000Z"}"#
        );
        let back: At = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, at);
    }

    #[test]
    fn truncates_below_the_millisecond() {
        let t = ten_o_clock() + Duration::microseconds(4_999);
        assert_eq!(format(&t), "2026-11-24T10:00:00.004Z");
    }

    #[test]
    fn null_and_offsets_are_read() {
        let json = r#"{"at":"2026-11-24T12:00:00.5+02:00","maybe":null}"#;
        let at: At = serde_json::from_str(json).expect("parses");
        assert_eq!(at.at, ten_o_clock() + Duration::milliseconds(500));
        assert_eq!(at.maybe, None);
    }

    #[test]
    fn a_bad_time_says_what_was_expected() {
        let err = serde_json::from_str::<At>(r#"{"at":"yesterday","maybe":null}"#)
            .expect_err("not a time");
        assert!(err.to_string().contains("expected RFC 3339"), "{err}");
    }
}
