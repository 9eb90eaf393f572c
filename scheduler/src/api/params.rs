//! Query parameters shared by the read API.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::error::ApiError;

/// Longest span a query may ask for (`window`, `since`).
pub const MAX_SPAN: Duration = Duration::from_secs(90 * 86_400);

/// A duration parameter such as `window=1h`: `default` when absent or
/// empty, else 1 ms to [`MAX_SPAN`].
pub fn duration(name: &str, text: Option<&str>, default: Duration) -> Result<Duration, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    match scenarios::duration::parse(text) {
        Ok(d) if !d.is_zero() && d <= MAX_SPAN => Ok(d),
        _ => Err(ApiError::bad_request(format!(
            "invalid `{name}` `{text}`; expected a duration from 1ms to 90d, such as `1h`"
        ))),
    }
}

/// Which end of a span a time parameter gives: a bare date is the start
/// of its day for `from` and the end of it for `to`, so that
/// `from=2026-11-01&to=2026-11-30` is the whole of November.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    From,
    To,
}

/// A time parameter: RFC 3339 (`2026-11-01T00:00:00Z`), a UTC date
/// (`2026-11-01`), or a duration back from `now` (`7d`); `default` when
/// absent or empty.
pub fn instant(
    name: &str,
    text: Option<&str>,
    end: End,
    now: DateTime<Utc>,
    default: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    if let Ok(t) = scenarios::wire::time::parse(text) {
        return Ok(t);
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = match end {
            End::From => Some(date),
            End::To => date.succ_opt(),
        };
        if let Some(t) = day.and_then(|d| d.and_hms_opt(0, 0, 0)) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(back) = scenarios::duration::parse(text)
        && let Ok(back) = chrono::Duration::from_std(back)
        && let Some(t) = now.checked_sub_signed(back)
    {
        return Ok(t);
    }
    Err(ApiError::bad_request(format!(
        "invalid `{name}` `{text}`; expected an RFC 3339 time (2026-11-01T00:00:00Z), a date (2026-11-01) or a duration back from now (7d)"
    )))
}
