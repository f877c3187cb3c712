//! What the reading verbs share: finding the history of a pipeline and a run in it.

use std::sync::Arc;

use anyhow::Context;
use baton_model::{AnomalySettings, BeatRecord, RunRecord};
use baton_report::RunReport;
use baton_store::{HistoryStore, RunSelector};

use crate::cli::{ScopeArgs, StoreArgs};
use crate::state::StateDir;

pub(crate) struct History {
    pub store: Arc<dyn HistoryStore>,
    pub state: StateDir,
    /// The pipeline file's history key when a pipeline file is there to read.
    pub pipeline_id: Option<String>,
    /// The pipeline file, read in full only by the verbs that need more than its
    /// history key ([`History::anomaly_settings`]).
    pub pipeline_file: std::path::PathBuf,
}

impl History {
    /// The SLO objectives of the folder's pipeline, when its file loads.
    pub(crate) fn objectives(&self) -> Option<crate::signals::budgets::Objectives> {
        self.pipeline_id.as_ref()?;
        baton_config::load(&self.pipeline_file)
            .pipeline
            .map(|p| crate::signals::budgets::Objectives::of(&p))
    }

    /// The pipeline file's tuning of the anomaly rules (the default without a valid
    /// pipeline file).
    pub(crate) fn anomaly_settings(&self) -> AnomalySettings {
        baton_config::load(&self.pipeline_file)
            .pipeline
            .map(|p| p.anomalies)
            .unwrap_or_default()
    }
}

pub(crate) fn open(args: &StoreArgs) -> anyhow::Result<History> {
    let path = baton_config::locate(args.file.as_deref());
    if let Some(kind) = baton_config::special_file(&path) {
        crate::usage_bail!("{}: is {kind}, not a regular file", path.display());
    }
    if args.file.is_some() && !path.exists() {
        crate::usage_bail!("failed to find the pipeline file {}", path.display());
    }
    let state = StateDir::for_pipeline_file(&path);
    if !state.history_db().exists() {
        crate::usage_bail!(
            "no history at {} yet: run `baton run` first",
            state.history_db().display()
        );
    }
    let store = state.open_store().context("failed to open the history")?;
    // The history key alone: a read of the history does not need the pipeline
    // checked, only named.
    let pipeline_id = path
        .is_file()
        .then(|| baton_config::history_key(&path))
        .flatten();
    Ok(History {
        store,
        state,
        pipeline_id,
        pipeline_file: path,
    })
}

/// The pipelines a reading command covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// One pipeline, by id (history key).
    Pipeline(String),
    /// Every pipeline in the history.
    All,
}

impl Scope {
    /// The pipeline id, or `None` for every pipeline (what store filters take).
    pub(crate) fn pipeline_id(&self) -> Option<&str> {
        match self {
            Self::Pipeline(id) => Some(id),
            Self::All => None,
        }
    }
}

/// `--pipeline NAME|ID` (a name or id known to the history), `--all`, or by default
/// the pipeline file's pipeline, or every pipeline when there is no pipeline file.
pub(crate) fn scope(history: &History, args: &ScopeArgs) -> anyhow::Result<Scope> {
    if args.all {
        return Ok(Scope::All);
    }
    match (&args.pipeline, &history.pipeline_id) {
        (Some(p), _) => {
            let known = history.store.pipelines()?;
            match known.iter().find(|k| &k.pipeline_id == p || &k.name == p) {
                Some(k) => Ok(Scope::Pipeline(k.pipeline_id.clone())),
                None => crate::usage_bail!("no pipeline named '{p}' in the history"),
            }
        }
        (None, Some(id)) => Ok(Scope::Pipeline(id.clone())),
        (None, None) => Ok(Scope::All),
    }
}

/// The run a selector names, with its beats, or a clear error; `latest` is the
/// pipeline file's latest run when there is a pipeline file.
pub(crate) fn load_run(
    history: &History,
    selector: &str,
) -> anyhow::Result<(RunRecord, Vec<BeatRecord>)> {
    let scope = match &history.pipeline_id {
        Some(id) => Scope::Pipeline(id.clone()),
        None => Scope::All,
    };
    load_run_in(history, selector, &scope)
}

/// The run a selector names within `scope` (which only matters for `latest`: ids
/// and labels name one run wherever it is).
pub(crate) fn load_run_in(
    history: &History,
    selector: &str,
    scope: &Scope,
) -> anyhow::Result<(RunRecord, Vec<BeatRecord>)> {
    let parsed: RunSelector = selector.parse().unwrap_or(RunSelector::Latest);
    let parsed = match (parsed, scope) {
        (RunSelector::Latest, Scope::Pipeline(id)) => RunSelector::LatestOf(id.clone()),
        (other, _) => other,
    };
    if let Some(found) = history.store.load_run(&parsed)? {
        return Ok(found);
    }
    if let RunSelector::LatestOf(id) = &parsed
        && let Some(hint) = other_pipelines_hint(history, id)?
    {
        crate::usage_bail!("no run of pipeline '{id}' in the history yet ({hint})");
    }
    crate::usage_bail!("failed to find run '{selector}' in the history")
}

/// `3 runs of other pipelines: pass --all or --pipeline NAME` when the history
/// holds runs of pipelines other than `id`: what a read scoped to the pipeline
/// file's pipeline says when it finds nothing, so that no read claims the history
/// is empty when it is not.
pub(crate) fn other_pipelines_hint(history: &History, id: &str) -> anyhow::Result<Option<String>> {
    let others: u64 = history
        .store
        .pipelines()?
        .iter()
        .filter(|p| p.pipeline_id != id)
        .map(|p| p.runs)
        .sum();
    let runs = if others == 1 { "run" } else { "runs" };
    Ok((others > 0)
        .then(|| format!("{others} {runs} of other pipelines: pass --all or --pipeline NAME")))
}

/// A run's report, with the anomaly rules evaluated against the history before it
/// (tuned by the pipeline file when the run is of its pipeline) and what changed in
/// its evolved shapes.
pub(crate) fn report_for(
    history: &History,
    run: RunRecord,
    beats: Vec<BeatRecord>,
) -> anyhow::Result<RunReport> {
    let settings = settings_for(history, &run.pipeline_id);
    Ok(baton_signals::run_view::run_report(
        history.store.as_ref(),
        run,
        beats,
        &settings,
    )?)
}

/// The pipeline file's anomaly settings for a run of its pipeline, else the defaults.
fn settings_for(history: &History, pipeline_id: &str) -> AnomalySettings {
    if history.pipeline_id.as_deref() == Some(pipeline_id) {
        history.anomaly_settings()
    } else {
        AnomalySettings::default()
    }
}

pub(crate) use baton_signals::run_view::previous_shapes;
