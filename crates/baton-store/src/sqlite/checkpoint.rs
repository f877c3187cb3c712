//! A background WAL checkpointer for bulk inserts.
//!
//! SQLite's automatic checkpoint runs inside the writer's commit: during a bulk
//! insert the writer stops to copy the WAL back into the database every 1,000 pages,
//! which is about a fifth of the insert's time. For bulk inserts the store turns that
//! off and asks this thread, on its own connection, to run a PASSIVE checkpoint after
//! each commit instead (PASSIVE never blocks the writer), so the copying overlaps
//! with the next insert. When the store is dropped the thread runs a last checkpoint
//! and ends.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};

use rusqlite::Connection;

use super::TUNING;

pub(crate) struct Checkpointer {
    wake: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Start the thread; `None` when its connection cannot be opened (the caller then
    /// keeps SQLite's own automatic checkpoints).
    pub(crate) fn start(path: &Path) -> Option<Self> {
        let conn = baton_sqlite::open(path, &TUNING).ok()?;
        let (wake, woken) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("baton-store-checkpoint".into())
            .spawn(move || run(&conn, &woken))
            .ok()?;
        Some(Self {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Ask for a checkpoint of what has been committed so far.
    pub(crate) fn request(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.send(());
        }
    }
}

fn run(conn: &Connection, woken: &Receiver<()>) {
    let checkpoint = || {
        // A failed checkpoint leaves the frames in the WAL for the next one.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    };
    while woken.recv().is_ok() {
        // Requests that queued up while the last checkpoint ran are served by one.
        while woken.try_recv().is_ok() {}
        checkpoint();
    }
    checkpoint();
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
