//! Cancellation of a run: a shared counter that the interrupt handler, the CLI or a
//! test bumps, and that the scheduler and the spawner read.
//!
//! 0 means run on; 1 is a graceful stop (SIGINT forwarded to every running process
//! group, no new beat starts); 2 or more kills every running process group.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// How hard a run has been asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CancelLevel {
    None,
    /// Interrupt the running beats and start no new ones.
    Graceful,
    /// Kill the running beats.
    Kill,
}

impl CancelLevel {
    fn from_count(count: u8) -> Self {
        match count {
            0 => Self::None,
            1 => Self::Graceful,
            _ => Self::Kill,
        }
    }
}

/// A cheap, cloneable handle on a run's cancellation state.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    own: Arc<AtomicU8>,
    /// The counter a signal handler bumps, when the token came from one.
    signals: Option<&'static AtomicU8>,
    /// Sees only a kill (for cleanup, such as rollbacks, that a first Ctrl-C must
    /// not interrupt).
    kill_only: bool,
}

impl CancelToken {
    /// A token nobody has cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token that also follows `counter` (bumped by a signal handler).
    pub(crate) fn following(counter: &'static AtomicU8) -> Self {
        Self {
            own: Arc::default(),
            signals: Some(counter),
            kill_only: false,
        }
    }

    /// The same state, seen by work that only a kill may stop: a graceful stop
    /// reads as [`CancelLevel::None`] through it.
    pub fn kill_only(&self) -> Self {
        Self {
            kill_only: true,
            ..self.clone()
        }
    }

    pub fn level(&self) -> CancelLevel {
        let own = self.own.load(Ordering::SeqCst);
        let signals = self.signals.map_or(0, |s| s.load(Ordering::SeqCst));
        match CancelLevel::from_count(own.max(signals)) {
            CancelLevel::Graceful if self.kill_only => CancelLevel::None,
            level => level,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.level() != CancelLevel::None
    }

    /// One step harder: none -> graceful -> kill (what a Ctrl-C does).
    pub fn escalate(&self) {
        let _ = self
            .own
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(1).min(2))
            });
    }

    /// Asks for a graceful stop (does nothing when a kill was already asked).
    pub fn cancel(&self) {
        self.own.fetch_max(1, Ordering::SeqCst);
    }

    /// Asks for every running beat to be killed.
    pub fn kill(&self) {
        self.own.fetch_max(2, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_escalate_and_are_shared_by_clones() {
        let token = CancelToken::new();
        let clone = token.clone();
        assert_eq!(clone.level(), CancelLevel::None);
        token.escalate();
        assert_eq!(clone.level(), CancelLevel::Graceful);
        token.escalate();
        token.escalate();
        assert_eq!(clone.level(), CancelLevel::Kill);
        let other = CancelToken::new();
        other.kill();
        other.cancel();
        assert_eq!(other.level(), CancelLevel::Kill);
    }

    #[test]
    fn a_kill_only_view_ignores_a_graceful_stop() {
        let token = CancelToken::new();
        let cleanup = token.kill_only();
        token.cancel();
        assert_eq!(token.level(), CancelLevel::Graceful);
        assert!(!cleanup.is_cancelled());
        token.escalate();
        assert_eq!(cleanup.level(), CancelLevel::Kill);
    }

    #[test]
    fn a_token_follows_its_signal_counter() {
        static COUNTER: AtomicU8 = AtomicU8::new(0);
        let token = CancelToken::following(&COUNTER);
        assert!(!token.is_cancelled());
        COUNTER.store(1, Ordering::SeqCst);
        assert_eq!(token.level(), CancelLevel::Graceful);
    }
}
