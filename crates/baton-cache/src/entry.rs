//! Cache entries on disk: `.baton/cache/entries/<key>/` holds `manifest.json`,
//! `log` (the beat's log as it was written, secrets already masked) and the outputs:
//! `files.zst`, one zstd stream of them all (see `compress`), or in entries stored
//! before baton compressed them, `files/` (plain copies at their paths relative to
//! the pipeline root).
//!
//! An entry appears whole or not at all: it is filled in `.baton/cache/tmp/<random>/`
//! and renamed into place. When the target exists already another run won the
//! race and the new copy is discarded (or, when replacing an expired entry, the
//! old one is first renamed away). Nothing is fsynced: an entry torn by a crash is
//! caught by the hashes in its manifest when it is next restored, and dropped.
//! Entries are dropped the same way: renamed into `tmp/`, then deleted.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::compress::{self, PACK, PackError};
use crate::copy::copy_hashed;
use crate::error::{CacheError, Result};
use crate::hash;
use crate::inputs::{self, Gitignore};
use crate::key::{CACHE_FORMAT_VERSION, KeyComponents};

pub const MANIFEST: &str = "manifest.json";
pub const LOG: &str = "log";
pub const FILES: &str = "files";

/// One output file in an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Relative to the pipeline root, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// BLAKE3 (hex): compared with the stat cache to skip restoring a file that
    /// is already there.
    pub blake3: String,
    /// Permission bits.
    pub mode: u32,
}

/// The saved log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFile {
    pub size: u64,
    pub sha256: String,
    /// The byte ranges `[start, end)` of the log that the beat wrote to stderr
    /// (the rest is stdout and baton's notes), so that a replay keeps the
    /// streams apart. Empty in entries stored before baton kept them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr: Vec<[u64; 2]>,
}

/// The entry's outputs as one zstd stream (`files.zst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputStream {
    /// Bytes of the stream.
    pub size: u64,
}

/// The run that stored an entry: a restored beat's record names it
/// (`restored_from`). Absent in entries stored before baton kept it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducedBy {
    pub run_id: String,
    pub run_label: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub key: String,
    pub pipeline_id: String,
    pub beat: String,
    pub created_at: Timestamp,
    pub outputs: Vec<OutputFile>,
    pub log: LogFile,
    /// Absent in entries that keep plain copies under `files/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<OutputStream>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produced_by: Option<ProducedBy>,
    pub components: KeyComponents,
}

/// `manifest.json` without the key components (which can be large): what a
/// lookup reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManifestHead {
    pub format_version: u32,
    pub key: String,
    pub pipeline_id: String,
    pub beat: String,
    pub created_at: Timestamp,
    pub outputs: Vec<OutputFile>,
    pub log: LogFile,
    /// Absent in entries that keep plain copies under `files/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<OutputStream>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produced_by: Option<ProducedBy>,
}

impl ManifestHead {
    /// Bytes of outputs (as stored) and log.
    pub fn content_size(&self) -> u64 {
        let outputs = match self.stream {
            Some(stream) => stream.size,
            None => self.outputs.iter().map(|o| o.size).sum::<u64>(),
        };
        outputs + self.log.size
    }
}

/// Where things are under the cache directory.
#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn entries(&self) -> PathBuf {
        self.dir.join("entries")
    }

    pub fn tmp(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    pub fn entry(&self, key: &str) -> PathBuf {
        self.entries().join(key)
    }

    pub fn index(&self) -> PathBuf {
        self.dir.join("index.db")
    }
}

/// What to put in a new entry.
#[derive(Debug, Clone, Copy)]
pub struct Fill<'a> {
    pub key: &'a str,
    pub pipeline_id: &'a str,
    pub beat: &'a str,
    /// Absolute pipeline root.
    pub root: &'a Path,
    pub outputs: &'a [String],
    pub log: Option<&'a Path>,
    /// Byte ranges of `log` that came from stderr.
    pub log_stderr: &'a [[u64; 2]],
    pub produced_by: Option<&'a ProducedBy>,
    pub components: &'a KeyComponents,
}

/// How a store ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// This run's entry is in place.
    Stored,
    /// Another run had stored the same key; this copy was discarded.
    AlreadyPresent,
}

/// A filled entry and where it went.
#[derive(Debug, Clone)]
pub struct Filled {
    pub manifest: ManifestHead,
    /// Bytes on disk: outputs, log and manifest.
    pub size: u64,
    pub published: Published,
    /// Output files that could not be read (they are left out of the entry).
    pub problems: Vec<String>,
}

