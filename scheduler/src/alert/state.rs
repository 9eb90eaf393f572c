//! The per scenario × region state machine: `up` → `down` once `after`
//! is met (N failed runs in a row, or among the last M), back `up` once
//! `recover_after` is met by good runs. Pure: no store, no clock.
//!
//! Hysteresis: when the health changes, the window of recent runs starts
//! afresh with the run that changed it, so the runs that took a region
//! down do not count towards its next change (docs/alerting.md).

use scenarios::threshold::Threshold;
use scenarios::wire::{Outcome, RunResult};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::recent::RecentRuns;

/// What the runs say about a scenario in a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// No run seen yet.
    #[default]
    NoData,
    Up,
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::NoData => "no_data",
            Health::Up => "up",
            Health::Down => "down",
        }
    }

    pub fn parse(s: &str) -> Health {
        match s {
            "up" => Health::Up,
            "down" => Health::Down,
            _ => Health::NoData,
        }
    }
}

/// What a region shows: the state in the API and `sonde_scenario_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionState {
    Up,
    Down,
    Degraded,
    Unknown,
    Muted,
    /// A maintenance window is open: runs go on, alerts are muted.
    Maintenance,
}

impl RegionState {
    pub const ALL: [RegionState; 6] = [
        RegionState::Up,
        RegionState::Down,
        RegionState::Degraded,
        RegionState::Unknown,
        RegionState::Muted,
        RegionState::Maintenance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RegionState::Up => "up",
            RegionState::Down => "down",
            RegionState::Degraded => "degraded",
            RegionState::Unknown => "unknown",
            RegionState::Muted => "muted",
            RegionState::Maintenance => "maintenance",
        }
    }
}

/// The facts of a failed run that an alert carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub step: Option<String>,
    pub error: Option<String>,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub trace_id: String,
    pub outcome: Outcome,
}

impl Failure {
    /// The failing step of `result`, its error or its first failed
    /// assertion.
    pub fn of(result: &RunResult) -> Failure {
        let step = result.failed_step();
        let assertion = step.and_then(|s| s.assertions.iter().find(|a| !a.passed));
        Failure {
            step: step.map(|s| s.name.clone()),
            error: step
                .and_then(|s| s.error.as_ref())
                .map(|e| e.message.clone()),
            expected: assertion.map(|a| a.expected.clone()),
            actual: assertion.map(|a| a.actual.clone()),
            trace_id: result.trace_id.clone(),
            outcome: result.outcome,
        }
    }

    /// "step checkout expected 200, got 503" and the like.
    pub fn describe(&self) -> String {
        let step = self
            .step
            .as_deref()
            .map_or_else(|| format!("run {}", self.outcome), |s| format!("step {s}"));
        match (&self.error, &self.expected, &self.actual) {
            (Some(error), _, _) => format!("{step} failed: {error}"),
            (None, Some(expected), Some(actual)) => {
                format!("{step} expected {expected}, got {actual}")
            }
            _ => format!("{step} failed ({})", self.outcome),
        }
    }
}

/// What one result did to the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Older than (or the same as) the newest run seen: ignored.
    Stale,
    /// Counted; the health did not change.
    Same,
    /// Counted; the health changed to this.
    Changed(Health),
}

/// One scenario in one region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionHealth {
    pub health: Health,
    /// Consecutive failed and good runs (a failing region not yet down).
    pub fails: u32,
    pub passes: u32,
    /// The runs since the health last changed, the newest 100.
    pub recent: RecentRuns,
    /// `started_at` (Unix ms) and id of the newest run seen.
    pub last_started: i64,
    pub last_id: Option<Uuid>,
    /// The newest failed run's details.
    pub failure: Option<Failure>,
    /// The latency objective is missed.
    pub degraded: bool,
    /// The objective's percentile over its window, when measured.
    pub latency_ms: Option<f64>,
}

impl RegionHealth {
    /// Counts a run that started at `started_ms` against the scenario's
    /// `after` and `recover_after`.
    pub fn observe(
        &mut self,
        ok: bool,
        started_ms: i64,
        id: Uuid,
        after: Threshold,
        recover_after: Threshold,
    ) -> Observed {
        if self.last_id.is_some() && (started_ms, id) <= (self.last_started, self.last_id_or_nil())
        {
            return Observed::Stale;
        }
        self.last_started = started_ms;
        self.last_id = Some(id);
        if ok {
            self.passes = self.passes.saturating_add(1);
            self.fails = 0;
        } else {
            self.fails = self.fails.saturating_add(1);
            self.passes = 0;
        }
        self.recent.push(ok);
        let before = self.health;
        self.health = match before {
            Health::Down if self.recent.passes_reach(recover_after) => Health::Up,
            Health::Down => Health::Down,
            _ if self.recent.failures_reach(after) => Health::Down,
            _ => Health::Up,
        };
        if self.health == before {
            Observed::Same
        } else {
            self.recent = RecentRuns::starting_with(ok);
            Observed::Changed(self.health)
        }
    }

    fn last_id_or_nil(&self) -> Uuid {
        self.last_id.unwrap_or(Uuid::nil())
    }

