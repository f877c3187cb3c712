//! SLO error budgets over a window (`baton budget`, the CI summary, the
//! dashboard's pipelines page): each beat's runs that met or missed its SLO,
//! judged by [`baton_analysis::budget`] at the beat's objective.

use std::collections::HashMap;

use baton_analysis::budget;
use baton_model::{Pipeline, SloTarget};
use baton_report::budget::{BeatBudget, BudgetDoc, ObjectiveSource, PipelineBudget};
use baton_store::SeriesSet;

/// The window budgets are judged over unless the user says otherwise.
pub const DEFAULT_DAYS: u64 = 30;

/// The objectives of one pipeline's beats, read from its pipeline file.
#[derive(Debug, Clone, Default)]
pub struct Objectives {
    /// The pipeline (history key) they belong to.
    pub pipeline_id: String,
    by_beat: HashMap<String, f64>,
}

impl Objectives {
    /// Each beat's objective as the pipeline file resolves it (its own SLO, else
    /// its type's, else the default).
    pub fn of(pipeline: &Pipeline) -> Self {
        Self {
            pipeline_id: pipeline.history_key().to_owned(),
            by_beat: pipeline
                .beats()
                .map(|(_, b)| (b.name.clone(), b.slo.objective()))
                .collect(),
        }
    }
}

/// The budgets of every beat of `set` (read for the window). `objectives` gives
/// the pipeline file's for its pipeline; every other pipeline's beats, and beats
/// the file no longer has, are judged at the default objective.
pub fn document(set: &SeriesSet, days: u64, objectives: Option<&Objectives>) -> BudgetDoc {
    let mut pipelines: Vec<PipelineBudget> = set
        .pipelines
        .iter()
        .map(|p| PipelineBudget {
            pipeline_id: p.pipeline_id.clone(),
            pipeline: p.name.clone(),
            objectives_from: match objectives {
                Some(o) if o.pipeline_id == p.pipeline_id => ObjectiveSource::PipelineFile,
                _ => ObjectiveSource::Default,
            },
            beats: Vec::new(),
        })
        .collect();
    for series in &set.series {
        let pipeline = &mut pipelines[series.pipeline as usize];
        let objective = match objectives {
            Some(o) if o.pipeline_id == pipeline.pipeline_id => {
                o.by_beat.get(&series.beat).copied()
            }
            _ => None,
        }
        .unwrap_or(SloTarget::DEFAULT_OBJECTIVE);
        let (mut met, mut missed) = (0, 0);
        for p in &series.points {
            match budget::outcome(p.status, p.sla) {
                Some(true) => met += 1,
                Some(false) => missed += 1,
                None => {}
            }
        }
        pipeline.beats.push(BeatBudget {
            beat: series.beat.clone(),
            budget: budget::evaluate(objective, met, missed),
        });
    }
    pipelines.retain(|p| !p.beats.is_empty());
    BudgetDoc {
        format_version: 1,
        days,
        pipelines,
    }
}
