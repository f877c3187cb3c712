//! The recording thread of a run: writes the run, its beats and its heartbeat to
//! the history store, off the consumers' thread. Beats are committed in batches,
//! one transaction per [`BATCH_WINDOW`] (or per [`BATCH_MAX`] beats), instead of one
//! each: a commit writes whole WAL pages and now and then a checkpoint, which at
//! hundreds of beats a second on a busy machine took CPU from the beats themselves.
//!
//! What this promises: a beat is committed at the latest [`BATCH_WINDOW`] after it
//! finished, give or take the time the machine takes to schedule this thread; a
//! `kill -9` of baton loses at most the beats of that last window (the run then
//! shows as `abandoned`). The end of the run, a Ctrl-C, a failed beat or a panic
//! lose nothing: what is pending is committed before the thread ends.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use baton_cache::error_chain;
use baton_model::{BeatRecord, Recording, RunRecord};
use baton_store::HistoryStore;
use jiff::Timestamp;
use uuid::Uuid;

use super::health::RecordingHealth;

/// How long a finished beat may wait for its commit.
pub(crate) const BATCH_WINDOW: Duration = Duration::from_millis(100);
/// Beats committed at once at most; more are committed without waiting.
const BATCH_MAX: usize = 256;
/// How often a running run tells the store it is alive (stale after 30 s).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// What the recording thread is asked to do.
enum Op {
    Beat(Box<BeatRecord>),
    /// The run ended: commit what is pending, then record its end.
    End(End),
}

/// How this process's part of the run ends in the store.
pub(crate) enum End {
    /// The run's final record.
    Finish(Box<RunRecord>),
    /// The run goes on after this process: a last heartbeat at that time.
    Heartbeat(Timestamp),
}

