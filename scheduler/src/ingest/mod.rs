//! Ingest: a probe's result batch → validated results → one store
//! transaction → an acknowledgement listing every id once.
//!
//! Each result is checked on its own: it must parse, come from the
//! token's probe and region, not start further ahead of the scheduler's
//! clock than `max_clock_skew`, and name a scenario of the catalog; the
//! rest of the batch is stored whatever happens to one entry. A result id
//! seen before is acknowledged as a duplicate and not stored again.
//!
//! - `test_runs`: results answering fleet test runs, which name a
//!   scenario outside the catalog and are kept out of its history.

mod test_runs;

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use scenarios::load::MAX_STEPS;
use scenarios::wire::{IngestAck, RejectReason, Rejected, RunResult};
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::alert::{Engine, ProbeClock, World};
use crate::app::App;
use crate::auth::ProbeIdentity;
use crate::catalog::Catalog;
use crate::metrics::IngestOutcome;
use crate::store::results::ResultRow;
use crate::store::{StoreError, Tx};

/// Why a whole batch was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("malformed result batch: {0}")]
    Malformed(String),
    #[error("too many results: this probe may send {rate} results per second")]
    RateLimited { rate: u32, retry_after: Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an ingest did.
#[derive(Debug, Clone)]
pub struct IngestReport {
    pub ack: IngestAck,
    /// Every result was rejected (the answer is 422).
    pub all_rejected: bool,
}

/// Per-probe rate limit on results.
#[derive(Debug)]
pub struct IngestLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    rate: u32,
    burst: NonZeroU32,
}

impl IngestLimiter {
    pub fn new(rate: u32, burst: u32) -> Self {
        let rate_nz = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate_nz).allow_burst(burst)),
            rate,
            burst,
        }
    }

    /// Takes `n` results from `probe`'s allowance, or says when to retry.
    /// A batch above the burst takes the whole burst.
    fn check(&self, probe: &str, n: usize) -> Result<(), IngestError> {
        let Some(n) = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)) else {
            return Ok(());
        };
        let n = n.min(self.burst);
        match self.limiter.check_key_n(&probe.to_owned(), n) {
            Ok(Ok(())) | Err(_) => Ok(()),
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(IngestError::RateLimited {
                    rate: self.rate,
                    retry_after: wait,
                })
            }
        }
    }
}

/// A batch as its entries' JSON text: each entry is then parsed on its
/// own, so a bad one rejects only itself, and its text is what is stored.
#[derive(Deserialize)]
struct RawBatch<'a> {
    #[serde(borrow)]
    results: Vec<&'a RawValue>,
}

/// An entry that parsed, with its JSON text as sent.
pub(super) struct Entry<'a> {
    pub result: RunResult,
    pub json: &'a str,
}

/// Each entry parsed once, or rejected with why.
fn parse(body: &[u8]) -> Result<Vec<Result<Entry<'_>, Rejected>>, IngestError> {
    let batch: RawBatch<'_> =
        serde_json::from_slice(body).map_err(|e| IngestError::Malformed(e.to_string()))?;
    let entries = batch.results.into_iter().enumerate().map(|(i, raw)| {
        let json = raw.get();
        match serde_json::from_str::<RunResult>(json) {
            Ok(result) => Ok(Entry { result, json }),
            Err(e) => Err(Rejected {
                id: id_of(raw),
                reason: Some(RejectReason::Malformed),
                error: format!("result {i} is not a valid run result: {e}"),
            }),
        }
    });
    Ok(entries.collect())
}

/// A result that passed every check, with its row.
struct Valid {
    result: RunResult,
    row: ResultRow,
}

/// Stores the results (once per id) and feeds the new ones to the alert
/// engine in the same transaction; says for each whether it was new. On
/// a replica that does not lead, the new ones are queued for the leader's
/// engine instead, in the transaction that stores them.
async fn store(app: &App, valid: Vec<Valid>) -> Result<Vec<(RunResult, bool)>, StoreError> {
    if !app.leadership.is_leader() {
        return store_for_leader(app, valid).await;
    }
    // Handed back when the lease turned out to be lost before the job ran.
    let slot = Arc::new(Mutex::new(Some(valid)));
    let taken = Arc::clone(&slot);
    let now = app.clock.now_ms();
    let evaluated = crate::evaluate::commit(app, move |engine, tx, world| {
        let mut valid = take(&taken);
        decide_slo_exclusion(engine, world, &mut valid);
        let inserted = tx.insert_results(&mut valid.iter().map(|v| &v.row), now)?;
        record_answers(tx, &valid, &inserted)?;
        let new: Vec<&RunResult> = valid
            .iter()
            .zip(&inserted)
            .filter(|(_, new)| **new)
            .map(|(v, _)| &v.result)
            .collect();
        let effects = engine.apply_results(tx, world, &new)?;
        let stored = valid.into_iter().map(|v| v.result).zip(inserted).collect();
        Ok((stored, effects))
    })
    .await;
    match evaluated {
        Err(StoreError::Fenced(_)) => store_for_leader(app, take(&slot)).await,
        other => other,
    }
}

