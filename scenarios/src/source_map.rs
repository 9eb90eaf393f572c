//! Maps a position inside a decoded TOML string back to the file, so an
//! error at column 12 of an expression points at that character in the
//! file, even when the string has escapes or spans several lines.

use std::ops::Range;

/// Maps `inner`, a byte range of the decoded string whose literal (quotes
/// included) sits at `span` in `source`, to a byte range of `source`.
/// Falls back to the whole literal when the span is not a string.
pub fn map_range(source: &str, span: &Range<usize>, inner: &Range<usize>) -> Range<usize> {
    let Some(offsets) = source.get(span.clone()).and_then(decode_offsets) else {
        return span.clone();
    };
    let at = |i: usize| {
        span.start
            + offsets
                .get(i)
                .copied()
                .unwrap_or(offsets.len().saturating_sub(1))
    };
    let start = at(inner.start);
    let end = if inner.end > inner.start {
        at(inner.end - 1) + 1
    } else {
        start
    };
    // Widen a range that ends inside a multi-byte character or an escape.
    let end = end.max(start).min(span.end);
    let mut end = end;
    while end < source.len() && !source.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// For each byte of the decoded string, the offset (relative to the
/// literal's start) of the source text that produced it; one extra entry
/// for the end. `None` when `lit` is not a TOML string literal.
fn decode_offsets(lit: &str) -> Option<Vec<usize>> {
    let (open, literal) = if lit.starts_with("\"\"\"") {
        (3, false)
    } else if lit.starts_with("'''") {
        (3, true)
    } else if lit.starts_with('"') {
        (1, false)
    } else if lit.starts_with('\'') {
        (1, true)
    } else {
        return None;
    };
    let body_end = lit.len().checked_sub(open)?;
    if body_end < open {
        return None;
    }
    let mut i = open;
    // A newline right after a multi-line opener is not part of the string.
    if open == 3 {
        if lit[i..].starts_with("\r\n") {
            i += 2;
        } else if lit[i..].starts_with('\n') {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(body_end);
    let bytes = lit.as_bytes();
    while i < body_end {
        let ch = lit[i..].chars().next()?;
        if ch == '\\' && !literal {
            let start = i;
            let (decoded_len, consumed) = escape(&lit[i..body_end]);
            out.extend(std::iter::repeat_n(start, decoded_len));
            i += consumed.max(1);
            continue;
        }
        out.extend(std::iter::repeat_n(i, ch.len_utf8()));
        i += ch.len_utf8();
        debug_assert!(i <= bytes.len());
    }
    out.push(body_end);
    Some(out)
}

/// Length in bytes of what an escape decodes to, and how many source bytes
/// it spans. A line-ending backslash decodes to nothing and eats the
/// following whitespace.
fn escape(rest: &str) -> (usize, usize) {
    let mut chars = rest.chars();
    chars.next();
    match chars.next() {
        Some('u') => hex_escape(rest, 4),
        Some('U') => hex_escape(rest, 8),
        Some('x') => hex_escape(rest, 2),
        Some(c) if c == ' ' || c == '\t' || c == '\n' || c == '\r' => {
            let ws = rest[1..].len() - rest[1..].trim_start().len();
            (0, 1 + ws)
        }
        Some(_) => (1, 2),
        None => (0, 1),
    }
}

fn hex_escape(rest: &str, digits: usize) -> (usize, usize) {
    let hex = rest.get(2..2 + digits).unwrap_or("");
    let len = u32::from_str_radix(hex, 16)
        .ok()
        .and_then(char::from_u32)
        .map_or(1, char::len_utf8);
    (len, 2 + digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str, inner: Range<usize>, want: &str) {
        let start = source.find(['"', '\'']).expect("a string");
        let span = start..source.len();
        let got = map_range(source, &span, &inner);
        assert_eq!(&source[got], want);
    }

    #[test]
    fn maps_through_each_string_kind() {
        check(r#"x = 'jsonpath "$.a" exists'"#, 15..21, "exists");
        check(r#"x = "status \"x\" ==""#, 11..13, "==");
        check("x = \"\"\"\nstatus ==\"\"\"", 7..9, "==");
        check("x = '''\nbody'''", 0..4, "body");
        check(r#"x = "\u00e9 ab""#, 3..5, "ab");
    }
}
