//! HTML helpers: escaping, the page shell (inline CSS, the small refresh
//! script), durations and ages.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment or query value (everything but RFC 3986
/// unreserved characters), which also makes it safe inside an attribute.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `3.2 ms`, `1.24 s`.
pub fn ms(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.2} s", value / 1000.0)
    } else if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// How long ago an RFC 3339 time was: `4s ago`, `3m ago`; the text as is
/// when it does not parse.
pub fn age(at: &str, now: DateTime<Utc>) -> String {
    match DateTime::parse_from_rfc3339(at) {
        Ok(t) => ago(now.signed_duration_since(t.with_timezone(&Utc))),
        Err(_) => at.to_owned(),
    }
}

fn ago(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    if s < 60 {
        format!("{s}s ago")
    } else if s < 3600 {
        format!("{}m ago", s / 60)
    } else if s < 86_400 {
        format!("{}h ago", s / 3600)
    } else {
        format!("{}d ago", s / 86_400)
    }
}

/// A whole page: `title` (escaped here) and `main`, already HTML.
pub fn page(title: &str, main: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<noscript><meta http-equiv="refresh" content="30"></noscript>
<style>{CSS}</style>
</head>
<body>
<header><a class="brand" href="/">Sonde</a> <span class="muted-text">status</span></header>
<main>
{main}
</main>
<footer>Refreshes every 10 s. Data: <a href="/api/v1/scenarios">/api/v1</a> · <a href="/metrics">/metrics</a></footer>
<script src="/status.js" defer></script>
</body>
</html>
"#,
        title = escape(title),
    )
}

/// Fetches the page again every 10 s and swaps `<main>`, keeping the
/// scroll position. Without JavaScript the `<noscript>` refresh applies.
/// Served as `/status.js`: the page's `Content-Security-Policy` allows no
/// inline script, so an injected `<script>` could never run.
pub const SCRIPT: &str = "setInterval(function(){fetch(location.href,{cache:'no-store'}).then(function(r){return r.ok?r.text():null}).then(function(t){if(!t)return;var m=new DOMParser().parseFromString(t,'text/html').querySelector('main');var o=document.querySelector('main');if(!m||!o)return;var x=window.scrollX,y=window.scrollY;o.replaceWith(m);window.scrollTo(x,y);}).catch(function(){});},10000);";

const CSS: &str = "
:root{--up:#1a7f37;--down:#cf222e;--degraded:#bf8700;--unknown:#6e7781;--muted:#8250df;--maintenance:#0969da;--bg:#f6f8fa;--fg:#1f2328;--line:#d0d7de}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header,footer{padding:.6rem 1rem;background:#24292f;color:#fff}
footer{background:none;color:var(--unknown);font-size:12px}
header a,footer a{color:inherit}
.brand{font-weight:700;text-decoration:none}
main{padding:1rem;max-width:1400px;margin:0 auto}
h1{font-size:1.4rem;margin:.2rem 0 .6rem}
h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.8rem;margin-bottom:1rem;overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;white-space:nowrap}
pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre}
.muted-text{color:var(--unknown)}
.notice{border-color:#d29922;background:#fff8e6}
.grid{display:grid;grid-template-columns:minmax(9rem,14rem) repeat(var(--cols),minmax(7.5rem,1fr));gap:4px}
.grid .head{font-weight:600;font-size:12px;color:var(--unknown);align-self:end}
.grid .name{align-self:center;overflow-wrap:anywhere}
.grid .name small{display:block;color:var(--unknown)}
.cell{border-radius:4px;padding:.35rem .5rem;color:#fff;min-height:3.2rem;font-size:12px}
.cell b{display:block;font-size:13px;text-transform:uppercase;letter-spacing:.03em}
.cell .r{display:none}
.cell-up{background:var(--up)}.cell-down{background:var(--down)}.cell-degraded{background:var(--degraded)}
.cell-unknown{background:var(--unknown)}.cell-muted{background:var(--muted)}.cell-maintenance{background:var(--maintenance)}
.cell-none{background:repeating-linear-gradient(45deg,#eaeef2,#eaeef2 6px,#f6f8fa 6px,#f6f8fa 12px);color:var(--unknown)}
.pill{display:inline-block;border-radius:10px;padding:0 .5rem;color:#fff;font-size:12px}
.ok{color:var(--up)}.bad{color:var(--down)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:1rem}
svg{width:100%;height:auto;display:block}
svg text{font:11px system-ui,sans-serif;fill:#57606a}
.legend span{display:inline-block;margin-right:.8rem;font-size:12px}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.25rem;vertical-align:-1px}
@media (max-width:700px){
 main{padding:.5rem}
 .grid{grid-template-columns:repeat(2,1fr)}
 .grid .head{display:none}
 .grid .name{grid-column:1/-1;margin-top:.5rem}
 .cell .r{display:block;font-weight:600}
 th,td{padding:.25rem .3rem}
}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x&'y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode("a b/<c>\""), "a%20b%2F%3Cc%3E%22");
        assert_eq!(encode("check-out_1.x"), "check-out_1.x");
    }

    #[test]
    fn ages_and_durations() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        assert_eq!(age("2026-01-01T00:09:55.000Z", now), "5s ago");
        assert_eq!(age("2026-01-01T00:00:00Z", now), "10m ago");
        assert_eq!(age("nonsense", now), "nonsense");
        assert_eq!(ms(3.24), "3.2 ms");
        assert_eq!(ms(1240.0), "1.24 s");
    }
}
