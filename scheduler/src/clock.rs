//! Wall-clock time, injectable so that liveness and windows are tested
//! with explicit timestamps instead of sleeps.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Unix milliseconds of [`Clock::now`].
    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// `d` in whole milliseconds, as the store's Unix-ms times count; a
/// duration beyond `i64` milliseconds saturates.
pub fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The system clock.
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

/// A clock that moves only when told (tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }

    /// Sets the clock.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Ok(mut now) = self.0.lock() {
            *now = to;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map_or_else(|p| *p.into_inner(), |now| *now)
    }
}