/// Fills an entry in `tmp/` and renames it into place. With `replace`, an existing
/// entry of the same key is dropped first (an expired one, or `--no-cache`).
pub fn store(layout: &Layout, fill: &Fill<'_>, replace: bool) -> Result<Filled> {
    let tmp_root = layout.tmp();
    fs::create_dir_all(&tmp_root).map_err(CacheError::write(&tmp_root))?;
    let staging = tempfile::Builder::new()
        .prefix("fill-")
        .tempdir_in(&tmp_root)
        .map_err(CacheError::write(&tmp_root))?;
    let dir = staging.path();

    let resolved = inputs::resolve(fill.root, fill.outputs, Gitignore::Include)?;
    let mut problems = resolved.problems;
    let files: Vec<(String, PathBuf)> = resolved
        .files
        .into_iter()
        .map(|(rel, found)| (rel, found.path))
        .collect();
    let mut outputs = Vec::with_capacity(files.len());
    let mut stream = None;
    if !files.is_empty() {
        let paths: Vec<&Path> = files.iter().map(|(_, src)| src.as_path()).collect();
        let mut buf = vec![0u8; hash::BUF];
        let packed =
            compress::pack(&paths, &dir.join(PACK), &mut buf).map_err(|err| match err {
                PackError::Read { path, source } => CacheError::Read { path, source },
                PackError::Write(source) => CacheError::Write {
                    path: dir.join(PACK),
                    source,
                },
            })?;
        for ((rel, src), copied) in files.iter().zip(packed.files) {
            match copied {
                Some(c) => outputs.push(OutputFile {
                    path: rel.clone(),
                    size: c.len,
                    sha256: c.sha256,
                    blake3: hash::hex(&c.blake3),
                    mode: c.mode,
                }),
                // Vanished since it was listed (a beat's leftover process?): left out.
                None => problems.push(format!(
                    "output {} vanished while it was stored",
                    src.display()
                )),
            }
        }
        stream = Some(OutputStream {
            size: packed.stored_len,
        });
    }

    let log_dst = dir.join(LOG);
    let log = match fill.log {
        Some(src) if src.exists() => {
            let mut buf = vec![0u8; hash::BUF];
            let c =
                copy_hashed(src, &log_dst, Some(0o644), &mut buf).map_err(CacheError::read(src))?;
            LogFile {
                size: c.len,
                sha256: c.sha256,
                stderr: fill
                    .log_stderr
                    .iter()
                    .filter(|[start, end]| start < end && *end <= c.len)
                    .copied()
                    .collect(),
            }
        }
        _ => {
            fs::write(&log_dst, b"").map_err(CacheError::write(&log_dst))?;
            LogFile {
                size: 0,
                sha256: hash::hex(&sha2_empty()),
                stderr: Vec::new(),
            }
        }
    };

    let manifest = Manifest {
        format_version: CACHE_FORMAT_VERSION,
        key: fill.key.to_owned(),
        pipeline_id: fill.pipeline_id.to_owned(),
        beat: fill.beat.to_owned(),
        created_at: Timestamp::now(),
        outputs,
        log,
        stream,
        produced_by: fill.produced_by.cloned(),
        components: fill.components.clone(),
    };
    let json = serde_json::to_vec(&manifest).map_err(|source| CacheError::Serialize {
        what: "the cache manifest",
        source,
    })?;
    let manifest_path = dir.join(MANIFEST);
    fs::write(&manifest_path, &json).map_err(CacheError::write(&manifest_path))?;

    let head = ManifestHead {
        format_version: manifest.format_version,
        key: manifest.key,
        pipeline_id: manifest.pipeline_id,
        beat: manifest.beat,
        created_at: manifest.created_at,
        outputs: manifest.outputs,
        log: manifest.log,
        stream: manifest.stream,
        produced_by: manifest.produced_by,
    };
    let size = head.content_size() + json.len() as u64;

    let entries = layout.entries();
    fs::create_dir_all(&entries).map_err(CacheError::write(&entries))?;
    let target = layout.entry(fill.key);
    if replace {
        drop_dir(layout, &target)?;
    }
    let published = match fs::rename(dir, &target) {
        Ok(()) => {
            // Renamed away: nothing left for the guard to delete.
            let _ = staging.keep();
            Published::Stored
        }
        // A directory that is there already (and not empty): another run won. (It
        // may be gone again already, dropped by a third one replacing it.)
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::AlreadyExists
            ) || target.is_dir() =>
        {
            Published::AlreadyPresent
        }
        Err(source) => {
            return Err(CacheError::Write {
                path: target,
                source,
            });
        }
    };
    Ok(Filled {
        manifest: head,
        size,
        published,
        problems,
    })
}

/// The manifest head of `key`'s entry, `None` when there is none. A manifest that
/// cannot be parsed is an error (the caller drops the entry).
pub fn read_head(layout: &Layout, key: &str) -> Result<Option<ManifestHead>> {
    read_manifest_as(layout, key)
}

/// The whole manifest of `key`'s entry, components included.
pub fn read_manifest(layout: &Layout, key: &str) -> Result<Option<Manifest>> {
    read_manifest_as(layout, key)
}

/// `key`'s manifest parsed as `T` (all of it, or the head alone).
fn read_manifest_as<T: DeserializeOwned>(layout: &Layout, key: &str) -> Result<Option<T>> {
    let path = layout.entry(key).join(MANIFEST);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CacheError::Read { path, source }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| CacheError::Manifest { path, source })
}

/// Removes a directory under the cache atomically: renamed into `tmp/` first, so
/// nobody sees it half deleted. A missing directory is fine.
pub fn drop_dir(layout: &Layout, dir: &Path) -> Result<()> {
    let tmp_root = layout.tmp();
    fs::create_dir_all(&tmp_root).map_err(CacheError::write(&tmp_root))?;
    let trash = tempfile::Builder::new()
        .prefix("drop-")
        .tempdir_in(&tmp_root)
        .map_err(CacheError::write(&tmp_root))?;
    let into = trash.path().join("entry");
    match fs::rename(dir, &into) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CacheError::Write {
                path: dir.to_owned(),
                source,
            });
        }
    }
    let path = trash.path().to_owned();
    trash.close().map_err(CacheError::write(path))
}

/// Whether `rel` (from a manifest) stays under the root: relative, no `..`.
pub fn is_safe_relative(rel: &str) -> bool {
    let path = Path::new(rel);
    !rel.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

fn sha2_empty() -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(b"").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_must_stay_under_the_root() {
        assert!(is_safe_relative("dist/a.js"));
        assert!(!is_safe_relative("../etc/passwd"));
        assert!(!is_safe_relative("/etc/passwd"));
        assert!(!is_safe_relative("dist/../../x"));
        assert!(!is_safe_relative(""));
    }
}
