//! `baton ingest github-actions`: workflow runs (`gh api repos/O/R/actions/runs/ID`,
//! a list of them, or `.../runs/ID/attempts/N`) and their jobs (`.../jobs`, one or
//! more pages, `filter=all` included), given in any order.
//!
//! A run attempt becomes a baton run (pipeline: the workflow), each job a movement
//! and each step a beat named `JOB / STEP`. Steps end at `completed_at`, the run at
//! `updated_at` (the API gives a run no end); an end before the start is a
//! duration of 0. Every beat's input identity is the commit, so a re-run attempt
//! that passes where the first failed is flaky evidence.

use std::collections::{BTreeMap, HashSet};

use baton_model::{BeatStatus, RunStatus};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::record::{self, UniqueNames};
use super::{Input, Outcome};

/// The provider's name, as `baton run` records it inside GitHub Actions.
const PROVIDER: &str = "github-actions";

#[derive(Deserialize)]
struct WorkflowRun {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    run_attempt: Option<u32>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    workflow_id: Option<u64>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    head_branch: Option<String>,
    #[serde(default)]
    head_sha: Option<String>,
    #[serde(default)]
    created_at: Option<Timestamp>,
    #[serde(default)]
    updated_at: Option<Timestamp>,
    #[serde(default)]
    run_started_at: Option<Timestamp>,
    #[serde(default)]
    repository: Option<Repository>,
    #[serde(default)]
    actor: Option<Actor>,
    #[serde(default)]
    head_commit: Option<HeadCommit>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Actor {
    login: String,
}

#[derive(Deserialize)]
struct HeadCommit {
    #[serde(default)]
    author: Option<Author>,
}

#[derive(Deserialize)]
struct Author {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct JobsPage {
    jobs: Vec<Job>,
}

#[derive(Deserialize)]
struct RunsPage {
    workflow_runs: Vec<WorkflowRun>,
}

#[derive(Deserialize)]
struct Job {
    id: u64,
    run_id: u64,
    #[serde(default)]
    run_attempt: Option<u32>,
    name: String,
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    created_at: Option<Timestamp>,
    #[serde(default)]
    started_at: Option<Timestamp>,
    #[serde(default)]
    completed_at: Option<Timestamp>,
    #[serde(default)]
    runner_name: Option<String>,
    #[serde(default, deserialize_with = "null_is_empty")]
    labels: Vec<String>,
    #[serde(default, deserialize_with = "null_is_empty")]
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    name: String,
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    number: u32,
    #[serde(default)]
    started_at: Option<Timestamp>,
    #[serde(default)]
    completed_at: Option<Timestamp>,
}

fn null_is_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<T>>::deserialize(d).map(Option::unwrap_or_default)
}

/// A run attempt with the file it came from.
struct Attempt {
    file: String,
    run: WorkflowRun,
    attempt: u32,
}

/// Reads every input, pairs jobs with their run attempts and writes one document
/// per attempt.
pub(super) fn documents(inputs: Vec<Input>) -> Outcome {
    let mut outcome = Outcome::default();
    let mut attempts: BTreeMap<(u64, u32), Attempt> = BTreeMap::new();
    let mut jobs: Vec<(String, Job)> = Vec::new();
    for input in inputs {
        let Some(value) = input.json(&mut outcome.problems) else {
            continue;
        };
        let read = if value.get("jobs").is_some() {
            serde_json::from_value::<JobsPage>(value).map(|page| {
                jobs.extend(page.jobs.into_iter().map(|j| (input.name.clone(), j)));
            })
        } else if value.get("workflow_runs").is_some() {
            serde_json::from_value::<RunsPage>(value).map(|page| {
                for run in page.workflow_runs {
                    add_attempt(&mut attempts, &input.name, run);
                }
            })
        } else if value.get("head_sha").is_some() || value.get("workflow_id").is_some() {
            serde_json::from_value::<WorkflowRun>(value)
                .map(|run| add_attempt(&mut attempts, &input.name, run))
        } else {
            outcome.problems.push(format!(
                "{}: neither a workflow run (`gh api repos/O/R/actions/runs/ID`) nor its jobs (`.../jobs`)",
                input.name
            ));
            continue;
        };
        if let Err(err) = read {
            outcome
                .problems
                .push(format!("{}: {}", input.name, bare(&err)));
        }
    }
    let run_ids: HashSet<u64> = attempts.keys().map(|(id, _)| *id).collect();
    let mut by_attempt: BTreeMap<(u64, u32), Vec<Job>> = BTreeMap::new();
    let mut seen_jobs = HashSet::new();
    for (file, job) in jobs {
        if !run_ids.contains(&job.run_id) {
            outcome.problems.push(format!(
                "{file}: job {} ('{}') belongs to run {}, which is not among the runs given",
                job.id, job.name, job.run_id
            ));
            continue;
        }
        let attempt = job.run_attempt.unwrap_or(1);
        if !attempts.contains_key(&(job.run_id, attempt)) {
            outcome.notes.push(format!(
                "{file}: job '{}' of run {} attempt {attempt} left out: that attempt's run object was not given (gh api .../runs/{}/attempts/{attempt})",
                job.name, job.run_id, job.run_id
            ));
            continue;
        }
        // Pages that overlap give a job twice.
        if seen_jobs.insert(job.id) {
            by_attempt
                .entry((job.run_id, attempt))
                .or_default()
                .push(job);
        }
    }
    for (key, attempt) in attempts {
        let jobs = by_attempt.remove(&key).unwrap_or_default();
        match document(&attempt, jobs, &mut outcome.notes) {
            Ok(doc) => outcome.documents.push(doc),
            Err(problem) => outcome
                .problems
                .push(format!("{}: {problem}", attempt.file)),
        }
    }
    outcome
}

fn add_attempt(attempts: &mut BTreeMap<(u64, u32), Attempt>, file: &str, run: WorkflowRun) {
    let attempt = run.run_attempt.unwrap_or(1);
    attempts.entry((run.id, attempt)).or_insert(Attempt {
        file: file.to_owned(),
        run,
        attempt,
    });
}

/// serde_json's message without " at line L column C" (a `Value` has none).
fn bare(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The run's status from its conclusion.
fn run_status(conclusion: Option<&str>) -> RunStatus {
    match conclusion {
        Some("success" | "neutral" | "skipped") => RunStatus::Success,
        Some("failure" | "timed_out" | "startup_failure") => RunStatus::Failure,
        _ => RunStatus::Cancelled,
    }
}

/// A job's or step's status from its conclusion, with the reason when the status
/// alone does not say it.
fn beat_status(conclusion: Option<&str>) -> (BeatStatus, Option<String>) {
    match conclusion {
        Some("success") => (BeatStatus::Success, None),
        Some("neutral") => (BeatStatus::Success, Some("neutral".to_owned())),
        Some("failure") => (BeatStatus::Failure, None),
        Some("timed_out") => (BeatStatus::Timeout, Some("timed out".to_owned())),
        Some("skipped") => (BeatStatus::Skipped, None),
        Some("cancelled") => (BeatStatus::Cancelled, None),
        Some(other) => (BeatStatus::Cancelled, Some(format!("conclusion {other}"))),
        None => (BeatStatus::Cancelled, Some("no conclusion".to_owned())),
    }
}

/// One run attempt and its jobs as an import document.
fn document(
    attempt: &Attempt,
    mut jobs: Vec<Job>,
    notes: &mut Vec<String>,
) -> Result<Value, String> {
    let run = &attempt.run;
    let status = run.status.as_deref().unwrap_or("completed");
    if status != "completed" {
        return Err(format!(
            "run {} attempt {} is {status}: ingest it once it has completed",
            run.id, attempt.attempt
        ));
    }
    let started_at = run
        .run_started_at
        .or(run.created_at)
        .ok_or_else(|| format!("run {}: neither run_started_at nor created_at", run.id))?;
    let finished_at = run.updated_at.unwrap_or(started_at).max(started_at);
    let repo = run.repository.as_ref().map_or("", |r| r.full_name.as_str());
    let workflow = run
        .path
        .clone()
        .or_else(|| run.workflow_id.map(|id| format!("workflow {id}")))
        .unwrap_or_else(|| run.name.clone().unwrap_or_default());
    let identity = run.head_sha.as_ref().map(|sha| format!("commit:{sha}"));
    jobs.sort_by_key(|j| (j.started_at.is_none(), j.started_at, j.id));
    let mut movements = UniqueNames::default();
    let mut beat_names = UniqueNames::default();
    let mut beats = Vec::new();
    let mut runners: Vec<String> = Vec::new();
    for (movement_index, job) in jobs.iter().enumerate() {
        let movement = movements.name(&job.name);
        if let Some(runner) = runner_of(job)
            && !runners.contains(&runner)
        {
            runners.push(runner);
        }
        if job.status != "completed" {
            notes.push(format!(
                "{}: job '{}' of run {} is {}: its unfinished steps are left out",
                attempt.file, job.name, run.id, job.status
            ));
        }
        let job_start = job.started_at.unwrap_or(started_at);
        let queue_ms = match (job.created_at, job.started_at) {
            (Some(created), Some(started)) => Some(record::millis_between(created, started)),
            _ => None,
        };
        let mut steps: Vec<&Step> = job.steps.iter().collect();
        steps.sort_by_key(|s| s.number);
        let mut cursor = job_start;
        let mut parts: Vec<Part> = steps
            .iter()
            .filter(|s| s.status == "completed")
            .map(|s| Part {
                name: format!("{} / {}", job.name, s.name),
                conclusion: s.conclusion.as_deref(),
                started_at: s.started_at,
                completed_at: s.completed_at,
            })
            .collect();
        if job.steps.is_empty() && job.status == "completed" {
            // A job skipped or failed before its first step: the job is its only beat.
            parts.push(Part {
                name: job.name.clone(),
                conclusion: job.conclusion.as_deref(),
                started_at: job.started_at,
                completed_at: job.completed_at,
            });
        }
        for (beat_index, part) in parts.into_iter().enumerate() {
            let (status, mut reason) = beat_status(part.conclusion);
            let (at, duration_ms) = match (part.started_at, part.completed_at) {
                (Some(s), Some(e)) => (s, record::millis_between(s, e)),
                (start, _) => {
                    reason.get_or_insert_with(|| "the API gave no start or end time".to_owned());
                    (start.unwrap_or(cursor), 0)
                }
            };
            cursor = cursor.max(at);
            let beat_type = record::guess_type(&part.name);
            let mut beat = Map::new();
            beat.insert("beat".into(), json!(beat_names.name(&part.name)));
            beat.insert("movement".into(), json!(movement));
            beat.insert("movement_index".into(), json!(movement_index));
            beat.insert("beat_index".into(), json!(beat_index));
            beat.insert("status".into(), json!(status));
            beat.insert("started_at".into(), json!(at));
            beat.insert("duration_ms".into(), json!(duration_ms));
            beat.insert("reason".into(), json!(reason));
            beat.insert("input_identity".into(), json!(identity));
            for (key, value) in record::judged(beat_type, status, duration_ms) {
                beat.insert(key.into(), value);
            }
            if beat_index == 0
                && let Some(queue_ms) = queue_ms
            {
                beat.insert("metrics".into(), json!({ "queue_ms": queue_ms }));
            }
            beats.push(Value::Object(beat));
        }
    }
    let author = run
        .head_commit
        .as_ref()
        .and_then(|c| c.author.as_ref())
        .and_then(|a| a.name.clone())
        .or_else(|| run.actor.as_ref().map(|a| a.login.clone()));
    let git = run
        .head_sha
        .as_ref()
        .map(|sha| json!({ "commit": sha, "branch": run.head_branch, "author": author }));
    let key = format!("{PROVIDER}/{repo}/{}/{}", run.id, attempt.attempt);
    Ok(json!({
        "format_version": 1,
        "run": {
            "run_id": record::run_id(started_at, &key),
            "pipeline_id": format!("{PROVIDER}:{repo}:{workflow}"),
            "pipeline_name": run.name.clone().unwrap_or_else(|| workflow.clone()),
            "pipeline_file": run.path,
            "git": git,
            "host": runners.join("; "),
            "ci": { "provider": PROVIDER, "run_id": format!("{}-{}", run.id, attempt.attempt) },
            "started_at": started_at,
            "finished_at": finished_at,
            "status": run_status(run.conclusion.as_deref()),
        },
        "beats": beats,
    }))
}

/// A step (or a job without steps) on its way to a beat.
struct Part<'a> {
    name: String,
    conclusion: Option<&'a str>,
    started_at: Option<Timestamp>,
    completed_at: Option<Timestamp>,
}

/// `runner name [label, label]`, what a job ran on.
fn runner_of(job: &Job) -> Option<String> {
    let name = job.runner_name.as_deref().filter(|n| !n.is_empty())?;
    Some(if job.labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name} [{}]", job.labels.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conclusions_map_to_baton_statuses() {
        assert_eq!(beat_status(Some("timed_out")).0, BeatStatus::Timeout);
        assert_eq!(beat_status(Some("neutral")).0, BeatStatus::Success);
        assert_eq!(beat_status(Some("skipped")).0, BeatStatus::Skipped);
        assert_eq!(beat_status(Some("cancelled")).0, BeatStatus::Cancelled);
        assert_eq!(run_status(Some("timed_out")), RunStatus::Failure);
        assert_eq!(run_status(Some("neutral")), RunStatus::Success);
    }
}
