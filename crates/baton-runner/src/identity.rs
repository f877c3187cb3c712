//! A beat record's input identity: what it ran on, so that runs of a beat can be
//! compared like for like (flaky detection, regressions). See docs/recording.md.
//!
//! - `inputs:<key>` for a beat that declares `inputs`: its step-cache key
//!   (inputs' content, command, shell, environment, outputs), computed for a
//!   beat that is not cached too (nothing looked up, nothing stored);
//! - else `commit:<sha>` when the run's git work tree is clean (no change to a
//!   tracked file; untracked files do not count), checked once per run;
//! - else none (a dirty tree, no git, a key that could not be computed, a beat
//!   that did not run).

use std::sync::{Arc, OnceLock};

use baton_model::{BeatRecord, BeatStatus};

/// The identity of a beat whose inputs have cache key `key`.
pub fn of_inputs(key: &str) -> String {
    format!("inputs:{key}")
}

/// The identity of a beat without inputs run on the clean commit `sha`.
pub fn of_commit(sha: &str) -> String {
    format!("commit:{sha}")
}

/// The HEAD commit of the run's work tree if the tree is clean, found once per
/// run (a git process of the caller's, while the first beats run) and waited for
/// only when a record needs it, on the consumers' side. The default is known:
/// none (no git).
#[derive(Debug, Clone)]
pub struct CleanCommit {
    found: Arc<OnceLock<Option<String>>>,
}

impl CleanCommit {
    /// A commit that is already known (`None`: dirty, or no git).
    pub fn known(commit: Option<String>) -> Self {
        Self {
            found: Arc::new(OnceLock::from(commit)),
        }
    }

    /// A commit still to be found, and the one way to tell it: the
    /// [`CleanCommitFinder`]. A finder dropped without [`CleanCommitFinder::set`]
    /// (git failed, a panic) leaves none, so whoever waits never waits forever.
    pub fn finding() -> (Self, CleanCommitFinder) {
        let found = Arc::new(OnceLock::new());
        let finder = CleanCommitFinder {
            target: Arc::clone(&found),
        };
        (Self { found }, finder)
    }

    /// The commit, waiting until it is found.
    pub fn wait(&self) -> Option<&str> {
        self.found.wait().as_deref()
    }
}

impl Default for CleanCommit {
    fn default() -> Self {
        Self::known(None)
    }
}

/// What fills in [`CleanCommit::finding`]'s commit, once.
#[derive(Debug)]
pub struct CleanCommitFinder {
    target: Arc<OnceLock<Option<String>>>,
}

impl CleanCommitFinder {
    pub fn set(self, commit: Option<String>) {
        let _ = self.target.set(commit);
    }
}

impl Drop for CleanCommitFinder {
    fn drop(&mut self) {
        // A no-op after `set`.
        let _ = self.target.set(None);
    }
}

/// Gives `record` the commit identity when its beat declares no inputs (a beat
/// with inputs has its key, or none when the key could not be computed) and it
/// ran; waits for `clean` only then.
pub(crate) fn complete(record: &mut BeatRecord, declares_inputs: bool, clean: &CleanCommit) {
    if declares_inputs || record.input_identity.is_some() || record.status == BeatStatus::Skipped {
        return;
    }
    record.input_identity = clean.wait().map(of_commit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finder_dropped_unset_leaves_no_commit() {
        let (clean, finder) = CleanCommit::finding();
        std::thread::spawn(move || drop(finder))
            .join()
            .expect("joined");
        assert_eq!(clean.wait(), None);
        let (clean, finder) = CleanCommit::finding();
        finder.set(Some("abc".into()));
        assert_eq!(clean.wait(), Some("abc"));
    }
}
