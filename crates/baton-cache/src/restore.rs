//! Restoring one output file from an entry into the pipeline root.
//!
//! The entry's file is cloned (reflink) or copied next to its destination under a
//! temporary name, hashed as it is copied, compared with the manifest, and only
//! then renamed over the destination: a corrupted or truncated entry file never
//! reaches the root, and a reader of the root never sees half a file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::copy::copy_hashed;
use crate::entry::OutputFile;
use crate::hash::Blake3;

/// Why one file could not be restored.
#[derive(Debug)]
pub(crate) enum RestoreFailure {
    /// The entry's file does not hold what the manifest says (or is missing).
    Corrupt(String),
    /// Writing the destination failed.
    Io { path: PathBuf, source: io::Error },
}

/// Restores `from` (in an entry) to `dest` when it holds what `expected` says.
/// Returns the BLAKE3 of what was written.
pub(crate) fn restore_file(
    from: &Path,
    expected: &OutputFile,
    dest: &Path,
    buf: &mut [u8],
) -> Result<Blake3, RestoreFailure> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|source| RestoreFailure::Io {
        path: parent.to_owned(),
        source,
    })?;
    let tmp = temp_name(dest);
    let copied = match copy_hashed(from, &tmp, Some(expected.mode), buf) {
        Ok(copied) => copied,
        Err(err) => {
            let _ = fs::remove_file(&tmp);
            return Err(if from_missing(from) {
                RestoreFailure::Corrupt(format!("{} is missing", expected.path))
            } else {
                RestoreFailure::Io {
                    path: dest.to_owned(),
                    source: err,
                }
            });
        }
    };
    if copied.len != expected.size || copied.sha256 != expected.sha256 {
        let _ = fs::remove_file(&tmp);
        return Err(RestoreFailure::Corrupt(format!(
            "{} holds {} bytes with SHA-256 {}, the manifest says {} bytes with {}",
            expected.path, copied.len, copied.sha256, expected.size, expected.sha256
        )));
    }
    if let Err(source) = fs::rename(&tmp, dest) {
        let _ = fs::remove_file(&tmp);
        return Err(RestoreFailure::Io {
            path: dest.to_owned(),
            source,
        });
    }
    Ok(copied.blake3)
}

fn from_missing(from: &Path) -> bool {
    matches!(fs::symlink_metadata(from), Err(e) if e.kind() == io::ErrorKind::NotFound)
}

/// `dir/.name.baton-<pid>-<n>`: beside the destination (same filesystem, so the
/// rename is atomic), unique per process and call.
pub(crate) fn temp_name(dest: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.baton-{}-{n}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{hex, sha256_file};

    fn expected(path: &Path, rel: &str) -> OutputFile {
        let mut buf = vec![0; 64];
        let (sha256, size) = sha256_file(path, &mut buf).expect("hash");
        OutputFile {
            path: rel.into(),
            size,
            sha256,
            blake3: hex(&[0; 32]),
            mode: 0o640,
        }
    }

    #[test]
    fn restores_verified_files_and_refuses_corrupt_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let from = dir.path().join("entry-file");
        fs::write(&from, b"content").expect("write");
        let want = expected(&from, "out/a");
        let dest = dir.path().join("root/out/a");
        let mut buf = vec![0; 4];
        restore_file(&from, &want, &dest, &mut buf).expect("restores");
        assert_eq!(fs::read(&dest).expect("read"), b"content");

        fs::write(&from, b"conte").expect("truncate");
        let err = restore_file(&from, &want, &dest, &mut buf).expect_err("corrupt");
        assert!(matches!(err, RestoreFailure::Corrupt(_)), "{err:?}");
        assert_eq!(fs::read(&dest).expect("read"), b"content", "untouched");
        let leftovers = fs::read_dir(dest.parent().expect("parent"))
            .expect("list")
            .count();
        assert_eq!(leftovers, 1, "no temporary file left");

        fs::remove_file(&from).expect("rm");
        let err = restore_file(&from, &want, &dest, &mut buf).expect_err("missing");
        assert!(matches!(err, RestoreFailure::Corrupt(_)), "{err:?}");
    }
}
