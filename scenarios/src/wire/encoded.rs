//! Finding a secret in the forms it comes back in: percent-encoded (upper
//! or lower hex, `+` for a space), JSON-escaped, base64 (standard or
//! URL-safe, with or without padding, also inside `user:secret` as Basic
//! auth carries it), and case-folded (a host name is lowercased). Each
//! decoder reads the text as a sequence of decoded bytes, each with the
//! span of the text it came from, so a match replaces exactly the encoded
//! text, whatever mixture of escaped and plain characters it is.

use std::ops::Range;

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

/// Spans of `text` that carry one of `secrets` in an encoded form.
pub fn encoded_spans(text: &str, secrets: &[&str]) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let json = json_view(&plain_view(text));
    // A value quoted as a JSON string inside a text that is quoted again
    // (an assertion's `actual` quoting a JSON body) is escaped twice.
    let json_twice = json_view(&json);
    let views = [
        percent_view(text, true),
        // A URL's query keeps a `+` of the secret as it is.
        percent_view(text, false),
        json,
        json_twice,
    ];
    for view in views {
        for secret in secrets {
            spans.extend(find_in_view(&view, secret.as_bytes()));
        }
    }
    spans.extend(base64_spans(text, secrets));
    merge(spans)
}

/// A decoded byte and the span of the text it came from.
type View = Vec<(u8, Range<usize>)>;

/// Each byte of `text` as itself.
fn plain_view(text: &str) -> View {
    text.bytes()
        .enumerate()
        .map(|(i, b)| (b, i..i + 1))
        .collect()
}

/// `%XX` as its byte, `+` as a space when `plus_is_space`, every other
/// byte as itself.
fn percent_view(text: &str, plus_is_space: bool) -> View {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = b.get(i + 1..i + 3).and_then(hex_byte)
        {
            out.push((v, i..i + 3));
            i += 3;
            continue;
        }
        let v = if plus_is_space && b[i] == b'+' {
            b' '
        } else {
            b[i]
        };
        out.push((v, i..i + 1));
        i += 1;
    }
    out
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(two).ok()?;
    u8::from_str_radix(s, 16).ok()
}

/// JSON string escapes (`\"`, `\\`, `\/`, `\n`, `\uXXXX` with surrogate
/// pairs) in the bytes of `view` as the UTF-8 bytes they stand for, each
/// with the span of the text its escape came from.
fn json_view(view: &View) -> View {
    let b: Vec<u8> = view.iter().map(|(v, _)| *v).collect();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some((c, len)) = json_escape(utf8_prefix(&b[i..(i + 12).min(b.len())]))
        {
            let span = view[i].1.start..view[i + len - 1].1.end;
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push((byte, span.clone()));
            }
            i += len;
            continue;
        }
        out.push(view[i].clone());
        i += 1;
    }
    out
}

/// The longest prefix of `bytes` that is UTF-8 (an escape is ASCII; what
/// follows it may be cut in a character).
fn utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// The character an escape at the start of `s` stands for, and its length.
fn json_escape(s: &str) -> Option<(char, usize)> {
    let b = s.as_bytes();
    let simple = match b.get(1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let hi = u32::from_str_radix(s.get(2..6)?, 16).ok()?;
            if (0xD800..0xDC00).contains(&hi) {
                let lo = s
                    .get(6..12)
                    .and_then(|t| t.strip_prefix("\\u"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())?;
                let c =
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo.checked_sub(0xDC00)?))?;
                return Some((c, 12));
            }
            return Some((char::from_u32(hi)?, 6));
        }
        _ => return None,
    };
    Some((simple, 2))
}

/// Where `secret` occurs in the decoded bytes (ASCII letters compared
/// without case), as spans of the text; only matches that decoded
/// something or folded case count, the plain ones are the exact pass's.
fn find_in_view(view: &View, secret: &[u8]) -> Vec<Range<usize>> {
    if secret.is_empty() || view.len() < secret.len() {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut i = 0;
    while i + secret.len() <= view.len() {
        let window = &view[i..i + secret.len()];
        if window
            .iter()
            .zip(secret)
            .all(|((v, _), s)| v.eq_ignore_ascii_case(s))
        {
            found.push(window[0].1.start..window[secret.len() - 1].1.end);
            i += secret.len();
        } else {
            i += 1;
        }
    }
    found
}

const STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Runs of base64 characters that decode (either alphabet) to bytes that
/// hold a secret. A run may carry text around the encoding (`token=` and
/// the like), so every start within it is tried, and ends that cut a
/// text after it.
fn base64_spans(text: &str, secrets: &[&str]) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let is_b64 = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_' | b'=');
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !is_b64(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_b64(b[i]) {
            i += 1;
        }
        // Long runs are data, not a credential echoed back: left to the
        // exact pass (and the search below is quadratic in the run).
        if i - start < 4 || i - start > 256 {
            continue;
        }
        if let Some(span) = holding_secret(text, start..i, secrets) {
            spans.push(span);
        }
    }
    spans
}

