//! Resolving a beat's globs (`inputs`, `outputs`) to the files under the pipeline
//! root they name.
//!
//! - Globs are relative to the root (a leading `./` is dropped); `*` stays inside
//!   one path component and `**` crosses them.
//! - Only the literal directories before a glob's first wildcard are walked
//!   (`src/**/*.rs` walks `src/`), and no deeper than a glob without `**` can
//!   match; `.git` and `.baton` are never entered, symlinked directories are not
//!   followed, hidden files are included. Non-UTF-8 paths are skipped.
//! - With [`Gitignore::Respect`] (inputs), `.gitignore` filters only what a walk
//!   sweeps up: files that git ignores (see `gitignore`) are left out and ignored
//!   directories are not entered, below a glob's literal prefix. A glob that names
//!   a path explicitly is taken at its word: a glob without wildcards naming a file
//!   always includes it, and when a glob's literal prefix (`dist` in `dist/**`,
//!   or a directory named without wildcards) is itself ignored or inside an
//!   ignored directory, everything under it that the glob matches is included and
//!   no ignore rule applies there. A broad glob (`**/*.rs`) never enters `dist/`.
//! - With [`Gitignore::Include`] (outputs, usually ignored) nothing is left out.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread;

use globset::{GlobBuilder, GlobSetBuilder};

use crate::error::{CacheError, Result};
use crate::gitignore::IgnoreStack;
use crate::stat_cache::FileStat;

/// Whether git-ignored files are left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gitignore {
    Respect,
    Include,
}

/// The files some globs matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Relative path (`/`-separated) -> the file.
    pub files: BTreeMap<String, Found>,
    /// Problems worth a warning (unreadable directories).
    pub problems: Vec<String>,
}

/// A file a glob matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The root joined with the relative path.
    pub path: PathBuf,
    /// Its stat, taken while walking (a symlink's target's); `None` when it
    /// could not be taken then.
    pub stat: Option<FileStat>,
}

/// The files under `root` matching `globs`, git-ignored ones included (build
/// outputs, JUnit reports): for the callers that only count or read them, a glob
/// that cannot be parsed is one more problem rather than an error.
pub fn find(root: &Path, globs: &[String]) -> Resolved {
    resolve(root, globs, Gitignore::Include).unwrap_or_else(|err| Resolved {
        problems: vec![crate::error_chain(&err)],
        ..Resolved::default()
    })
}

/// The files under `root` matching any of `globs`. A glob that cannot be parsed is
/// an error; a base directory that does not exist matches nothing.
pub fn resolve(root: &Path, globs: &[String], gitignore: Gitignore) -> Result<Resolved> {
    let mut resolved = Resolved::default();
    let mut builder = GlobSetBuilder::new();
    let mut bases: Vec<PathBuf> = Vec::new();
    let mut named_dirs: Vec<String> = Vec::new();
    // How deep (in path components) a match can be; `usize::MAX` with `**`.
    let mut max_depth = 0usize;
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
                    let stat = Some(FileStat::of(&meta));
                    resolved
                        .files
                        .insert(pattern.to_owned(), Found { path, stat });
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
        max_depth = if pattern.contains("**") {
            usize::MAX
        } else {
            max_depth.max(pattern.split('/').count())
        };
    }
    let set = builder.build().map_err(|source| CacheError::Glob {
        glob: globs.join(", "),
        source,
    })?;
    let respect = gitignore == Gitignore::Respect;
    // Each base with the rules in force there: an ignored base is taken at its word
    // (no rules), which a walk from a broader base would not enter.
    bases.sort();
    bases.dedup();
    let mut starts: Vec<(PathBuf, IgnoreStack)> = Vec::new();
    for base in bases {
        if let Some(rules) = start_rules(root, &base, respect, &mut resolved.problems) {
            starts.push((base, rules));
        }
    }
    // A base inside another base with the same treatment is walked with it.
    let mut kept: Vec<(PathBuf, IgnoreStack)> = Vec::new();
    for (base, rules) in starts {
        let covered = kept
            .iter()
            .any(|(k, r)| base.starts_with(k) && r.is_active() == rules.is_active());
        if !covered {
            kept.push((base, rules));
        }
    }
    for (base, rules) in kept {
        let matches = |rel: &str| set.is_match(rel);
        let walk = Walk {
            root,
            matches: &matches,
            max_depth,
        };
        walk.base(&base, rules, &mut resolved);
    }
    // Named directories are walked on their own.
    for dir in named_dirs {
        let Some(rules) = start_rules(root, Path::new(&dir), respect, &mut resolved.problems)
        else {
            continue;
        };
        let prefix = format!("{dir}/");
        let matches = |rel: &str| rel.starts_with(&prefix);
        let walk = Walk {
            root,
            matches: &matches,
            max_depth: usize::MAX,
        };
        walk.base(Path::new(&dir), rules, &mut resolved);
    }
    Ok(resolved)
}

