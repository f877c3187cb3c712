//! An entry's output files kept as one zstd stream, `files.zst`: the files' bytes one
//! after the other in the manifest's order (each file's `size` says where the next
//! begins). One stream rather than a frame per file because a build's outputs
//! repeat each other (a bundle and its minified copy, declarations, source maps),
//! and only a shared window finds that: on the `cache-footprint` benchmark's
//! monorepo one stream per package took 40% less than a frame per file, and level 3
//! sits where a higher level costs more time than it saves bytes (BENCHMARKS.md).
//!
//! Files are read, hashed and compressed in one pass, never whole in memory. A
//! restore decompresses the stream once, writes the files it needs and skips the
//! bytes of those already in place; each file is checked against its size and
//! SHA-256 before it is renamed into the root, so a damaged stream never reaches it.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::copy::Copied;
use crate::entry::OutputFile;
use crate::hash::{Blake3, DualHasher};

/// zstd's level for cache entries.
pub(crate) const LEVEL: i32 = 3;

/// The stream's name in an entry.
pub(crate) const PACK: &str = "files.zst";

/// What went into a stream.
#[derive(Debug)]
pub(crate) struct Packed {
    /// Per file, in order: what it held, or `None` when it vanished before it
    /// could be opened (it is left out).
    pub files: Vec<Option<Copied>>,
    /// Bytes of the stream.
    pub stored_len: u64,
}

/// Why packing failed.
#[derive(Debug)]
pub(crate) enum PackError {
    Read { path: PathBuf, source: io::Error },
    Write(io::Error),
}

/// Writes `files` (absolute paths) one after the other into the new stream `dst`.
pub(crate) fn pack(files: &[&Path], dst: &Path, buf: &mut [u8]) -> Result<Packed, PackError> {
    let to = new_file(dst).map_err(PackError::Write)?;
    let mut encoder = zstd::stream::write::Encoder::new(to, LEVEL).map_err(PackError::Write)?;
    let mut packed = Vec::with_capacity(files.len());
    for path in files {
        let read = |source| PackError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut from = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                packed.push(None);
                continue;
            }
            Err(err) => return Err(read(err)),
        };
        let mode = from.metadata().map_err(read)?.permissions().mode() & 0o7777;
        let mut hasher = DualHasher::new();
        loop {
            let n = match from.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(read(err)),
            };
            hasher.update(&buf[..n]);
            encoder.write_all(&buf[..n]).map_err(PackError::Write)?;
        }
        let (sha256, blake3, len) = hasher.finish();
        packed.push(Some(Copied {
            sha256,
            blake3,
            len,
            mode,
        }));
    }
    let to = encoder.finish().map_err(PackError::Write)?;
    let stored_len = to.metadata().map_err(PackError::Write)?.len();
    Ok(Packed {
        files: packed,
        stored_len,
    })
}

/// Why unpacking failed.
#[derive(Debug)]
pub(crate) enum UnpackError {
    /// The stream cannot be read, is damaged, or a file in it does not hold what
    /// the manifest says.
    Corrupt(String),
    /// Writing a destination failed.
    Dest { path: PathBuf, source: io::Error },
}

/// Decompresses the stream `pack` holding `outputs`, writing output `i` to
/// `dests[i]` when it is `Some` (verified, then renamed into place) and skipping
/// it otherwise. Returns the BLAKE3 of each file written, by index.
pub(crate) fn unpack(
    pack: &Path,
    outputs: &[OutputFile],
    dests: &[Option<&Path>],
    buf: &mut [u8],
) -> Result<Vec<(usize, Blake3)>, UnpackError> {
    let file = File::open(pack).map_err(|err| UnpackError::Corrupt(format!("{PACK}: {err}")))?;
    let mut stream = zstd::stream::read::Decoder::new(file)
        .map_err(|err| UnpackError::Corrupt(format!("{PACK}: {err}")))?;
    let mut written = Vec::new();
    for (i, output) in outputs.iter().enumerate() {
        let mut part = (&mut stream).take(output.size);
        match dests.get(i).copied().flatten() {
            None => {
                let skipped = io::copy(&mut part, &mut io::sink())
                    .map_err(|err| UnpackError::Corrupt(format!("{PACK}: {err}")))?;
                if skipped != output.size {
                    return Err(short(output, skipped));
                }
            }
            Some(dest) => {
                let blake3 = unpack_one(&mut part, output, dest, buf)?;
                written.push((i, blake3));
            }
        }
    }
    Ok(written)
}

