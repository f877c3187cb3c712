//! Names the commit baton is built from, for `baton --version`: `BATON_COMMIT` is
//! the short hash, with `-dirty` when the work tree has changes, or `unknown`
//! outside a git checkout (a crate from a registry, a tarball) or without git.

use std::path::Path;
use std::process::Command;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let dir = Path::new(&dir);
    let commit = git(dir, &["rev-parse", "--short", "HEAD"]);
    let label = match &commit {
        Some(hash) => {
            let dirty =
                git(dir, &["status", "--porcelain"]).is_some_and(|changes| !changes.is_empty());
            if dirty {
                format!("{hash}-dirty")
            } else {
                hash.clone()
            }
        }
        None => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=BATON_COMMIT={label}");

    // Stay right as the checkout moves: a new commit or branch changes HEAD or the
    // ref it points to (loose or packed); staging changes the index. A worktree's
    // files live elsewhere: git says where. An edit to this crate's sources reruns it
    // too; an unstaged edit elsewhere shows once one of these changes.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    if commit.is_some() {
        let mut watched = vec![
            "HEAD".to_owned(),
            "packed-refs".to_owned(),
            "index".to_owned(),
        ];
        if let Some(reference) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
            watched.push(reference);
        }
        for name in watched {
            if let Some(path) =
                git(dir, &["rev-parse", "--path-format=absolute", "--git-path", &name])
                // A path that does not exist would rerun this at every build.
                && Path::new(&path).exists()
            {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}

/// The trimmed stdout of a successful git command, or `None`.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
