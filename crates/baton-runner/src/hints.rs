//! The beats' history hints (previous shape, recent cache states and durations,
//! latest outcomes), which may still be loading from the history store when the
//! run starts: [`crate::run_plan`] judges each beat's record against them on the
//! consumers' side, so that no beat (nor its record) waits for them.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use baton_model::BeatHistory;

type Hints = HashMap<String, BeatHistory>;

/// Hints by beat name, loaded once. The default is loaded and empty (no history).
#[derive(Debug, Clone)]
pub struct HistoryHints {
    loaded: Arc<OnceLock<Hints>>,
}

impl HistoryHints {
    /// Hints that are already known.
    pub fn loaded(hints: Hints) -> Self {
        Self {
            loaded: Arc::new(OnceLock::from(hints)),
        }
    }

    /// Hints still to come, and the one way to fill them in: the [`HintsLoader`].
    /// A loader dropped without [`HintsLoader::set`] (a failure, a panic) leaves
    /// them loaded and empty, so whoever waits for them never waits forever.
    pub fn loading() -> (Self, HintsLoader) {
        let loaded = Arc::new(OnceLock::new());
        let loader = HintsLoader {
            target: Arc::clone(&loaded),
        };
        (Self { loaded }, loader)
    }

    /// The hints, waiting until they are loaded.
    pub fn wait(&self) -> &Hints {
        self.loaded.wait()
    }

    /// The hints if they are loaded already.
    pub fn get(&self) -> Option<&Hints> {
        self.loaded.get()
    }
}

impl Default for HistoryHints {
    fn default() -> Self {
        Self::loaded(HashMap::new())
    }
}

/// What fills in [`HistoryHints::loading`]'s hints, once.
#[derive(Debug)]
pub struct HintsLoader {
    target: Arc<OnceLock<Hints>>,
}

impl HintsLoader {
    pub fn set(self, hints: Hints) {
        let _ = self.target.set(hints);
    }
}

impl Drop for HintsLoader {
    fn drop(&mut self) {
        // A no-op after `set`.
        let _ = self.target.set(HashMap::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_waits_until_the_hints_are_set() {
        let (hints, loader) = HistoryHints::loading();
        assert!(hints.get().is_none());
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| hints.wait().len());
            // Most likely waiting by now; either way it must see the first set.
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!reader.is_finished(), "the reader waits");
            let mut first = HashMap::new();
            first.insert("build".to_owned(), BeatHistory::default());
            loader.set(first);
            assert_eq!(reader.join().expect("reader"), 1);
        });
        assert_eq!(hints.get().map(HashMap::len), Some(1));
    }

    #[test]
    fn a_loader_dropped_unset_leaves_the_hints_loaded_and_empty() {
        let (hints, loader) = HistoryHints::loading();
        let failed = std::thread::spawn(move || {
            let _loader = loader;
            panic!("the history store failed to open");
        });
        assert!(failed.join().is_err());
        assert_eq!(hints.wait().len(), 0);
    }

    #[test]
    fn the_default_is_loaded_and_empty() {
        assert_eq!(HistoryHints::default().get().map(HashMap::len), Some(0));
    }
}