fn take(slot: &Mutex<Option<Vec<Valid>>>) -> Vec<Valid> {
    slot.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .unwrap_or_default()
}

/// Stores the results and queues the new ones for the leader's engine.
async fn store_for_leader(
    app: &App,
    mut valid: Vec<Valid>,
) -> Result<Vec<(RunResult, bool)>, StoreError> {
    let engine = Arc::clone(&app.alerts);
    let world = crate::evaluate::capture(app);
    let now = app.clock.now_ms();
    app.store
        .write(move |tx| {
            decide_slo_exclusion(&engine, &world, &mut valid);
            let inserted = tx.insert_results(&mut valid.iter().map(|v| &v.row), now)?;
            record_answers(tx, &valid, &inserted)?;
            let new: Vec<Uuid> = valid
                .iter()
                .zip(&inserted)
                .filter(|(_, new)| **new)
                .map(|(v, _)| v.result.id)
                .collect();
            tx.queue_for_evaluation(&new, now)?;
            Ok(valid.into_iter().map(|v| v.result).zip(inserted).collect())
        })
        .await
}

/// Records each new result of an on-demand run as its request's answer,
/// in the transaction that stores it, so whichever replica the caller
/// waits on hears of it.
fn record_answers(tx: &dyn Tx, valid: &[Valid], inserted: &[bool]) -> Result<(), StoreError> {
    for (v, _) in valid.iter().zip(inserted).filter(|(_, new)| **new) {
        if let Some(id) = v.result.run_request {
            tx.answer_run_request(id, &v.row.result_json)?;
        }
    }
    Ok(())
}

/// Whether each result ran in a maintenance window that keeps it out of
/// the SLO: decided as it is stored, so a window made later never
/// rewrites the SLO's past.
fn decide_slo_exclusion(engine: &Engine, world: &World, valid: &mut [Valid]) {
    for v in valid {
        let labels = world
            .catalog
            .get(&v.result.scenario)
            .map(|s| &s.scenario.labels);
        v.row.slo_excluded = labels.is_some_and(|labels| {
            engine.excluded_from_slo(
                &v.result.scenario,
                &v.result.region,
                labels,
                v.result.started_at,
            )
        });
    }
}

