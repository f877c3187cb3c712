//! The telemetry webhook during `baton run` (crate `baton-export`): off without
//! `BATON_TELEMETRY_URL` (then nothing is written and nothing is sent) and with
//! `--no-telemetry`. From the run's start the outbox is retried on a thread of its
//! own; once the run is over and its files are written, the finished run is
//! queued and the run waits at most `BATON_TELEMETRY_WAIT` (2 s) for deliveries
//! in flight. Shadow principle: nothing is printed about deliveries, and nothing
//! here changes the run's outcome or exit code.

use std::path::PathBuf;
use std::thread::JoinHandle;

use baton_export::{ArtifactsMode, ContentInput, Identity, RunInput, Session, Webhook};
use baton_model::Pipeline;
use baton_report::RunReport;
use baton_runner::RunOutcome;

use crate::provenance;

pub(super) struct Export {
    session: Session,
    content: bool,
    root: PathBuf,
    /// The repository's remote URL, asked while the beats run.
    remote: Option<JoinHandle<Option<String>>>,
}

impl Export {
    /// Starts the webhook of `pipeline`, if it has one and it is on.
    pub(super) fn start(pipeline: &Pipeline) -> Option<Self> {
        let config = crate::commands::telemetry::config_for(&pipeline.root);
        let webhook = Webhook::new(config)?;
        // Configuration problems are told (the deliveries never are).
        for warning in &webhook.config.warnings {
            crate::notice::warning(warning);
        }
        if let Some(warning) = webhook.plain_http_warning() {
            crate::notice::warning(warning);
        }
        let content = webhook.config.artifacts.value == ArtifactsMode::Content;
        let session = Session::start(webhook)?;
        let root = pipeline.root.clone();
        let remote = provenance::in_git_work_tree(&root).then(|| {
            let root = root.clone();
            std::thread::spawn(move || provenance::remote_url(&root))
        });
        Some(Self {
            session,
            content,
            root,
            remote,
        })
    }

    /// Queues the finished run and waits (bounded) for its delivery.
    pub(super) fn finish(self, outcome: &RunOutcome, report: &RunReport) {
        let remote = self.remote.and_then(|t| t.join().ok().flatten());
        let identity = Identity::of(&outcome.run, remote.as_deref(), |k| std::env::var(k).ok());
        let manifest = outcome.artifact_manifest();
        let report_json = self.content.then(|| baton_report::render_json(report));
        let input = RunInput {
            run: &outcome.run,
            beats: &outcome.records,
            manifest: &manifest,
            identity,
            content: self.content.then(|| ContentInput {
                pipeline_root: &self.root,
                report_json: report_json.as_deref(),
            }),
        };
        self.session.finish(Some(&input));
    }
}
