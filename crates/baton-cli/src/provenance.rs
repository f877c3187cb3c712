//! Where a run happened: git commit/branch/author, host, and the CI provider with
//! its own run id (the correlation id), detected from the environment.

use std::path::Path;
use std::process::Command;

use baton_model::{CiInfo, GitInfo};

/// Git facts of the repository containing `dir`, if it is one and git is installed.
pub fn git_info(dir: &Path) -> Option<GitInfo> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    let commit = git(&["rev-parse", "HEAD"])?;
    let branch = git(&["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD");
    let author = git(&["log", "-1", "--format=%an <%ae>"]);
    Some(GitInfo {
        commit,
        branch,
        author,
    })
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The CI provider from its well-known variables, given a variable lookup.
pub fn detect_ci(var: impl Fn(&str) -> Option<String>) -> Option<CiInfo> {
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

#[cfg(test)]
mod tests {
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