/// The ignore rules a walk from `root/base` starts with: none when git-ignored files
/// are included or when `base` (a non-empty literal prefix) is itself ignored;
/// `None` when `base` is not a directory.
fn start_rules(
    root: &Path,
    base: &Path,
    respect: bool,
    problems: &mut Vec<String>,
) -> Option<IgnoreStack> {
    let start = root.join(base);
    if !start.is_dir() {
        return None;
    }
    if !respect {
        return Some(IgnoreStack::none());
    }
    let (rules, ignored) = IgnoreStack::at(&start, problems);
    Some(if ignored { IgnoreStack::none() } else { rules })
}

/// One walk under the root.
struct Walk<'a> {
    root: &'a Path,
    /// Whether a file's relative path is wanted.
    matches: &'a (dyn Fn(&str) -> bool + Sync),
    /// Components of the deepest path that can match.
    max_depth: usize,
}

/// A directory to read, with the rules in force inside it.
struct Task {
    dir: PathBuf,
    /// Components below the root.
    depth: usize,
    rules: IgnoreStack,
}

/// What walkers found.
#[derive(Default)]
struct Findings {
    files: Vec<(String, Found)>,
    problems: Vec<String>,
}

/// Directories waiting to be read, shared by the walking threads.
struct Queue {
    state: Mutex<QueueState>,
    changed: Condvar,
}

struct QueueState {
    tasks: Vec<Task>,
    /// Tasks being worked on (which may add more).
    busy: usize,
}

