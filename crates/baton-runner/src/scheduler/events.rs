//! The consumers' queue as every thread of a run sends to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;

use baton_model::RunEvent;

use crate::output::Emit;

/// The consumers' queue, as every thread of the run sends to it. Once the
/// consumers are gone (one panicked) `gone` is set and no new beat starts.
#[derive(Clone)]
pub(super) struct Events {
    pub(super) tx: SyncSender<RunEvent>,
    pub(super) gone: Arc<AtomicBool>,
    /// Sent and not yet taken by the consumers.
    pub(super) in_flight: Arc<AtomicUsize>,
}

impl Events {
    pub(super) fn send(&self, event: RunEvent) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(event).is_err() {
            self.gone.store(true, Ordering::SeqCst);
        }
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub(super) fn gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    pub(super) fn emitter(&self) -> Arc<Emit> {
        let events = self.clone();
        Arc::new(move |event| events.send(event))
    }
}
