//! `after` and `recover_after`: how many runs among the last few must
//! fail (or pass) before a region changes state.

use std::fmt;

/// The longest window a threshold may look at; the scheduler keeps this
/// many outcomes per region.
pub const MAX_RUNS: u32 = 100;

/// `runs` of the last `of` runs (`1 ≤ runs ≤ of ≤ 100`). The consecutive
/// form `after = 3` is `3 of 3`: three among the last three is three in a
/// row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    /// Runs that must have the outcome: failed for `after`, passed for
    /// `recover_after`.
    pub runs: u32,
    /// How many of the newest runs are looked at.
    pub of: u32,
}

impl Threshold {
    /// `n` runs in a row.
    pub const fn consecutive(n: u32) -> Threshold {
        Threshold { runs: n, of: n }
    }

    pub fn is_consecutive(self) -> bool {
        self.runs == self.of
    }
}

/// `3` or `3 of 5`, as written in a scenario.
impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_consecutive() {
            write!(f, "{}", self.runs)
        } else {
            write!(f, "{} of {}", self.runs, self.of)
        }
    }
}
