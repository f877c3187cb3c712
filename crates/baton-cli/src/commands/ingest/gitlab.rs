//! `baton ingest gitlab`: pipelines (`GET /projects/:id/pipelines/:pipeline_id`)
//! and their jobs (`.../pipelines/:pipeline_id/jobs`, one or more pages, with
//! `include_retried=true` or without), given in any order.
//!
//! A pipeline becomes a baton run, each stage a movement (in the order its first
//! job was created) and each job a beat. A job retried in the pipeline is one beat:
//! its last try, with `attempts` counting every try. Durations are the API's
//! `duration`; `queued_duration` is kept as the metric `queue_ms`.

use std::collections::{BTreeMap, HashMap, HashSet};

use baton_model::{BeatStatus, RunStatus};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::record;
use super::{Input, Outcome};

/// The provider's name, as `baton run` records it inside GitLab CI.
const PROVIDER: &str = "gitlab";

#[derive(Deserialize)]
struct Pipeline {
    id: u64,
    #[serde(default)]
    project_id: Option<u64>,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default, rename = "ref")]
    git_ref: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    created_at: Option<Timestamp>,
    #[serde(default)]
    updated_at: Option<Timestamp>,
    #[serde(default)]
    started_at: Option<Timestamp>,
    #[serde(default)]
    finished_at: Option<Timestamp>,
    #[serde(default)]
    web_url: Option<String>,
    #[serde(default)]
    user: Option<User>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Job {
    id: u64,
    name: String,
    stage: String,
    status: String,
    #[serde(default)]
    allow_failure: bool,
    #[serde(default)]
    created_at: Option<Timestamp>,
    #[serde(default)]
    started_at: Option<Timestamp>,
    #[serde(default)]
    finished_at: Option<Timestamp>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    queued_duration: Option<f64>,
    #[serde(default)]
    failure_reason: Option<String>,
    pipeline: JobPipeline,
    #[serde(default)]
    runner: Option<Runner>,
}

#[derive(Deserialize)]
struct JobPipeline {
    id: u64,
}

#[derive(Deserialize)]
struct Runner {
    #[serde(default)]
    description: Option<String>,
}

/// Reads every input, pairs jobs with their pipelines and writes one document per
/// pipeline.
pub(super) fn documents(inputs: Vec<Input>) -> Outcome {
    let mut outcome = Outcome::default();
    let mut pipelines: BTreeMap<u64, (String, Pipeline)> = BTreeMap::new();
    let mut jobs: Vec<(String, Job)> = Vec::new();
    for input in inputs {
        let Some(value) = input.json(&mut outcome.problems) else {
            continue;
        };
        let read = match value {
            Value::Array(_) => serde_json::from_value::<Vec<Job>>(value)
                .map(|page| jobs.extend(page.into_iter().map(|j| (input.name.clone(), j)))),
            Value::Object(ref o) if o.contains_key("sha") || o.contains_key("iid") => {
                serde_json::from_value::<Pipeline>(value).map(|p| {
                    pipelines.entry(p.id).or_insert((input.name.clone(), p));
                })
            }
            _ => {
                outcome.problems.push(format!(
                    "{}: neither a pipeline (GET /projects/:id/pipelines/:pipeline_id) nor its jobs (.../jobs)",
                    input.name
                ));
                continue;
            }
        };
        if let Err(err) = read {
            let text = err.to_string();
            let text = text
                .rfind(" at line ")
                .map_or(text.as_str(), |at| &text[..at]);
            outcome.problems.push(format!("{}: {text}", input.name));
        }
    }
    let mut by_pipeline: HashMap<u64, Vec<Job>> = HashMap::new();
    let mut seen = HashSet::new();
    for (file, job) in jobs {
        if !pipelines.contains_key(&job.pipeline.id) {
            outcome.problems.push(format!(
                "{file}: job {} ('{}') belongs to pipeline {}, which is not among the pipelines given",
                job.id, job.name, job.pipeline.id
            ));
            continue;
        }
        if seen.insert(job.id) {
            by_pipeline.entry(job.pipeline.id).or_default().push(job);
        }
    }
    for (id, (file, pipeline)) in &pipelines {
        let jobs = by_pipeline.remove(id).unwrap_or_default();
        match document(file, pipeline, jobs, &mut outcome.notes) {
            Ok(doc) => outcome.documents.push(doc),
            Err(problem) => outcome.problems.push(format!("{file}: {problem}")),
        }
    }
    outcome
}

fn run_status(status: &str) -> Option<RunStatus> {
    Some(match status {
        "success" | "skipped" => RunStatus::Success,
        "failed" => RunStatus::Failure,
        "canceled" | "cancelled" => RunStatus::Cancelled,
        _ => return None,
    })
}

/// A finished job's status and reason; `None` while it has not ended.
fn beat_status(job: &Job) -> Option<(BeatStatus, Option<String>)> {
    let reason = job.failure_reason.clone();
    Some(match job.status.as_str() {
        "success" => (BeatStatus::Success, None),
        "failed" => {
            let status = if reason.as_deref() == Some("job_execution_timeout") {
                BeatStatus::Timeout
            } else {
                BeatStatus::Failure
            };
            let reason = if job.allow_failure {
                Some(match reason {
                    Some(r) => format!("{r} (allowed to fail)"),
                    None => "allowed to fail".to_owned(),
                })
            } else {
                reason
            };
            (status, reason)
        }
        "canceled" | "cancelled" => (BeatStatus::Cancelled, reason),
        "skipped" => (BeatStatus::Skipped, None),
        "manual" => (
            BeatStatus::Skipped,
            Some("manual job, not started".to_owned()),
        ),
        _ => return None,
    })
}

