//! `baton cache ls | prune --max-size | clear`: listing entries, evicting the least
//! recently used until the cache fits, and emptying it. Pruning also adopts entry
//! directories the index lost, forgets rows whose directory is gone, removes
//! leftovers of interrupted stores, old run keys and stat rows of vanished files.

use std::fs;
use std::io;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::cache::Cache;
use crate::entry::{self, drop_dir};
use crate::error::{CacheError, Result};
use crate::history::{EntryInfo, is_key};
use crate::index::EntryRow;

/// Leftovers in `tmp/` older than this belong to no running store.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// What a prune or a clear did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub removed: usize,
    pub freed_bytes: u64,
    pub kept: usize,
    pub kept_bytes: u64,
}

impl Cache {
    /// Every entry, least recently used first.
    pub fn ls(&self) -> Result<Vec<EntryInfo>> {
        Ok(self
            .index()
            .entries()?
            .into_iter()
            .map(EntryInfo::from)
            .collect())
    }

    /// Total bytes of the entries.
    pub fn size(&self) -> Result<u64> {
        Ok(self.index().entries()?.iter().map(|e| e.size).sum())
    }

    /// Removes the least recently used entries until the cache holds at most
    /// `max_size_bytes`.
    pub fn prune(&self, max_size_bytes: u64) -> Result<PruneReport> {
        self.reconcile()?;
        let rows = self.index().entries()?;
        let mut total: u64 = rows.iter().map(|r| r.size).sum();
        let mut report = PruneReport::default();
        for row in &rows {
            if total <= max_size_bytes {
                break;
            }
            self.drop_entry(&row.key)?;
            total = total.saturating_sub(row.size);
            report.removed += 1;
            report.freed_bytes += row.size;
        }
        report.kept = rows.len() - report.removed;
        report.kept_bytes = total;
        self.index().prune_keys()?;
        self.remove_stale_tmp(STALE_TMP)?;
        self.prune_stat()?;
        Ok(report)
    }

    /// Removes every entry and forgets everything (stat cache and keys included).
    pub fn clear(&self) -> Result<PruneReport> {
        self.reconcile()?;
        let rows = self.index().entries()?;
        let entries = self.layout.entries();
        drop_dir(&self.layout, &entries)?;
        fs::create_dir_all(&entries).map_err(CacheError::write(&entries))?;
        self.index().clear()?;
        self.reset_stat();
        self.remove_stale_tmp(STALE_TMP)?;
        Ok(PruneReport {
            removed: rows.len(),
            freed_bytes: rows.iter().map(|r| r.size).sum(),
            kept: 0,
            kept_bytes: 0,
        })
    }

    /// Makes the index agree with the entry directories.
    fn reconcile(&self) -> Result<()> {
        let dir = self.layout.entries();
        let listed = match fs::read_dir(&dir) {
            Ok(listed) => listed,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(CacheError::Read { path: dir, source }),
        };
        let mut on_disk = Vec::new();
        for item in listed.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            if is_key(&name) {
                on_disk.push(name);
            }
        }
        let rows = self.index().entries()?;
        for row in &rows {
            if !on_disk.contains(&row.key) {
                self.index().delete_entry(&row.key)?;
            }
        }
        for key in on_disk {
            if rows.iter().any(|r| r.key == key) {
                continue;
            }
            match entry::read_head(&self.layout, &key) {
                Ok(Some(head)) => {
                    let manifest_size = fs::metadata(self.layout.entry(&key).join(entry::MANIFEST))
                        .map_or(0, |m| m.len());
                    let created_at_ms = head.created_at.as_millisecond();
                    self.index().upsert_entry(&EntryRow {
                        key: key.clone(),
                        pipeline_id: head.pipeline_id.clone(),
                        beat: head.beat.clone(),
                        created_at_ms,
                        size: head.content_size() + manifest_size,
                        last_used_ms: created_at_ms,
                    })?;
                }
                // No readable manifest: not an entry anyone can use.
                _ => self.drop_entry(&key)?,
            }
        }
        Ok(())
    }

    /// Removes what interrupted stores and drops left in `tmp/`.
    fn remove_stale_tmp(&self, older_than: Duration) -> Result<()> {
        let tmp = self.layout.tmp();
        let Ok(listed) = fs::read_dir(&tmp) else {
            return Ok(());
        };
        let now = SystemTime::now();
        for item in listed.flatten() {
            let stale = item
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= older_than);
            if stale {
                let path = item.path();
                let removed = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                removed.map_err(CacheError::write(path))?;
            }
        }
        Ok(())
    }

    /// Forgets stat rows of files that no longer exist.
    fn prune_stat(&self) -> Result<()> {
        let paths = self.index().stat_paths()?;
        let gone: Vec<_> = paths
            .into_iter()
            .filter(|p| matches!(fs::symlink_metadata(p), Err(e) if e.kind() == io::ErrorKind::NotFound))
            .collect();
        if !gone.is_empty() {
            self.index().delete_stat(&gone)?;
            self.reset_stat();
        }
        Ok(())
    }
}
