//! The webhook's payload: one JSON document per finished run, described by
//! `docs/webhook-payload.schema.json` (version [`PAYLOAD_VERSION`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use baton_model::{ArtifactManifest, BeatRecord, RunRecord};
use serde::Serialize;

use crate::config::strip_credentials;

/// The payload's version: raised when a field changes meaning or goes away
/// (adding a field does not raise it).
pub const PAYLOAD_VERSION: u32 = 1;

/// The event of a finished run.
pub const RUN_FINISHED: &str = "run.finished";
/// The event of `baton telemetry test`.
pub const PING: &str = "ping";

/// At most this much artifact content (compressed and encoded) in one payload.
pub const CONTENT_CAP_BYTES: usize = 256 * 1024;
/// A text artifact larger than this is never sent as content.
pub const CONTENT_FILE_MAX_BYTES: u64 = 64 * 1024;

/// Where a run happened, as the payload tells it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub git_user_name: Option<String>,
    pub git_user_email: Option<String>,
    /// Without credentials.
    pub repository_url: Option<String>,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub host: String,
    pub ci_provider: Option<String>,
    pub ci_run_id: Option<String>,
    pub ci_run_url: Option<String>,
}

impl Identity {
    /// The identity of `run`, given its repository's remote URL (credentials are
    /// stripped here) and a lookup of the environment (for the CI run's URL).
    pub fn of(
        run: &RunRecord,
        repository_url: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let (name, email) = run
            .git
            .as_ref()
            .and_then(|g| g.author.as_deref())
            .map(split_author)
            .unwrap_or_default();
        let provider = run.ci.as_ref().map(|c| c.provider.clone());
        Self {
            git_user_name: name,
            git_user_email: email,
            repository_url: repository_url
                .filter(|u| !u.is_empty())
                .map(strip_credentials),
            commit: run.git.as_ref().map(|g| g.commit.clone()),
            branch: run.git.as_ref().and_then(|g| g.branch.clone()),
            host: run.host.clone(),
            ci_run_id: run.ci.as_ref().and_then(|c| c.run_id.clone()),
            ci_run_url: provider
                .as_deref()
                .and_then(|p| ci_run_url(p, &env))
                .map(|u| strip_credentials(&u)),
            ci_provider: provider,
        }
    }
}

/// `Name <email>` as `git log --format='%an <%ae>'` gives it.
fn split_author(author: &str) -> (Option<String>, Option<String>) {
    let non_empty = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    match author.rsplit_once('<') {
        Some((name, rest)) => (non_empty(name), non_empty(rest.trim_end_matches('>'))),
        None => (non_empty(author), None),
    }
}

/// The CI run's web page, from the provider's own variables.
pub fn ci_run_url(provider: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    match provider {
        "github-actions" => {
            let server = var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
            let mut url = format!(
                "{}/{}/actions/runs/{}",
                server.trim_end_matches('/'),
                var("GITHUB_REPOSITORY")?,
                var("GITHUB_RUN_ID")?
            );
            if let Some(attempt) = var("GITHUB_RUN_ATTEMPT") {
                url.push_str(&format!("/attempts/{attempt}"));
            }
            Some(url)
        }
        "gitlab" => var("CI_PIPELINE_URL"),
        "buildkite" => var("BUILDKITE_BUILD_URL"),
        "circleci" => var("CIRCLE_BUILD_URL"),
        "jenkins" => var("BUILD_URL"),
        "azure-pipelines" => Some(format!(
            "{}{}/_build/results?buildId={}",
            var("SYSTEM_COLLECTIONURI")?,
            var("SYSTEM_TEAMPROJECT")?,
            var("BUILD_BUILDID")?
        )),
        _ => None,
    }
}

/// What the payload is made from: the run's final records.
#[derive(Debug)]
pub struct RunInput<'a> {
    pub run: &'a RunRecord,
    pub beats: &'a [BeatRecord],
    pub manifest: &'a ArtifactManifest,
    pub identity: Identity,
    /// With `BATON_TELEMETRY_ARTIFACTS=content`: where the artifacts' paths are
    /// relative to, and the run report's JSON.
    pub content: Option<ContentInput<'a>>,
}

