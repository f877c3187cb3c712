//! The thread an exporter's outbox is flushed on during a run: once from the run's
//! start (what earlier runs left), then once more when the finished run is queued.
//! The end of the run waits for it a bounded time; what has not gone stays queued.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long the end of a run waits for deliveries before it syncs those still
/// queued to disk (and goes on waiting).
pub(crate) const SYNC_GRACE: Duration = Duration::from_millis(100);

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

    /// Waits at most `wait` for the worker to finish; whether it did. Then, or
    /// after [`SYNC_GRACE`] if it is still sending by then (the endpoint is slow:
    /// the sync then costs no time of its own, it is within the wait), calls
    /// `keep` once: what is still queued is made to last.
    pub(crate) fn wait(mut self, wait: Duration, keep: impl FnOnce()) -> bool {
        // The sync's own time comes out of the wait: the whole stays within it.
        let deadline = std::time::Instant::now() + wait;
        self.run_queued();
        let grace = wait.min(SYNC_GRACE);
        if self.done.recv_timeout(grace).is_ok() {
            keep();
            return true;
        }
        keep();
        self.done
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .is_ok()
    }
}
