//! An entry's life: [`Cache::lookup`] (hit, expired or miss), [`Cache::restore`]
//! (verify and restore a hit's outputs), [`Cache::store`] (a new entry after a
//! successful run) and [`Cache::drop_entry`].
//!
//! A corrupted entry (a manifest that cannot be read, a file that does not hold
//! what the manifest says) is dropped and reported as [`CacheError::Corrupt`]: the
//! caller runs the beat, which stores a fresh entry.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_model::ArtifactEntry;
use jiff::Timestamp;

use crate::cache::{Cache, absolute_root};
use crate::compress::{self, PACK, UnpackError};
use crate::entry::{self, FILES, Fill, LOG, ManifestHead, ProducedBy, Published, is_safe_relative};
use crate::error::{CacheError, Result};
use crate::hash::Blake3;
use crate::hash::{BUF, hex, parallel_map, sha256_file};
use crate::history::is_key;
use crate::index::EntryRow;
use crate::key::{CACHE_FORMAT_VERSION, ComputedKey, KeySpec};
use crate::restore::{RestoreFailure, restore_file};
use crate::stat_cache::{FileStat, StatRecord, now_ns};

/// What a lookup found.
#[derive(Debug, Clone)]
pub enum Lookup {
    Hit(Hit),
    /// An entry older than the beat's `ttl`: the beat runs and replaces it.
    Expired {
        age: Duration,
    },
    Miss,
}

/// An entry found for a key.
#[derive(Debug, Clone)]
pub struct Hit {
    pub key: String,
    pub created_at: Timestamp,
    pub(crate) head: Box<ManifestHead>,
}

impl Hit {
    /// The entry's outputs as artifact entries.
    pub fn artifacts(&self) -> Vec<ArtifactEntry> {
        artifact_entries(&self.head)
    }
}

/// The outputs `head` lists, as artifact entries.
fn artifact_entries(head: &ManifestHead) -> Vec<ArtifactEntry> {
    head.outputs
        .iter()
        .map(|o| ArtifactEntry {
            path: o.path.clone(),
            bytes: o.size,
            sha256: o.sha256.clone(),
        })
        .collect()
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The restored outputs (path, bytes, SHA-256), sorted by path.
    pub artifacts: Vec<ArtifactEntry>,
    /// Files written into the root.
    pub files_restored: usize,
    /// Files already there with the right content, left alone.
    pub files_up_to_date: usize,
    /// The saved log (verified): replay it.
    pub log: PathBuf,
    /// The byte ranges `[start, end)` of the saved log that the beat wrote to
    /// stderr.
    pub log_stderr: Vec<[u64; 2]>,
    /// The run that stored the entry, when the entry says.
    pub produced_by: Option<ProducedBy>,
}

/// What a run stores with a beat's outputs: its log, which bytes of the log came
/// from stderr, and the run itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryLog<'a> {
    pub path: Option<&'a Path>,
    pub stderr: &'a [[u64; 2]],
    pub produced_by: Option<&'a ProducedBy>,
}

/// What a store did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub published: Published,
    /// The stored outputs (path, bytes, SHA-256), sorted by path.
    pub artifacts: Vec<ArtifactEntry>,
    /// Bytes of the entry.
    pub size: u64,
    /// Output files left out, worth a warning.
    pub problems: Vec<String>,
}