#[derive(Debug)]
pub struct ContentInput<'a> {
    pub pipeline_root: &'a Path,
    pub report_json: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload<'a> {
    pub version: u32,
    #[serde(rename = "type")]
    pub event: &'static str,
    /// `webhook-id`: stable across retries.
    pub delivery_id: String,
    pub run_id: String,
    /// The pipeline's stable id (the source document's `featureId`).
    pub feature_id: &'a str,
    pub run_label: &'a str,
    pub name: &'a str,
    pub status: &'static str,
    pub level: &'static str,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub baton_version: &'a str,
    pub identity: &'a Identity,
    pub beats: Vec<BeatPayload<'a>>,
    pub artifacts: Artifacts,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeatPayload<'a> {
    pub movement: &'a str,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub beat_type: &'a baton_model::BeatType,
    pub level: &'static str,
    pub status: &'static str,
    pub reason: Option<&'a str>,
    pub exit_code: Option<i32>,
    pub attempts: u32,
    pub started_at: String,
    pub slis: Slis<'a>,
    pub sla: SlaPayload,
    pub shape: ShapePayload<'a>,
    pub rolled_back: Option<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Slis<'a> {
    pub duration_ms: u64,
    pub duration_bucket: &'a str,
    pub cpu_user_ms: u64,
    pub cpu_sys_ms: u64,
    pub peak_rss_bytes: u64,
    pub artifacts_count: u64,
    pub artifacts_bytes: u64,
    pub errors_count: u64,
    pub cache_state: &'static str,
    pub tests: Option<&'a baton_model::TestCounts>,
    pub cost_usd: Option<f64>,
    pub metrics: &'a BTreeMap<String, f64>,
}