/// Stores results that arrived as values, as ingest would (tests and
/// one-off tools); says for each whether it was new.
///
/// # Errors
/// Store errors, or a result that cannot be serialized.
pub async fn store_results(app: &App, results: Vec<RunResult>) -> Result<Vec<bool>, StoreError> {
    let valid = results
        .into_iter()
        .map(|result| {
            Ok(Valid {
                row: ResultRow::of(&result)?,
                result,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let stored = store(app, valid).await?;
    let mut new = Vec::with_capacity(stored.len());
    for (result, inserted) in stored {
        app.fleet.run_answered(&result, inserted);
        new.push(inserted);
    }
    Ok(new)
}

/// Ingests one batch body from `probe`.
///
/// # Errors
/// A malformed body, the rate limit, or the store failing (nothing is
/// acknowledged then).
pub async fn ingest(
    app: &App,
    probe: &ProbeIdentity,
    body: &[u8],
) -> Result<IngestReport, IngestError> {
    let mut entries = parse(body)?;
    app.limiter.check(&probe.name, entries.len())?;
    let catalog = app.catalog.current();
    let mut clock = ClockWatch::new(app.clock.now(), app.config.max_clock_skew);
    let mut rejected = Vec::new();
    let mut ack = IngestAck::default();
    test_runs::take_answers(app, probe, &mut entries, &mut ack, &mut rejected).await?;
    let mut valid = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry.and_then(|result| check(result, probe, &mut clock, &catalog)) {
            Ok(v) => valid.push(v),
            Err(r) => rejected.push(r),
        }
    }
    if let Some(verdict) = clock.verdict() {
        app.fleet.clock_checked(&probe.name, verdict);
    }
    let stored = store(app, valid).await?;
    let mut accepted = Vec::new();
    for (result, new) in stored {
        app.fleet.run_answered(&result, new);
        if new {
            ack.accepted.push(result.id);
            accepted.push(result);
        } else {
            ack.duplicates.push(result.id);
        }
    }
    app.metrics.observe(&accepted, &catalog);
    count(app, &ack, &rejected);
    for r in &rejected {
        let reason = r.reason.map_or("", RejectReason::as_str);
        tracing::warn!(probe = %probe.name, id = ?r.id, reason, error = %r.error, "Result rejected.");
    }
    ack.rejected = rejected;
    let all_rejected =
        !ack.rejected.is_empty() && ack.accepted.is_empty() && ack.duplicates.is_empty();
    Ok(IngestReport { ack, all_rejected })
}

fn count(app: &App, ack: &IngestAck, rejected: &[Rejected]) {
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    app.metrics
        .count_ingest(IngestOutcome::Accepted, n(ack.accepted.len()));
    app.metrics
        .count_ingest(IngestOutcome::Duplicate, n(ack.duplicates.len()));
    for r in rejected {
        let reason = r.reason.unwrap_or(RejectReason::Malformed);
        app.metrics.count_ingest(IngestOutcome::Rejected(reason), 1);
    }
}

/// What one batch shows of its probe's clock: results too far ahead are
/// rejected, and the batch's verdict goes to the fleet for the probe's
/// clock alert.
struct ClockWatch {
    now: DateTime<Utc>,
    max: Duration,
    /// The furthest ahead of the rejected results.
    ahead: Option<chrono::Duration>,
    /// A result was within `max`.
    in_time: bool,
}

impl ClockWatch {
    fn new(now: DateTime<Utc>, max: Duration) -> Self {
        ClockWatch {
            now,
            max,
            ahead: None,
            in_time: false,
        }
    }

    fn check(&mut self, result: &RunResult) -> Result<(), String> {
        let Some(ahead) = crate::clock_skew::too_far_ahead(result.started_at, self.now, self.max)
        else {
            self.in_time = true;
            return Ok(());
        };
        self.ahead = Some(self.ahead.map_or(ahead, |a| a.max(ahead)));
        Err(format!(
            "started_at {} is {} ahead of the scheduler's clock (max_clock_skew {}): check the probe's clock",
            scenarios::wire::time::format(&result.started_at),
            crate::clock_skew::human(ahead),
            scenarios::duration::Human(self.max),
        ))
    }

    /// A clock ahead wins over results in time: the probe's clock is wrong
    /// now even if it was right for its older results.
    fn verdict(&self) -> Option<ProbeClock> {
        match (self.ahead, self.in_time) {
            (Some(ahead), _) => Some(ProbeClock::Ahead(ahead)),
            (None, true) => Some(ProbeClock::InTime),
            (None, false) => None,
        }
    }
}

fn check(
    entry: Entry<'_>,
    probe: &ProbeIdentity,
    clock: &mut ClockWatch,
    catalog: &Catalog,
) -> Result<Valid, Rejected> {
    let Entry { result, json } = entry;
    let reject = |reason: RejectReason, error: String| Rejected {
        id: Some(result.id),
        reason: Some(reason),
        error,
    };
    if result.probe != probe.name || result.region != probe.region {
        return Err(reject(
            RejectReason::Identity,
            format!(
                "result of probe `{}` in `{}` sent with the token of probe `{}` in `{}`",
                result.probe, result.region, probe.name, probe.region
            ),
        ));
    }
    // After the identity check, so another probe's results never say
    // anything about this probe's clock.
    clock
        .check(&result)
        .map_err(|e| reject(RejectReason::ClockSkew, e))?;
    if catalog.get(&result.scenario).is_none() {
        return Err(reject(
            RejectReason::UnknownScenario,
            format!("unknown scenario `{}`", result.scenario),
        ));
    }
    if result.steps.len() > MAX_STEPS {
        return Err(reject(
            RejectReason::TooLarge,
            format!(
                "result has {} steps; a scenario has at most {MAX_STEPS}",
                result.steps.len()
            ),
        ));
    }
    if !result.duration_ms.is_finite() || result.duration_ms < 0.0 {
        return Err(reject(
            RejectReason::Malformed,
            "`duration_ms` must be a non-negative number".into(),
        ));
    }
    // A first attempt with a `retry_of`, or a retry without one, would
    // count wrongly for alerting and the SLO.
    if result.attempt == 0 || (result.attempt > 1) != result.retry_of.is_some() {
        return Err(reject(
            RejectReason::Malformed,
            "`attempt` must be 1 with `retry_of` null, or 2 and more with `retry_of` the first attempt's id".into(),
        ));
    }
    // Stored as sent: it parsed as a `RunResult`, which every reader of
    // the store parses it into again, and encoding it anew would cost
    // more than parsing it did.
    let row = ResultRow::from_raw(&result, json);
    Ok(Valid { result, row })
}

/// The `id` of an entry that is not a valid result, when it has one.
fn id_of(raw: &RawValue) -> Option<Uuid> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Uuid,
    }
    serde_json::from_str::<IdOnly>(raw.get()).ok().map(|x| x.id)
}
