//! Jittered exponential back-off for calls to the scheduler.

use std::time::Duration;

/// Delays that double from `start` up to `cap`; each delay is drawn from
/// its upper half (equal jitter), so a fleet that lost its scheduler at
/// once does not come back in lock-step.
#[derive(Debug, Clone)]
pub struct Backoff {
    start: Duration,
    cap: Duration,
    current: Duration,
}

impl Backoff {
    /// 0.5 s doubling up to 30 s.
    pub fn scheduler() -> Self {
        Self::new(Duration::from_millis(500), Duration::from_secs(30))
    }

    pub fn new(start: Duration, cap: Duration) -> Self {
        Self {
            start,
            cap,
            current: start,
        }
    }

    /// The next delay to wait.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(self.cap);
        let half = base / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(fastrand::u64(0..=nanos))
    }

    /// After a success: start again from the shortest delay.
    pub fn reset(&mut self) {
        self.current = self.start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_within_their_jitter_band_up_to_the_cap() {
        let mut b = Backoff::scheduler();
        let mut ceiling = Duration::from_millis(500);
        for _ in 0..12 {
            let d = b.next_delay();
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{d:?} outside {ceiling:?}"
            );
            ceiling = (ceiling * 2).min(Duration::from_secs(30));
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(500));
    }
}