/// The first part of `run` that decodes to bytes holding a secret.
fn holding_secret(text: &str, run: Range<usize>, secrets: &[&str]) -> Option<Range<usize>> {
    let holds = |bytes: &[u8]| {
        secrets
            .iter()
            .any(|s| !s.is_empty() && bytes.windows(s.len()).any(|w| w == s.as_bytes()))
    };
    for from in run.clone() {
        for to in (from + 4..=run.end).rev() {
            let part = &text[from..to];
            let body = part.trim_end_matches('=');
            if body.contains('=') {
                continue;
            }
            let decoded = STANDARD.decode(body).or_else(|_| URL_SAFE.decode(body));
            if decoded.is_ok_and(|bytes| holds(&bytes)) {
                return Some(from..to);
            }
        }
    }
    None
}

/// Sorted, overlapping spans joined.
fn merge(mut spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    spans.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<usize>> = Vec::new();
    for r in spans {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::redact::redact;

    const SECRET: &str = "sp ace\"quoté";

    #[test]
    fn every_listed_encoding_is_redacted() {
        let basic = STANDARD.encode(format!("alice:{SECRET}"));
        let cases = [
            "https://shop.test/?key=sp%20ace%22quot%C3%A9".to_owned(),
            "https://shop.test/?key=sp%20ace%22quot%c3%a9".to_owned(),
            "q=sp+ace%22quot%C3%A9&x=1".to_owned(),
            r#"{"echo":"sp ace\"quot\u00e9"}"#.to_owned(),
            format!("token {}", STANDARD.encode(SECRET)),
            format!("token {}", URL_SAFE.encode(SECRET).trim_end_matches('=')),
            format!("Authorization: Basic {basic}"),
            "SP ACE\"QUOTé".to_owned(),
        ];
        for text in cases {
            let out = redact(&text, &[SECRET]);
            assert!(out.contains("***"), "{text} -> {out}");
            for form in [
                "sp%20ace",
                "sp+ace",
                "ace\\\"quot",
                "quot%C3%A9",
                "quot%c3%a9",
            ] {
                assert!(!out.contains(form), "{text} -> {out}");
            }
        }
    }

    #[test]
    fn a_secret_in_a_query_as_the_url_sends_it_is_redacted() {
        // Space, quote and `é` escaped; `+`, `/` and `=` kept as they are.
        let out = redact("?key=Sp%20ace%22+/=Quot%C3%A9&n=1", &["Sp ace\"+/=Quoté"]);
        assert_eq!(out, "?key=***&n=1");
    }

    #[test]
    fn a_json_escaped_secret_quoted_again_is_redacted() {
        // A JSON body echoed back, quoted as an assertion's `actual`.
        let out = redact(r#""{\"key\":\"a\\\"b\"}""#, &["a\"b"]);
        assert_eq!(out, r#""{\"key\":\"***\"}""#);
    }

    #[test]
    fn a_host_name_lowercased_by_the_url_is_redacted() {
        let out = redact("https://tenant-abc.shop.test/", &["Tenant-ABC"]);
        assert_eq!(out, "https://***.shop.test/");
    }

    #[test]
    fn unrelated_text_is_left_alone() {
        let text = "status 200 in 12ms; body {\"ok\":true} dG90YWxseSBmaW5l";
        assert_eq!(redact(text, &["hunter2"]), text);
    }

    /// The forms a secret is sent or echoed in.
    fn forms(secret: &str) -> Vec<String> {
        let percent: String = secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let json = serde_json::to_string(secret).unwrap_or_default();
        vec![
            secret.to_owned(),
            percent.clone(),
            percent.to_lowercase(),
            json.strip_prefix('"')
                .and_then(|j| j.strip_suffix('"'))
                .unwrap_or_default()
                .to_owned(),
            STANDARD.encode(secret),
            URL_SAFE.encode(secret).trim_end_matches('=').to_owned(),
            STANDARD.encode(format!("user:{secret}")),
        ]
    }

    proptest::proptest! {
        #[test]
        fn no_form_of_a_secret_survives(
            secret in "[a-zA-Z0-9 \"&%+/=:é-]{6,16}",
            before in "[a-z ={}:,]{0,12}",
            after in "[a-z ={}:,]{0,12}",
            which in 0usize..7,
        ) {
            let form = &forms(&secret)[which];
            let text = format!("{before}{form}{after}");
            let out = redact(&text, &[secret.as_str()]);
            for f in forms(&secret) {
                proptest::prop_assert!(!out.contains(&f), "{text} -> {out} still holds {f}");
            }
        }
    }
}
