//! Spans of time as sorted, disjoint `(start, end)` pairs of Unix
//! milliseconds: the uptime report's incident and maintenance time, so
//! that overlapping alerts or windows count once.

/// Half-open spans `start..end`, sorted and disjoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans(Vec<(i64, i64)>);

impl Spans {
    /// The union of `spans` (empty and reversed ones are dropped).
    pub fn union(spans: impl IntoIterator<Item = (i64, i64)>) -> Spans {
        let mut all: Vec<(i64, i64)> = spans.into_iter().filter(|(s, e)| s < e).collect();
        all.sort_unstable();
        let mut out: Vec<(i64, i64)> = Vec::with_capacity(all.len());
        for (start, end) in all {
            match out.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => out.push((start, end)),
            }
        }
        Spans(out)
    }

    /// The time both cover.
    pub fn intersect(&self, other: &Spans) -> Spans {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while let (Some(a), Some(b)) = (self.0.get(i), other.0.get(j)) {
            let (start, end) = (a.0.max(b.0), a.1.min(b.1));
            if start < end {
                out.push((start, end));
            }
            if a.1 < b.1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Spans(out)
    }

    /// The spans as (start, end) pairs.
    pub fn into_pairs(self) -> Vec<(i64, i64)> {
        self.0
    }

    /// Milliseconds of `from..to` covered.
    pub fn covered(&self, from: i64, to: i64) -> i64 {
        self.0
            .iter()
            .map(|(s, e)| (e.min(&to) - s.max(&from)).max(0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_count_once_and_intersections_clip() {
        let a = Spans::union([(10, 20), (15, 30), (40, 50), (60, 60)]);
        assert_eq!(a, Spans(vec![(10, 30), (40, 50)]));
        assert_eq!(a.covered(0, 100), 30);
        assert_eq!(a.covered(25, 45), 10);
        let b = Spans::union([(0, 12), (28, 42)]);
        assert_eq!(a.intersect(&b), Spans(vec![(10, 12), (28, 30), (40, 42)]));
        assert_eq!(Spans::default().intersect(&a), Spans::default());
    }
}
