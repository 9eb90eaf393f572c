//! The evidence of a failed step on the status page: what the probe saw
//! of the response, every byte of it HTML-escaped (the body is whatever the
//! target sent, markup included), and a browser step's screenshot.

use std::fmt::Write as _;

use scenarios::wire::{Evidence, Screenshot};

use super::render::escape;

/// Status line, remote address, headers table and body in a `<pre>`, with
/// a marker when the body was cut; a browser step's screenshot instead.
pub fn section(evidence: &Evidence) -> String {
    if let Some(shot) = &evidence.screenshot {
        return screenshot(shot);
    }
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

/// The page as the browser rendered it, inline (the page's policy allows
/// `data:` images). Anything but base64 PNG data is not shown.
fn screenshot(shot: &Screenshot) -> String {
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    if shot.content_type != "image/png" || !shot.data.chars().all(base64) {
        return "<div class=\"evidence\"><h4>Screenshot</h4><p>not an image</p></div>".into();
    }
    format!(
        "<div class=\"evidence\"><h4>Screenshot</h4>\
         <img alt=\"the page when the step failed\" style=\"max-width:100%\" \
         src=\"data:image/png;base64,{}\"></div>",
        shot.data
    )
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

    #[test]
    fn a_screenshot_is_an_inline_png_and_nothing_else_is_let_in() {
        let shot = |content_type: &str, data: &str| Evidence {
            screenshot: Some(Screenshot {
                content_type: content_type.into(),
                data: data.into(),
            }),
            ..Evidence::default()
        };
        let html = section(&shot("image/png", "iVBORw0KGgo="));
        assert!(
            html.contains("src=\"data:image/png;base64,iVBORw0KGgo=\""),
            "{html}"
        );
        let html = section(&shot("image/png", "\"><script>alert(1)</script>"));
        assert!(
            !html.contains("<script>") && html.contains("not an image"),
            "{html}"
        );
        let html = section(&shot("text/html", "iVBORw0KGgo="));
        assert!(!html.contains("<img"), "{html}");
    }
}
