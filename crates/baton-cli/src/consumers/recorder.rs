//! Writes the run to the history store as it happens: the run when it starts, each
//! beat as it finishes (committed in batches by the run's recording thread, see
//! [`HistoryWriter`]), a heartbeat every few seconds. The store may still be
//! opening when the run starts: the first event waits for it.
//! Shadow principle: a failure is told to [`RecordingHealth`] and the run goes on.

use std::sync::Arc;

use baton_model::RunEvent;

use super::Consumer;
use super::health::RecordingHealth;
use super::history_writer::{End, HistoryWriter};
use crate::history::History;

pub(crate) struct Recorder {
    history: Arc<History>,
    health: RecordingHealth,
    /// The recording thread, from the run's start to its end.
    writer: Option<HistoryWriter>,
    /// The run goes on after this process (`baton exec` joining a CI job's run):
    /// its end is a last heartbeat, not its finish.
    keep_open: bool,
}

impl Recorder {
    pub(crate) fn new(history: Arc<History>, health: RecordingHealth) -> Self {
        Self {
            history,
            health,
            writer: None,
            keep_open: false,
        }
    }

    /// A recorder for one process's part of a run that others go on with: the
    /// run is left open (running, its heartbeat renewed) when this part ends.
    pub(crate) fn keeping_run_open(history: Arc<History>, health: RecordingHealth) -> Self {
        let mut recorder = Self::new(history, health);
        recorder.keep_open = true;
        recorder
    }
}

impl Consumer for Recorder {
    fn handle(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { run, .. } => {
                let Some(store) = self.history.store().cloned() else {
                    return;
                };
                self.writer = Some(HistoryWriter::start(
                    store,
                    run.clone(),
                    self.health.clone(),
                ));
            }
            // The second time, with its rollback: it replaces the first.
            RunEvent::BeatFinished { record } | RunEvent::RollbackFinished { record } => {
                if let Some(writer) = &self.writer {
                    writer.beat(record);
                }
            }
            RunEvent::RunFinished { run } => {
                let Some(mut writer) = self.writer.take() else {
                    return;
                };
                // No heartbeat lands after the run's end: the same thread writes both.
                writer.end(if self.keep_open {
                    End::Heartbeat(run.finished_at.unwrap_or_else(jiff::Timestamp::now))
                } else {
                    End::Finish(Box::new(run.clone()))
                });
            }
            _ => {}
        }
    }
}
