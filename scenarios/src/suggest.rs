//! "Did you mean …?" for misspelt keys, subjects and template names.

/// The candidate closest to `word`, when it is close enough to be a likely
/// typo (`expcet` → `expect`): Jaro-Winkler similarity of at least 0.8, or
/// at most two edits and fewer edits than the word has characters (so `ab`
/// does not suggest `in`).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = word.chars().count();
    candidates
        .into_iter()
        .map(|c| {
            (
                c,
                strsim::jaro_winkler(word, c),
                strsim::levenshtein(word, c),
            )
        })
        .filter(|&(_, jw, lev)| jw >= 0.8 || (lev <= 2 && lev < len))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.cmp(&a.2)))
        .map(|(c, _, _)| c)
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
        let words = ["status", "duration", "body", "in", "count"];
        let cases = [
            ("stauts", Some("status")),
            ("duraton", Some("duration")),
            ("bdy", Some("body")),
            ("cont", Some("count")),
            ("ab", None),
            ("", None),
        ];
        for (word, want) in cases {
            assert_eq!(closest(word, words), want, "{word}");
        }
    }

    #[test]
    fn lists_names() {
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(one_of(&["a"]), "`a`");
    }
}
