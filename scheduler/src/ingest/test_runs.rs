//! Results of fleet test runs (`POST /api/v1/runs`): they name a scenario
//! outside the catalog, so they are recognised by the request they answer
//! and stored only as that request's answer. They never reach the results
//! table, the alert engine, the SLO or the metrics.

use std::collections::HashMap;

use scenarios::load::MAX_STEPS;
use scenarios::wire::{IngestAck, RejectReason, Rejected, RunResult};
use uuid::Uuid;

use super::Entry;
use crate::app::App;
use crate::auth::ProbeIdentity;
use crate::store::StoreError;
use crate::store::run_requests::RunRequestRow;

/// Takes the results answering fleet test runs out of `entries`, stores
/// each as its request's answer and hands it to whoever waits for it;
/// the ack and the rejections say what became of each.
///
/// # Errors
/// Store errors (nothing is acknowledged then).
pub(super) async fn take_answers(
    app: &App,
    probe: &ProbeIdentity,
    entries: &mut Vec<Result<Entry<'_>, Rejected>>,
    ack: &mut IngestAck,
    rejected: &mut Vec<Rejected>,
) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = entries
        .iter()
        .filter_map(|e| e.as_ref().ok().and_then(|e| e.result.run_request))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let rows = app
        .store
        .read(move |tx| {
            let mut rows = HashMap::new();
            for id in ids {
                if let Some(row) = tx.run_request(id)?
                    && row.request.inline.is_some()
                {
                    rows.insert(id, row);
                }
            }
            Ok(rows)
        })
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut answers = Vec::new();
    entries.retain(|entry| {
        let Ok(Entry { result, json }) = entry else {
            return true;
        };
        let Some(row) = result.run_request.and_then(|id| rows.get(&id)) else {
            return true;
        };
        match check(result, row, probe) {
            Ok(()) => answers.push((result.clone(), (*json).to_owned())),
            Err((reason, error)) => rejected.push(Rejected {
                id: Some(result.id),
                reason: Some(reason),
                error,
            }),
        }
        false
    });
    let keys: Vec<(Uuid, String)> = answers
        .iter()
        .filter_map(|(r, json)| r.run_request.map(|id| (id, json.clone())))
        .collect();
    let new = app
        .store
        .write(move |tx| {
            keys.iter()
                .map(|(id, json)| {
                    let answered = tx.run_request(*id)?.is_some_and(|r| r.answer.is_some());
                    if !answered {
                        tx.answer_run_request(*id, json)?;
                    }
                    Ok(!answered)
                })
                .collect::<Result<Vec<bool>, StoreError>>()
        })
        .await?;
    for ((result, _), new) in answers.iter().zip(new) {
        app.fleet.run_answered(result, new);
        if new {
            tracing::info!(scenario = %result.scenario, region = %result.region,
                outcome = result.outcome.as_str(), "Fleet test run answered.");
            ack.accepted.push(result.id);
        } else {
            ack.duplicates.push(result.id);
        }
    }
    Ok(())
}

/// Whether `result` may answer `row`: from the probe that was asked, for
/// the scenario it was given. Its JSON as sent is the answer.
fn check(
    result: &RunResult,
    row: &RunRequestRow,
    probe: &ProbeIdentity,
) -> Result<(), (RejectReason, String)> {
    let identity = |e: String| (RejectReason::Identity, e);
    if result.probe != probe.name || result.region != probe.region || row.probe != probe.name {
        return Err(identity(format!(
            "result of probe `{}` in `{}` answers a test run asked of probe `{}`",
            result.probe, result.region, row.probe
        )));
    }
    if result.scenario != row.request.scenario {
        return Err(identity(format!(
            "result of scenario `{}` answers a test run of `{}`",
            result.scenario, row.request.scenario
        )));
    }
    if result.steps.len() > MAX_STEPS {
        return Err((
            RejectReason::TooLarge,
            format!(
                "result has {} steps; a scenario has at most {MAX_STEPS}",
                result.steps.len()
            ),
        ));
    }
    Ok(())
}
