//! Which run a `baton exec` call belongs to: consecutive calls of one CI job join
//! one run. Its id comes from `BATON_RUN_ID` when set (a UUID is taken as it is,
//! any other text names the run), else from the CI provider's ids of the job,
//! else each call is a run of its own.

use uuid::Uuid;

/// How a call's run is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunIdentity {
    /// Joined: every call with the same key has this run id.
    Joined { run_id: Uuid, key: String },
    /// A run of its own, finished when the call ends.
    OwnRun,
}

/// The namespace of the run ids made from a key (UUID v5, so that every call of
/// a job computes the same id without asking anything).
const NAMESPACE: Uuid = Uuid::from_u128(0x6261_746f_6e2d_4578_8563_2d72_756e_2d31);

impl RunIdentity {
    /// The identity of this call, given a variable lookup.
    pub(crate) fn detect(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if let Some(id) = get("BATON_RUN_ID") {
            let id = id.trim().to_owned();
            let run_id = Uuid::parse_str(&id)
                .unwrap_or_else(|_| Uuid::new_v5(&NAMESPACE, format!("baton:{id}").as_bytes()));
            return Self::Joined { run_id, key: id };
        }
        match ci_key(&get) {
            Some(key) => Self::Joined {
                run_id: Uuid::new_v5(&NAMESPACE, key.as_bytes()),
                key,
            },
            None => Self::OwnRun,
        }
    }
}

/// The CI job this call runs in, as one key: the provider and the ids that
/// name one attempt of one job.
fn ci_key(get: &impl Fn(&str) -> Option<String>) -> Option<String> {
    let on = |name: &str| get(name).is_some_and(|v| v != "false");
    let key = |provider: &str, parts: &[&str]| -> Option<String> {
        let values: Option<Vec<String>> = parts.iter().map(|p| get(p)).collect();
        Some(format!("{provider}:{}", values?.join(":")))
    };
    if on("GITHUB_ACTIONS") {
        return key(
            "github-actions",
            &["GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB"],
        )
        .or_else(|| key("github-actions", &["GITHUB_RUN_ID", "GITHUB_JOB"]));
    }
    if on("GITLAB_CI") {
        return key("gitlab", &["CI_PIPELINE_ID", "CI_JOB_ID"]);
    }
    if on("BUILDKITE") {
        return key("buildkite", &["BUILDKITE_BUILD_ID", "BUILDKITE_JOB_ID"]);
    }
    if on("CIRCLECI") {
        return key("circleci", &["CIRCLE_WORKFLOW_JOB_ID"])
            .or_else(|| key("circleci", &["CIRCLE_BUILD_NUM"]));
    }
    if on("JENKINS_URL") || on("JENKINS_HOME") {
        return key("jenkins", &["BUILD_TAG"]);
    }
    if on("TF_BUILD") {
        return key("azure-pipelines", &["BUILD_BUILDID", "SYSTEM_JOBID"]);
    }
    None
}

/// The pipeline a call's beats are kept under (the history they are compared
/// with): `BATON_PIPELINE`, else the CI job's name (GitHub: workflow and job;
/// GitLab: project and job), else the working directory's name.
pub(crate) fn pipeline_name(var: impl Fn(&str) -> Option<String>, cwd: &std::path::Path) -> String {
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if let Some(name) = get("BATON_PIPELINE") {
        return name.trim().to_owned();
    }
    if get("GITHUB_ACTIONS").is_some()
        && let (Some(workflow), Some(job)) = (get("GITHUB_WORKFLOW"), get("GITHUB_JOB"))
    {
        return format!("{workflow} / {job}");
    }
    if get("GITLAB_CI").is_some()
        && let Some(job) = get("CI_JOB_NAME")
    {
        return match get("CI_PROJECT_PATH") {
            Some(project) => format!("{project} / {job}"),
            None => job,
        };
    }
    cwd.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "exec".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn calls_of_one_github_job_attempt_join_one_run_and_other_jobs_do_not() {
        let job = |job: &str, attempt: &str| {
            RunIdentity::detect(lookup(&[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_RUN_ID", "42"),
                ("GITHUB_RUN_ATTEMPT", attempt),
                ("GITHUB_JOB", job),
            ]))
        };
        assert_eq!(job("build", "1"), job("build", "1"));
        assert_ne!(job("build", "1"), job("test", "1"));
        assert_ne!(job("build", "1"), job("build", "2"));
        assert!(
            matches!(job("build", "1"), RunIdentity::Joined { key, .. } if key == "github-actions:42:1:build")
        );
    }

    #[test]
    fn baton_run_id_wins_and_a_uuid_is_taken_as_it_is() {
        let id = "0190f3c2-5d0e-7c3a-9f00-0123456789ab";
        let identity = RunIdentity::detect(lookup(&[("BATON_RUN_ID", id), ("GITLAB_CI", "true")]));
        assert!(matches!(identity, RunIdentity::Joined { run_id, .. } if run_id.to_string() == id));
        let named = RunIdentity::detect(lookup(&[("BATON_RUN_ID", "nightly-7")]));
        assert_eq!(
            named,
            RunIdentity::detect(lookup(&[("BATON_RUN_ID", "nightly-7")]))
        );
    }

    #[test]
    fn gitlab_joins_by_pipeline_and_job_and_nothing_is_a_run_per_call() {
        let gitlab = RunIdentity::detect(lookup(&[
            ("GITLAB_CI", "true"),
            ("CI_PIPELINE_ID", "7"),
            ("CI_JOB_ID", "99"),
        ]));
        assert!(matches!(gitlab, RunIdentity::Joined { key, .. } if key == "gitlab:7:99"));
        assert_eq!(RunIdentity::detect(lookup(&[])), RunIdentity::OwnRun);
        // A provider without its ids cannot be joined safely.
        assert_eq!(
            RunIdentity::detect(lookup(&[("GITLAB_CI", "true")])),
            RunIdentity::OwnRun
        );
    }

    #[test]
    fn the_pipeline_is_named_after_the_ci_job_or_the_directory() {
        let dir = std::path::Path::new("/work/shop");
        assert_eq!(pipeline_name(lookup(&[]), dir), "shop");
        assert_eq!(
            pipeline_name(
                lookup(&[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_WORKFLOW", "CI"),
                    ("GITHUB_JOB", "test")
                ]),
                dir
            ),
            "CI / test"
        );
        assert_eq!(
            pipeline_name(lookup(&[("BATON_PIPELINE", "shop-ci")]), dir),
            "shop-ci"
        );
    }
}
