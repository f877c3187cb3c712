//! Artifact manifests: which files a beat's `outputs` matched, with their sizes and
//! SHA-256 ([`artifact_manifest`]); whether they are still so on disk ([`verify`]);
//! and `artifacts.json`, the per-run [`ArtifactManifest`] ([`write_manifest`],
//! [`read_manifest`]).
//!
//! Outputs are resolved like inputs (see [`crate::inputs`]) but git-ignored files
//! are included: build outputs usually are ignored.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use baton_model::{ArtifactEntry, ArtifactManifest};
use serde::{Deserialize, Serialize};

use crate::error::{CacheError, Result};
use crate::hash::{parallel_map, sha256_file};
use crate::inputs::{self, Gitignore};

/// The files `outputs` match under `root`, sorted by path, and problems worth a
/// warning (a bad glob, an unreadable file).
pub fn artifact_manifest(root: &Path, outputs: &[String]) -> (Vec<ArtifactEntry>, Vec<String>) {
    if outputs.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let resolved = match inputs::resolve(root, outputs, Gitignore::Include) {
        Ok(resolved) => resolved,
        Err(err) => return (Vec::new(), vec![crate::error_chain(&err)]),
    };
    let mut problems = resolved.problems;
    let files: Vec<(String, PathBuf)> = resolved
        .files
        .into_iter()
        .map(|(rel, found)| (rel, found.path))
        .collect();
    let hashed = parallel_map(&files, |(_, path), buf| sha256_file(path, buf));
    let mut entries = Vec::with_capacity(files.len());
    for ((rel, path), result) in files.into_iter().zip(hashed) {
        match result {
            Ok((sha256, bytes)) => entries.push(ArtifactEntry {
                path: rel,
                bytes,
                sha256,
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => problems.push(format!("failed to read {}: {err}", path.display())),
        }
    }
    (entries, problems)
}

/// How an artifact differs from its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Its content (size or SHA-256) is not what it was.
    Changed,
    /// It is gone (or is no longer a readable file).
    Missing,
}

/// One artifact that is no longer what the manifest says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactChange {
    /// The beat that produced it (empty from [`verify`], which is not told).
    pub beat: String,
    pub path: String,
    pub kind: ChangeKind,
}

/// The entries whose file under `root` changed or vanished, in the given order.
pub fn verify(root: &Path, entries: &[ArtifactEntry]) -> Vec<ArtifactChange> {
    let results = parallel_map(entries, |entry, buf| {
        let path = root.join(&entry.path);
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() != entry.bytes => Some(ChangeKind::Changed),
            Ok(meta) if meta.is_file() => match sha256_file(&path, buf) {
                Ok((sha, len)) if sha == entry.sha256 && len == entry.bytes => None,
                Ok(_) => Some(ChangeKind::Changed),
                Err(_) => Some(ChangeKind::Missing),
            },
            _ => Some(ChangeKind::Missing),
        }
    });
    entries
        .iter()
        .zip(results)
        .filter_map(|(entry, kind)| {
            kind.map(|kind| ArtifactChange {
                beat: String::new(),
                path: entry.path.clone(),
                kind,
            })
        })
        .collect()
}

/// [`verify`] for every beat of a run's manifest, each change naming its beat.
pub fn verify_manifest(root: &Path, manifest: &ArtifactManifest) -> Vec<ArtifactChange> {
    manifest
        .beats
        .iter()
        .flat_map(|beat| {
            verify(root, &beat.files).into_iter().map(|mut change| {
                change.beat = beat.beat.clone();
                change
            })
        })
        .collect()
}

/// Writes `artifacts.json` atomically (a temporary file beside it, then a rename).
pub fn write_manifest(path: &Path, manifest: &ArtifactManifest) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(CacheError::write(dir))?;
    let json = serde_json::to_vec_pretty(manifest).map_err(|source| CacheError::Serialize {
        what: "the artifact manifest",
        source,
    })?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".artifacts-")
        .tempfile_in(dir)
        .map_err(CacheError::write(dir))?;
    tmp.write_all(&json)
        .and_then(|()| tmp.write_all(b"\n"))
        .map_err(CacheError::write(path))?;
    tmp.persist(path).map(drop).map_err(|e| CacheError::Write {
        path: path.to_owned(),
        source: e.error,
    })
}

/// Reads an `artifacts.json`.
pub fn read_manifest(path: &Path) -> Result<ArtifactManifest> {
    let bytes = fs::read(path).map_err(CacheError::read(path))?;
    serde_json::from_slice(&bytes).map_err(|source| CacheError::Manifest {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use baton_model::{ARTIFACT_MANIFEST_VERSION, BeatArtifacts};

    use super::*;

    #[test]
    fn collects_hashes_and_verifies_changed_and_missing_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("dist/js")).expect("mkdir");
        fs::write(root.join("dist/a.txt"), b"abc").expect("write");
        fs::write(root.join("dist/js/b.js"), b"b").expect("write");
        fs::write(root.join("dist/c"), b"same").expect("write");
        let (entries, problems) = artifact_manifest(root, &["dist/**".into()]);
        assert!(problems.is_empty(), "{problems:?}");
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["dist/a.txt", "dist/c", "dist/js/b.js"]);
        assert_eq!(
            entries[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(entries[0].bytes, 3);
        assert!(verify(root, &entries).is_empty());

        fs::write(root.join("dist/a.txt"), b"abd").expect("same size, new content");
        fs::remove_file(root.join("dist/js/b.js")).expect("rm");
        let changes = verify(root, &entries);
        assert_eq!(
            changes
                .iter()
                .map(|c| (c.path.as_str(), c.kind))
                .collect::<Vec<_>>(),
            [
                ("dist/a.txt", ChangeKind::Changed),
                ("dist/js/b.js", ChangeKind::Missing)
            ]
        );

        let manifest = ArtifactManifest {
            format_version: ARTIFACT_MANIFEST_VERSION,
            run_id: "00000000-0000-0000-0000-000000000000"
                .parse()
                .expect("uuid"),
            run_label: "build-1".into(),
            pipeline_id: "p".into(),
            beats: vec![BeatArtifacts {
                movement: "m".into(),
                beat: "b".into(),
                files: entries,
            }],
        };
        let path = root.join("telemetry/run/artifacts.json");
        write_manifest(&path, &manifest).expect("writes");
        let back = read_manifest(&path).expect("reads");
        assert_eq!(back, manifest);
        let changes = verify_manifest(root, &back);
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().all(|c| c.beat == "b"));
    }
}
