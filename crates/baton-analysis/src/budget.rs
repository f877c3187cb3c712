//! Error budgets: how much of a beat's allowance of SLO misses a window has used.
//!
//! A beat's SLO objective says what share of its runs must meet the SLO (95% by
//! default). A run **meets** it when the beat succeeded (ran or was restored from
//! the cache) with a compliant SLA verdict; it **misses** when the beat failed or
//! timed out, or succeeded over its SLO (an SLA warning or worse, the errors or
//! cache targets included). Cancelled and skipped runs say nothing. Over `n` runs
//! the budget allows `(1 - objective) * n` misses; what is left is
//! `1 - missed / allowed`, negative once overspent.
//!
//! A budget is judged only once the window holds enough runs for it to allow one
//! miss (`1 / (1 - objective)`: 20 runs at 95%); with fewer, one miss would spend
//! it all, and the verdict says the data is insufficient instead.

use baton_model::{BeatStatus, SlaStatus};
use serde::Serialize;

use crate::proportion::Proportion;

/// Below this share of its budget left, a budget is low.
pub const LOW_REMAINING: f64 = 0.25;

/// Whether a run met its SLO (`Some(true)`), missed it, or says nothing (`None`:
/// cancelled, skipped).
pub fn outcome(status: BeatStatus, sla: SlaStatus) -> Option<bool> {
    match status {
        BeatStatus::Success => Some(sla == SlaStatus::Compliant),
        BeatStatus::Failure | BeatStatus::Timeout => Some(false),
        BeatStatus::Cancelled | BeatStatus::Skipped => None,
    }
}

/// The fewest runs for which a budget at `objective` allows at least one miss.
pub fn min_runs(objective: f64) -> usize {
    let allowance = 1.0 - objective;
    if allowance <= 0.0 || !allowance.is_finite() {
        return usize::MAX;
    }
    // 1 / 0.05 is 20.000000000000004 in floating point: round that away first.
    let runs = (1.0 / allowance * 1e9).round() / 1e9;
    runs.ceil() as usize
}

/// Where a budget stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetState {
    /// At least [`LOW_REMAINING`] of it left.
    Healthy,
    /// Some left, less than [`LOW_REMAINING`].
    Low,
    /// None left: the window missed the objective.
    Exhausted,
    /// Fewer runs than [`min_runs`]: nothing is said.
    InsufficientData,
}

/// A beat's budget over a window, and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    pub objective: f64,
    /// Runs that met or missed the SLO.
    pub runs: usize,
    pub missed: usize,
    /// Runs that met it, with a 95% Wilson interval.
    pub compliance: Proportion,
    /// Misses the objective allows over `runs`.
    pub allowed: f64,
    /// Share of the budget left (`1 - missed / allowed`, negative when
    /// overspent); `None` with insufficient data.
    pub remaining: Option<f64>,
    pub state: BudgetState,
    /// The runs a verdict needs at this objective.
    pub min_runs: usize,
}

/// The budget at `objective` of a window with `met` and `missed` runs.
pub fn evaluate(objective: f64, met: usize, missed: usize) -> Budget {
    let runs = met + missed;
    // 0.05 * 40 is 2.0000000000000004: rounded, two misses spend it exactly.
    let allowed = ((1.0 - objective) * runs as f64 * 1e9).round() / 1e9;
    let min_runs = min_runs(objective);
    let remaining = (runs >= min_runs && allowed > 0.0).then(|| 1.0 - missed as f64 / allowed);
    let state = match remaining {
        None => BudgetState::InsufficientData,
        Some(left) if left <= 0.0 => BudgetState::Exhausted,
        Some(left) if left < LOW_REMAINING => BudgetState::Low,
        Some(_) => BudgetState::Healthy,
    };
    Budget {
        objective,
        runs,
        missed,
        compliance: Proportion::wilson(met, runs, 0.95),
        allowed,
        remaining,
        state,
        min_runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fewest_runs_are_those_that_allow_one_miss() {
        assert_eq!(min_runs(0.95), 20);
        assert_eq!(min_runs(0.99), 100);
        assert_eq!(min_runs(0.9), 10);
        assert_eq!(min_runs(0.8), 5);
        assert_eq!(min_runs(0.5), 2);
        assert_eq!(min_runs(0.97), 34);
    }

    #[test]
    fn a_window_too_short_to_allow_a_miss_says_nothing() {
        let budget = evaluate(0.95, 18, 1);
        assert_eq!(budget.state, BudgetState::InsufficientData);
        assert_eq!(budget.remaining, None);
        assert_eq!(budget.runs, 19);
    }

    #[test]
    fn misses_spend_the_allowance() {
        // 40 runs at 95% allow two misses.
        let one = evaluate(0.95, 39, 1);
        assert!((one.allowed - 2.0).abs() < 1e-9);
        assert!((one.remaining.unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(one.state, BudgetState::Healthy);
        let none_missed = evaluate(0.95, 40, 0);
        assert_eq!(none_missed.remaining, Some(1.0));
        let two = evaluate(0.95, 38, 2);
        assert_eq!(two.state, BudgetState::Exhausted);
        let six = evaluate(0.95, 34, 6);
        assert!(
            (six.remaining.unwrap() + 2.0).abs() < 1e-9,
            "overspent three times"
        );
        assert_eq!(six.state, BudgetState::Exhausted);
        // 100 runs allow five: four missed leave a fifth.
        assert_eq!(evaluate(0.95, 96, 4).state, BudgetState::Low);
    }

    #[test]
    fn a_slow_success_misses_and_a_skip_says_nothing() {
        assert_eq!(
            outcome(BeatStatus::Success, SlaStatus::Compliant),
            Some(true)
        );
        assert_eq!(
            outcome(BeatStatus::Success, SlaStatus::Warning),
            Some(false)
        );
        assert_eq!(
            outcome(BeatStatus::Timeout, SlaStatus::Compliant),
            Some(false)
        );
        assert_eq!(outcome(BeatStatus::Skipped, SlaStatus::Compliant), None);
        assert_eq!(outcome(BeatStatus::Cancelled, SlaStatus::Breach), None);
    }
}
