//! The thread an exporter's outbox is flushed on during a run: once from the run's
//! start (what earlier runs left), then once more when the finished run is queued.
//! The end of the run waits for it a bounded time; what has not gone stays queued.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct FlushWorker {
    /// Tells the worker the run is queued (or that there is nothing to queue).
    queued: Option<mpsc::Sender<()>>,
    done: mpsc::Receiver<()>,
}

impl FlushWorker {
    /// Starts `work` on a thread named `name`. `work` is given a function that waits
    /// until the run is queued and says whether it was (`false`: the session was
    /// dropped).
    pub(crate) fn spawn(
        name: &str,
        work: impl FnOnce(&dyn Fn() -> bool) + Send + 'static,
    ) -> Option<Self> {
        let (queued_tx, queued_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                work(&|| queued_rx.recv().is_ok());
                let _ = done_tx.send(());
            })
            .ok()?;
        Some(Self {
            queued: Some(queued_tx),
            done: done_rx,
        })
    }

    /// Lets the worker send what is queued now.
    pub(crate) fn run_queued(&mut self) {
        if let Some(tx) = self.queued.take() {
            let _ = tx.send(());
        }
    }

    /// Waits at most `wait` for the worker to finish; whether it did.
    pub(crate) fn wait(mut self, wait: Duration) -> bool {
        self.run_queued();
        self.done.recv_timeout(wait).is_ok()
    }
}