/// Seconds as the API gives them, in whole milliseconds (never negative).
fn millis(seconds: f64) -> u64 {
    let ms = (seconds * 1000.0).round();
    if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    }
}

fn document(
    file: &str,
    pipeline: &Pipeline,
    mut jobs: Vec<Job>,
    notes: &mut Vec<String>,
) -> Result<Value, String> {
    let state = pipeline.status.as_deref().unwrap_or("success");
    let status = run_status(state).ok_or_else(|| {
        format!(
            "pipeline {} is {state}: ingest it once it has finished",
            pipeline.id
        )
    })?;
    let started_at = pipeline.started_at.or(pipeline.created_at).ok_or_else(|| {
        format!(
            "pipeline {}: neither started_at nor created_at",
            pipeline.id
        )
    })?;
    let finished_at = pipeline
        .finished_at
        .or(pipeline.updated_at)
        .unwrap_or(started_at)
        .max(started_at);
    jobs.sort_by_key(|j| j.id);
    // Stages in the order their first job was created; a job's tries by name.
    let mut stages: Vec<&str> = Vec::new();
    let mut tries: BTreeMap<(usize, String), Vec<&Job>> = BTreeMap::new();
    for job in &jobs {
        let stage = match stages.iter().position(|s| *s == job.stage) {
            Some(i) => i,
            None => {
                stages.push(&job.stage);
                stages.len() - 1
            }
        };
        tries
            .entry((stage, job.name.clone()))
            .or_default()
            .push(job);
    }
    let identity = pipeline.sha.as_ref().map(|sha| format!("commit:{sha}"));
    let mut runners: Vec<String> = Vec::new();
    let mut beats = Vec::new();
    let mut next_index: HashMap<usize, u32> = HashMap::new();
    let mut ordered: Vec<(usize, &Vec<&Job>)> = tries.iter().map(|((s, _), t)| (*s, t)).collect();
    // Within a stage, jobs in the order they were created.
    ordered.sort_by_key(|(stage, t)| (*stage, t.first().map_or(0, |j| j.id)));
    for (stage, tries) in ordered {
        let Some(job) = tries.last() else { continue };
        let Some((status, mut reason)) = beat_status(job) else {
            notes.push(format!(
                "{file}: job '{}' of pipeline {} is {}: left out",
                job.name, pipeline.id, job.status
            ));
            continue;
        };
        if let Some(runner) = job.runner.as_ref().and_then(|r| r.description.clone())
            && !runners.contains(&runner)
        {
            runners.push(runner);
        }
        let at = job.started_at.or(job.created_at).unwrap_or(started_at);
        let duration_ms = match (job.duration, job.started_at, job.finished_at) {
            (Some(d), _, _) => millis(d),
            (None, Some(s), Some(e)) => record::millis_between(s, e),
            _ => {
                if status != BeatStatus::Skipped {
                    reason.get_or_insert_with(|| "the API gave no duration".to_owned());
                }
                0
            }
        };
        let index = next_index.entry(stage).or_insert(0);
        let beat_index = *index;
        *index += 1;
        let beat_type = record::guess_type(&job.name);
        let mut beat = Map::new();
        beat.insert("beat".into(), json!(job.name));
        beat.insert("movement".into(), json!(stages[stage]));
        beat.insert("movement_index".into(), json!(stage));
        beat.insert("beat_index".into(), json!(beat_index));
        beat.insert("status".into(), json!(status));
        beat.insert("started_at".into(), json!(at));
        beat.insert("duration_ms".into(), json!(duration_ms));
        beat.insert("reason".into(), json!(reason));
        beat.insert("input_identity".into(), json!(identity));
        beat.insert(
            "attempts".into(),
            json!(if status == BeatStatus::Skipped {
                0
            } else {
                tries.len()
            }),
        );
        for (key, value) in record::judged(beat_type, status, duration_ms) {
            beat.insert(key.into(), value);
        }
        if let Some(queued) = job.queued_duration {
            beat.insert("metrics".into(), json!({ "queue_ms": millis(queued) }));
        }
        beats.push(Value::Object(beat));
    }
    let project = pipeline
        .project_id
        .map_or_else(String::new, |p| p.to_string());
    let name = pipeline
        .web_url
        .as_deref()
        .and_then(project_path)
        .unwrap_or_else(|| format!("gitlab project {project}"));
    let git = pipeline.sha.as_ref().map(|sha| {
        json!({
            "commit": sha,
            "branch": pipeline.git_ref,
            "author": pipeline.user.as_ref().and_then(|u| u.name.clone()),
        })
    });
    let key = format!("{PROVIDER}/{project}/{}/1", pipeline.id);
    Ok(json!({
        "format_version": 1,
        "run": {
            "run_id": record::run_id(started_at, &key),
            "pipeline_id": format!("{PROVIDER}:{project}"),
            "pipeline_name": name,
            "pipeline_file": ".gitlab-ci.yml",
            "git": git,
            "host": runners.join("; "),
            "ci": { "provider": PROVIDER, "run_id": pipeline.id.to_string() },
            "started_at": started_at,
            "finished_at": finished_at,
            "status": status,
        },
        "beats": beats,
    }))
}

/// `group/project` of `https://gitlab.example/group/project/-/pipelines/42`.
fn project_path(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split_once('/')?.1;
    let path = path.split_once("/-/").map_or(path, |(p, _)| p);
    (!path.is_empty()).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_comes_from_the_web_url() {
        assert_eq!(
            project_path("https://gitlab.com/acme/shop/-/pipelines/42").as_deref(),
            Some("acme/shop")
        );
        assert_eq!(project_path("https://gitlab.com"), None);
    }

    #[test]
    fn seconds_become_whole_milliseconds() {
        assert_eq!(millis(1.2345), 1235);
        assert_eq!(millis(-3.0), 0);
    }
}
