//! `baton budget`: each beat's SLO error budget over a window (30 days by
//! default), as JSON (`format_version` 1) and as a text table per pipeline; and
//! the one-line state a CI summary or a dashboard shows.

use std::fmt::Write as _;

use baton_analysis::budget::{Budget, BudgetState};
use serde::Serialize;

use crate::format;

/// What `baton budget --format json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetDoc {
    pub format_version: u32,
    /// The window: runs that started in the last `days` days.
    pub days: u64,
    pub pipelines: Vec<PipelineBudget>,
}

/// A pipeline's beats and their budgets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineBudget {
    pub pipeline_id: String,
    pub pipeline: String,
    /// Where the objectives come from: `pipeline file` (the folder's pipeline
    /// file sets or defaults them) or `default` (no pipeline file to read them
    /// from: every beat at the default).
    pub objectives_from: ObjectiveSource,
    pub beats: Vec<BeatBudget>,
}

/// Where a pipeline's objectives were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveSource {
    PipelineFile,
    Default,
}

/// One beat's budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BeatBudget {
    pub beat: String,
    #[serde(flatten)]
    pub budget: Budget,
}

impl PipelineBudget {
    /// How many of its beats are in `state`.
    pub fn count(&self, state: BudgetState) -> usize {
        self.beats
            .iter()
            .filter(|b| b.budget.state == state)
            .count()
    }

    /// `2 exhausted, 1 low, 30 healthy, 1 with too few runs`: the pipeline's
    /// budgets in one line.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = [
            (BudgetState::Exhausted, "exhausted"),
            (BudgetState::Low, "low"),
            (BudgetState::Healthy, "healthy"),
            (BudgetState::InsufficientData, "with too few runs"),
        ]
        .into_iter()
        .filter_map(|(state, word)| {
            let n = self.count(state);
            (n > 0).then(|| format!("{n} {word}"))
        })
        .collect();
        if parts.is_empty() {
            "no runs in the window".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// Beats that need attention (exhausted, then low), the least left first.
    pub fn at_risk(&self) -> Vec<&BeatBudget> {
        let mut beats: Vec<&BeatBudget> = self
            .beats
            .iter()
            .filter(|b| matches!(b.budget.state, BudgetState::Exhausted | BudgetState::Low))
            .collect();
        beats.sort_by(|a, b| {
            let left = |x: &BeatBudget| x.budget.remaining.unwrap_or(f64::INFINITY);
            left(a).total_cmp(&left(b))
        });
        beats
    }
}

/// `50% left (1 of 2 allowed misses over 40 runs)`, `overspent: 6 misses where 40
/// runs allow 2`, or `too few runs (12 of 20)`.
pub fn describe(budget: &Budget) -> String {
    let allowed = allowed(budget.allowed);
    match (budget.state, budget.remaining) {
        (BudgetState::InsufficientData, _) | (_, None) => {
            format!("too few runs ({} of {})", budget.runs, budget.min_runs)
        }
        (BudgetState::Exhausted, Some(_)) => format!(
            "exhausted: {} missed where {} runs allow {allowed}",
            budget.missed, budget.runs
        ),
        (_, Some(left)) => format!(
            "{} left ({} of {allowed} allowed misses used over {} runs)",
            format::percent(left.max(0.0)),
            budget.missed,
            budget.runs
        ),
    }
}

/// Allowed misses with at most two decimals: `2`, `1.5`, `2.05`.
fn allowed(misses: f64) -> String {
    let text = format!("{misses:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The text of `baton budget`.
pub fn render_budget(doc: &BudgetDoc) -> String {
    let mut out = String::new();
    if doc.pipelines.is_empty() {
        let _ = writeln!(out, "no runs in the last {} days", doc.days);
        return out;
    }
    for (i, p) in doc.pipelines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let from = match p.objectives_from {
            ObjectiveSource::PipelineFile => "objectives from the pipeline file",
            ObjectiveSource::Default => "default objectives",
        };
        let _ = writeln!(
            out,
            "{}: SLO budgets over {} days ({from}): {}",
            p.pipeline,
            doc.days,
            p.summary()
        );
        let width = p
            .beats
            .iter()
            .map(|b| b.beat.chars().count())
            .max()
            .unwrap_or(4);
        let _ = writeln!(
            out,
            "  {:<width$}  {:>9}  {:>5}  {:>6}  {:>18}  budget",
            "beat", "objective", "runs", "missed", "met",
        );
        for b in &p.beats {
            let budget = &b.budget;
            let met = if budget.runs == 0 {
                "-".to_owned()
            } else {
                format!(
                    "{} ({}–{})",
                    format::percent(budget.compliance.rate),
                    whole_percent(budget.compliance.low),
                    whole_percent(budget.compliance.high)
                )
            };
            let _ = writeln!(
                out,
                "  {:<width$}  {:>9}  {:>5}  {:>6}  {:>18}  {}",
                b.beat,
                format::percent(budget.objective),
                budget.runs,
                budget.missed,
                met,
                describe(budget),
            );
        }
    }
    out
}

fn whole_percent(fraction: f64) -> String {
    format!("{:.0}%", fraction * 100.0)
}

#[cfg(test)]
mod tests {
    use baton_analysis::budget::evaluate;

    use super::*;

    fn pipeline(beats: Vec<(&str, Budget)>) -> PipelineBudget {
        PipelineBudget {
            pipeline_id: "id".into(),
            pipeline: "ci".into(),
            objectives_from: ObjectiveSource::PipelineFile,
            beats: beats
                .into_iter()
                .map(|(beat, budget)| BeatBudget {
                    beat: beat.into(),
                    budget,
                })
                .collect(),
        }
    }

    #[test]
    fn the_text_says_what_each_budget_rests_on() {
        let doc = BudgetDoc {
            format_version: 1,
            days: 30,
            pipelines: vec![pipeline(vec![
                ("compile", evaluate(0.95, 39, 1)),
                ("unit-tests", evaluate(0.95, 34, 6)),
                ("lint", evaluate(0.95, 12, 0)),
            ])],
        };
        let text = render_budget(&doc);
        assert!(
            text.contains("ci: SLO budgets over 30 days (objectives from the pipeline file): 1 exhausted, 1 healthy, 1 with too few runs"),
            "{text}"
        );
        assert!(
            text.contains("50.0% left (1 of 2 allowed misses used over 40 runs)"),
            "{text}"
        );
        assert!(
            text.contains("exhausted: 6 missed where 40 runs allow 2"),
            "{text}"
        );
        assert!(text.contains("too few runs (12 of 20)"), "{text}");
    }

    #[test]
    fn beats_at_risk_come_least_left_first() {
        let p = pipeline(vec![
            ("low", evaluate(0.95, 96, 4)),
            ("fine", evaluate(0.95, 40, 0)),
            ("gone", evaluate(0.95, 34, 6)),
        ]);
        let names: Vec<&str> = p.at_risk().iter().map(|b| b.beat.as_str()).collect();
        assert_eq!(names, ["gone", "low"]);
    }
}
