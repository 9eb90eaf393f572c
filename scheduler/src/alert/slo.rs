//! Error budgets and multi-window burn rates (the Google SRE workbook's
//! "multiwindow, multi-burn-rate alerts"). Pure: counts in, numbers out.
//!
//! With an availability objective `A` (percent), the error budget is the
//! allowed error ratio `1 - A/100`. Over a window, the burn rate is the
//! observed error ratio divided by that budget (1 = spending exactly the
//! budget over the SLO window), and the budget remaining over the SLO
//! window is `1 - error_ratio / budget` (below 0: overspent).
//!
//! A window is only as good as the history it covers: with 3 minutes of
//! stored runs, the "1h" window holds 3 minutes. So a burn rule (long,
//! short) fires only once the history is at least its long window, and
//! a budget over less history than the SLO window is the share of the
//! whole window's budget spent so far: `1 - burn × history / window`.

use std::collections::BTreeMap;
use std::time::Duration;

use scenarios::model::SloObjective;

/// The burn-rate windows, in the `window` label's spelling.
pub const BURN_WINDOWS: [(&str, Duration); 7] = [
    ("5m", Duration::from_secs(300)),
    ("30m", Duration::from_secs(1_800)),
    ("1h", Duration::from_secs(3_600)),
    ("2h", Duration::from_secs(7_200)),
    ("6h", Duration::from_secs(21_600)),
    ("1d", Duration::from_secs(86_400)),
    ("3d", Duration::from_secs(259_200)),
];

/// Page: 2% of the budget spent in 1 h, or 5% in 6 h (long window, short
/// window, share of the budget).
const PAGE: [(&str, &str, f64); 2] = [("1h", "5m", 0.02), ("6h", "30m", 0.05)];
/// Ticket: 10% of the budget in 1 d, or 10% in 3 d.
const TICKET: [(&str, &str, f64); 2] = [("1d", "2h", 0.10), ("3d", "6h", 0.10)];

/// The burn rate at which `share` of the budget of an SLO over `slo`
/// goes in `long`: 14.4, 6, 3 and 1 for the rules above over 30 days,
/// scaled for other SLO windows so each rule keeps its meaning. `None`
/// when the long window is longer than the SLO window (it says nothing).
pub fn factor(share: f64, slo: Duration, long: Duration) -> Option<f64> {
    (long <= slo && !long.is_zero()).then(|| share * slo.as_secs_f64() / long.as_secs_f64())
}

fn window_of(label: &str) -> Option<Duration> {
    BURN_WINDOWS
        .iter()
        .find(|(l, _)| *l == label)
        .map(|(_, d)| *d)
}

/// Runs in a window and how many of them failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub failed: u64,
}

impl Counts {
    /// Failed over total; 0 without runs.
    pub fn error_ratio(self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.failed as f64 / self.total as f64
        }
    }
}

/// The allowed error ratio of an availability in percent.
pub fn budget(availability: f64) -> f64 {
    1.0 - availability / 100.0
}

/// Error ratio over the window divided by the allowed error ratio.
pub fn burn_rate(counts: Counts, availability: f64) -> f64 {
    let allowed = budget(availability);
    if allowed <= 0.0 {
        return if counts.failed > 0 {
            f64::INFINITY
        } else {
            0.0
        };
    }
    counts.error_ratio() / allowed
}

/// What is left of the budget of an SLO over `window` whose runs cover
/// `history` of it: `1 - burn × history / window`, 1 untouched, below 0
/// overspent. Over the whole window that is `1 - (failed/total) /
/// (1 - availability/100)`; over a shorter history, the share of the
/// whole window's budget spent so far (3 minutes failing at 1000× of a
/// 30-day budget spend 7%, not 99,900%).
pub fn budget_remaining(
    counts: Counts,
    availability: f64,
    history: Duration,
    window: Duration,
) -> f64 {
    let burn = burn_rate(counts, availability);
    if burn == 0.0 || history.is_zero() || window.is_zero() {
        // Nothing spent, or nothing of the window covered yet.
        return 1.0;
    }
    let covered = history.min(window).as_secs_f64() / window.as_secs_f64();
    1.0 - burn * covered
}

