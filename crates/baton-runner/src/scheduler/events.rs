//! The consumers' queue as every thread of a run sends to it: events, and the
//! beats' records still to be judged ([`Told`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;

use baton_model::RunEvent;

use crate::output::Emit;
use crate::record::UnjudgedRecord;

/// The consumers' queue, as every thread of the run sends to it. Once the
/// consumers are gone (one panicked) `gone` is set and no new beat starts.
#[derive(Clone)]
pub(super) struct Events {
    pub(super) tx: SyncSender<Told>,
    pub(super) gone: Arc<AtomicBool>,
    /// Sent and not yet taken by the consumers.
    pub(super) in_flight: Arc<AtomicUsize>,
}

impl Events {
    pub(super) fn send(&self, event: RunEvent) {
        self.tell(Told::Event(event));
    }

    pub(super) fn tell(&self, told: Told) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(told).is_err() {
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

/// What the consumers' thread is told. A beat's record comes unjudged, with its
/// place in the plan: the consumers' thread judges it (see `judge` in
/// [`super`]) and tells it as [`RunEvent::BeatFinished`] or
/// [`RunEvent::RollbackFinished`].
pub(super) enum Told {
    Event(RunEvent),
    /// Beat `index` of the plan ended, or was skipped.
    Finished {
        index: usize,
        record: UnjudgedRecord,
    },
    /// Beat `index`'s rollback ran: its record again, with the rollback.
    RolledBack {
        index: usize,
        record: UnjudgedRecord,
    },
}
