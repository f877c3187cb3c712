//! Keeps track of what the run could not record (logs, so far): one warning per kind
//! of failure however many beats hit it, and the list `--strict` turns into exit 4.

use std::collections::BTreeMap;

use baton_model::RunEvent;

use super::Consumer;

#[derive(Debug, Default)]
pub struct RecordingHealth {
    /// The first failure of each kind, and how many there were.
    failures: BTreeMap<String, (String, usize)>,
}

impl RecordingHealth {
    /// One line per kind of failure: `logs: beat 'x': failed to ... (and 3 more)`.
    pub fn failures(&self) -> Vec<String> {
        self.failures
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
            let entry = self.failures.entry(what.clone()).or_insert_with(|| {
                eprintln!("baton: warning: {what} not written ({message}); the run goes on");
                (message.clone(), 0)
            });
            entry.1 += 1;
        }
    }
}
