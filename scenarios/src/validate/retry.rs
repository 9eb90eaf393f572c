//! `[alert] retry`: how many attempts, how far apart, and that they all fit
//! before the next scheduled run.

use std::time::Duration;

use toml::Spanned;

use super::ctx::Ctx;
use crate::diagnostic::Diagnostic;
use crate::duration::Human;
use crate::model::{RetryPolicy, Schedule};
use crate::raw::RawRetry;

/// More retries than this hide an outage rather than confirm it.
const MAX_ATTEMPTS: i64 = 10;

/// `run` is the schedule and scenario timeout, when the header validated.
pub fn check(
    ctx: &mut Ctx<'_>,
    raw: &Spanned<RawRetry>,
    run: Option<(&Schedule, Duration)>,
) -> Option<RetryPolicy> {
    let fields = raw.get_ref();
    let attempts = ctx.bounded(&fields.attempts, "retry.attempts", 1, MAX_ATTEMPTS);
    let delay = ctx.duration(&fields.delay, "retry.delay");
    let policy = RetryPolicy {
        attempts: attempts?,
        delay: delay?,
    };
    let Some((schedule, timeout)) = run else {
        return Some(policy);
    };
    // Every attempt may wait `delay` and then run up to the timeout; the
    // last one must end before the next scheduled run starts.
    let needed = (policy.delay + timeout) * policy.attempts;
    let period = schedule.period();
    if needed > period {
        let what = match schedule {
            Schedule::Interval(_) => "the interval",
            Schedule::Cron { .. } => "the shortest gap between cron firings",
        };
        ctx.push(
            Diagnostic::new(
                format!(
                    "retries take up to {} ({} × ({} delay + {} timeout)), longer than {what} ({})",
                    Human(needed),
                    policy.attempts,
                    Human(policy.delay),
                    Human(timeout),
                    Human(period),
                ),
                raw.span(),
                format!("expected retries that fit in {}", Human(period)),
            )
            .with_help("lower `attempts`, `delay` or the scenario `timeout`"),
        );
        return None;
    }
    Some(policy)
}