/// The handle of a run's recording thread. Dropping it commits what is pending and
/// waits for the thread.
pub(crate) struct HistoryWriter {
    ops: Option<Sender<Op>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl HistoryWriter {
    /// Starts the thread, which records `run` as begun first.
    pub(crate) fn start(
        store: Arc<dyn HistoryStore>,
        run: RunRecord,
        health: RecordingHealth,
    ) -> Self {
        let (ops, received) = mpsc::channel();
        let spawned = thread::Builder::new()
            .name("baton-recorder".to_owned())
            .spawn(move || {
                Batcher {
                    store,
                    run_id: run.run_id,
                    health,
                    pending: Vec::new(),
                }
                .serve(&run, &received);
            });
        match spawned {
            Ok(thread) => Self {
                ops: Some(ops),
                thread: Some(thread),
            },
            Err(err) => {
                // No thread to be had: nothing of the run can be kept.
                crate::notice::warning(format!(
                    "the history is not recorded: cannot start its thread: {err}"
                ));
                Self {
                    ops: None,
                    thread: None,
                }
            }
        }
    }

    /// Queues a beat's record (again, with its rollback: it replaces the first).
    pub(crate) fn beat(&self, record: &BeatRecord) {
        if let Some(ops) = &self.ops {
            let _ = ops.send(Op::Beat(Box::new(record.clone())));
        }
    }

    /// Commits what is pending, records the end and waits for the thread.
    pub(crate) fn end(&mut self, end: End) {
        if let Some(ops) = self.ops.take() {
            let _ = ops.send(Op::End(end));
        }
        self.join();
    }

    fn join(&mut self) {
        drop(self.ops.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HistoryWriter {
    fn drop(&mut self) {
        self.join();
    }
}

/// The recording thread's state: the beats waiting for their commit.
struct Batcher {
    store: Arc<dyn HistoryStore>,
    run_id: Uuid,
    health: RecordingHealth,
    pending: Vec<BeatRecord>,
}

impl Batcher {
    fn serve(mut self, run: &RunRecord, ops: &Receiver<Op>) {
        self.note("the run", self.store.begin_run(run));
        let mut heartbeat_at = Instant::now() + HEARTBEAT_EVERY;
        // When the oldest pending beat must be committed.
        let mut commit_by: Option<Instant> = None;
        loop {
            let wake = commit_by.map_or(heartbeat_at, |c| c.min(heartbeat_at));
            match ops.recv_timeout(wake.saturating_duration_since(Instant::now())) {
                Ok(Op::Beat(record)) => {
                    self.pending.push(*record);
                    commit_by.get_or_insert_with(|| Instant::now() + BATCH_WINDOW);
                    if self.pending.len() >= BATCH_MAX {
                        self.commit();
                        commit_by = None;
                    }
                }
                Ok(Op::End(end)) => {
                    self.commit();
                    let ended = match &end {
                        End::Finish(run) => self.store.finish_run(run),
                        End::Heartbeat(at) => self.store.heartbeat(self.run_id, *at),
                    };
                    self.note("the run's end", ended);
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
                // Dropped without an end (a panic, `baton exec` cut short).
                Err(RecvTimeoutError::Disconnected) => {
                    self.commit();
                    return;
                }
            }
            let now = Instant::now();
            if commit_by.is_some_and(|c| c <= now) {
                self.commit();
                commit_by = None;
            }
            if heartbeat_at <= now {
                let beat = self.store.heartbeat(self.run_id, Timestamp::now());
                self.note("the heartbeat", beat);
                heartbeat_at = now + HEARTBEAT_EVERY;
            }
        }
    }

    /// Commits the pending beats in one transaction. Should that fail, each is
    /// tried on its own, so that one record the store refuses loses only itself.
    fn commit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        if self.store.record_beats(&batch).is_ok() {
            return;
        }
        for record in &batch {
            self.note(
                "a beat",
                self.store.record_beats(std::slice::from_ref(record)),
            );
        }
    }

    fn note<T>(&self, what: &str, result: baton_store::Result<T>) {
        note_failure(&self.health, what, result);
    }
}

/// Tells `health` that `what` could not be recorded.
pub(crate) fn note_failure<T>(
    health: &RecordingHealth,
    what: &str,
    result: baton_store::Result<T>,
) {
    if let Err(err) = result {
        health.report(Recording::History, format!("{what}: {}", error_chain(&err)));
    }
}

#[cfg(test)]
mod tests {
    use baton_model::{BeatStatus, CacheState, RunStatus};
    use baton_store::test_records::{at, beat, run};
    use baton_store::{RunSelector, SqliteStore};

    use super::*;

    fn stored(store: &dyn HistoryStore, run: &RunRecord) -> (RunRecord, Vec<BeatRecord>) {
        store
            .load_run(&RunSelector::Id(run.run_id.to_string()))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn every_beat_is_committed_before_the_end_of_the_run() {
        let store: Arc<dyn HistoryStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let started = run("p", at(0), RunStatus::Running);
        let mut writer = HistoryWriter::start(
            Arc::clone(&store),
            started.clone(),
            RecordingHealth::default(),
        );
        // More than one batch's worth, and one beat told again with its rollback.
        let beats: Vec<BeatRecord> = (0..BATCH_MAX as u32 + 10)
            .map(|i| {
                beat(
                    &started,
                    0,
                    i,
                    &format!("b{i}"),
                    BeatStatus::Success,
                    5,
                    CacheState::Miss,
                )
            })
            .collect();
        for record in &beats {
            writer.beat(record);
        }
        let mut rolled_back = beats[3].clone();
        rolled_back.status = BeatStatus::Failure;
        writer.beat(&rolled_back);
        let mut finished = started.clone();
        finished.status = RunStatus::Failure;
        finished.finished_at = Some(at(60));
        writer.end(End::Finish(Box::new(finished)));

        let (kept, kept_beats) = stored(store.as_ref(), &started);
        assert_eq!(kept.status, RunStatus::Failure);
        assert_eq!(kept_beats.len(), beats.len());
        let b3 = kept_beats.iter().find(|b| b.beat == "b3").unwrap();
        assert_eq!(b3.status, BeatStatus::Failure);
    }

    #[test]
    fn a_writer_dropped_without_an_end_still_commits_its_beats() {
        let store: Arc<dyn HistoryStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let started = run("p", at(0), RunStatus::Running);
        let writer = HistoryWriter::start(
            Arc::clone(&store),
            started.clone(),
            RecordingHealth::default(),
        );
        for i in 0..3 {
            writer.beat(&beat(
                &started,
                0,
                i,
                &format!("b{i}"),
                BeatStatus::Success,
                5,
                CacheState::Miss,
            ));
        }
        drop(writer);

        let (kept, kept_beats) = stored(store.as_ref(), &started);
        // Not finished (its old heartbeat reads as abandoned), its beats all there.
        assert_eq!(kept.finished_at, None);
        assert_eq!(kept_beats.len(), 3);
    }

    #[test]
    fn a_record_the_store_refuses_loses_only_itself() {
        let store: Arc<dyn HistoryStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let started = run("p", at(0), RunStatus::Running);
        let health = RecordingHealth::default();
        let mut writer = HistoryWriter::start(Arc::clone(&store), started.clone(), health.clone());
        let stranger = run("other", at(5), RunStatus::Running);
        writer.beat(&beat(
            &started,
            0,
            0,
            "a",
            BeatStatus::Success,
            5,
            CacheState::Miss,
        ));
        // Its run was never recorded: the store refuses it.
        writer.beat(&beat(
            &stranger,
            0,
            0,
            "x",
            BeatStatus::Success,
            5,
            CacheState::Miss,
        ));
        writer.beat(&beat(
            &started,
            0,
            1,
            "b",
            BeatStatus::Success,
            5,
            CacheState::Miss,
        ));
        writer.end(End::Finish(Box::new(started.clone())));

        let (_, kept_beats) = stored(store.as_ref(), &started);
        let names: Vec<&str> = kept_beats.iter().map(|b| b.beat.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(health.failures().len(), 1);
    }
}
