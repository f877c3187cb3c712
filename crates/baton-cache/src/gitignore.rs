//! Git's ignore rules during a walk: outside a git repository nothing is ignored;
//! inside one, `.git/info/exclude` and every `.gitignore` from the repository root
//! down to the directory being walked apply, a deeper file overriding a higher one
//! (a `!pattern` re-includes). The user's global excludes do not apply, so that a
//! key does not depend on who computes it. Patterns are matched by the `ignore`
//! crate's gitignore matcher.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The rules in force at one directory of a walk: a stack of `.gitignore` files,
/// outermost first. Cheap to clone (the rules are shared).
#[derive(Debug, Clone, Default)]
pub(crate) struct IgnoreStack {
    /// `false` outside a git repository: nothing is ignored.
    active: bool,
    layers: Vec<Arc<Gitignore>>,
}

impl IgnoreStack {
    /// No rules at all (outputs, or outside a repository).
    pub(crate) fn none() -> Self {
        Self::default()
    }

    /// Whether any rule can apply (inside a repository, rules not switched off).
    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    /// The rules in force inside `dir` (absolute), and whether `dir` itself, or a
    /// directory above it inside the repository, is ignored.
    pub(crate) fn at(dir: &Path, problems: &mut Vec<String>) -> (Self, bool) {
        let Some(repo) = dir.ancestors().find(|a| a.join(".git").exists()) else {
            return (Self::none(), false);
        };
        let mut stack = Self {
            active: true,
            ..Self::default()
        };
        if let Some(exclude) = exclude_file(repo) {
            stack.push_file(repo, &exclude, problems);
        }
        let mut chain: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|a| a.starts_with(repo))
            .map(Path::to_owned)
            .collect();
        chain.reverse();
        let mut ignored = false;
        for (i, d) in chain.iter().enumerate() {
            if i > 0 && stack.is_ignored(d, true) {
                ignored = true;
            }
            stack.push_file(d, &d.join(".gitignore"), problems);
        }
        (stack, ignored)
    }

    /// The rules inside `dir`, a subdirectory: these and `dir/.gitignore`.
    pub(crate) fn child(&self, dir: &Path, problems: &mut Vec<String>) -> Self {
        let mut child = self.clone();
        if child.active {
            child.push_file(dir, &dir.join(".gitignore"), problems);
        }
        child
    }

    /// Whether `path` (absolute, under the directories entered) is ignored.
    pub(crate) fn is_ignored(&self, path: &Path, is_dir: bool) -> bool {
        for rules in self.layers.iter().rev() {
            match rules.matched(path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }

    /// Pushes the rules of `file` (relative to `dir`); `false` when it has none.
    fn push_file(&mut self, dir: &Path, file: &Path, problems: &mut Vec<String>) -> bool {
        let mut builder = GitignoreBuilder::new(dir);
        if let Some(err) = builder.add(file) {
            let missing = err
                .io_error()
                .is_some_and(|e| e.kind() == io::ErrorKind::NotFound);
            if missing {
                return false;
            }
            problems.push(format!("failed to read {}: {err}", file.display()));
        }
        match builder.build() {
            Ok(rules) if !rules.is_empty() => {
                self.layers.push(Arc::new(rules));
                true
            }
            Ok(_) => false,
            Err(err) => {
                problems.push(format!("failed to read {}: {err}", file.display()));
                false
            }
        }
    }
}

/// The repository's `info/exclude`. In a linked worktree or a submodule `.git`
/// is a file (`gitdir: PATH`) naming the real git directory, and a worktree's
/// exclude file is the one of the main repository (its `commondir`).
fn exclude_file(repo: &Path) -> Option<PathBuf> {
    let dot_git = repo.join(".git");
    if dot_git.is_dir() {
        return Some(dot_git.join("info/exclude"));
    }
    let pointer = std::fs::read_to_string(&dot_git).ok()?;
    let git_dir = repo.join(pointer.strip_prefix("gitdir:")?.trim());
    let common = match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(common) => git_dir.join(common.trim()),
        Err(_) => git_dir,
    };
    Some(common.join("info/exclude"))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn deeper_rules_override_and_parents_ignore_their_children() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join(".git/info")).expect("mkdir");
        fs::write(root.join(".git/info/exclude"), "*.local\n").expect("write");
        fs::write(root.join(".gitignore"), "*.log\nbuild/\n").expect("write");
        fs::create_dir_all(root.join("src/keep")).expect("mkdir");
        fs::write(root.join("src/.gitignore"), "!keep.log\n").expect("write");
        fs::create_dir_all(root.join("build/gen")).expect("mkdir");
        let mut problems = Vec::new();

        let (stack, ignored) = IgnoreStack::at(&root.join("src"), &mut problems);
        assert!(!ignored);
        assert!(stack.is_ignored(&root.join("src/a.log"), false));
        assert!(!stack.is_ignored(&root.join("src/keep.log"), false));
        assert!(stack.is_ignored(&root.join("src/x.local"), false));
        assert!(!stack.is_ignored(&root.join("src/a.rs"), false));

        let (_, ignored) = IgnoreStack::at(&root.join("build/gen"), &mut problems);
        assert!(ignored, "under an ignored directory");
        assert!(problems.is_empty(), "{problems:?}");

        let outside = tempfile::tempdir().expect("tempdir");
        fs::write(outside.path().join(".gitignore"), "*\n").expect("write");
        let (stack, ignored) = IgnoreStack::at(outside.path(), &mut problems);
        assert!(!ignored && !stack.is_ignored(&outside.path().join("a"), false));
    }

    #[test]
    fn a_linked_worktree_reads_the_main_repository_exclude_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("main");
        let worktree = dir.path().join("wt");
        fs::create_dir_all(main.join(".git/info")).expect("mkdir");
        fs::create_dir_all(main.join(".git/worktrees/wt")).expect("mkdir");
        fs::write(main.join(".git/info/exclude"), "*.local\n").expect("write");
        fs::write(main.join(".git/worktrees/wt/commondir"), "../..\n").expect("write");
        fs::create_dir_all(&worktree).expect("mkdir");
        let pointer = format!("gitdir: {}\n", main.join(".git/worktrees/wt").display());
        fs::write(worktree.join(".git"), pointer).expect("write");
        let mut problems = Vec::new();
        let (stack, _) = IgnoreStack::at(&worktree, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(stack.is_ignored(&worktree.join("x.local"), false));
        assert!(!stack.is_ignored(&worktree.join("x.rs"), false));
    }
}