/// An SLO's state now.
#[derive(Debug, Clone, PartialEq)]
pub struct SloStatus {
    pub availability: f64,
    pub window: Duration,
    /// How much of the SLO window the stored runs cover: from the oldest
    /// run to now, at most `window`.
    pub history: Duration,
    /// Over the whole window's budget: what a short history has spent so
    /// far (see the module's notes).
    pub budget_remaining: f64,
    /// By window label (`5m` … `3d`).
    pub burn_rates: BTreeMap<&'static str, f64>,
    /// A page-worthy burn (over 30 days: 14.4× 1h and 5m, or 6× 6h and
    /// 30m), with at least the long window of history.
    pub page: bool,
    /// A ticket-worthy burn (over 30 days: 3× 1d and 2h, or 1× 3d and
    /// 6h), with at least the long window of history.
    pub ticket: bool,
    /// The (long, short) windows of the page and ticket rules that fired,
    /// or of the first rule when none did: what a summary quotes.
    pub page_windows: [&'static str; 2],
    pub ticket_windows: [&'static str; 2],
}

impl SloStatus {
    /// Whether a deploy should proceed: budget left and no page-worthy burn.
    pub fn deploy_ok(&self) -> bool {
        self.budget_remaining > 0.0 && !self.page
    }

    /// The history when it covers less than the SLO window.
    pub fn short_history(&self) -> Option<Duration> {
        (self.history < self.window).then_some(self.history)
    }

    /// `98.5% of the budget left over the 3m 0s of history so far`, or
    /// `-3.0% of the budget left` once the history covers the window.
    pub fn budget_left(&self) -> String {
        let left = format!("{:.1}% of the budget left", self.budget_remaining * 100.0);
        match self.short_history() {
            Some(h) => format!("{left} {}", history_note(h)),
            None => left,
        }
    }
}

/// `over the 3m 0s of history so far`: what a budget over a short history
/// is measured on.
pub fn history_note(history: Duration) -> String {
    format!(
        "over the {} of history so far",
        super::notify::text::human(history.as_secs_f64())
    )
}

/// The status from the counts over the SLO window and over each of
/// [`BURN_WINDOWS`] (same order), with `history` the time the stored runs
/// cover (from the oldest to now).
pub fn evaluate(
    objective: &SloObjective,
    window: Counts,
    burns: &[Counts; 7],
    history: Duration,
) -> SloStatus {
    let a = objective.availability;
    let history = history.min(objective.window);
    let burn_rates: BTreeMap<&'static str, f64> = BURN_WINDOWS
        .iter()
        .zip(burns)
        .map(|((label, _), c)| (*label, burn_rate(*c, a)))
        .collect();
    // The first rule whose long and short windows both burn above its
    // factor, among those whose long window the history covers.
    let over = |rules: &[(&'static str, &'static str, f64)]| {
        rules
            .iter()
            .find(|(long, short, share)| {
                let Some(factor) = window_of(long)
                    .filter(|w| history >= *w)
                    .and_then(|w| factor(*share, objective.window, w))
                else {
                    return false;
                };
                let rate = |w: &str| burn_rates.get(w).copied().unwrap_or(0.0);
                rate(long) > factor && rate(short) > factor
            })
            .map(|(long, short, _)| [*long, *short])
    };
    let page = over(&PAGE);
    let ticket = over(&TICKET);
    SloStatus {
        availability: a,
        window: objective.window,
        history,
        budget_remaining: budget_remaining(window, a, history, objective.window),
        page: page.is_some(),
        ticket: ticket.is_some(),
        page_windows: page.unwrap_or([PAGE[0].0, PAGE[0].1]),
        ticket_windows: ticket.unwrap_or([TICKET[0].0, TICKET[0].1]),
        burn_rates,
    }
}

/// Counts of the runs in `(now - window, now]` among `runs` (`started_at`
/// in Unix ms, whether it succeeded).
pub fn count(runs: &[(i64, bool)], now_ms: i64, window: Duration) -> Counts {
    let since = now_ms.saturating_sub(crate::clock::millis(window));
    runs.iter()
        .filter(|(at, _)| *at > since && *at <= now_ms)
        .fold(Counts::default(), |c, (_, ok)| Counts {
            total: c.total + 1,
            failed: c.failed + u64::from(!ok),
        })
}

/// The time from the oldest run (`first_ms`, Unix ms) to `now_ms`; zero
/// without runs.
pub fn history(first_ms: Option<i64>, now_ms: i64) -> Duration {
    let ms = first_ms.map_or(0, |first| now_ms.saturating_sub(first).max(0));
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// [`evaluate`] over a run history (every stored run of the scenario).
pub fn evaluate_runs(objective: &SloObjective, runs: &[(i64, bool)], now_ms: i64) -> SloStatus {
    let window = count(runs, now_ms, objective.window);
    let burns = BURN_WINDOWS.map(|(_, w)| count(runs, now_ms, w));
    let first = runs.iter().map(|(at, _)| *at).min();
    evaluate(objective, window, &burns, history(first, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const NOW: i64 = 1_800_000_000_000;

    fn objective(availability: f64, days: u64) -> SloObjective {
        SloObjective {
            availability,
            window: Duration::from_secs(days * 86_400),
        }
    }

    /// One run a minute over `span` minutes before NOW, failing where `fail` says.
    fn history(span: i64, fail: impl Fn(i64) -> bool) -> Vec<(i64, bool)> {
        (0..span).map(|m| (NOW - m * MIN, !fail(m))).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn budget_and_burn_by_hand() {
        // 99.9%: 0.1% of runs may fail. 1000 runs, 1 failed: exactly on budget.
        let c = Counts {
            total: 1_000,
            failed: 1,
        };
        let month = Duration::from_secs(30 * 86_400);
        let all = |c, a| budget_remaining(c, a, month, month);
        assert!(close(burn_rate(c, 99.9), 1.0));
        assert!(close(all(c, 99.9), 0.0));
        // 4 failed of 1000: 4x the budget, remaining 1 - 4 = -3 (overspent).
        let c = Counts {
            total: 1_000,
            failed: 4,
        };
        assert!(close(burn_rate(c, 99.9), 4.0));
        assert!(close(all(c, 99.9), -3.0));
        // 99%: 1 failed in 400 = 0.25% of runs, a quarter of the budget.
        let c = Counts {
            total: 400,
            failed: 1,
        };
        assert!(close(all(c, 99.0), 0.75));
        assert_eq!(all(Counts::default(), 99.9), 1.0);
    }

    #[test]
    fn an_outage_in_the_last_ten_minutes_pages() {
        // 30 days of one run a minute (and one on the window's edge, so
        // the history covers it); the last 10 minutes all failed.
        let runs = history(30 * 24 * 60 + 1, |m| m < 10);
        let s = evaluate_runs(&objective(99.9, 30), &runs, NOW);
        // 5m: 5/5 failed → ratio 1 → burn 1000.
        assert!(close(s.burn_rates["5m"], 1_000.0));
        // 30m: 10/30 → 333.33…
        assert!(close(s.burn_rates["30m"], 10.0 / 30.0 / 0.001));
        // 1h: 10/60 → 166.67.
        assert!(close(s.burn_rates["1h"], 10.0 / 60.0 / 0.001));
        // 3d: 10/4320 → 2.3148.
        assert!(close(s.burn_rates["3d"], 10.0 / 4_320.0 / 0.001));
        // 30d: 10 of 43200 failed; budget 43.2 runs → 1 - 10/43.2.
        assert!(close(s.budget_remaining, 1.0 - 10.0 / 43.2));
        assert!(s.page && s.ticket);
        assert!(!s.deploy_ok(), "budget left, but a page-worthy burn");
    }

    #[test]
    fn a_slow_burn_tickets_without_paging() {
        // 99%: one failure every 40 runs over the last 3 days = 2.5% errors,
        // burn 2.5 everywhere: above 1 (3d/6h ticket), below 3, 6 and 14.4.
        // One more good run on the edge: the history covers 3 days.
        let runs = history(3 * 24 * 60 + 1, |m| m % 40 == 0 && m < 3 * 24 * 60);
        let s = evaluate_runs(&objective(99.0, 30), &runs, NOW);
        assert!(close(s.burn_rates["3d"], 108.0 / 4_320.0 / 0.01));
        assert!(close(s.burn_rates["6h"], 9.0 / 360.0 / 0.01));
        assert!(close(s.burn_rates["1d"], 36.0 / 1_440.0 / 0.01));
        assert!(!s.page);
        assert!(s.ticket);
        // 108 of 4321 failed in 3 days of a 30-day window: burn 2.5 for a
        // tenth of the window spent a quarter of the budget (about 108 of
        // the 432 runs that 30 days at this pace may fail).
        assert_eq!(s.history, Duration::from_secs(3 * 86_400));
        assert!(
            close(s.budget_remaining, 1.0 - 108.0 / 4_321.0 / 0.01 / 10.0),
            "{s:?}"
        );
        assert!(s.deploy_ok(), "a ticket, not a page, and budget left");
    }

    #[test]
    fn a_short_spike_alone_does_not_page_and_old_runs_fall_out() {
        // 6 hours of runs; failures only 2 hours ago, for 20 minutes.
        let runs = history(6 * 60, |m| (120..140).contains(&m));
        let s = evaluate_runs(&objective(99.9, 30), &runs, NOW);
        assert_eq!(s.burn_rates["5m"], 0.0);
        assert_eq!(s.burn_rates["1h"], 0.0);
        // 2h covers minutes 0..=119: none of the failures (they start at 120).
        assert_eq!(s.burn_rates["2h"], 0.0);
        // 6h: 20/360.
        assert!(close(s.burn_rates["6h"], 20.0 / 360.0 / 0.001));
        assert!(!s.page, "6h burns but 30m does not");
        // 3d and 6h both burn (55.6 > 1), but 6 hours of history say
        // nothing of 1d or 3d.
        assert!(!s.ticket, "{s:?}");
        // A day and a half earlier, a good run: now 3d is covered.
        let mut older = runs.clone();
        older.push((NOW - 72 * HOUR, true));
        let s = evaluate_runs(&objective(99.9, 30), &older, NOW);
        assert!(s.ticket && !s.page, "{s:?}");
        assert_eq!(s.ticket_windows, ["3d", "6h"]);
        // Later, the spike is outside every window but 1d and 3d.
        let s = evaluate_runs(&objective(99.9, 30), &runs, NOW + 10 * HOUR);
        assert_eq!(s.burn_rates["6h"], 0.0);
        assert!(s.burn_rates["1d"] > 0.0);
    }

    #[test]
    fn factors_are_the_workbook_ones_over_30_days_and_scale_with_the_window() {
        let day = Duration::from_secs(86_400);
        let hour = Duration::from_secs(3_600);
        let f = |share, slo, long| factor(share, slo, long).unwrap();
        assert!(close(f(0.02, day * 30, hour), 14.4));
        assert!(close(f(0.05, day * 30, hour * 6), 6.0));
        assert!(close(f(0.10, day * 30, day), 3.0));
        assert!(close(f(0.10, day * 30, day * 3), 1.0));
        // 2% of a 7-day budget in one hour.
        assert!(close(f(0.02, day * 7, hour), 3.36));
        assert_eq!(factor(0.10, day, day * 3), None);
    }

    #[test]
    fn a_burn_that_pages_a_7_day_slo_does_not_page_a_30_day_one() {
        // A run every 6 s for a day; three failures in the last hour (one
        // in the last 5 minutes): 1h burns 5x, 5m 20x against 99.9%.
        let runs: Vec<(i64, bool)> = (0..14_400)
            .map(|i| (NOW - i * 6_000, ![10, 200, 400].contains(&i)))
            .collect();
        let counts = |w| count(&runs, NOW, w);
        let burns = BURN_WINDOWS.map(|(_, w)| counts(w));
        let rate_1h = burn_rate(burns[2], 99.9);
        assert!(rate_1h > 3.36 && rate_1h < 14.4, "{rate_1h}");
        let day = Duration::from_secs(86_400);
        let week = evaluate(&objective(99.9, 7), counts(day * 7), &burns, day);
        let month = evaluate(&objective(99.9, 30), counts(day * 30), &burns, day);
        assert!(week.page, "{week:?}");
        assert_eq!(week.page_windows, ["1h", "5m"]);
        assert!(!month.page, "{month:?}");
    }

    #[test]
    fn the_rule_that_fired_is_the_one_quoted() {
        // A steady 1% of failures over the last 6 hours, none in the last
        // 5 minutes: 6h and 30m burn 10x (over 6x), 1h 10x (under 14.4x).
        // One good run 3 days ago: the history covers every window.
        let mut runs: Vec<(i64, bool)> = (0..14_400)
            .map(|i| (NOW - i * 6_000, !(i < 3_600 && i % 100 == 50)))
            .collect();
        runs.push((NOW - 72 * HOUR, true));
        let s = evaluate_runs(&objective(99.9, 30), &runs, NOW);
        assert!(s.page, "{s:?}");
        assert_eq!(s.page_windows, ["6h", "30m"]);
        assert!(
            close(s.burn_rates["6h"], 10.0) && close(s.burn_rates["5m"], 0.0),
            "{s:?}"
        );
        // 1d burns 2.5x (under 3x), but 3d 2.5x and 6h 10x are over 1x.
        assert!(s.ticket, "{s:?}");
        assert_eq!(s.ticket_windows, ["3d", "6h"]);
    }

    /// A run every 10 s for `span` seconds before NOW, failing where
    /// `fail` says (by seconds before NOW).
    fn every_10s(span: i64, fail: impl Fn(i64) -> bool) -> Vec<(i64, bool)> {
        (0..=span / 10)
            .map(|i| (NOW - i * 10_000, !fail(i * 10)))
            .collect()
    }

    #[test]
    fn three_minutes_of_history_neither_page_nor_overspend() {
        // A fresh fleet: 3 minutes of runs, one in six failed, against
        // 99.9% over 30 days: every window burns the same (they all hold
        // the same 3 minutes), far above 14.4x.
        let runs = every_10s(180, |s| s % 60 == 0);
        let s = evaluate_runs(&objective(99.9, 30), &runs, NOW);
        let burn = 4.0 / 19.0 / 0.001;
        assert!(close(s.burn_rates["5m"], burn) && close(s.burn_rates["1h"], burn));
        assert_eq!(s.history, Duration::from_secs(180));
        assert!(
            !s.page && !s.ticket,
            "3 minutes cover no long window: {s:?}"
        );
        // Spent so far: 210x for 3 minutes of 30 days, about 1.5% of the
        // budget (not 1 - 210 = -20,950%).
        let left = 1.0 - burn * 180.0 / (30.0 * 86_400.0);
        assert!(close(s.budget_remaining, left), "{s:?}");
        assert!(s.budget_remaining > 0.98 && s.budget_remaining < 0.99);
        assert!(s.deploy_ok());
    }

    #[test]
    fn a_rule_fires_once_the_history_covers_its_long_window() {
        // The same burn with exactly one hour of history pages (1h/5m);
        // a second less does not.
        let o = objective(99.9, 30);
        let runs = every_10s(3_600, |s| s % 60 == 0);
        let s = evaluate_runs(&o, &runs, NOW);
        assert_eq!(s.history, Duration::from_secs(3_600));
        assert!(s.page, "{s:?}");
        assert_eq!(s.page_windows, ["1h", "5m"]);
        assert!(!s.ticket, "an hour covers neither 1d nor 3d");
        let s = evaluate_runs(&o, &runs, NOW - 1_000);
        assert!(!s.page, "{s:?}");
        // History beyond the SLO window counts as the window.
        let s = evaluate(&o, Counts::default(), &[Counts::default(); 7], o.window * 2);
        assert_eq!(s.history, o.window);
    }
}