impl Walk<'_> {
    /// Walks `root/base` (a directory) with `rules` in force there.
    fn base(&self, base: &Path, rules: IgnoreStack, resolved: &mut Resolved) {
        let start = self.root.join(base);
        let first = Task {
            dir: start,
            depth: base.components().count(),
            rules,
        };
        let findings = self.run(first);
        resolved.problems.extend(findings.problems);
        for (rel, found) in findings.files {
            resolved.files.entry(rel).or_insert(found);
        }
    }

    /// Reads `first` and everything below it, on every core once there are
    /// several directories to read.
    fn run(&self, first: Task) -> Findings {
        let mut findings = Findings::default();
        let mut tasks = vec![first];
        // Alone while there is one directory at a time (a small walk).
        while tasks.len() == 1 {
            if let Some(task) = tasks.pop() {
                tasks = self.dir(task, &mut findings);
            }
        }
        let threads = thread::available_parallelism().map_or(1, usize::from);
        if tasks.is_empty() || threads == 1 {
            while let Some(task) = tasks.pop() {
                let more = self.dir(task, &mut findings);
                tasks.extend(more);
            }
            return findings;
        }
        let queue = Queue {
            state: Mutex::new(QueueState { tasks, busy: 0 }),
            changed: Condvar::new(),
        };
        let parts: Vec<Findings> = thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads)
                .map(|_| scope.spawn(|| self.work(&queue)))
                .collect();
            let mut parts = vec![self.work(&queue)];
            for helper in helpers {
                match helper.join() {
                    Ok(part) => parts.push(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            parts
        });
        for part in parts {
            findings.files.extend(part.files);
            findings.problems.extend(part.problems);
        }
        findings
    }

    /// One walking thread: reads directories from the queue until none is left
    /// and nobody can add more.
    fn work(&self, queue: &Queue) -> Findings {
        let mut findings = Findings::default();
        loop {
            let task = {
                let mut state = queue.state.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if let Some(task) = state.tasks.pop() {
                        state.busy += 1;
                        break Some(task);
                    }
                    if state.busy == 0 {
                        break None;
                    }
                    state = queue
                        .changed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            let Some(task) = task else {
                queue.changed.notify_all();
                return findings;
            };
            let more = self.dir(task, &mut findings);
            let mut state = queue.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.tasks.extend(more);
            state.busy -= 1;
            drop(state);
            queue.changed.notify_all();
        }
    }

    /// Adds the matching files of one directory (stat'ed on the way) and returns
    /// its subdirectories that could hold matches.
    fn dir(&self, task: Task, findings: &mut Findings) -> Vec<Task> {
        let Task { dir, depth, rules } = task;
        let listed = match fs::read_dir(&dir) {
            Ok(listed) => listed,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Vec::new(),
            Err(err) => {
                findings.problems.push(format!(
                    "failed to read the directory {}: {err}",
                    dir.display()
                ));
                return Vec::new();
            }
        };
        let mut subdirs = Vec::new();
        for entry in listed.flatten() {
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if file_type.is_dir() {
                let name = entry.file_name();
                let could_match = depth.saturating_add(2) <= self.max_depth;
                if could_match
                    && name != ".git"
                    && name != baton_model::layout::STATE_DIR_NAME
                    && !rules.is_ignored(&path, true)
                {
                    subdirs.push(path);
                }
                continue;
            }
            let Some(rel) = path.strip_prefix(self.root).ok().and_then(Path::to_str) else {
                continue;
            };
            if !(self.matches)(rel) || rules.is_ignored(&path, false) {
                continue;
            }
            let stat = if file_type.is_symlink() {
                // A symlink counts when it leads to a file.
                match fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => Some(FileStat::of(&meta)),
                    _ => continue,
                }
            } else {
                entry.metadata().ok().map(|meta| FileStat::of(&meta))
            };
            findings.files.push((rel.to_owned(), Found { path, stat }));
        }
        subdirs
            .into_iter()
            .map(|sub| Task {
                rules: rules.child(&sub, &mut findings.problems),
                dir: sub,
                depth: depth + 1,
            })
            .collect()
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
        // Named without wildcards: a file, and an ignored directory (all of it).
        let named = resolve(
            root,
            &globs(&["src/**", "notes.log", "gen"]),
            Gitignore::Respect,
        )
        .expect("resolves");
        assert_eq!(
            names(&named),
            ["gen/out.rs", "gen/skip.log", "notes.log", "src/a.rs"]
        );
        // A glob whose literal prefix is an ignored directory matches what it names,
        // also beside a broad glob that does not enter it.
        let under = resolve(root, &globs(&["gen/*.rs"]), Gitignore::Respect).expect("ok");
        assert_eq!(names(&under), ["gen/out.rs"]);
        let both = resolve(root, &globs(&["**/*.rs", "gen/**"]), Gitignore::Respect).expect("ok");
        assert_eq!(names(&both), ["gen/out.rs", "gen/skip.log", "src/a.rs"]);
        let file = resolve(root, &globs(&["gen/out.rs"]), Gitignore::Respect).expect("ok");
        assert_eq!(names(&file), ["gen/out.rs"]);
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

#[cfg(test)]
mod find_tests {
    use super::*;

    fn touch(root: &Path, rel: &str, bytes: usize) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        fs::write(path, vec![b'x'; bytes]).expect("write");
    }

    #[test]
    fn find_counts_matches_and_skips_git() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        touch(root, "dist/app.js", 10);
        touch(root, "dist/sub/app.css", 5);
        touch(root, "reports/a.xml", 1);
        touch(root, "reports/nested/b.xml", 1);
        touch(root, ".git/dist/x", 1);
        let found = find(root, &["dist/**".into(), "./reports/*.xml".into()]);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        let sizes: u64 = found
            .files
            .values()
            .filter_map(|f| f.stat.map(|s| s.size))
            .sum();
        assert_eq!((found.files.len(), sizes), (3, 16), "{:?}", found.files);
    }

    #[test]
    fn a_bad_glob_is_a_problem_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let found = find(dir.path(), &["a/[".into(), "missing/**".into()]);
        assert!(found.files.is_empty());
        assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
    }
}