impl Cache {
    /// Looks `key` up. `ttl`: an entry older than this is [`Lookup::Expired`].
    pub fn lookup(&self, key: &str, ttl: Option<Duration>) -> Result<Lookup> {
        if !is_key(key) {
            return Ok(Lookup::Miss);
        }
        let head = match entry::read_head(&self.layout, key) {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(Lookup::Miss),
            Err(CacheError::Manifest { path, source }) => {
                self.drop_entry(key)?;
                return Err(CacheError::Corrupt {
                    key: key.to_owned(),
                    problem: format!("its manifest {} cannot be read: {source}", path.display()),
                });
            }
            Err(err) => return Err(err),
        };
        if head.format_version != CACHE_FORMAT_VERSION || head.key != key {
            // Written by another format: not ours to use.
            self.drop_entry(key)?;
            return Ok(Lookup::Miss);
        }
        let age = Timestamp::now()
            .duration_since(head.created_at)
            .try_into()
            .unwrap_or(Duration::ZERO);
        if ttl.is_some_and(|ttl| age > ttl) {
            return Ok(Lookup::Expired { age });
        }
        Ok(Lookup::Hit(Hit {
            key: key.to_owned(),
            created_at: head.created_at,
            head: Box::new(head),
        }))
    }

    /// Restores a hit's outputs under `root`: every file verified against its
    /// SHA-256 as it is copied (or cloned), files already there with the right
    /// content left alone; the log verified too. A corrupted entry is dropped
    /// ([`CacheError::Corrupt`]).
    pub fn restore(&self, hit: &Hit, root: &Path) -> Result<Restored> {
        let root = absolute_root(root)?;
        let dir = self.layout.entry(&hit.key);
        let corrupt = |problem: String| -> CacheError {
            if let Err(err) = self.drop_entry(&hit.key) {
                return err;
            }
            CacheError::Corrupt {
                key: hit.key.clone(),
                problem,
            }
        };
        if let Some(bad) = hit.head.outputs.iter().find(|o| !is_safe_relative(&o.path)) {
            return Err(corrupt(format!(
                "the output path '{}' leaves the root",
                bad.path
            )));
        }

        let log = dir.join(LOG);
        let mut buf = vec![0u8; BUF];
        match sha256_file(&log, &mut buf) {
            Ok((sha, len)) if sha == hit.head.log.sha256 && len == hit.head.log.size => {}
            Ok((_, len)) => {
                return Err(corrupt(format!(
                    "its log holds {len} bytes, not the {} bytes it was stored with",
                    hit.head.log.size
                )));
            }
            Err(err) => return Err(corrupt(format!("its log cannot be read: {err}"))),
        }

        let dests: Vec<(PathBuf, Option<FileStat>)> = hit
            .head
            .outputs
            .iter()
            .map(|o| (root.join(&o.path), None))
            .collect();
        let current = self.hash_files(&dests)?;
        let todo: Vec<usize> = hit
            .head
            .outputs
            .iter()
            .zip(current)
            .enumerate()
            .filter(|(_, (o, now))| !matches!(now, Ok(Some(h)) if hex(h) == o.blake3))
            .map(|(i, _)| i)
            .collect();
        let before = now_ns();
        let results = match hit.head.stream {
            Some(_) => self.unpack_stream(&dir, hit, &todo, &dests, &mut buf)?,
            None => parallel_map(&todo, |&i, buf| {
                let output = &hit.head.outputs[i];
                restore_file(
                    &dir.join(FILES).join(&output.path),
                    output,
                    &dests[i].0,
                    buf,
                )
            }),
        };
        let mut records = Vec::new();
        for (&i, result) in todo.iter().zip(results) {
            match result {
                Ok(hash) => {
                    if let Ok(meta) = std::fs::metadata(&dests[i].0) {
                        records.push((
                            dests[i].0.clone(),
                            StatRecord {
                                stat: FileStat::of(&meta),
                                hash,
                                hashed_at_ns: before,
                            },
                        ));
                    }
                }
                Err(RestoreFailure::Corrupt(problem)) => return Err(corrupt(problem)),
                Err(RestoreFailure::Io { path, source }) => {
                    return Err(CacheError::Write { path, source });
                }
            }
        }
        if !records.is_empty() {
            self.with_stat(|cache| {
                for (path, record) in records {
                    cache.insert(path, record);
                }
            })?;
            self.flush_stat()?;
        }
        let now_ms = now_ns() / 1_000_000;
        self.index().upsert_entry(&EntryRow {
            key: hit.key.clone(),
            pipeline_id: hit.head.pipeline_id.clone(),
            beat: hit.head.beat.clone(),
            created_at_ms: hit.created_at.as_millisecond(),
            size: hit.head.content_size(),
            last_used_ms: now_ms,
        })?;
        Ok(Restored {
            artifacts: hit.artifacts(),
            files_restored: todo.len(),
            files_up_to_date: hit.head.outputs.len() - todo.len(),
            log,
            log_stderr: hit.head.log.stderr.clone(),
            produced_by: hit.head.produced_by.clone(),
        })
    }

