//! Consumers of the run's event stream: the terminal view, the history recorder,
//! the telemetry files and the recording health (and the recorder's thread).
//! Each sees every [`RunEvent`] in order; none can change the run's outcome.

pub(crate) mod ci;
pub(crate) mod health;
pub(crate) mod history_writer;
pub(crate) mod recorder;
pub(crate) mod telemetry_files;
pub(crate) mod terminal;

use baton_model::RunEvent;

pub(crate) trait Consumer: Send {
    fn handle(&mut self, event: &RunEvent);
}

/// Hands every event to each consumer in turn.
pub(crate) struct Fanout<'a> {
    consumers: Vec<&'a mut dyn Consumer>,
}

impl<'a> Fanout<'a> {
    pub(crate) fn new(consumers: Vec<&'a mut dyn Consumer>) -> Self {
        Self { consumers }
    }

    pub(crate) fn handle(&mut self, event: RunEvent) {
        for consumer in &mut self.consumers {
            consumer.handle(&event);
        }
    }
}
