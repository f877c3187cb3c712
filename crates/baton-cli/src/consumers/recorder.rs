//! Writes the run to the history store as it happens: the run when it starts, each
//! beat as it finishes (so a crash keeps them), a heartbeat every few seconds. The
//! store may still be opening when the run starts: the first event waits for it.
//! Shadow principle: a failure is told to [`RecordingHealth`] and the run goes on.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use baton_cache::error_chain;
use baton_model::{Recording, RunEvent};
use baton_store::HistoryStore;
use uuid::Uuid;

use super::Consumer;
use super::health::RecordingHealth;
use crate::history::History;

/// How often a running run tells the store it is alive (stale after 30 s).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct Recorder {
    history: Arc<History>,
    health: RecordingHealth,
    heartbeat: Option<Heartbeat>,
    /// The run goes on after this process (`baton exec` joining a CI job's run):
    /// its end is a last heartbeat, not its finish.
    keep_open: bool,
}

struct Heartbeat {
    /// Dropping it stops the heartbeat thread.
    stop: mpsc::Sender<()>,
    thread: thread::JoinHandle<()>,
}

impl Recorder {
    pub(crate) fn new(history: Arc<History>, health: RecordingHealth) -> Self {
        Self {
            history,
            health,
            heartbeat: None,
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

    fn note<T>(&self, what: &str, result: baton_store::Result<T>) {
        note_failure(&self.health, what, result);
    }

    fn start_heartbeat(&mut self, store: Arc<dyn HistoryStore>, run_id: Uuid) {
        let (stop, stopped) = mpsc::channel::<()>();
        let health = self.health.clone();
        let thread = thread::spawn(move || {
            // Wakes up at once when the run ends (the sender is dropped), else beats.
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(HEARTBEAT_EVERY) {
                let beat = store.heartbeat(run_id, jiff::Timestamp::now());
                note_failure(&health, "the heartbeat", beat);
            }
        });
        self.heartbeat = Some(Heartbeat { stop, thread });
    }

    fn join_heartbeat(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            drop(h.stop);
            let _ = h.thread.join();
        }
    }
}

fn note_failure<T>(health: &RecordingHealth, what: &str, result: baton_store::Result<T>) {
    if let Err(err) = result {
        health.report(Recording::History, format!("{what}: {}", error_chain(&err)));
    }
}

impl Consumer for Recorder {
    fn handle(&mut self, event: &RunEvent) {
        let Some(store) = self.history.store().cloned() else {
            return;
        };
        match event {
            RunEvent::RunStarted { run, .. } => {
                self.note("the run", store.begin_run(run));
                self.start_heartbeat(store, run.run_id);
            }
            RunEvent::BeatFinished { record } => self.note("a beat", store.record_beat(record)),
            // The beat's record again, with its rollback: it replaces the first.
            RunEvent::RollbackFinished { record } => {
                self.note("a rollback", store.record_beat(record));
            }
            RunEvent::RunFinished { run } if self.keep_open => {
                self.join_heartbeat();
                let at = run.finished_at.unwrap_or_else(jiff::Timestamp::now);
                self.note("the heartbeat", store.heartbeat(run.run_id, at));
            }
            RunEvent::RunFinished { run } => {
                // Joined first: no heartbeat may land after the run's end.
                self.join_heartbeat();
                self.note("the run's end", store.finish_run(run));
            }
            _ => {}
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.join_heartbeat();
    }
}
