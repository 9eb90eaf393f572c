//! The evidence of a failed step on the status page: what the probe saw
//! of the response, every byte of it HTML-escaped (the body is whatever the
//! target sent, markup included).

use std::fmt::Write as _;

use scenarios::wire::Evidence;

use super::render::escape;

/// Status line, remote address, headers table and body in a `<pre>`, with
/// a marker when the body was cut.
pub fn section(evidence: &Evidence) -> String {
    let mut out = String::from("<div class=\"evidence\"><h4>Response</h4><p>");
    match &evidence.status_line {
        Some(line) => {
            let _ = write!(out, "<code>{}</code>", escape(line));
        }
        None => out.push_str("no response"),
    }
    if let Some(addr) = &evidence.remote_addr {
        let _ = write!(out, " · from <code>{}</code>", escape(addr));
    }
    out.push_str("</p>");
    if !evidence.headers.is_empty() {
        out.push_str("<table><thead><tr><th>header</th><th>value</th></tr></thead><tbody>");
        for (name, value) in &evidence.headers {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
                escape(name),
                escape(value)
            );
        }
        out.push_str("</tbody></table>");
    }
    if let Some(body) = &evidence.body {
        let _ = write!(out, "<pre class=\"body\">{}</pre>", escape(body));
        if evidence.body_truncated {
            let _ = write!(
                out,
                "<p class=\"muted-text\">truncated: first {} of {} bytes shown</p>",
                body.len(),
                evidence.body_bytes
            );
        }
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_escaped_and_a_cut_is_marked() {
        let evidence = Evidence {
            status_line: Some("HTTP/1.1 500 Internal Server Error".into()),
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: Some("<script>alert(1)</script>".into()),
            body_bytes: 9000,
            body_truncated: true,
            remote_addr: Some("127.0.0.1:8080".into()),
            screenshot: None,
        };
        let html = section(&evidence);
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("HTTP/1.1 500 Internal Server Error"));
        assert!(html.contains("<code>127.0.0.1:8080</code>"));
        assert!(html.contains("truncated: first 25 of 9000 bytes shown"));
    }
}
