//! A scenario's latency baselines and the newest judgement per region
//! (`[alert] anomaly`), as the scenario detail shows them: on-call sees
//! whether "slow" is unusual for this region without reading the chart.
//! Judged from the store as the leader judges, so every replica answers
//! alike.

use serde::Serialize;

use crate::alert::anomaly::Verdict;
use crate::alert::anomaly_at;
use crate::app::App;
use crate::store::StoreError;

#[derive(Debug, Serialize)]
pub struct AnomalyView {
    /// The policy's numbers.
    pub sensitivity: f64,
    pub min_runs: u32,
    /// Each region judged or learning, by name.
    pub regions: Vec<AnomalyRegion>,
}

#[derive(Debug, Serialize)]
pub struct AnomalyRegion {
    pub region: String,
    /// `null` while the region has fewer than `min_runs` successful runs.
    pub verdict: Option<VerdictView>,
}

#[derive(Debug, Serialize)]
pub struct VerdictView {
    /// The baseline's median duration.
    pub baseline_ms: f64,
    /// Its robust spread (MAD × 1.4826, floored as the band uses it).
    pub spread_ms: f64,
    /// Durations above this are anomalous: `baseline_ms + sensitivity ×
    /// spread_ms`.
    pub upper_ms: f64,
    /// Runs the baseline was learned from.
    pub baseline_runs: usize,
    /// Learned from the same hour of the week rather than the whole window.
    pub seasonal: bool,
    /// The median of the newest runs judged.
    pub recent_p50_ms: f64,
    pub judged: usize,
    /// How many of those are above `upper_ms`.
    pub anomalous: usize,
    /// Whether the anomaly alert's condition holds.
    pub firing: bool,
}

/// The anomaly view of scenario `name` in `regions`, judged now; `None`
/// without `[alert] anomaly`.
///
/// # Errors
/// Store errors.
pub async fn anomaly_view(
    app: &App,
    name: &str,
    regions: Vec<String>,
) -> Result<Option<AnomalyView>, StoreError> {
    let Some(policy) = app
        .catalog
        .current()
        .get(name)
        .and_then(|s| s.scenario.alert.anomaly)
    else {
        return Ok(None);
    };
    let now_ms = app.clock.now_ms();
    // An open anomaly alert's baseline ends where it started.
    let judged: Vec<(String, Option<i64>)> = regions
        .into_iter()
        .map(|r| {
            let since = app.alerts.anomaly_firing_since(name, &r);
            (r, since)
        })
        .collect();
    let (owned, p) = (name.to_owned(), policy);
    let verdicts = app
        .store
        .read(move |tx| {
            judged
                .into_iter()
                .map(|(region, since)| {
                    let v = anomaly_at(tx, &owned, &region, &p, now_ms, since)?;
                    Ok((region, v))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .await?;
    Ok(Some(view(policy.sensitivity, policy.min_runs, verdicts)))
}

fn view(sensitivity: f64, min_runs: u32, verdicts: Vec<(String, Option<Verdict>)>) -> AnomalyView {
    AnomalyView {
        sensitivity,
        min_runs,
        regions: verdicts
            .into_iter()
            .map(|(region, v)| AnomalyRegion {
                region,
                verdict: v.map(|v| VerdictView {
                    baseline_ms: v.baseline.median_ms,
                    spread_ms: v.baseline.floored_spread_ms(),
                    upper_ms: v.baseline.upper_ms(sensitivity),
                    baseline_runs: v.baseline.runs,
                    seasonal: v.baseline.seasonal,
                    recent_p50_ms: v.recent_p50_ms,
                    judged: v.judged,
                    anomalous: v.anomalous,
                    firing: v.firing,
                }),
            })
            .collect(),
    }
}
