//! What the run could not record (history, logs, telemetry files, artifacts, the
//! archive), shared by every part that records something: one warning per kind of
//! failure however many beats hit it, with its cause, and the list `--strict`
//! turns into exit 4 (shadow principle: the run's outcome stands otherwise).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use baton_model::{Recording, RunEvent};

use super::Consumer;

/// A cheap, cloneable handle: the recorder's thread and the report
/// writer's thread report into the same list.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordingHealth {
    inner: Arc<Mutex<Failures>>,
}

#[derive(Debug, Default)]
struct Failures {
    /// The first failure of each kind, and how many there were.
    by_kind: BTreeMap<Recording, (String, usize)>,
    /// The state folder itself could not be made: that one warning says it all.
    quiet: bool,
}

impl RecordingHealth {
    /// Notes that `what` could not be recorded; the first time for that kind,
    /// warns on stderr.
    pub(crate) fn report(&self, what: Recording, message: impl Into<String>) {
        let mut failures = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let quiet = failures.quiet;
        let entry = failures
            .by_kind
            .entry(what)
            .or_insert_with(|| (message.into(), 0));
        if entry.1 == 0 && !quiet {
            crate::notice::warning(format!(
                "{what} not recorded: {}; the run goes on",
                baton_model::escape::escape_control(&entry.0)
            ));
        }
        entry.1 += 1;
    }

    /// Makes the state folder (`.baton`) if it is missing. When that fails nothing
    /// of the run can be kept: one warning says so, and the failures that follow
    /// are only counted (for `--strict`).
    pub(crate) fn check_state_dir(&self, dir: &Path) {
        if let Err(err) = std::fs::create_dir_all(dir) {
            let mut failures = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            crate::notice::warning(format!(
                "nothing of this run is recorded (history, logs, telemetry): \
                 cannot create {}: {err}; the run goes on",
                dir.display()
            ));
            failures.quiet = true;
            failures.by_kind.insert(
                Recording::StateFolder,
                (format!("{}: {err}", dir.display()), 1),
            );
        }
    }

    /// One line per kind of failure: `logs: beat 'x': failed to ... (and 3 more)`.
    pub(crate) fn failures(&self) -> Vec<String> {
        let failures = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        failures
            .by_kind
            .iter()
            .map(|(what, (first, count))| match count {
                1 => format!("{what}: {first}"),
                n => format!("{what}: {first} (and {} more)", n - 1),
            })
            .collect()
    }
}

impl Consumer for RecordingHealth {
    fn handle(&mut self, event: &RunEvent) {
        if let RunEvent::RecordingFailed { what, message } = event {
            self.report(*what, message.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_listed_once_with_its_count() {
        let health = RecordingHealth::default();
        let other_thread = health.clone();
        health.report(Recording::Logs, "beat 'a': disk full");
        other_thread.report(Recording::Logs, "beat 'b': disk full");
        health.report(Recording::History, "locked");
        assert_eq!(
            health.failures(),
            ["history: locked", "logs: beat 'a': disk full (and 1 more)"]
        );
    }

    #[test]
    fn a_state_folder_that_cannot_be_made_is_one_failure() {
        let health = RecordingHealth::default();
        health.check_state_dir(Path::new("/dev/null/baton"));
        health.report(Recording::History, "cannot open");
        let failures = health.failures();
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(
            failures[0].starts_with("the state folder: /dev/null/baton"),
            "{failures:?}"
        );
    }
}
