//! Where a run happened: git commit/branch/author, host, and the CI provider with
//! its own run id (the correlation id), detected from the environment.

use std::path::Path;
use std::process::Command;

use baton_model::{CiInfo, GitInfo};

/// Git facts of the repository containing `dir` (the caller checks that there is
/// one: [`in_git_work_tree`]), if git is installed: one `git log` (a git process,
/// about 1.7 ms here: `baton run` asks it on a thread of its own, off the beats'
/// path).
pub(crate) fn git_info(dir: &Path) -> Option<GitInfo> {
    let out = Command::new("git")
        .args(["log", "-1", "--format=%H%n%D%n%an <%ae>"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_git_log(&String::from_utf8_lossy(&out.stdout))
}

/// The HEAD commit of the work tree containing `dir` when the tree is clean (no
/// change to a tracked file, staged or not; untracked files do not count): one
/// `git status --porcelain=v2 --branch --untracked-files=no`, 4 to 6 ms on
/// baton's own repository (383 tracked files; about 1.5 times the `git log` of
/// [`git_info`]): `baton run` asks it on a thread of its own. None when the tree
/// is dirty, has no commit yet, or git fails.
pub(crate) fn clean_commit(dir: &Path) -> Option<String> {
    let out = Command::new("git")
        .args([
            "status",
            "--porcelain=v2",
            "--branch",
            "--untracked-files=no",
        ])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_clean_status(&String::from_utf8_lossy(&out.stdout))
}

/// The commit of `git status --porcelain=v2 --branch` output that lists no
/// change (its `# branch.oid` header, `(initial)` before the first commit).
fn parse_clean_status(text: &str) -> Option<String> {
    let mut commit = None;
    for line in text.lines() {
        match line.strip_prefix("# ") {
            Some(header) => {
                if let Some(oid) = header.strip_prefix("branch.oid ") {
                    commit = Some(oid.trim());
                }
            }
            None if line.trim().is_empty() => {}
            None => return None,
        }
    }
    commit
        .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_hexdigit()))
        .map(str::to_owned)
}

/// Whether `dir` or a folder above it has a `.git` (or `GIT_DIR` points git
/// elsewhere): outside a repository baton does not start git at all.
pub(crate) fn in_git_work_tree(dir: &Path) -> bool {
    if std::env::var_os("GIT_DIR").is_some() {
        return true;
    }
    let Ok(dir) = std::path::absolute(dir) else {
        return true;
    };
    dir.ancestors().any(|d| d.join(".git").exists())
}

/// `<commit>\n<ref names>\n<author>` as `git log --format=%H%n%D%n%an <%ae>` prints
/// it; the branch is the one `HEAD ->` points to (none when detached).
fn parse_git_log(text: &str) -> Option<GitInfo> {
    let mut lines = text.lines();
    let commit = lines.next().map(str::trim).filter(|c| !c.is_empty())?;
    let branch = lines.next().and_then(|refs| {
        refs.split(", ")
            .find_map(|r| r.trim().strip_prefix("HEAD -> "))
            .map(str::to_owned)
    });
    let author = lines
        .next()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "<>")
        .map(str::to_owned);
    Some(GitInfo {
        commit: commit.to_owned(),
        branch,
        author,
    })
}

pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The CI provider from its well-known variables, given a variable lookup.
pub(crate) fn detect_ci(var: impl Fn(&str) -> Option<String>) -> Option<CiInfo> {
    let is = |name: &str| var(name).is_some_and(|v| !v.is_empty() && v != "false");
    let provider = |name: &str, run_id: Option<String>| {
        Some(CiInfo {
            provider: name.into(),
            run_id,
        })
    };
    if is("GITHUB_ACTIONS") {
        let id = var("GITHUB_RUN_ID").map(|id| match var("GITHUB_RUN_ATTEMPT") {
            Some(attempt) => format!("{id}-{attempt}"),
            None => id,
        });
        return provider("github-actions", id);
    }
    if is("GITLAB_CI") {
        return provider("gitlab", var("CI_PIPELINE_ID"));
    }
    if is("BUILDKITE") {
        return provider("buildkite", var("BUILDKITE_BUILD_ID"));
    }
    if is("CIRCLECI") {
        return provider(
            "circleci",
            var("CIRCLE_WORKFLOW_ID").or_else(|| var("CIRCLE_BUILD_NUM")),
        );
    }
    if is("JENKINS_URL") || is("JENKINS_HOME") {
        return provider("jenkins", var("BUILD_TAG").or_else(|| var("BUILD_ID")));
    }
    if is("TF_BUILD") {
        return provider("azure-pipelines", var("BUILD_BUILDID"));
    }
    if is("CI") {
        return provider("unknown", None);
    }
    None
}

