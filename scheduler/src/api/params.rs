//! Query parameters shared by the read API.

use std::time::Duration;

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
