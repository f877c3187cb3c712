//! What every thread of a run shares ([`Ctx`]): the pipeline, the plan, the
//! options, the spawner, the cancel token, the secrets' masker and the run's log
//! folder; and the paths and environment of a beat derived from them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton_model::{BeatSpec, Pipeline};

use crate::cancel::CancelToken;
use crate::hints::HistoryHints;
use crate::options::RunOptions;
use crate::output::{BeatOutput, Emit, Masker};
use crate::plan::Plan;
use crate::record::RecordContext;
use crate::spawner::Spawner;

/// What every beat thread shares.
pub(crate) struct Ctx<'a> {
    pub(crate) pipeline: &'a Pipeline,
    pub(crate) plan: &'a Plan,
    pub(crate) opts: &'a RunOptions,
    /// The beats' history, which records are judged against.
    pub(crate) history: &'a HistoryHints,
    pub(crate) spawner: &'a dyn Spawner,
    pub(crate) cancel: &'a CancelToken,
    pub(crate) masker: Arc<Masker>,
    pub(crate) run_dir: PathBuf,
    /// Whether the run's log folder exists: each beat's log (and its movement's
    /// folder) is made at its first byte of output, its `$BATON_OUTPUT` file in
    /// this folder.
    pub(crate) run_dir_ok: bool,
    /// Whether the run's log folder takes writes (it may exist on a full disk):
    /// when it does not, `$BATON_OUTPUT` goes to the temporary directory.
    pub(crate) run_dir_writable: bool,
}

impl Ctx<'_> {
    pub(crate) fn spec(&self, index: usize) -> &BeatSpec {
        let planned = &self.plan.beats[index];
        &self.pipeline.movements[planned.movement_index].beats[planned.beat_index]
    }

    pub(crate) fn log_path(&self, index: usize) -> PathBuf {
        let planned = &self.plan.beats[index];
        self.run_dir.join(baton_model::layout::beat_log_relative(
            &planned.movement,
            &planned.name,
        ))
    }

    /// The output of beat `index` into its log at `log_path`, made (with its
    /// folder) at the first byte written.
    pub(crate) fn output(&self, index: usize, log_path: &Path, emit: &Arc<Emit>) -> BeatOutput {
        let folder = if self.run_dir_ok {
            Ok(())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "the run's log folder {} could not be made",
                    self.run_dir.display()
                ),
            ))
        };
        BeatOutput::open_prepared(
            &self.spec(index).name,
            Some((log_path, folder)),
            Arc::clone(&self.masker),
            Arc::clone(emit),
        )
    }

    pub(crate) fn record_context<'b>(
        &'b self,
        index: usize,
        log_path: Option<&'b str>,
    ) -> RecordContext<'b> {
        let planned = &self.plan.beats[index];
        RecordContext {
            run_id: self.opts.run.run_id,
            pipeline: self.pipeline,
            movement_index: planned.movement_index,
            beat_index: planned.beat_index,
            log_path,
        }
    }

    /// The environment baton adds for `beat`: its `env`, its secrets (from baton's
    /// own environment), `BATON_RUN_ID` and `BATON_BEAT`; `TRACEPARENT` is added
    /// per attempt.
    pub(crate) fn env(&self, beat: &BeatSpec, warn: &dyn Fn(String)) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = beat
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for name in &beat.secrets {
            match std::env::var(name) {
                Ok(value) => env.push((name.clone(), value)),
                Err(_) => warn(format!(
                    "beat '{}': secret {name} is not set in baton's environment",
                    beat.name
                )),
            }
        }
        env.push(("BATON_RUN_ID".into(), self.opts.run.run_id.to_string()));
        env.push(("BATON_BEAT".into(), beat.name.clone()));
        env
    }
}
