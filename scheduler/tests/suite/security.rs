//! What the scheduler's pages promise a browser: every HTML answer carries
//! a Content-Security-Policy that allows no inline script, and refuses
//! framing, sniffing and referrers; the page's one script is a file of the
//! scheduler's own.

use axum::http::StatusCode;

use crate::common::TestApp;

#[tokio::test]
async fn every_html_answer_carries_the_security_headers_and_no_inline_script() {
    let t = TestApp::new().await;
    for (path, status) in [
        ("/", StatusCode::OK),
        ("/scenarios/checkout", StatusCode::OK),
        ("/scenarios/no-such-thing", StatusCode::NOT_FOUND),
    ] {
        let r = t.get(path).await;
        assert_eq!(r.status, status, "{path}");
        assert_eq!(
            r.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
        let page = r.text();
        let inline = page
            .match_indices("<script")
            .any(|(i, _)| !page[i..].starts_with("<script src="));
        assert!(!inline, "{path} has an inline script");
    }
    let script = t.get("/status.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(script.text().contains("setInterval"));
    assert!(
        t.get("/")
            .await
            .text()
            .contains("<script src=\"/status.js\" defer></script>")
    );
}
