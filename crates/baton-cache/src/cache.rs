//! [`Cache`]: the step cache of one state directory (`.baton/cache/`), shared by
//! every beat of a run (it is `Sync`; put it in an `Arc`) and safe to use from
//! several processes at once.
//!
//! This module opens it and computes keys: inputs resolved, files stat'ed and
//! looked up in the stat cache, only changed files hashed (in parallel), new hashes
//! written back in one transaction. Entries, explanations and maintenance are in
//! [`crate::lookup`], [`crate::history`] and [`crate::maintenance`].

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::entry::Layout;
use crate::error::{CacheError, Result};
use crate::hash::{Blake3, blake3_file, hex, parallel_map};
use crate::index::Index;
use crate::inputs::{self, Gitignore};
use crate::key::{ComputedKey, KeySpec};
use crate::stat_cache::{FileStat, StatCache, StatRecord, now_ns};

/// The step cache. See the crate documentation.
pub struct Cache {
    pub(crate) layout: Layout,
    index: Mutex<Index>,
    /// Loaded on first use.
    stat: Mutex<Option<StatCache>>,
    files_hashed: AtomicU64,
    bytes_hashed: AtomicU64,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("dir", &self.layout.dir)
            .finish_non_exhaustive()
    }
}

impl Cache {
    /// The cache of a state directory (`.baton`): `<state_dir>/cache/`, created if
    /// needed, its index opened and migrated.
    pub fn open(state_dir: &Path) -> Result<Self> {
        Self::open_dir(&baton_model::layout::cache_dir(state_dir))
    }

    /// The cache in `dir` itself.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        let layout = Layout {
            dir: dir.to_owned(),
        };
        for d in [layout.entries(), layout.tmp()] {
            fs::create_dir_all(&d).map_err(CacheError::write(&d))?;
        }
        let index = Index::open(&layout.index())?;
        Ok(Self {
            layout,
            index: Mutex::new(index),
            stat: Mutex::new(None),
            files_hashed: AtomicU64::new(0),
            bytes_hashed: AtomicU64::new(0),
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.layout.dir
    }

    /// How many files this handle has hashed for keys and up-to-date checks (the
    /// stat cache saves the others).
    pub fn files_hashed(&self) -> u64 {
        self.files_hashed.load(Ordering::Relaxed)
    }

    /// How many bytes those files held.
    pub fn bytes_hashed(&self) -> u64 {
        self.bytes_hashed.load(Ordering::Relaxed)
    }

    pub(crate) fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the stat cache, loading it (one query) the first time.
    pub(crate) fn with_stat<R>(&self, f: impl FnOnce(&mut StatCache) -> R) -> Result<R> {
        let mut guard = self.stat.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            let rows = self.index().load_stat()?;
            *guard = Some(StatCache::from_rows(rows));
        }
        match guard.as_mut() {
            Some(cache) => Ok(f(cache)),
            None => Ok(f(&mut StatCache::default())),
        }
    }

    /// Writes the stat records changed since the last flush.
    pub(crate) fn flush_stat(&self) -> Result<()> {
        let dirty = self.with_stat(StatCache::take_dirty)?;
        self.index().save_stat(&dirty)
    }

    /// Forgets the in-memory stat cache (after `clear`).
    pub(crate) fn reset_stat(&self) {
        *self.stat.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The BLAKE3 of each file, through the stat cache: `Ok(None)` for a file that
    /// is missing or not a regular file. Files come with their stat when the caller
    /// has one (a walk took it); the others are stat'ed here.
    pub(crate) fn hash_files(
        &self,
        files: &[(PathBuf, Option<FileStat>)],
    ) -> Result<Vec<io::Result<Option<Blake3>>>> {
        let paths: Vec<&Path> = files.iter().map(|(p, _)| p.as_path()).collect();
        let missing = files.iter().filter(|(_, stat)| stat.is_none()).count();
        let stat_of = |(path, stat): &(PathBuf, Option<FileStat>), _: &mut [u8]| match stat {
            Some(stat) => Ok(Some(*stat)),
            None => match fs::metadata(path) {
                Ok(meta) if meta.is_file() => Ok(Some(FileStat::of(&meta))),
                Ok(_) => Ok(None),
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(err) => Err(err),
            },
        };
        let stats: Vec<io::Result<Option<FileStat>>> = if missing > 64 {
            parallel_map(files, stat_of)
        } else {
            files.iter().map(|f| stat_of(f, &mut [])).collect()
        };
        let mut out: Vec<io::Result<Option<Blake3>>> = Vec::with_capacity(paths.len());
        let mut todo: Vec<(usize, FileStat)> = Vec::new();
        self.with_stat(|cache| {
            for (i, stat) in stats.into_iter().enumerate() {
                out.push(match stat {
                    Ok(Some(stat)) => {
                        let known = cache.lookup(paths[i], &stat);
                        if known.is_none() {
                            todo.push((i, stat));
                        }
                        Ok(known)
                    }
                    Ok(None) => Ok(None),
                    Err(err) => Err(err),
                });
            }
        })?;
        if todo.is_empty() {
            return Ok(out);
        }
        let hashed = parallel_map(&todo, |(i, _), buf| {
            let at = now_ns();
            (blake3_file(paths[*i], buf), at)
        });
        let mut bytes = 0u64;
        let mut hashed_now = 0u64;
        self.with_stat(|cache| {
            for ((i, stat), (result, at)) in todo.iter().zip(hashed) {
                out[*i] = match result {
                    Ok(hash) => {
                        hashed_now += 1;
                        bytes += stat.size;
                        cache.insert(
                            paths[*i].to_owned(),
                            StatRecord {
                                stat: *stat,
                                hash,
                                hashed_at_ns: at,
                            },
                        );
                        Ok(Some(hash))
                    }
                    Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(err) => Err(err),
                };
            }
        })?;
        self.files_hashed.fetch_add(hashed_now, Ordering::Relaxed);
        self.bytes_hashed.fetch_add(bytes, Ordering::Relaxed);
        self.flush_stat()?;
        Ok(out)
    }

    /// Resolves the inputs of `spec`, hashes what changed, and returns the key with
    /// its components.
    pub fn compute_key(&self, spec: &KeySpec) -> Result<ComputedKey> {
        let root = absolute_root(&spec.root)?;
        let resolved = inputs::resolve(&root, &spec.inputs, Gitignore::Respect)?;
        let (rels, files): (Vec<String>, Vec<(PathBuf, Option<FileStat>)>) = resolved
            .files
            .into_iter()
            .map(|(rel, found)| (rel, (found.path, found.stat)))
            .unzip();
        let hashes = self.hash_files(&files)?;
        let mut inputs = BTreeMap::new();
        for ((rel, (path, _)), hash) in rels.into_iter().zip(&files).zip(hashes) {
            match hash {
                Ok(Some(hash)) => {
                    inputs.insert(rel, hex(&hash));
                }
                // Vanished between the walk and the hash: not an input any more.
                Ok(None) => {}
                Err(source) => {
                    return Err(CacheError::Read {
                        path: path.clone(),
                        source,
                    });
                }
            }
        }
        let components = spec.components(inputs);
        Ok(ComputedKey {
            key: components.key()?,
            components,
            problems: resolved.problems,
        })
    }
}

/// `root` made absolute (symlinks resolved), so that stat cache paths are stable.
pub(crate) fn absolute_root(root: &Path) -> Result<PathBuf> {
    root.canonicalize().map_err(CacheError::read(root))
}
