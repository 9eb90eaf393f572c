//! What a failed step leaves behind for a person to see why: the response
//! as received (status line, headers, the start of the body), the peer's
//! address and, for browser steps, a screenshot.

use serde::{Deserialize, Serialize};

/// The default cap on an evidence body in bytes (`--evidence-bytes`).
pub const EVIDENCE_BODY_BYTES: usize = 4096;

/// Evidence of a failed HTTP (or browser) step. Only what existed is
/// filled: a connection that failed before a response still has its
/// `remote_addr`. Everything here is redacted like the rest of the result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The response's status line, e.g. `HTTP/1.1 503 Service Unavailable`;
    /// `null` when no response came.
    pub status_line: Option<String>,
    /// Response headers in the order received, as `[name, value]` pairs;
    /// `Set-Cookie` values are masked (`name=***`).
    pub headers: Vec<(String, String)>,
    /// The start of the body as text, redacted then cut at the cap on a
    /// UTF-8 boundary; a binary body is described instead, as
    /// `<binary: 2,048 bytes, image/png>`. `null` when no body was read.
    pub body: Option<String>,
    /// How many body bytes were received (before the cut).
    pub body_bytes: u64,
    /// Whether `body` was cut at the cap.
    pub body_truncated: bool,
    /// The address connected to, e.g. `127.0.0.1:8080`; `null` when no
    /// connection was made.
    pub remote_addr: Option<String>,
    /// A screenshot of a browser step; `null` for HTTP steps.
    pub screenshot: Option<Screenshot>,
}

/// An image taken of a browser page when its step failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Screenshot {
    /// Its media type, e.g. `image/png`.
    pub content_type: String,
    /// The image, base64 (standard alphabet, padded).
    pub data: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_writes_every_field() {
        let json = serde_json::to_string(&Evidence::default()).expect("serializes");
        assert_eq!(
            json,
            r#"{"status_line":null,"headers":[],"body":null,"body_bytes":0,"body_truncated":false,"remote_addr":null,"screenshot":null}"#
        );
    }

    #[test]
    fn headers_are_name_value_pairs() {
        let evidence = Evidence {
            headers: vec![("Content-Type".into(), "text/plain".into())],
            ..Evidence::default()
        };
        let json = serde_json::to_string(&evidence).expect("serializes");
        assert!(json.contains(r#""headers":[["Content-Type","text/plain"]]"#));
        let back: Evidence = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, evidence);
    }
}