/// The beat's SLA verdict against its SLO.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlaPayload {
    /// Worst of the duration, errors and cache verdicts: ok, warning, breach...
    pub status: &'static str,
    pub duration_status: &'static str,
    /// Actual duration / SLO duration.
    pub duration_ratio: f64,
    pub errors_status: &'static str,
    pub cache_status: &'static str,
    pub cache_hit_rate: Option<f64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapePayload<'a> {
    pub hash: &'a str,
    pub previous_hash: Option<&'a str>,
    pub evolved: bool,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifacts {
    pub manifest: Vec<ManifestFile>,
    /// Only with `BATON_TELEMETRY_ARTIFACTS=content`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ContentFile>>,
    /// Files that were not sent as content, with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<Omitted>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestFile {
    pub beat: String,
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentFile {
    pub path: String,
    /// Always `gzip+base64`.
    pub encoding: &'static str,
    pub content: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Omitted {
    pub path: String,
    pub reason: String,
}

/// The `webhook-id` of a run's delivery: the same for every attempt.
pub fn delivery_id(run_id: &uuid::Uuid, event: &str) -> String {
    format!("run_{}_{}", run_id.simple(), event.replace('.', "_"))
}

/// The run's payload as JSON.
pub fn build(input: &RunInput<'_>) -> serde_json::Value {
    let run = input.run;
    let duration_ms = run.finished_at.and_then(|end| {
        let span = end.duration_since(run.started_at);
        u64::try_from(span.as_millis()).ok()
    });
    let payload = Payload {
        version: PAYLOAD_VERSION,
        event: RUN_FINISHED,
        delivery_id: delivery_id(&run.run_id, RUN_FINISHED),
        run_id: run.run_id.to_string(),
        feature_id: &run.pipeline_id,
        run_label: &run.label,
        name: &run.pipeline_name,
        status: run.status.as_str(),
        level: run.level.as_str(),
        started_at: run.started_at.to_string(),
        finished_at: run.finished_at.map(|t| t.to_string()),
        duration_ms,
        baton_version: &run.baton_version,
        identity: &input.identity,
        beats: input.beats.iter().map(beat).collect(),
        artifacts: artifacts(input),
    };
    serde_json::to_value(&payload).unwrap_or(serde_json::Value::Null)
}

fn beat(r: &BeatRecord) -> BeatPayload<'_> {
    BeatPayload {
        movement: &r.movement,
        name: &r.beat,
        beat_type: &r.beat_type,
        level: r.level.as_str(),
        status: r.status.as_str(),
        reason: r.reason.as_deref(),
        exit_code: r.exit_code,
        attempts: r.attempts,
        started_at: r.started_at.to_string(),
        slis: Slis {
            duration_ms: r.duration_ms,
            duration_bucket: &r.duration_bucket,
            cpu_user_ms: r.cpu_user_ms,
            cpu_sys_ms: r.cpu_sys_ms,
            peak_rss_bytes: r.peak_rss_bytes,
            artifacts_count: r.artifacts_count,
            artifacts_bytes: r.artifacts_bytes,
            errors_count: r.errors_count,
            cache_state: r.cache_state.as_str(),
            tests: r.tests.as_ref(),
            cost_usd: r.cost_usd,
            metrics: &r.metrics,
        },
        sla: SlaPayload {
            status: r.sla.overall_status.as_str(),
            duration_status: r.sla.duration_status.as_str(),
            duration_ratio: r.sla.duration_ratio,
            errors_status: r.sla.errors_status.as_str(),
            cache_status: r.sla.cache_status.as_str(),
            cache_hit_rate: r.sla.cache_hit_rate,
        },
        shape: ShapePayload {
            hash: &r.shape.hash,
            previous_hash: r.shape.previous_hash.as_deref(),
            evolved: r.shape.evolved,
        },
        rolled_back: r.rollback.as_ref().map(|rb| rb.status.as_str()),
    }
}

fn artifacts(input: &RunInput<'_>) -> Artifacts {
    let manifest = input
        .manifest
        .beats
        .iter()
        .flat_map(|b| {
            b.files.iter().map(|f| ManifestFile {
                beat: b.beat.clone(),
                path: f.path.clone(),
                bytes: f.bytes,
                sha256: f.sha256.clone(),
            })
        })
        .collect();
    let mut out = Artifacts {
        manifest,
        ..Artifacts::default()
    };
    let Some(content) = &input.content else {
        return out;
    };
    let mut files = Vec::new();
    let mut budget = CONTENT_CAP_BYTES;
    let mut add = |path: String, bytes: &[u8], out: &mut Artifacts| {
        let encoded = gzip_base64(bytes);
        if encoded.len() > budget {
            out.omitted.push(Omitted {
                path,
                reason: format!("over the {} KiB content cap", CONTENT_CAP_BYTES / 1024),
            });
        } else {
            budget -= encoded.len();
            files.push(ContentFile {
                path,
                encoding: "gzip+base64",
                content: encoded,
            });
        }
    };
    if let Some(report) = content.report_json {
        add(
            baton_model::layout::REPORT_FILE_NAME.to_owned(),
            report.as_bytes(),
            &mut out,
        );
    }
    let entries: Vec<(String, u64)> = out
        .manifest
        .iter()
        .map(|f| (f.path.clone(), f.bytes))
        .collect();
    for (path, bytes) in entries {
        if bytes > CONTENT_FILE_MAX_BYTES {
            out.omitted.push(Omitted {
                path,
                reason: format!("larger than {} KiB", CONTENT_FILE_MAX_BYTES / 1024),
            });
            continue;
        }
        match std::fs::read(content.pipeline_root.join(&path)) {
            Ok(data) if is_text(&data) => add(path, &data, &mut out),
            Ok(_) => out.omitted.push(Omitted {
                path,
                reason: "not text".into(),
            }),
            Err(err) => out.omitted.push(Omitted {
                path,
                reason: format!("cannot be read: {err}"),
            }),
        }
    }
    out.content = Some(files);
    out
}

fn is_text(data: &[u8]) -> bool {
    !data.contains(&0) && std::str::from_utf8(data).is_ok()
}

/// gzip, then standard base64 (with padding).
pub fn gzip_base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(gzip(data))
}

/// gzip at the fast level (JSON compresses well at any level; the run's end
/// waits for it).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// The synthetic payload of `baton telemetry test`.
pub fn ping(delivery_id: &str, pipeline_id: &str, host: &str) -> serde_json::Value {
    serde_json::json!({
        "version": PAYLOAD_VERSION,
        "type": PING,
        "deliveryId": delivery_id,
        "featureId": pipeline_id,
        "host": host,
        "sentAt": jiff::Timestamp::now().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authors_split_into_name_and_email() {
        assert_eq!(
            split_author("Ada Lovelace <ada@example.com>"),
            (Some("Ada Lovelace".into()), Some("ada@example.com".into()))
        );
        assert_eq!(split_author("ada"), (Some("ada".into()), None));
    }

    #[test]
    fn github_run_urls() {
        let env = |k: &str| match k {
            "GITHUB_REPOSITORY" => Some("o/r".to_owned()),
            "GITHUB_RUN_ID" => Some("42".to_owned()),
            _ => None,
        };
        assert_eq!(
            ci_run_url("github-actions", env).as_deref(),
            Some("https://github.com/o/r/actions/runs/42")
        );
    }
}