/// The URL of the repository's `origin` remote (or its first remote), as git has
/// it: it may hold credentials, which whoever sends it strips. One or two git
/// processes: asked only when a run is exported.
pub(crate) fn remote_url(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    git(&["config", "--get", "remote.origin.url"]).or_else(|| {
        let remote = git(&["remote"])?.lines().next()?.to_owned();
        git(&["config", "--get", &format!("remote.{remote}.url")])
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn git_log_gives_commit_branch_and_author() {
        let info = parse_git_log(
            "0123abc\nHEAD -> feature/x, origin/main, tag: v1\nAda <ada@example.com>\n",
        )
        .expect("parsed");
        assert_eq!(info.commit, "0123abc");
        assert_eq!(info.branch.as_deref(), Some("feature/x"));
        assert_eq!(info.author.as_deref(), Some("Ada <ada@example.com>"));
        let detached = parse_git_log("0123abc\nHEAD, tag: v1\nAda <a@b>\n").expect("parsed");
        assert_eq!(detached.branch, None);
        assert_eq!(parse_git_log(""), None);
    }

    #[test]
    fn git_info_reads_a_real_repository() {
        let dir = tempfile::tempdir().expect("tempdir");
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_AUTHOR_NAME", "Ada")
                .env("GIT_AUTHOR_EMAIL", "ada@example.com")
                .env("GIT_COMMITTER_NAME", "Ada")
                .env("GIT_COMMITTER_EMAIL", "ada@example.com")
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(ok, "git {args:?}");
        };
        assert_eq!(git_info(dir.path()), None, "not a repository yet");
        git(&["init", "-q", "-b", "trunk"]);
        assert_eq!(git_info(dir.path()), None, "no commit yet");
        git(&["commit", "-q", "--allow-empty", "-m", "first"]);
        let info = git_info(dir.path()).expect("a repository with a commit");
        assert_eq!(info.commit.len(), 40);
        assert_eq!(info.branch.as_deref(), Some("trunk"));
        assert_eq!(info.author.as_deref(), Some("Ada <ada@example.com>"));
    }

    #[test]
    fn a_status_listing_no_change_gives_the_commit() {
        let clean = "# branch.oid 0123abcd\n# branch.head main\n";
        assert_eq!(parse_clean_status(clean).as_deref(), Some("0123abcd"));
        let dirty = format!("{clean}1 .M N... 100644 100644 100644 aa bb src/a.rs\n");
        assert_eq!(parse_clean_status(&dirty), None);
        assert_eq!(
            parse_clean_status("# branch.oid (initial)\n# branch.head main\n"),
            None
        );
        assert_eq!(parse_clean_status(""), None);
    }

    use std::collections::HashMap;

    use super::*;

    fn ci(vars: &[(&str, &str)]) -> Option<CiInfo> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        detect_ci(|k| map.get(k).cloned())
    }

    #[test]
    fn each_provider_is_recognised_with_its_run_id() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, Option<&'a str>);
        let cases: &[Case] = &[
            (
                &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_RUN_ID", "42"),
                    ("GITHUB_RUN_ATTEMPT", "2"),
                ],
                "github-actions",
                Some("42-2"),
            ),
            (
                &[("GITLAB_CI", "true"), ("CI_PIPELINE_ID", "7")],
                "gitlab",
                Some("7"),
            ),
            (
                &[("BUILDKITE", "true"), ("BUILDKITE_BUILD_ID", "b-1")],
                "buildkite",
                Some("b-1"),
            ),
            (
                &[("CIRCLECI", "true"), ("CIRCLE_WORKFLOW_ID", "w-9")],
                "circleci",
                Some("w-9"),
            ),
            (
                &[("JENKINS_URL", "http://j"), ("BUILD_TAG", "jenkins-x-5")],
                "jenkins",
                Some("jenkins-x-5"),
            ),
            (
                &[("TF_BUILD", "True"), ("BUILD_BUILDID", "88")],
                "azure-pipelines",
                Some("88"),
            ),
        ];
        for (vars, provider, run_id) in cases {
            let info = ci(vars).expect("detected");
            assert_eq!(info.provider, *provider);
            assert_eq!(info.run_id.as_deref(), *run_id);
        }
    }

    #[test]
    fn no_ci_variables_means_a_local_run() {
        assert_eq!(ci(&[]), None);
        assert_eq!(
            ci(&[("CI", "true")]).map(|c| c.provider),
            Some("unknown".into())
        );
    }
}
