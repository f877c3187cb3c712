//! Files a beat left behind, found by glob under the pipeline root: its artifacts
//! (`outputs`) and its JUnit reports (`junit`).
//!
//! Globs are relative to the root; `*` stays inside one path component and `**`
//! crosses them. Only the literal directory before a glob's first wildcard is
//! walked (`dist/**` walks `dist/`, not the whole tree). Symlinked directories are
//! not followed; `.git` and `.baton` are never entered.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Stop walking after this many directory entries (and say so).
pub const MAX_ENTRIES: usize = 500_000;

/// Files that matched, with their sizes in bytes, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub files: BTreeMap<PathBuf, u64>,
    /// Problems worth a warning: bad globs, unreadable directories, too many files.
    pub problems: Vec<String>,
}

impl Found {
    pub fn count(&self) -> u64 {
        self.files.len() as u64
    }

    pub fn bytes(&self) -> u64 {
        self.files.values().sum()
    }
}

/// The files under `root` matching any of `globs`.
pub fn find(root: &Path, globs: &[String]) -> Found {
    let mut found = Found::default();
    let mut builder = GlobSetBuilder::new();
    let mut bases = Vec::new();
    for glob in globs {
        let pattern = glob.strip_prefix("./").unwrap_or(glob);
        match GlobBuilder::new(pattern).literal_separator(true).build() {
            Ok(g) => {
                builder.add(g);
                bases.push(root.join(literal_prefix(pattern)));
            }
            Err(err) => found
                .problems
                .push(format!("failed to read the glob '{glob}': {err}")),
        }
    }
    let set = match builder.build() {
        Ok(set) => set,
        Err(err) => {
            found
                .problems
                .push(format!("failed to build the globs: {err}"));
            return found;
        }
    };
    bases.sort();
    bases.dedup();
    let mut budget = MAX_ENTRIES;
    for base in bases {
        // A base inside another base is walked with it.
        if found.files.contains_key(&base) {
            continue;
        }
        walk(root, &base, &set, &mut found, &mut budget);
    }
    if budget == 0 {
        found.problems.push(format!(
            "stopped looking for files after {MAX_ENTRIES} entries"
        ));
    }
    found
}

/// The directories of `pattern` before its first wildcard.
fn literal_prefix(pattern: &str) -> PathBuf {
    let mut prefix = PathBuf::new();
    let components: Vec<&str> = pattern.split('/').collect();
    for (i, part) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        if last || part.contains(['*', '?', '[', '{', '\\']) {
            break;
        }
        prefix.push(part);
    }
    prefix
}

fn walk(root: &Path, base: &Path, set: &GlobSet, found: &mut Found, budget: &mut usize) {
    let mut stack = vec![base.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => {
                found.problems.push(format!(
                    "failed to read the directory {}: {err}",
                    dir.display()
                ));
                continue;
            }
        };
        for entry in entries.flatten() {
            if *budget == 0 {
                return;
            }
            *budget -= 1;
            let path = entry.path();
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                let name = entry.file_name();
                if name != ".git" && name != ".baton" {
                    stack.push(path);
                }
                continue;
            }
            let rel = path.strip_prefix(root).unwrap_or(&path);
            if !(set.is_match(rel) || set.is_match(&path)) || found.files.contains_key(&path) {
                continue;
            }
            // Follows a symlink to a file; a dangling one or a directory is skipped.
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    found.files.insert(normal(&path), meta.len());
                }
                _ => {}
            }
        }
    }
}

fn normal(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str, bytes: usize) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        fs::write(path, vec![b'x'; bytes]).expect("write");
    }

    #[test]
    fn globs_match_under_the_root_and_count_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        touch(root, "dist/app.js", 10);
        touch(root, "dist/sub/app.css", 5);
        touch(root, "reports/a.xml", 1);
        touch(root, "reports/nested/b.xml", 1);
        touch(root, ".git/dist/x", 1);
        let found = find(root, &["dist/**".into(), "./reports/*.xml".into()]);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        assert_eq!(found.count(), 3, "{:?}", found.files);
        assert_eq!(found.bytes(), 16);
        let all = find(root, &["**/*.xml".into(), "reports/*.xml".into()]);
        assert_eq!(all.count(), 2);
    }

    #[test]
    fn bad_globs_and_missing_directories_are_not_fatal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let found = find(dir.path(), &["a/[".into(), "missing/**".into()]);
        assert_eq!(found.count(), 0);
        assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
        assert!(found.problems[0].starts_with("failed to read the glob 'a/['"));
    }

    #[test]
    fn literal_prefixes_stop_at_the_first_wildcard() {
        assert_eq!(literal_prefix("dist/**"), PathBuf::from("dist"));
        assert_eq!(literal_prefix("a/b/*.xml"), PathBuf::from("a/b"));
        assert_eq!(literal_prefix("**/x"), PathBuf::new());
        assert_eq!(literal_prefix("Cargo.lock"), PathBuf::new());
    }
}