    /// Counts `result`, keeping its details when it failed.
    pub fn observe_result(
        &mut self,
        result: &RunResult,
        after: Threshold,
        recover_after: Threshold,
    ) -> Observed {
        let ok = result.outcome == Outcome::Success;
        let observed = self.observe(
            ok,
            result.started_at.timestamp_millis(),
            result.id,
            after,
            recover_after,
        );
        if observed != Observed::Stale && !ok {
            self.failure = Some(Failure::of(result));
        }
        observed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSECUTIVE_2: Threshold = Threshold::consecutive(2);

    fn run(h: &mut RegionHealth, ok: bool, at: i64) -> Observed {
        h.observe(
            ok,
            at,
            Uuid::from_u128(at as u128 + 1),
            CONSECUTIVE_2,
            CONSECUTIVE_2,
        )
    }

    fn t(runs: u32, of: u32) -> Threshold {
        Threshold { runs, of }
    }

    /// The runs (1-based) at which the health changed, for a pattern of
    /// `p` (passed) and `f` (failed) runs.
    fn changes(pattern: &str, after: Threshold, recover_after: Threshold) -> Vec<(usize, Health)> {
        let mut h = RegionHealth::default();
        let mut seen = Vec::new();
        for (i, c) in pattern.chars().filter(|c| !c.is_whitespace()).enumerate() {
            let id = Uuid::from_u128(i as u128 + 1);
            if let Observed::Changed(health) =
                h.observe(c == 'p', i as i64, id, after, recover_after)
            {
                seen.push((i + 1, health));
            }
        }
        seen
    }

    /// Pattern, `after`, `recover_after`, the changes it makes.
    type Case = (
        &'static str,
        Threshold,
        Threshold,
        &'static [(usize, Health)],
    );

    #[test]
    fn goes_down_and_up_at_the_expected_run() {
        use Health::{Down, Up};
        let table: [Case; 12] = [
            // Consecutive: N failed runs in a row, N good ones in a row.
            ("pffp", t(2, 2), t(1, 1), &[(1, Up), (3, Down), (4, Up)]),
            ("ffff", t(3, 3), t(1, 1), &[(1, Up), (3, Down)]),
            ("pfpfpfpfpf", t(3, 3), t(1, 1), &[(1, Up)]),
            ("pfffpfpp", t(2, 2), t(2, 2), &[(1, Up), (3, Down), (8, Up)]),
            // N of M: with fewer than M runs so far, N failures still count.
            ("ff", t(2, 5), t(2, 2), &[(1, Up), (2, Down)]),
            ("fpfpf pfpf pp", t(3, 5), t(3, 3), &[(1, Up), (5, Down)]),
            (
                "fpfpf pfpf ppp",
                t(3, 5),
                t(3, 3),
                &[(1, Up), (5, Down), (12, Up)],
            ),
            // A looser recovery resolves on the first pass, and the window
            // starting afresh makes the next page wait for 3 new failures.
            (
                "fpfpf pfpfp f",
                t(3, 5),
                t(1, 1),
                &[(1, Up), (5, Down), (6, Up), (11, Down)],
            ),
            // Two failures among the last five never make three.
            ("ffppp ffppp ffppp", t(3, 5), t(3, 3), &[(1, Up)]),
            ("ffpppffp", t(3, 5), t(3, 3), &[(1, Up)]),
            // recover_after "N of M" counts good runs among the last M.
            (
                "fff pfpfp",
                t(3, 3),
                t(3, 5),
                &[(1, Up), (3, Down), (8, Up)],
            ),
            (
                "fff pfpff pfpp",
                t(3, 3),
                t(3, 5),
                &[(1, Up), (3, Down), (12, Up)],
            ),
        ];
        for (pattern, after, recover_after, want) in table {
            assert_eq!(
                changes(pattern, after, recover_after),
                want,
                "{pattern} with after {after}, recover_after {recover_after}"
            );
        }
    }

    #[test]
    fn down_after_consecutive_failures_up_after_consecutive_passes() {
        let mut h = RegionHealth::default();
        assert_eq!(run(&mut h, true, 1), Observed::Changed(Health::Up));
        assert_eq!(run(&mut h, false, 2), Observed::Same);
        assert_eq!(run(&mut h, false, 3), Observed::Changed(Health::Down));
        assert_eq!(run(&mut h, false, 4), Observed::Same);
        assert_eq!(run(&mut h, true, 5), Observed::Same);
        assert_eq!(run(&mut h, false, 6), Observed::Same);
        assert_eq!(run(&mut h, true, 7), Observed::Same);
        assert_eq!(run(&mut h, true, 8), Observed::Changed(Health::Up));
    }

    #[test]
    fn flapping_never_goes_down_and_old_runs_are_ignored() {
        let mut h = RegionHealth::default();
        for i in 0..20 {
            assert_ne!(run(&mut h, i % 2 == 1, i), Observed::Changed(Health::Down));
        }
        assert_eq!(h.health, Health::Up);
        assert_eq!(run(&mut h, false, 5), Observed::Stale);
        assert_eq!(run(&mut h, false, 19), Observed::Stale);
    }
}