    /// Restores outputs `todo` (indexes into the manifest's outputs) from the
    /// entry's stream, as [`restore_file`] does from plain copies: one result per
    /// index of `todo`, in order. A damaged stream drops the entry.
    fn unpack_stream(
        &self,
        dir: &Path,
        hit: &Hit,
        todo: &[usize],
        dests: &[(PathBuf, Option<FileStat>)],
        buf: &mut [u8],
    ) -> Result<Vec<std::result::Result<Blake3, RestoreFailure>>> {
        let mut wanted: Vec<Option<&Path>> = vec![None; hit.head.outputs.len()];
        for &i in todo {
            wanted[i] = Some(dests[i].0.as_path());
        }
        match compress::unpack(&dir.join(PACK), &hit.head.outputs, &wanted, buf) {
            Ok(written) => Ok(written.into_iter().map(|(_, hash)| Ok(hash)).collect()),
            Err(UnpackError::Corrupt(problem)) => Ok(vec![Err(RestoreFailure::Corrupt(problem))]),
            Err(UnpackError::Dest { path, source }) => {
                Ok(vec![Err(RestoreFailure::Io { path, source })])
            }
        }
    }

    /// Stores the outputs of `spec` (under its root) and `log` as the entry of
    /// `key`, atomically. With `replace`, an existing entry of the key is replaced
    /// (expired, or `--no-cache`); without, an existing one wins.
    pub fn store(
        &self,
        spec: &KeySpec,
        key: &ComputedKey,
        log: Option<&Path>,
        replace: bool,
    ) -> Result<Stored> {
        let log = EntryLog {
            path: log,
            ..EntryLog::default()
        };
        self.store_entry(spec, key, &log, replace)
    }

    /// [`Cache::store`] with what the run knows of its log (which bytes came from
    /// stderr) and of itself (the run that stored the entry).
    pub fn store_entry(
        &self,
        spec: &KeySpec,
        key: &ComputedKey,
        log: &EntryLog<'_>,
        replace: bool,
    ) -> Result<Stored> {
        let root = absolute_root(&spec.root)?;
        let filled = entry::store(
            &self.layout,
            &Fill {
                key: &key.key,
                pipeline_id: &spec.pipeline_id,
                beat: &spec.beat,
                root: &root,
                outputs: &spec.outputs,
                log: log.path,
                log_stderr: log.stderr,
                produced_by: log.produced_by,
                components: &key.components,
            },
            replace,
        )?;
        let created_at_ms = filled.manifest.created_at.as_millisecond();
        if filled.published == Published::Stored {
            self.index().upsert_entry(&EntryRow {
                key: key.key.clone(),
                pipeline_id: spec.pipeline_id.clone(),
                beat: spec.beat.clone(),
                created_at_ms,
                size: filled.size,
                last_used_ms: created_at_ms,
            })?;
        }
        let artifacts = artifact_entries(&filled.manifest);
        Ok(Stored {
            published: filled.published,
            artifacts,
            size: filled.size,
            problems: filled.problems,
        })
    }

    /// Removes `key`'s entry (if any) from disk and from the index.
    pub fn drop_entry(&self, key: &str) -> Result<()> {
        if !is_key(key) {
            return Ok(());
        }
        entry::drop_dir(&self.layout, &self.layout.entry(key))?;
        self.index().delete_entry(key)
    }
}
