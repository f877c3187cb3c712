//! The beats' history hints (previous shape, recent cache states and durations,
//! latest outcomes), which may still be loading from the history store when the
//! run starts: [`crate::run_plan`] judges each beat's record against them on the
//! consumers' side, so that no beat (nor its record) waits for them.

use std::collections::HashMap;
use std::sync::OnceLock;

use baton_model::BeatHistory;

/// Hints by beat name, loaded once. The default is loaded and empty (no history).
#[derive(Debug)]
pub struct HistoryHints {
    loaded: OnceLock<HashMap<String, BeatHistory>>,
}

impl HistoryHints {
    /// Hints that are already known.
    pub fn loaded(hints: HashMap<String, BeatHistory>) -> Self {
        Self {
            loaded: OnceLock::from(hints),
        }
    }

    /// Hints still to come through [`HistoryHints::set`]. Whoever loads them must
    /// set them on every path, failures and panics included (set an empty map),
    /// or the consumers wait forever for the first beat's record.
    pub fn loading() -> Self {
        Self {
            loaded: OnceLock::new(),
        }
    }

    /// Fills them in; only the first call counts.
    pub fn set(&self, hints: HashMap<String, BeatHistory>) {
        let _ = self.loaded.set(hints);
    }

    /// The hints, waiting until they are loaded.
    pub fn wait(&self) -> &HashMap<String, BeatHistory> {
        self.loaded.wait()
    }

    /// The hints if they are loaded already.
    pub fn get(&self) -> Option<&HashMap<String, BeatHistory>> {
        self.loaded.get()
    }
}

impl Default for HistoryHints {
    fn default() -> Self {
        Self::loaded(HashMap::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_waits_until_the_hints_are_set_and_the_first_set_wins() {
        let hints = HistoryHints::loading();
        assert!(hints.get().is_none());
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| hints.wait().len());
            // Most likely waiting by now; either way it must see the first set.
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!reader.is_finished(), "the reader waits");
            let mut first = HashMap::new();
            first.insert("build".to_owned(), BeatHistory::default());
            hints.set(first);
            hints.set(HashMap::new());
            assert_eq!(reader.join().expect("reader"), 1);
        });
        assert_eq!(hints.get().map(HashMap::len), Some(1));
    }

    #[test]
    fn the_default_is_loaded_and_empty() {
        assert_eq!(HistoryHints::default().get().map(HashMap::len), Some(0));
    }
}
