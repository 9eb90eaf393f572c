//! What `probe import` could not convert: each construct without a scenario
//! equivalent, where it is (`file:line:col`), and what would be needed.

/// A 1-based line and column (in characters) in the Hurl file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub fn new(line: usize, col: usize) -> Pos {
        Pos { line, col }
    }

    /// The position `bytes` further on the same line (lines are mostly ASCII;
    /// the column counts bytes, as most editors' "column" for ASCII does).
    pub fn plus(self, bytes: usize) -> Pos {
        Pos {
            line: self.line,
            col: self.col + bytes,
        }
    }
}

/// One construct that has no equivalent, or that is malformed.
#[derive(Debug, Clone)]
pub struct Problem {
    pub pos: Pos,
    pub what: String,
    pub needed: String,
}

impl Problem {
    pub fn new(pos: Pos, what: impl Into<String>, needed: impl Into<String>) -> Problem {
        Problem {
            pos,
            what: what.into(),
            needed: needed.into(),
        }
    }

    /// `file:line:col: what (needed: …)`, the form editors jump to.
    pub fn render(&self, file: &str) -> String {
        format!(
            "{file}:{}:{}: {} (needed: {})",
            self.pos.line, self.pos.col, self.what, self.needed
        )
    }
}
