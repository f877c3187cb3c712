//! The history store and the beats' hints for one run, opened and loaded when
//! first needed: by the consumers, at the run's first event, on their own thread,
//! while the first beat starts (the consumers have nothing else to do until it
//! ends). Opening SQLite and reading the hints take a couple of milliseconds that
//! no beat waits for; a thread of their own would only compete with the first
//! beats for the cores. Whoever needs the store (the recorder, the artifact
//! manifest) or the hints (each beat's record, the anomaly rules) loads them or
//! waits for them then; the ETAs appear once they are in.
//!
//! Shadow principle: a store that fails to open, or hints that fail to load, are
//! warned about once and the run goes on without them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use baton_cache::error_chain;
use baton_model::{BeatHistory, Recording};
use baton_runner::{HintsLoader, HistoryHints};
use baton_store::HistoryStore;

use crate::consumers::health::RecordingHealth;
use crate::state::StateDir;

pub(crate) struct History {
    /// `None`: no telemetry, or the store failed to open.
    store: OnceLock<Option<Arc<dyn HistoryStore>>>,
    hints: HistoryHints,
    /// What to load, until someone loads it.
    pending: Mutex<Option<Pending>>,
    /// Told when the store cannot be opened.
    health: RecordingHealth,
}

struct Pending {
    /// Dropped unset, it leaves the hints loaded and empty.
    hints: HintsLoader,
    state: StateDir,
    pipeline_id: String,
    beats: Vec<String>,
}

impl History {
    /// No history at all (`--no-telemetry`).
    pub(crate) fn none() -> Arc<Self> {
        Arc::new(Self {
            store: OnceLock::from(None),
            hints: HistoryHints::loaded(HashMap::new()),
            pending: Mutex::new(None),
            health: RecordingHealth::default(),
        })
    }

    /// The store of `state` and the hints of `beats` of pipeline `pipeline_id`,
    /// loaded by the first caller of [`History::load_now`], [`History::store`] or
    /// [`History::hints_of`].
    pub(crate) fn when_needed(
        state: StateDir,
        pipeline_id: String,
        beats: Vec<String>,
        health: RecordingHealth,
    ) -> Arc<Self> {
        let (hints, loader) = HistoryHints::loading();
        Arc::new(Self {
            store: OnceLock::new(),
            hints,
            pending: Mutex::new(Some(Pending {
                hints: loader,
                state,
                pipeline_id,
                beats,
            })),
            health,
        })
    }

    /// Opens the store and loads the hints on this thread, unless that is done or
    /// under way (then whoever reads them waits).
    pub(crate) fn load_now(&self) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(p) = pending {
            // Set on every path, a panic included: readers wait for it.
            let _settle = Settle(self);
            self.load(p);
        }
    }

    fn load(&self, pending: Pending) {
        let Pending {
            hints: loader,
            state,
            pipeline_id,
            beats,
        } = pending;
        let store = match state.open_store() {
            Ok(store) => store,
            Err(err) => {
                self.health.report(Recording::History, error_chain(&err));
                return;
            }
        };
        let _ = self.store.set(Some(Arc::clone(&store)));
        let names: Vec<&str> = beats.iter().map(String::as_str).collect();
        let hints = store
            .beat_history_hints(&pipeline_id, &names)
            .unwrap_or_else(|err| {
                crate::notice::warning(format!(
                    "could not read the history ({err}); no ETAs, anomalies or shape comparison this run"
                ));
                HashMap::new()
            });
        loader.set(hints);
    }

    /// The store, once it is open; `None` when there is none.
    pub(crate) fn store(&self) -> Option<&Arc<dyn HistoryStore>> {
        self.load_now();
        self.store.wait().as_ref()
    }

    /// The hints as the runner reads them: waiting on them waits for a
    /// [`History::load_now`] (`baton run` calls it at the run's first event).
    pub(crate) fn hints(&self) -> &HistoryHints {
        &self.hints
    }

    /// One beat's hints, waiting for them.
    pub(crate) fn hints_of(&self, beat: &str) -> Option<&BeatHistory> {
        self.load_now();
        self.hints.wait().get(beat)
    }
}

/// Leaves the store set, to none if opening it stopped early (the hints see to
/// themselves: see [`HintsLoader`]).
struct Settle<'a>(&'a History);

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        let _ = self.0.store.set(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_that_cannot_open_leaves_no_store_no_hints_and_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A file where the state folder should be: the store cannot be created.
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, "").expect("write");
        let state = StateDir {
            root: blocker.join(".baton"),
        };
        let health = RecordingHealth::default();
        let history = History::when_needed(state, "p".into(), vec!["build".into()], health.clone());
        assert!(history.store().is_none());
        assert!(history.hints_of("build").is_none());
        let failures = health.failures();
        assert!(
            failures.len() == 1 && failures[0].starts_with("history: "),
            "{failures:?}"
        );
    }

    #[test]
    fn the_store_opens_and_hints_load_when_first_needed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir {
            root: dir.path().join(".baton"),
        };
        let health = RecordingHealth::default();
        let history = History::when_needed(state, "p".into(), vec!["build".into()], health.clone());
        assert!(
            history.hints().get().is_none(),
            "nothing loads before it is needed"
        );
        assert!(history.store().is_some());
        assert!(
            history.hints().wait().is_empty(),
            "a new store has no history"
        );
        assert!(health.failures().is_empty());
    }
}
