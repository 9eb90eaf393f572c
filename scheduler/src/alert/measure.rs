//! SLO statuses measured over stored runs: one query per scenario for
//! every window, one for the history they cover.

use std::time::Duration;

use scenarios::model::SloObjective;

use super::slo::{self, SloStatus};
use crate::store::{Results, StoreError};

/// The SLO of `name` from its stored runs up to `now_ms`.
///
/// # Errors
/// Store errors.
pub fn slo_status_at(
    store: &dyn Results,
    name: &str,
    objective: &SloObjective,
    now_ms: i64,
) -> Result<SloStatus, StoreError> {
    let ms = |d: Duration| now_ms.saturating_sub(crate::clock::millis(d));
    let mut since = vec![ms(objective.window)];
    since.extend(slo::BURN_WINDOWS.iter().map(|(_, w)| ms(*w)));
    let counts = store.outcome_counts(name, now_ms, &since)?;
    let window = counts.first().copied().unwrap_or_default();
    let mut burns = [slo::Counts::default(); 7];
    for (b, c) in burns.iter_mut().zip(counts.iter().skip(1)) {
        *b = *c;
    }
    let history = slo::history(store.first_run_at(name)?, now_ms);
    Ok(slo::evaluate(objective, window, &burns, history))
}
