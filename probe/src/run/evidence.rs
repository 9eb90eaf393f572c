//! What a failed HTTP step keeps of the response for a person to see why:
//! status line, headers with credentials masked, and the start of the
//! body, redacted before it is cut.

use std::net::SocketAddr;

use scenarios::wire::{self, Evidence, REDACTED};

use crate::net::{HttpResponse, ResponseHead};

/// Evidence of a response that came back.
pub fn of_response(resp: &HttpResponse, cap: usize, secrets: &[&str]) -> Evidence {
    let content_type = resp
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str());
    let (body, body_truncated) = shown_body(&resp.body, content_type, cap, secrets);
    Evidence {
        body: Some(body),
        body_bytes: resp.body.len() as u64,
        body_truncated,
        ..of_head(
            resp.status,
            resp.version,
            &resp.headers,
            resp.remote,
            secrets,
        )
    }
}

/// Evidence of a response whose body never arrived whole (cut by the
/// deadline or the connection): its status line and headers.
pub fn of_cut_response(head: &ResponseHead, remote: SocketAddr, secrets: &[&str]) -> Evidence {
    of_head(head.status, head.version, &head.headers, remote, secrets)
}

fn of_head(
    status: u16,
    version: &str,
    headers: &[(String, String)],
    remote: SocketAddr,
    secrets: &[&str],
) -> Evidence {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    let status_line = match reason {
        Some(reason) => format!("{version} {status} {reason}"),
        None => format!("{version} {status}"),
    };
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (
                name.clone(),
                wire::redact(&masked_header(name, value), secrets),
            )
        })
        .collect();
    Evidence {
        status_line: Some(status_line),
        headers,
        remote_addr: Some(remote.to_string()),
        ..Evidence::default()
    }
}

/// Evidence of a step that connected but got no (complete) response.
pub fn of_connection(remote: SocketAddr) -> Evidence {
    Evidence {
        remote_addr: Some(remote.to_string()),
        ..Evidence::default()
    }
}

/// Response headers whose value is a credential whatever it holds.
const CREDENTIAL_PARTS: [&str; 6] = [
    "authorization",
    "cookie",
    "token",
    "secret",
    "password",
    "api-key",
];

/// `Set-Cookie` keeps the cookie's name only (`name=***`): the value is a
/// session. Authorization-like headers keep nothing of their value.
fn masked_header(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower == "set-cookie" {
        let cookie = value.split(';').next().unwrap_or("");
        return match cookie.split_once('=') {
            Some((cookie_name, _)) => format!("{}={REDACTED}", cookie_name.trim()),
            None => REDACTED.to_string(),
        };
    }
    if CREDENTIAL_PARTS.iter().any(|part| lower.contains(part)) {
        return REDACTED.to_string();
    }
    value.to_string()
}

/// The body as shown, and whether it was cut. Only a window a little
/// longer than the cap is looked at, so a 64 MiB body costs no more than a
/// small one; the margin holds any secret (in any encoded form) that starts
/// before the cap, so it is redacted whole before the cut.
fn shown_body(
    body: &[u8],
    content_type: Option<&str>,
    cap: usize,
    secrets: &[&str],
) -> (String, bool) {
    let longest = secrets.iter().map(|s| s.len()).max().unwrap_or(0);
    // `\uXXXX` JSON escapes are the widest form: six bytes per byte.
    let window_len = cap
        .saturating_add(longest.saturating_mul(6))
        .saturating_add(8);
    let window = &body[..body.len().min(window_len)];
    let text = match std::str::from_utf8(window) {
        Ok(text) => text,
        // A character cut by the window's end is not a sign of binary.
        Err(e) if e.error_len().is_none() && window.len() < body.len() => {
            std::str::from_utf8(&window[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return (binary(body.len(), content_type), false),
    };
    if text.contains('\0') || content_type.is_some_and(is_binary_type) {
        return (binary(body.len(), content_type), false);
    }
    let redacted = wire::redact(text, secrets);
    let mut end = redacted.len().min(cap);
    while !redacted.is_char_boundary(end) {
        end -= 1;
    }
    let cut = end < redacted.len() || window.len() < body.len();
    (redacted[..end].to_string(), cut)
}

/// `<binary: 2,048 bytes, image/png>`.
fn binary(len: usize, content_type: Option<&str>) -> String {
    let size = thousands(len);
    let unit = if len == 1 { "byte" } else { "bytes" };
    match content_type.map(|c| c.split(';').next().unwrap_or("").trim()) {
        Some(kind) if !kind.is_empty() => format!("<binary: {size} {unit}, {kind}>"),
        _ => format!("<binary: {size} {unit}>"),
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Media types whose bytes mean nothing as text.
fn is_binary_type(content_type: &str) -> bool {
    let kind = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let textual = kind.starts_with("text/")
        || kind.ends_with("+json")
        || kind.ends_with("+xml")
        || matches!(
            kind.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
                | "application/problem+json"
                | "application/graphql"
                | ""
        );
    let binary = ["image/", "audio/", "video/", "font/"]
        .iter()
        .any(|p| kind.starts_with(p))
        || matches!(
            kind.as_str(),
            "application/octet-stream"
                | "application/pdf"
                | "application/zip"
                | "application/gzip"
                | "application/x-protobuf"
                | "application/protobuf"
                | "application/grpc"
                | "application/wasm"
        );
    binary && !textual
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2048), "2,048");
        assert_eq!(thousands(67_108_864), "67,108,864");
        assert_eq!(
            binary(2048, Some("image/png; q=1")),
            "<binary: 2,048 bytes, image/png>"
        );
    }

    #[test]
    fn cut_falls_on_a_character_boundary() {
        let (body, cut) = shown_body("ééé".as_bytes(), None, 3, &[]);
        assert_eq!((body.as_str(), cut), ("é", true));
    }

    #[test]
    fn a_secret_across_the_cap_is_masked_whole() {
        let text = format!("{}hunter2-long", "x".repeat(8));
        let (body, cut) = shown_body(text.as_bytes(), None, 10, &["hunter2-long"]);
        assert_eq!((body.as_str(), cut), ("xxxxxxxx**", true));
    }

    #[test]
    fn set_cookie_keeps_its_name() {
        assert_eq!(masked_header("Set-Cookie", "sid=abc; Path=/"), "sid=***");
        assert_eq!(masked_header("X-Auth-Token", "abc"), "***");
        assert_eq!(masked_header("Content-Type", "text/plain"), "text/plain");
    }
}
