//! Wall-clock time for schedules, injectable so that tests run with a
//! paused tokio clock.
//!
//! Timers always sleep on tokio's clock; the wall clock only says *which*
//! instant a run is planned for (slots are aligned to the epoch so restarts
//! do not bunch runs). Converting a planned wall instant to a tokio deadline
//! goes through [`Clock::deadline_for`].

use std::fmt::Debug;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + Debug + 'static {
    /// The current wall-clock time.
    fn now(&self) -> DateTime<Utc>;

    /// The tokio instant at which the wall clock reads `at` (now when `at`
    /// is in the past).
    fn deadline_for(&self, at: DateTime<Utc>) -> Instant {
        let ahead = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
        Instant::now() + ahead
    }
}

/// The system's wall clock (follows NTP adjustments between runs).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one implementation of the clock on the system's time"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A wall clock that reads `start` when created and then advances with
/// tokio's clock, so a paused test clock moves it too.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: DateTime<Utc>,
    origin: Instant,
}

impl TokioClock {
    /// A clock reading `start` now.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            start,
            origin: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed =
            chrono::Duration::from_std(self.origin.elapsed()).unwrap_or(chrono::Duration::MAX);
        self.start + elapsed
    }
}
