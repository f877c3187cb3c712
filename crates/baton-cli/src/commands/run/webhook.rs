//! The telemetry webhook during `baton run` (crate `baton-export`): off without
//! `BATON_TELEMETRY_URL` (then nothing is written and nothing is sent) and with
//! `--no-telemetry`. From the run's start the outbox is retried on a thread of its
//! own; once the run is over and its files are written, the finished run is
//! queued and the run waits at most `BATON_TELEMETRY_WAIT` (2 s) for deliveries
//! in flight. OpenTelemetry (OTLP, `OTEL_EXPORTER_OTLP_*`) is exported the same
//! way, through the same outbox, within the same wait. Shadow principle: nothing is printed about deliveries, and nothing
//! here changes the run's outcome or exit code.

use std::path::PathBuf;
use std::thread::JoinHandle;

use std::time::Instant;

use baton_export::otlp::{Parent, TraceInput};
use baton_export::{
    ArtifactsMode, ContentInput, Identity, Otlp, OtlpSession, Outbox, RunInput, Session, Webhook,
};
use baton_model::Pipeline;
use baton_report::RunReport;
use baton_runner::RunOutcome;

use crate::provenance;

pub(crate) struct Export {
    session: Option<Session>,
    otlp: Option<OtlpSession>,
    wait: std::time::Duration,
    content: bool,
    root: PathBuf,
    /// For the copy of the report file: the failures that are `partial`.
    allowed: baton_report::documented::AllowedFailures,
    /// The repository's remote URL, asked while the beats run.
    remote: Option<JoinHandle<Option<String>>>,
}

impl Export {
    /// Starts the webhook and the OTLP exporter of `pipeline`, those it has and
    /// that are on.
    pub(crate) fn start(pipeline: &Pipeline) -> Option<Self> {
        let config = crate::commands::telemetry::config_for(&pipeline.root);
        let wait = config.wait.value;
        let outbox = Outbox::new(config.queue_dir.value.clone());
        let otlp_config = crate::commands::telemetry::otlp_config_for(&pipeline.root);
        for warning in &otlp_config.warnings {
            crate::notice::warning(warning);
        }
        let otlp = Otlp::new(otlp_config, outbox).and_then(OtlpSession::start);
        let webhook = Webhook::new(config);
        let mut content = false;
        if let Some(webhook) = &webhook {
            // Configuration problems are told (the deliveries never are).
            for warning in &webhook.config.warnings {
                crate::notice::warning(warning);
            }
            if let Some(warning) = webhook.plain_http_warning() {
                crate::notice::warning(warning);
            }
            content = webhook.config.artifacts.value == ArtifactsMode::Content;
        }
        let session = webhook.and_then(Session::start);
        if session.is_none() && otlp.is_none() {
            return None;
        }
        let root = pipeline.root.clone();
        let remote = provenance::in_git_work_tree(&root).then(|| {
            let root = root.clone();
            std::thread::spawn(move || provenance::remote_url(&root))
        });
        Some(Self {
            session,
            otlp,
            wait,
            content,
            root,
            allowed: baton_report::documented::allowed_failures(pipeline),
            remote,
        })
    }

    /// Queues the finished run and waits (bounded, once for both exporters) for
    /// its delivery.
    pub(crate) fn finish(self, outcome: &RunOutcome, report: &RunReport) {
        let deadline = Instant::now() + self.wait;
        let remote = self.remote.and_then(|t| t.join().ok().flatten());
        let identity = Identity::of(&outcome.run, remote.as_deref(), |k| std::env::var(k).ok());
        let mut otlp = self.otlp;
        if let Some(otlp) = &mut otlp {
            let parent = Parent::parse(
                std::env::var("TRACEPARENT").ok().as_deref(),
                std::env::var("TRACESTATE").ok().as_deref(),
            );
            otlp.queue(Some(&TraceInput {
                run: &outcome.run,
                beats: &outcome.records,
                identity: &identity,
                parent: parent.as_ref(),
            }));
        }
        let Some(session) = self.session else {
            if let Some(otlp) = otlp {
                otlp.wait(deadline);
            }
            return;
        };
        let manifest = outcome.artifact_manifest();
        let report_json = self
            .content
            .then(|| baton_report::telemetry_files::report_json(report, &self.allowed));
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
        session.finish(Some(&input), deadline);
        if let Some(otlp) = otlp {
            otlp.wait(deadline);
        }
    }
}
