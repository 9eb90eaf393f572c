//! Hurl's `[Options]` that have a step key, and `[BasicAuth]` as the
//! `Authorization` header it stands for.

use base64::Engine as _;

/// The step keys that Hurl options set.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StepOptions {
    /// `follow_redirects` (`location`).
    pub follow_redirects: bool,
    /// `forward_headers` (`location-trusted`: credentials go along to
    /// another origin too).
    pub forward_headers: bool,
    /// `max_redirects` (`max-redirs`).
    pub max_redirects: Option<u32>,
    /// `http` (`http1.1`, `http2`).
    pub http: Option<&'static str>,
    /// `tls.insecure` (`insecure`).
    pub insecure: bool,
}

/// The options Hurl has that map, for messages.
pub const MAPPED: &str = "`location`, `location-trusted`, `max-redirs`, `insecure`, `http1.1` and `http2` have equivalents";

impl StepOptions {
    /// Applies one `name: value` line; `Err` says what is not supported.
    /// A boolean option set to `false` is Hurl's default and changes nothing.
    pub fn apply(&mut self, name: &str, value: &str) -> Result<(), String> {
        let on = match value {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
        match (name, on) {
            ("location", Some(on)) => self.follow_redirects |= on,
            ("location-trusted", Some(on)) => {
                self.follow_redirects |= on;
                self.forward_headers |= on;
            }
            ("insecure", Some(on)) => self.insecure |= on,
            ("http1.1", Some(true)) => self.http = Some("1.1"),
            ("http2", Some(true)) => self.http = Some("2"),
            ("http1.1" | "http2", Some(false)) => {}
            ("max-redirs", None) => match value.parse::<u32>() {
                Ok(n) => self.max_redirects = Some(n),
                Err(_) => {
                    return Err(format!(
                        "`max-redirs: {value}` is not a number of redirects (-1, unlimited, has no equivalent)"
                    ));
                }
            },
            ("location" | "location-trusted" | "insecure" | "http1.1" | "http2", None) => {
                return Err(format!(
                    "option `{name}` takes `true` or `false`, not `{value}`"
                ));
            }
            _ => return Err(format!("option `{name}` is not supported")),
        }
        Ok(())
    }
}

/// The `Authorization` value `[BasicAuth]`'s `user: password` sends.
pub fn basic_authorization(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}
