//! A planned run, as data: the beats that run in plan order (file order) with what
//! each waits for, and the beats that do not run and why. `baton_runner::plan`
//! makes it from a pipeline and a selection, the scheduler runs it and
//! `baton_report::dry_run` shows it. It serializes to JSON.

use std::fmt;

use serde::Serialize;

use crate::pipeline::{BeatSpec, Level, Pipeline};

/// A beat that will run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedBeat {
    pub movement_index: usize,
    /// Index of the beat inside its movement.
    pub beat_index: usize,
    pub movement: String,
    pub name: String,
    pub level: Level,
    /// Indices into [`Plan::beats`] of the beats this one waits for, ascending.
    pub deps: Vec<usize>,
    /// Of [`PlannedBeat::deps`], those no other of them already waits for: what a
    /// reader needs to see ("after ...").
    pub after: Vec<usize>,
    /// 0-based wave: the beats of one wave can start together once the earlier
    /// waves are done (the longest chain of dependencies before it).
    pub wave: usize,
}

impl PlannedBeat {
    /// The beat's definition in the pipeline it was planned from.
    pub fn spec<'p>(&self, pipeline: &'p Pipeline) -> &'p BeatSpec {
        &pipeline.movements[self.movement_index].beats[self.beat_index]
    }
}

/// Why a beat does not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// Its `level` is above the run's level.
    AboveLevel { beat_level: Level, run_level: Level },
    /// `--only` was given and neither names it nor needs it.
    NotSelected,
    /// It sits in a movement before the `--from` movement.
    BeforeFrom { from: String },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AboveLevel {
                beat_level,
                run_level,
            } => write!(
                f,
                "level {beat_level} is above the run level {run_level}; --level {beat_level} would include it"
            ),
            Self::NotSelected => f.write_str("not selected by --only"),
            Self::BeforeFrom { from } => write!(f, "before --from {from}"),
        }
    }
}

/// A beat that will not run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedBeat {
    pub movement_index: usize,
    pub beat_index: usize,
    pub movement: String,
    pub name: String,
    pub reason: SkipReason,
}

/// The beats that run, in plan order (file order), with their dependencies, and
/// the beats that do not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub pipeline: String,
    pub level: Level,
    pub beats: Vec<PlannedBeat>,
    pub skipped: Vec<SkippedBeat>,
}

impl Plan {
    /// Index into [`Plan::beats`] of the beat named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.beats.iter().position(|b| b.name == name)
    }

    /// The beats grouped by wave: each group can start together.
    pub fn waves(&self) -> Vec<Vec<usize>> {
        let count = self.beats.iter().map(|b| b.wave + 1).max().unwrap_or(0);
        let mut waves = vec![Vec::new(); count];
        for (i, beat) in self.beats.iter().enumerate() {
            waves[beat.wave].push(i);
        }
        waves
    }
}
