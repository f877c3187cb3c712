//! Resolving a beat's globs (`inputs`, `outputs`) to the files under the pipeline
//! root they name.
//!
//! - Globs are relative to the root (a leading `./` is dropped); `*` stays inside
//!   one path component and `**` crosses them.
//! - Only the literal directories before a glob's first wildcard are walked
//!   (`src/**/*.rs` walks `src/`), with the `ignore` crate's walker; `.git` and
//!   `.baton` are never entered, symlinked directories are not followed, hidden
//!   files are included.
//! - With [`Gitignore::Respect`] (inputs), files that git ignores (`.gitignore`
//!   files and `.git/info/exclude`, inside a git repository; not the user's global
//!   excludes, so that keys do not depend on who runs) are left out, unless named
//!   explicitly: a glob without wildcards naming a file always includes it, and one
//!   naming a directory includes the directory even when it is ignored (the ignore
//!   rules still apply inside it).
//! - With [`Gitignore::Include`] (outputs, usually ignored) nothing is left out.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use ignore::WalkBuilder;

use crate::error::{CacheError, Result};

/// Whether git-ignored files are left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gitignore {
    Respect,
    Include,
}

/// The files some globs matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Relative path (`/`-separated) -> path on disk (root joined).
    pub files: BTreeMap<String, PathBuf>,
    /// Problems worth a warning (unreadable directories).
    pub problems: Vec<String>,
}

/// The files under `root` matching any of `globs`. A glob that cannot be parsed is
/// an error; a base directory that does not exist matches nothing.
pub fn resolve(root: &Path, globs: &[String], gitignore: Gitignore) -> Result<Resolved> {
    let mut resolved = Resolved::default();
    let mut builder = GlobSetBuilder::new();
    let mut bases: Vec<PathBuf> = Vec::new();
    let mut named_dirs: Vec<String> = Vec::new();
    for glob in globs {
        let pattern = glob
            .strip_prefix("./")
            .unwrap_or(glob)
            .trim_end_matches('/');
        if pattern.is_empty() || pattern == "." {
            continue;
        }
        if !has_wildcard(pattern) {
            let path = root.join(pattern);
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    resolved.files.insert(pattern.to_owned(), path);
                }
                Ok(meta) if meta.is_dir() => named_dirs.push(pattern.to_owned()),
                _ => {}
            }
            continue;
        }
        let built = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|source| CacheError::Glob {
                glob: glob.clone(),
                source,
            })?;
        builder.add(built);
        bases.push(literal_prefix(pattern));
    }
    let set = builder.build().map_err(|source| CacheError::Glob {
        glob: globs.join(", "),
        source,
    })?;
    // A base inside another base is walked with it.
    bases.sort();
    bases.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for base in bases {
        if !kept.iter().any(|k| base.starts_with(k)) {
            kept.push(base);
        }
    }
    for base in &kept {
        walk(root, base, &|_| true, &set, gitignore, &mut resolved);
    }
    // Named directories are walked on their own: an ignored one is still entered.
    for dir in named_dirs {
        let prefix = format!("{dir}/");
        let under = |rel: &str| rel.starts_with(&prefix);
        walk(
            root,
            Path::new(&dir),
            &under,
            &GlobSet::empty(),
            gitignore,
            &mut resolved,
        );
    }
    Ok(resolved)
}

/// Walks `root/base`, adding the files whose relative path `set` matches, or
/// `accept` accepts when `set` is empty.
fn walk(
    root: &Path,
    base: &Path,
    accept: &dyn Fn(&str) -> bool,
    set: &GlobSet,
    gitignore: Gitignore,
    resolved: &mut Resolved,
) {
    let start = root.join(base);
    if !start.is_dir() {
        return;
    }
    let respect = gitignore == Gitignore::Respect;
    let walker = WalkBuilder::new(&start)
        .standard_filters(false)
        .hidden(false)
        .ignore(false)
        .git_global(false)
        .git_ignore(respect)
        .git_exclude(respect)
        .parents(respect)
        .require_git(true)
        .follow_links(false)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !(is_dir && (entry.file_name() == ".git" || entry.file_name() == ".baton"))
        })
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                if err
                    .io_error()
                    .is_none_or(|e| e.kind() != std::io::ErrorKind::NotFound)
                {
                    resolved
                        .problems
                        .push(format!("failed to walk {}: {err}", start.display()));
                }
                continue;
            }
        };
        let Some(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            continue;
        }
        let path = entry.path();
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy();
        let matched = if set.is_empty() {
            accept(&rel)
        } else {
            set.is_match(rel.as_ref())
        };
        if !matched || resolved.files.contains_key(rel.as_ref()) {
            continue;
        }
        // A symlink counts when it leads to a file.
        if file_type.is_symlink() && !fs::metadata(path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        resolved.files.insert(rel.into_owned(), path.to_owned());
    }
}

fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{', '\\'])
}

/// The directories of `pattern` before its first wildcard.
fn literal_prefix(pattern: &str) -> PathBuf {
    let mut prefix = PathBuf::new();
    let parts: Vec<&str> = pattern.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() || has_wildcard(part) {
            break;
        }
        prefix.push(part);
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        fs::write(path, rel).expect("write");
    }

    fn names(resolved: &Resolved) -> Vec<&str> {
        resolved.files.keys().map(String::as_str).collect()
    }

    fn globs(list: &[&str]) -> Vec<String> {
        list.iter().map(|g| (*g).to_owned()).collect()
    }

    #[test]
    fn globs_match_under_their_literal_prefix_and_skip_git_and_baton() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for f in [
            "src/a.rs",
            "src/deep/b.rs",
            "src/c.txt",
            ".git/src/x.rs",
            ".baton/cache/y.rs",
            "src/.hidden.rs",
            "Cargo.lock",
            "other/d.rs",
        ] {
            touch(root, f);
        }
        let r = resolve(
            root,
            &globs(&["src/**/*.rs", "./Cargo.lock"]),
            Gitignore::Respect,
        )
        .expect("resolves");
        assert_eq!(
            names(&r),
            ["Cargo.lock", "src/.hidden.rs", "src/a.rs", "src/deep/b.rs"]
        );
        let all = resolve(root, &globs(&["**/*.rs"]), Gitignore::Respect).expect("resolves");
        assert_eq!(
            names(&all),
            ["other/d.rs", "src/.hidden.rs", "src/a.rs", "src/deep/b.rs"]
        );
        let one_level = resolve(root, &globs(&["src/*.rs"]), Gitignore::Respect).expect("ok");
        assert_eq!(names(&one_level), ["src/.hidden.rs", "src/a.rs"]);
    }

    #[test]
    fn git_ignored_files_are_left_out_unless_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir(root.join(".git")).expect("a git repository");
        fs::write(root.join(".gitignore"), "*.log\ngen/\n").expect("write");
        for f in [
            "src/a.rs",
            "src/debug.log",
            "gen/out.rs",
            "gen/skip.log",
            "notes.log",
        ] {
            touch(root, f);
        }
        let r = resolve(root, &globs(&["**"]), Gitignore::Respect).expect("resolves");
        assert_eq!(names(&r), [".gitignore", "src/a.rs"]);
        // Named without wildcards: a file, and a directory (rules apply inside it).
        let named = resolve(
            root,
            &globs(&["src/**", "notes.log", "gen"]),
            Gitignore::Respect,
        )
        .expect("resolves");
        assert_eq!(names(&named), ["gen/out.rs", "notes.log", "src/a.rs"]);
        // Outputs see everything.
        let outputs = resolve(root, &globs(&["**/*.log"]), Gitignore::Include).expect("ok");
        assert_eq!(
            names(&outputs),
            ["gen/skip.log", "notes.log", "src/debug.log"]
        );
    }

    #[test]
    fn bad_globs_fail_and_missing_bases_match_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = resolve(dir.path(), &globs(&["a/["]), Gitignore::Respect).expect_err("bad glob");
        assert!(err.to_string().starts_with("failed to read the glob 'a/['"));
        let r = resolve(
            dir.path(),
            &globs(&["missing/**", "nope.txt"]),
            Gitignore::Respect,
        )
        .expect("resolves");
        assert!(r.files.is_empty() && r.problems.is_empty());
    }

    #[test]
    fn literal_prefixes_stop_at_the_first_wildcard() {
        assert_eq!(literal_prefix("dist/**"), PathBuf::from("dist"));
        assert_eq!(literal_prefix("a/b/*.xml"), PathBuf::from("a/b"));
        assert_eq!(literal_prefix("**/x"), PathBuf::new());
    }
}
