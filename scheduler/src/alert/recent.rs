//! The outcomes of a region's newest runs (at most [`MAX_RUNS`]), which
//! `"N of M"` thresholds count in. Pure: no store, no clock.

use scenarios::threshold::{MAX_RUNS, Threshold};

/// Newest run in bit 0; a set bit is a failed run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecentRuns {
    failed: u128,
    len: u32,
}

impl RecentRuns {
    /// Only the run just seen (the window after a change of health).
    pub fn starting_with(ok: bool) -> RecentRuns {
        let mut r = RecentRuns::default();
        r.push(ok);
        r
    }

    pub fn push(&mut self, ok: bool) {
        let keep = (1u128 << MAX_RUNS) - 1;
        self.failed = ((self.failed << 1) | u128::from(!ok)) & keep;
        self.len = (self.len + 1).min(MAX_RUNS);
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Failed and good runs among the newest `of` (or all, when fewer).
    fn counts(&self, of: u32) -> (u32, u32) {
        let n = of.min(self.len);
        let mask = if n >= 128 {
            u128::MAX
        } else {
            (1u128 << n) - 1
        };
        let failed = (self.failed & mask).count_ones();
        (failed, n - failed)
    }

    /// At least `t.runs` failed runs among the newest `t.of`.
    pub fn failures_reach(&self, t: Threshold) -> bool {
        self.counts(t.of).0 >= t.runs.max(1)
    }

    /// At least `t.runs` good runs among the newest `t.of`.
    pub fn passes_reach(&self, t: Threshold) -> bool {
        self.counts(t.of).1 >= t.runs.max(1)
    }

    /// Oldest first, `f` failed and `p` passed: `"ppfpf"`. How the store
    /// keeps it.
    pub fn to_letters(&self) -> String {
        (0..self.len)
            .rev()
            .map(|i| if self.failed >> i & 1 == 1 { 'f' } else { 'p' })
            .collect()
    }

    /// The inverse of [`RecentRuns::to_letters`]; other characters count
    /// as good runs, and only the newest [`MAX_RUNS`] are kept.
    pub fn from_letters(letters: &str) -> RecentRuns {
        let mut r = RecentRuns::default();
        for c in letters.chars() {
            r.push(c != 'f');
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_hundred_and_round_trips_as_letters() {
        let mut r = RecentRuns::default();
        r.push(false);
        for i in 0..120 {
            r.push(i % 3 != 0);
        }
        assert_eq!(r.len(), 100);
        let letters = r.to_letters();
        assert_eq!(letters.len(), 100);
        assert_eq!(RecentRuns::from_letters(&letters), r);
        assert_eq!(RecentRuns::from_letters("pfpff").to_letters(), "pfpff");
        assert!(RecentRuns::from_letters("").is_empty());
    }

    #[test]
    fn counts_only_the_newest_of_runs() {
        let r = RecentRuns::from_letters("fffpp");
        assert!(!r.failures_reach(Threshold { runs: 1, of: 2 }));
        assert!(r.failures_reach(Threshold { runs: 1, of: 3 }));
        assert!(r.failures_reach(Threshold { runs: 3, of: 100 }));
        assert!(r.passes_reach(Threshold::consecutive(2)));
        assert!(!r.passes_reach(Threshold::consecutive(3)));
    }
}
