//! What a step records about its request comes from the masked rendering,
//! never from the one sent with redaction applied afterwards: a secret that
//! is also common text (`1`) then masks only its own place, and one the URL
//! parser rewrites (a non-ASCII host, sent as punycode) is masked all the
//! same.

use scenarios::wire::{REDACTED, redact};
use url::Url;

/// The URL a step records, beside the one it sends.
#[derive(Debug, Clone)]
pub struct RecordedUrl {
    text: String,
    /// The masked rendering parsed as the sent URL is; `None` when `***`
    /// stands where the parser wants something else (a port).
    parsed: Option<Url>,
}

impl RecordedUrl {
    /// From the masked rendering of the step's URL: normalised like the sent
    /// URL when it parses, else as rendered.
    pub fn new(shown: String) -> Self {
        match Url::parse(&shown) {
            Ok(url) => Self {
                text: url.to_string(),
                parsed: Some(url),
            },
            Err(_) => Self {
                text: shown,
                parsed: None,
            },
        }
    }

    /// For a rendering with no secret in it: the sent URL, already parsed.
    pub fn unmasked(sent: &Url) -> Self {
        Self {
            text: sent.to_string(),
            parsed: Some(sent.clone()),
        }
    }

    /// The next hop: `location` (the target's text, redacted as any
    /// response is) resolved against this URL as the sent one is against
    /// the sent URL, so that a relative location keeps the masked host.
    #[must_use]
    pub fn follow(&self, location: &str, next: &Url, secrets: &[&str]) -> Self {
        let location = redact(location, secrets);
        match self.parsed.as_ref().and_then(|u| u.join(&location).ok()) {
            Some(url) => Self {
                text: url.to_string(),
                parsed: Some(url),
            },
            None => Self::new(redact(next.as_str(), secrets)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A message about the request sent to `sent` (a network failure that
    /// names its URL or host), in the recorded terms.
    pub fn describe(&self, sent: &Url, message: &str) -> String {
        let out = message.replace(sent.as_str(), &self.text);
        match (
            sent.host_str(),
            self.parsed.as_ref().and_then(Url::host_str),
        ) {
            (Some(real), Some(shown)) if real != shown => out.replace(real, shown),
            // The masked rendering does not say where the secret was (all
            // of the URL was one): a host it does not show came from it.
            (Some(real), None) if !self.text.contains(real) => out.replace(real, REDACTED),
            _ => out,
        }
    }
}

/// A message about a target given as text (the `host:port` of a `tcp` or
/// `tls` step, the query of a `dns` step), in the recorded terms: the text
/// sent, and its host, replaced by what the masked rendering has there.
pub fn describe_target(sent: &str, shown: &str, message: &str) -> String {
    if sent == shown {
        return message.to_string();
    }
    let out = message.replace(sent, shown);
    match (sent.rsplit_once(':'), shown.rsplit_once(':')) {
        (Some((real, _)), Some((masked, _))) if !real.is_empty() && real != masked => {
            out.replace(real, masked)
        }
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_message_names_the_masked_host() {
        assert_eq!(
            describe_target(
                "tenant-1.sonde.test:443",
                "***.sonde.test:443",
                "resolving tenant-1.sonde.test: NXDOMAIN"
            ),
            "resolving ***.sonde.test: NXDOMAIN"
        );
        assert_eq!(
            describe_target("h:1", "h:1", "connecting to h:1: refused"),
            "connecting to h:1: refused"
        );
    }

    fn sent(text: &str) -> Url {
        Url::parse(text).expect("valid URL")
    }

    #[test]
    fn a_masked_host_stays_masked_through_a_relative_redirect() {
        let first = RecordedUrl::new("http://***.sonde.test:8080/start".into());
        assert_eq!(first.as_str(), "http://***.sonde.test:8080/start");
        let next = sent("http://xn--bcher-kva.sonde.test:8080/landing?k=s3cr3t");
        let hop = first.follow("/landing?k=s3cr3t", &next, &["s3cr3t"]);
        assert_eq!(hop.as_str(), "http://***.sonde.test:8080/landing?k=***");
        assert_eq!(
            hop.describe(&next, "resolving xn--bcher-kva.sonde.test: NXDOMAIN"),
            "resolving ***.sonde.test: NXDOMAIN"
        );
    }

    #[test]
    fn a_host_inside_a_secret_url_is_masked_in_messages() {
        let whole = RecordedUrl::new(REDACTED.into());
        let url = sent("https://tenant.example.com/x");
        assert_eq!(whole.as_str(), "***");
        assert_eq!(
            whole.describe(&url, "resolving tenant.example.com: NXDOMAIN"),
            "resolving ***: NXDOMAIN"
        );
        let port = RecordedUrl::new("http://h.test:***/x".into());
        assert_eq!(
            port.describe(&sent("http://h.test:81/x"), "connecting to h.test"),
            "connecting to h.test"
        );
    }

    #[test]
    fn a_rendering_that_does_not_parse_is_recorded_as_rendered() {
        let userinfo = RecordedUrl::new("http://ann:***@h.test/".into());
        assert_eq!(userinfo.as_str(), "http://ann:***@h.test/");
        let masked = RecordedUrl::new("http://h:***/x".into());
        assert_eq!(masked.as_str(), "http://h:***/x");
        let next = sent("http://other.test/y?t=s3cr3t");
        assert_eq!(
            masked.follow("/y", &next, &["s3cr3t"]).as_str(),
            "http://other.test/y?t=***"
        );
    }
}
