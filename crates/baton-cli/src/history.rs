//! The history store and the beats' hints for one run, opened and loaded on a
//! thread of their own while the run's first beats start: opening SQLite and
//! reading the hints take a few milliseconds that no beat needs to wait for. Whoever
//! needs the store (the recorder, the artifact manifest) or the hints (each beat's
//! record, the anomaly rules, the ETAs) waits for them then.
//!
//! Shadow principle: a store that fails to open, or hints that fail to load, are
//! warned about once and the run goes on without them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use baton_model::BeatHistory;
use baton_runner::HistoryHints;
use baton_store::HistoryStore;

use crate::state::StateDir;

pub struct History {
    /// `None`: no telemetry, or the store failed to open.
    store: OnceLock<Option<Arc<dyn HistoryStore>>>,
    hints: HistoryHints,
    /// Why the store could not be opened, for `--strict` and the end-of-run note.
    failure: Mutex<Option<String>>,
}

impl History {
    /// No history at all (`--no-telemetry`).
    pub fn none() -> Arc<Self> {
        Arc::new(Self {
            store: OnceLock::from(None),
            hints: HistoryHints::loaded(HashMap::new()),
            failure: Mutex::new(None),
        })
    }

    /// Opens the store of `state` and loads the hints of `beats` of pipeline
    /// `pipeline_id` on a new thread.
    pub fn open_in_background(
        state: StateDir,
        pipeline_id: String,
        beats: Vec<String>,
    ) -> Arc<Self> {
        let history = Arc::new(Self {
            store: OnceLock::new(),
            hints: HistoryHints::loading(),
            failure: Mutex::new(None),
        });
        let loading = Arc::clone(&history);
        let load = move || {
            // Set on every path, a panic included: readers wait for these.
            let _settle = Settle(&loading);
            loading.load(&state, &pipeline_id, &beats);
        };
        // A thread the system refuses: loaded here and now instead.
        let load = Arc::new(Mutex::new(Some(load)));
        let on_thread = Arc::clone(&load);
        let spawned = std::thread::Builder::new().spawn(move || {
            let load = on_thread
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(load) = load {
                load();
            }
        });
        if spawned.is_err() {
            let load = load.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(load) = load {
                load();
            }
        }
        history
    }

    fn load(&self, state: &StateDir, pipeline_id: &str, beats: &[String]) {
        let store = match state.open_store() {
            Ok(store) => store,
            Err(err) => {
                eprintln!("baton: warning: history not recorded: {err}; the run goes on");
                *self.failure.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(err.to_string());
                return;
            }
        };
        let _ = self.store.set(Some(Arc::clone(&store)));
        let names: Vec<&str> = beats.iter().map(String::as_str).collect();
        let hints = store
            .beat_history_hints(pipeline_id, &names)
            .unwrap_or_else(|err| {
                eprintln!(
                    "baton: warning: could not read the history ({err}); no ETAs, anomalies or shape comparison this run"
                );
                HashMap::new()
            });
        self.hints.set(hints);
    }

    /// The store, once it is open; `None` when there is none.
    pub fn store(&self) -> Option<&Arc<dyn HistoryStore>> {
        self.store.wait().as_ref()
    }

    pub fn hints(&self) -> &HistoryHints {
        &self.hints
    }

    /// One beat's hints, waiting for them.
    pub fn hints_of(&self, beat: &str) -> Option<&BeatHistory> {
        self.hints.wait().get(beat)
    }

    /// Why the store could not be opened, if it could not.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Leaves the store and the hints set, empty if loading them stopped early.
struct Settle<'a>(&'a History);

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        let _ = self.0.store.set(None);
        self.0.hints.set(HashMap::new());
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
        let history = History::open_in_background(state, "p".into(), vec!["build".into()]);
        assert!(history.store().is_none());
        assert!(history.hints_of("build").is_none());
        assert!(history.failure().is_some());
    }

    #[test]
    fn the_store_opens_and_hints_load_in_the_background() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir {
            root: dir.path().join(".baton"),
        };
        let history = History::open_in_background(state, "p".into(), vec!["build".into()]);
        assert!(history.store().is_some());
        assert!(
            history.hints().wait().is_empty(),
            "a new store has no history"
        );
        assert!(history.failure().is_none());
    }
}
