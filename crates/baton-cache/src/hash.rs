//! Content hashes and the thread pool that computes them: BLAKE3 for cache keys
//! (input files), SHA-256 for artifacts (what `sha256sum` shows), and
//! `parallel_map` that spreads many files over the cores with scoped threads.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use sha2::{Digest, Sha256};

/// Read buffer for hashing and copying.
pub(crate) const BUF: usize = 256 * 1024;

/// Files at least this large are hashed through a memory map.
const MMAP_FROM: u64 = 1024 * 1024;

/// A BLAKE3 digest.
pub type Blake3 = [u8; 32];

/// BLAKE3 of a file's content (memory-mapped when large).
pub fn blake3_file(path: &Path, buf: &mut [u8]) -> io::Result<Blake3> {
    let mut file = File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let len = file.metadata()?.len();
    if len >= MMAP_FROM {
        hasher.update_mmap(path)?;
    } else {
        loop {
            match file.read(buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(*hasher.finalize().as_bytes())
}

/// SHA-256 (hex) and length of a file's content.
pub fn sha256_file(path: &Path, buf: &mut [u8]) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    loop {
        match file.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                len += n as u64;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok((hex(&hasher.finalize()), len))
}

/// SHA-256 and BLAKE3 of a stream, as it is read once.
pub(crate) struct DualHasher {
    sha: Sha256,
    blake: blake3::Hasher,
    len: u64,
}

impl DualHasher {
    pub(crate) fn new() -> Self {
        Self {
            sha: Sha256::new(),
            blake: blake3::Hasher::new(),
            len: 0,
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.blake.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// (sha256 hex, blake3, length)
    pub(crate) fn finish(self) -> (String, Blake3, u64) {
        (
            hex(&self.sha.finalize()),
            *self.blake.finalize().as_bytes(),
            self.len,
        )
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// `f(item, buffer)` for every item, in order, on up to one thread per core. Each
/// thread gets its own [`BUF`]-sized buffer. Few items run on the caller's thread.
pub(crate) fn parallel_map<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T, &mut [u8]) -> R + Sync,
{
    let threads = thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items.len().div_ceil(8));
    if threads <= 1 {
        let mut buf = vec![0u8; BUF];
        return items.iter().map(|item| f(item, &mut buf)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut parts: Vec<Vec<(usize, R)>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut buf = vec![0u8; BUF];
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            break;
                        };
                        done.push((i, f(item, &mut buf)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    for (i, r) in parts.iter_mut().flat_map(std::mem::take) {
        out[i] = Some(r);
    }
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_known_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").expect("write");
        let mut buf = vec![0; 16];
        let (sha, len) = sha256_file(&path, &mut buf).expect("hash");
        assert_eq!(len, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            blake3_file(&path, &mut buf).expect("hash"),
            *blake3::hash(b"abc").as_bytes()
        );
        let mut dual = DualHasher::new();
        dual.update(b"a");
        dual.update(b"bc");
        let (dual_sha, dual_blake, dual_len) = dual.finish();
        assert_eq!((dual_sha, dual_len), (sha, 3));
        assert_eq!(dual_blake, *blake3::hash(b"abc").as_bytes());
    }

    #[test]
    fn parallel_map_keeps_order() {
        let items: Vec<u32> = (0..1000).collect();
        let out = parallel_map(&items, |x, _| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }
}
