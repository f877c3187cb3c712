//! The stat cache: a file whose size, mtime, ctime, inode and device are what they
//! were when it was hashed is not hashed again.
//!
//! It lives in memory while a [`crate::Cache`] is open (loaded from `index.db` in
//! one query the first time a key is computed) and new hashes are written back in
//! one transaction per key. Paths are absolute.
//!
//! Racily clean files: a file changed within the same timestamp tick as it was
//! hashed could change again without its mtime moving. Like git, a hash is only
//! trusted when the file's mtime and ctime are older than [`RACY_MARGIN`] before
//! the moment hashing started; a fresher file is hashed again next time (and then
//! trusted).

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::hash::Blake3;

/// How much older than its hashing a file's timestamps must be for its hash to be
/// trusted (several timestamp ticks of any common filesystem).
pub const RACY_MARGIN: Duration = Duration::from_millis(50);

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
    pub dev: u64,
}

impl FileStat {
    pub fn of(meta: &Metadata) -> Self {
        Self {
            size: meta.len(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
            ctime_ns: meta.ctime().saturating_mul(1_000_000_000) + meta.ctime_nsec(),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }
}

/// A file's hash and the stat it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatRecord {
    pub stat: FileStat,
    pub hash: Blake3,
    /// Wall clock (ns since the epoch) when hashing started.
    pub hashed_at_ns: i64,
}

impl StatRecord {
    /// Whether `stat` is the stat recorded and old enough to trust the hash.
    fn trusted_for(&self, stat: &FileStat) -> bool {
        let margin = i64::try_from(RACY_MARGIN.as_nanos()).unwrap_or(i64::MAX);
        self.stat == *stat
            && stat.mtime_ns.max(stat.ctime_ns) < self.hashed_at_ns.saturating_sub(margin)
    }
}

/// The in-memory stat cache with the records not yet written back.
#[derive(Debug, Default)]
pub struct StatCache {
    map: HashMap<PathBuf, StatRecord>,
    dirty: Vec<(PathBuf, StatRecord)>,
}

impl StatCache {
    pub fn from_rows(rows: impl IntoIterator<Item = (PathBuf, StatRecord)>) -> Self {
        Self {
            map: rows.into_iter().collect(),
            dirty: Vec::new(),
        }
    }

    /// The hash of `path` when its stat is unchanged (and trusted).
    pub fn lookup(&self, path: &Path, stat: &FileStat) -> Option<Blake3> {
        self.map
            .get(path)
            .filter(|r| r.trusted_for(stat))
            .map(|r| r.hash)
    }

    pub fn insert(&mut self, path: PathBuf, record: StatRecord) {
        if self.map.get(&path) != Some(&record) {
            self.map.insert(path.clone(), record);
            self.dirty.push((path, record));
        }
    }

    /// Forgets `path` (a file baton just rewrote).
    pub fn forget(&mut self, path: &Path) {
        self.map.remove(path);
    }

    /// The records changed since the last call, to write back.
    pub fn take_dirty(&mut self) -> Vec<(PathBuf, StatRecord)> {
        std::mem::take(&mut self.dirty)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Now, in ns since the epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(mtime_ns: i64) -> FileStat {
        FileStat {
            size: 3,
            mtime_ns,
            ctime_ns: mtime_ns,
            ino: 7,
            dev: 1,
        }
    }

    #[test]
    fn only_unchanged_and_not_racy_stats_are_trusted() {
        let mut cache = StatCache::default();
        let second = 1_000_000_000;
        let path = PathBuf::from("/x");
        cache.insert(
            path.clone(),
            StatRecord {
                stat: stat(10 * second),
                hash: [1; 32],
                hashed_at_ns: 20 * second,
            },
        );
        assert_eq!(cache.lookup(&path, &stat(10 * second)), Some([1; 32]));
        assert_eq!(cache.lookup(&path, &stat(11 * second)), None);
        let mut other_inode = stat(10 * second);
        other_inode.ino = 8;
        assert_eq!(cache.lookup(&path, &other_inode), None);
        // Hashed in the same tick it was written: not trusted.
        cache.insert(
            path.clone(),
            StatRecord {
                stat: stat(20 * second),
                hash: [2; 32],
                hashed_at_ns: 20 * second + 1_000,
            },
        );
        assert_eq!(cache.lookup(&path, &stat(20 * second)), None);
        assert_eq!(cache.take_dirty().len(), 2);
        assert!(cache.take_dirty().is_empty());
    }
}
