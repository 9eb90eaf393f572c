//! "Did you mean …?" for misspelt keys, subjects and template names.

/// The candidate closest to `word`, when it is close enough to be a likely
/// typo (`expcet` → `expect`), else `None`.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                c,
                strsim::damerau_levenshtein(&word_lower, &c.to_ascii_lowercase()),
            )
        })
        .filter(|(c, d)| *d <= 2.max(c.chars().count() / 4) && *d < c.chars().count())
        .min_by_key(|(_, d)| *d)
        .map(|(c, _)| c)
}

/// `did you mean `x`?` when a close candidate exists.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Renders a list of names as "`a`, `b` or `c`".
pub fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [init @ .., last] => {
            let head: Vec<String> = init.iter().map(|n| format!("`{n}`")).collect();
            format!("{} or `{last}`", head.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["name", "get", "expect", "capture", "headers"];
        assert_eq!(closest("expcet", keys), Some("expect"));
        assert_eq!(closest("header", keys), Some("headers"));
        assert_eq!(closest("zzzzzz", keys), None);
        assert_eq!(closest("x", keys), None);
    }

    #[test]
    fn lists_names() {
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(one_of(&["a"]), "`a`");
    }
}
