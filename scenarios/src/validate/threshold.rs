//! `after` / `recover_after`: a whole number (runs in a row) or
//! `"N of M"` (runs among the last M).

use toml::Spanned;

use super::alert::offset_in;
use super::ctx::Ctx;
use crate::threshold::{MAX_RUNS, Threshold};

const SHAPE: &str = "expected a whole number from 1 to 100 or `\"N of M\"`, like `\"3 of 5\"`";

/// Reports and returns `None` when `value` is not a valid threshold.
pub fn check(ctx: &mut Ctx<'_>, value: &Spanned<toml::Value>, what: &str) -> Option<Threshold> {
    match value.get_ref() {
        toml::Value::Integer(n) => {
            let n = Spanned::new(value.span(), *n);
            ctx.bounded(&n, what, 1, i64::from(MAX_RUNS))
                .map(Threshold::consecutive)
        }
        toml::Value::String(s) => n_of_m(ctx, &Spanned::new(value.span(), s.clone()), what),
        _ => {
            ctx.error(format!("invalid `{what}`"), value.span(), SHAPE);
            None
        }
    }
}

fn n_of_m(ctx: &mut Ctx<'_>, value: &Spanned<String>, what: &str) -> Option<Threshold> {
    let text = value.get_ref();
    let words: Vec<(usize, &str)> = text
        .split_whitespace()
        .map(|w| (offset_in(text, w), w))
        .collect();
    let [(n_at, n), (_, "of"), (m_at, m)] = words.as_slice() else {
        ctx.error(format!("invalid `{what}` `{text}`"), value.span(), SHAPE);
        return None;
    };
    let runs = count(ctx, value, *n_at, n, what);
    let of = count(ctx, value, *m_at, m, what);
    let (runs, of) = (runs?, of?);
    if runs > of {
        let span = ctx.inner_span(value, &(*n_at..*m_at + m.len()));
        ctx.error(
            format!("`{what}` is `{text}`: N must not exceed M"),
            span,
            format!("expected at most {of} runs of {of}"),
        );
        return None;
    }
    Some(Threshold { runs, of })
}

/// One of the two numbers, 1 to 100.
fn count(
    ctx: &mut Ctx<'_>,
    value: &Spanned<String>,
    at: usize,
    word: &str,
    what: &str,
) -> Option<u32> {
    let n = word
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_RUNS).contains(n));
    if n.is_none() {
        let span = ctx.inner_span(value, &(at..at + word.len()));
        ctx.error(
            format!("invalid run count `{word}` in `{what}`"),
            span,
            "expected a whole number from 1 to 100",
        );
    }
    n
}