fn short(output: &OutputFile, got: u64) -> UnpackError {
    UnpackError::Corrupt(format!(
        "{PACK} ends {got} bytes into {}, which has {} bytes",
        output.path, output.size
    ))
}

/// Writes the next `output.size` bytes of the stream beside `dest`, checks them and
/// renames them over `dest`.
fn unpack_one(
    part: &mut impl Read,
    output: &OutputFile,
    dest: &Path,
    buf: &mut [u8],
) -> Result<Blake3, UnpackError> {
    let dest_err = |path: &Path| {
        let path = path.to_owned();
        move |source| UnpackError::Dest { path, source }
    };
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(dest_err(parent))?;
    let tmp = crate::restore::temp_name(dest);
    let result = (|| {
        let mut to = new_file(&tmp).map_err(dest_err(dest))?;
        let mut hasher = DualHasher::new();
        loop {
            let n = match part.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(UnpackError::Corrupt(format!("{PACK}: {err}"))),
            };
            hasher.update(&buf[..n]);
            to.write_all(&buf[..n]).map_err(dest_err(dest))?;
        }
        let (sha256, blake3, len) = hasher.finish();
        if len != output.size {
            return Err(short(output, len));
        }
        if sha256 != output.sha256 {
            return Err(UnpackError::Corrupt(format!(
                "{} decompresses to SHA-256 {sha256}, the manifest says {}",
                output.path, output.sha256
            )));
        }
        to.set_permissions(Permissions::from_mode(output.mode))
            .map_err(dest_err(dest))?;
        fs::rename(&tmp, dest).map_err(dest_err(dest))?;
        Ok(blake3)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn new_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hex;

    fn text(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| b"export function beat() { return 42; }\n"[i % 38])
            .collect()
    }

    fn outputs(packed: &Packed, names: &[&str]) -> Vec<OutputFile> {
        packed
            .files
            .iter()
            .zip(names)
            .map(|(copied, name)| {
                let c = copied.as_ref().expect("packed");
                OutputFile {
                    path: (*name).to_owned(),
                    size: c.len,
                    sha256: c.sha256.clone(),
                    blake3: hex(&c.blake3),
                    mode: c.mode,
                }
            })
            .collect()
    }

    #[test]
    fn files_go_into_one_stream_and_come_back_whole_or_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.js");
        let b = dir.path().join("b.bin");
        fs::write(&a, text(100_000)).expect("write");
        fs::write(&b, b"tiny").expect("write");
        fs::set_permissions(&b, Permissions::from_mode(0o750)).expect("chmod");
        let gone = dir.path().join("gone");
        let stream = dir.path().join(PACK);
        let mut buf = vec![0; 4096];
        let packed = pack(&[&a, &gone, &b], &stream, &mut buf).expect("packs");
        assert!(packed.files[1].is_none(), "a vanished file is left out");
        assert!(packed.stored_len < 10_000, "{}", packed.stored_len);
        let packed = Packed {
            files: packed.files.into_iter().flatten().map(Some).collect(),
            stored_len: packed.stored_len,
        };
        let outs = outputs(&packed, &["a.js", "b.bin"]);

        let back = dir.path().join("back/b.bin");
        let written = unpack(&stream, &outs, &[None, Some(&back)], &mut buf).expect("unpacks");
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].0, 1);
        assert_eq!(fs::read(&back).expect("read"), b"tiny");
        let mode = fs::metadata(&back).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o750);
    }

    #[test]
    fn a_damaged_stream_or_a_wrong_manifest_is_corrupt_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.js");
        fs::write(&a, text(50_000)).expect("write");
        let stream = dir.path().join(PACK);
        let mut buf = vec![0; 4096];
        let packed = pack(&[&a], &stream, &mut buf).expect("packs");
        let mut outs = outputs(&packed, &["a.js"]);
        let out_dir = dir.path().join("out");
        let dest = out_dir.join("a.js");

        outs[0].sha256 = "0".repeat(64);
        let err = unpack(&stream, &outs, &[Some(&dest)], &mut buf).expect_err("wrong hash");
        assert!(matches!(err, UnpackError::Corrupt(_)), "{err:?}");

        let mut bytes = fs::read(&stream).expect("read");
        bytes.truncate(bytes.len() / 2);
        fs::write(&stream, &bytes).expect("truncate");
        let outs = outputs(&packed, &["a.js"]);
        let err = unpack(&stream, &outs, &[Some(&dest)], &mut buf).expect_err("truncated");
        assert!(matches!(err, UnpackError::Corrupt(_)), "{err:?}");
        assert_eq!(
            fs::read_dir(&out_dir).expect("list").count(),
            0,
            "no file, no temporary left"
        );
    }
}
