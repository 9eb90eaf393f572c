//! Per-phase timings and the clock that measures them without gaps.

use std::time::Duration;

use scenarios::wire::Phases;
use tokio::time::Instant;

/// Time spent in each network phase of one step. A phase that did not
/// happen is `None`: an IP literal has no `dns`, plain HTTP no `tls`, a
/// reused connection none of the three. When a step fails, the phase it
/// failed in holds the time spent in it until the failure, and later
/// phases are `None`, so the phases always add up to the step's time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseTimings {
    pub dns: Option<Duration>,
    pub connect: Option<Duration>,
    pub tls: Option<Duration>,
    pub ttfb: Option<Duration>,
    pub transfer: Option<Duration>,
}

impl PhaseTimings {
    /// The wire form: float milliseconds, `null` for a phase that did not happen.
    #[must_use]
    pub fn to_wire(&self) -> Phases {
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
        Phases {
            dns_ms: ms(self.dns),
            connect_ms: ms(self.connect),
            tls_ms: ms(self.tls),
            ttfb_ms: ms(self.ttfb),
            transfer_ms: ms(self.transfer),
        }
    }

    /// The sum of every phase that happened.
    #[must_use]
    pub fn total(&self) -> Duration {
        [self.dns, self.connect, self.tls, self.ttfb, self.transfer]
            .into_iter()
            .flatten()
            .sum()
    }
}

/// A stopwatch whose laps are back to back: each phase starts exactly where
/// the previous one ended, so no time falls between two phases.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    mark: Instant,
}

impl Clock {
    pub(crate) fn start() -> Self {
        Self {
            mark: Instant::now(),
        }
    }

    /// Time since the last lap (or the start), and starts the next one.
    pub(crate) fn lap(&mut self) -> Duration {
        let now = Instant::now();
        let lap = now.saturating_duration_since(self.mark);
        self.mark = now;
        lap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_milliseconds_with_nulls() {
        let timings = PhaseTimings {
            connect: Some(Duration::from_micros(1500)),
            ttfb: Some(Duration::from_millis(12)),
            ..PhaseTimings::default()
        };
        let wire = timings.to_wire();
        assert_eq!(wire.dns_ms, None);
        assert_eq!(wire.connect_ms, Some(1.5));
        assert_eq!(wire.tls_ms, None);
        assert_eq!(wire.ttfb_ms, Some(12.0));
        assert_eq!(timings.total(), Duration::from_micros(13_500));
    }

    #[tokio::test]
    async fn laps_are_back_to_back() {
        let started = Instant::now();
        let mut clock = Clock::start();
        tokio::time::sleep(Duration::from_millis(30)).await;
        let first = clock.lap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = clock.lap();
        let elapsed = started.elapsed();
        assert!(first >= Duration::from_millis(30), "{first:?}");
        assert!(second >= Duration::from_millis(20), "{second:?}");
        assert!(first + second <= elapsed, "laps never overlap");
    }
}
