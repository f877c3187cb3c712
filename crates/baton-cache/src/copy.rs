//! Copying one file into or out of the cache while hashing it: by reflink
//! (`ioctl(FICLONE)`, on btrfs, XFS, ...) where the filesystem allows, else by
//! reading and writing, and always hashing the bytes the copy holds. Never a hard
//! link: a beat writing to a restored output would then change the cache.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::hash::{Blake3, DualHasher};

/// What a copy holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Copied {
    pub sha256: String,
    pub blake3: Blake3,
    pub len: u64,
    /// Permission bits of the source, given to the copy.
    pub mode: u32,
}

/// Copies `src` to the new file `dst` (which must not exist) with `mode` (the
/// source's permission bits when `None`), and hashes what `dst` holds.
pub(crate) fn copy_hashed(
    src: &Path,
    dst: &Path,
    mode: Option<u32>,
    buf: &mut [u8],
) -> io::Result<Copied> {
    let mut from = File::open(src)?;
    let mode = match mode {
        Some(mode) => mode,
        None => from.metadata()?.permissions().mode() & 0o7777,
    };
    let mut to = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dst)?;
    let mut hasher = DualHasher::new();
    if reflink(&from, &to) {
        // Hash the clone itself: what the copy holds, whatever the source does now.
        read_into(&mut to, &mut hasher, buf)?;
    } else {
        loop {
            let n = match from.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            hasher.update(&buf[..n]);
            to.write_all(&buf[..n])?;
        }
    }
    to.set_permissions(Permissions::from_mode(mode))?;
    let (sha256, blake3, len) = hasher.finish();
    Ok(Copied {
        sha256,
        blake3,
        len,
        mode,
    })
}

fn read_into(file: &mut File, hasher: &mut DualHasher, buf: &mut [u8]) -> io::Result<()> {
    loop {
        match file.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// Makes `to` share `from`'s extents; `false` where the filesystem cannot.
#[cfg(target_os = "linux")]
fn reflink(from: &File, to: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: both descriptors are open for the duration of the call; FICLONE reads
    // no memory of ours.
    let rc = unsafe { libc::ioctl(to.as_raw_fd(), libc::FICLONE, from.as_raw_fd()) };
    rc == 0
}

#[cfg(not(target_os = "linux"))]
fn reflink(_from: &File, _to: &File) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_content_mode_and_hashes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("src");
        std::fs::write(&src, b"abc").expect("write");
        std::fs::set_permissions(&src, Permissions::from_mode(0o755)).expect("chmod");
        let dst = dir.path().join("dst");
        let mut buf = vec![0; 2];
        let copied = copy_hashed(&src, &dst, None, &mut buf).expect("copies");
        assert_eq!(std::fs::read(&dst).expect("read"), b"abc");
        assert_eq!(copied.len, 3);
        assert_eq!(copied.mode, 0o755);
        assert_eq!(copied.blake3, *blake3::hash(b"abc").as_bytes());
        let meta = std::fs::metadata(&dst).expect("stat");
        assert_eq!(meta.permissions().mode() & 0o777, 0o755);
        assert!(
            copy_hashed(&src, &dst, None, &mut buf).is_err(),
            "never overwrites"
        );
    }
}
