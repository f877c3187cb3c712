//! Beat histories as compact series, for the cross-run analyses (`regressions`,
//! `flaky`, `trends`, `slowest`): what [`HistoryStore::beat_series`] returns.
//!
//! A store of a million beat records reads into a few tens of megabytes: each record
//! is a [`SeriesPoint`] of plain numbers; runs, pipelines and input identities are
//! kept once each and referred to by index. Only the columns the analyses need are
//! read (never a record's `extra`); a run's commit is asked for separately, for the
//! few runs a report names ([`HistoryStore::run_commits`]).
//!
//! [`HistoryStore::beat_series`]: crate::HistoryStore::beat_series
//! [`HistoryStore::run_commits`]: crate::HistoryStore::run_commits

use baton_model::{BeatStatus, CacheState, RunStatus, SlaStatus};
use jiff::Timestamp;
use uuid::Uuid;

/// Which beat records [`HistoryStore::beat_series`](crate::HistoryStore::beat_series)
/// reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesQuery {
    /// One pipeline (by id), or every pipeline of the store.
    pub pipeline: Option<String>,
    /// Only these beats (by name); empty for every beat.
    pub beats: Vec<String>,
    /// Only runs that started at or after this time.
    pub since: Option<Timestamp>,
    /// Only the newest N runs of the scope (after `since`).
    pub last_runs: Option<usize>,
    /// Read each record's input identity (flaky detection needs it; the other
    /// analyses do not, and reading it costs time and memory).
    pub identities: bool,
    /// Per beat and outcome (its status and, for every status, whether it was
    /// restored from the cache), only the newest N records of the scope; `None`
    /// for all. Analyses that look at a beat's newest runs only (the change point
    /// scan, a run's charts) read this much of a long history instead of all of
    /// it, with the same result: the bound is per beat, so a beat that fails or is
    /// restored often keeps as many of each kind as one that never does.
    pub newest_per_outcome: Option<usize>,
}

/// A pipeline of a [`SeriesSet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesPipeline {
    pub pipeline_id: String,
    /// The name of its newest run in the set.
    pub name: String,
}

/// A run of a [`SeriesSet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRun {
    pub run_id: Uuid,
    pub label: String,
    /// Index into [`SeriesSet::pipelines`].
    pub pipeline: u32,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// As stored (a `running` run is not checked for being abandoned).
    pub status: RunStatus,
}

/// One beat record, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesPoint {
    /// Index into [`SeriesSet::runs`].
    pub run: u32,
    pub started_at: Timestamp,
    pub duration_ms: u64,
    pub status: BeatStatus,
    pub cache_state: CacheState,
    /// Restored from the step cache instead of executed.
    pub restored: bool,
    /// Attempts it took (1 unless it was retried; a pipeline allows at most 100).
    pub attempts: u8,
    /// Its SLA verdict (the worst of duration, errors and cache; a failure's is
    /// its failure).
    pub sla: SlaStatus,
    /// Some of its tests failed and then passed on a rerun inside the beat
    /// (JUnit's `flakyFailure`/`rerunFailure`).
    pub tests_flaky: bool,
    /// Index of its input identity ([`SeriesSet::identity`]); `None` when it has
    /// none or the query did not ask for identities.
    pub identity: Option<u32>,
}

/// Every record of one beat of one pipeline (or the newest of each outcome, see
/// [`SeriesQuery::newest_per_outcome`]), oldest run first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeatSeries {
    /// Index into [`SeriesSet::pipelines`].
    pub pipeline: u32,
    pub beat: String,
    pub points: Vec<SeriesPoint>,
    /// The beat's successful records in the scope, counted before any bound.
    pub successes: Successes,
    /// Every record of the beat in the runs from this index into
    /// [`SeriesSet::runs`] on is in `points` (0 unless the bound left some out).
    pub complete_from: u32,
}

/// Successful records of a beat, executed and restored from the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Successes {
    pub executed: usize,
    pub restored: usize,
}

impl BeatSeries {
    /// Counts the successes of `points`, which hold every record of the scope.
    pub(crate) fn count_successes(&mut self) {
        self.successes = Successes::default();
        for p in &self.points {
            if p.status == BeatStatus::Success {
                if p.restored {
                    self.successes.restored += 1;
                } else {
                    self.successes.executed += 1;
                }
            }
        }
    }

    /// Keeps the newest `n` points of each outcome (status, restored) of a series
    /// holding every record of the scope, counting its successes first.
    pub(crate) fn keep_newest(&mut self, n: usize) {
        self.count_successes();
        let mut seen = [0usize; 2 * OUTCOMES];
        let mut complete_from = 0u32;
        let mut kept: Vec<SeriesPoint> = Vec::with_capacity(self.points.len().min(n * 4));
        for p in self.points.iter().rev() {
            let count = &mut seen[outcome(p.status, p.restored)];
            if *count < n {
                *count += 1;
                kept.push(*p);
            } else {
                complete_from = complete_from.max(p.run.saturating_add(1));
            }
        }
        kept.reverse();
        self.points = kept;
        self.complete_from = complete_from;
    }
}

/// How many beat statuses there are (an outcome is one of them, restored or not).
pub(crate) const OUTCOMES: usize = 5;

/// The index of an outcome, below `2 * OUTCOMES`.
pub(crate) fn outcome(status: BeatStatus, restored: bool) -> usize {
    let status = match status {
        BeatStatus::Success => 0,
        BeatStatus::Failure => 1,
        BeatStatus::Timeout => 2,
        BeatStatus::Cancelled => 3,
        BeatStatus::Skipped => 4,
    };
    2 * status + usize::from(restored)
}

/// What [`HistoryStore::beat_series`](crate::HistoryStore::beat_series) returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesSet {
    pub pipelines: Vec<SeriesPipeline>,
    /// Oldest first (by start time, then by the order they were recorded).
    pub runs: Vec<SeriesRun>,
    /// By pipeline, then by beat name; a beat with no record in the runs read is
    /// absent.
    pub series: Vec<BeatSeries>,
    /// The input identities, as text, one after the other.
    identity_text: String,
    /// Where each identity ends in `identity_text`.
    identity_ends: Vec<u32>,
}

impl SeriesSet {
    /// The text of identity `index` (`inputs:<hex>`, `commit:<sha>`, ...); empty for
    /// an index that is not one.
    pub fn identity(&self, index: u32) -> &str {
        let i = index as usize;
        let Some(&end) = self.identity_ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.identity_ends[i - 1] };
        self.identity_text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// How many distinct input identities the records have.
    pub fn identity_count(&self) -> usize {
        self.identity_ends.len()
    }

    /// Sets the identities' texts, one after the other, and where each ends.
    pub(crate) fn set_identities(&mut self, text: String, ends: Vec<u32>) {
        self.identity_text = text;
        self.identity_ends = ends;
    }

    /// Total beat records in the set.
    pub fn records(&self) -> usize {
        self.series.iter().map(|s| s.points.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_kept_end_to_end() {
        let mut set = SeriesSet::default();
        set.set_identities("inputs:abcommit:0123".to_owned(), vec![9, 20]);
        assert_eq!(set.identity(0), "inputs:ab");
        assert_eq!(set.identity(1), "commit:0123");
        assert_eq!(set.identity(2), "");
        assert_eq!(set.identity_count(), 2);
    }
}
