//! `baton show RUN`: one run as it was recorded, beat by beat: where and on what it
//! ran, then each beat's status and duration, its cache state (and the run it was
//! restored from), the identity of its inputs, its log, why it ended as it did, its
//! SLA verdict and what changed in its shape. The judged view of the same run, with
//! totals, anomalies and breaches, is the report ([`crate::render_text`]).

use std::collections::HashMap;
use std::fmt::Write as _;

use baton_model::escape::escape_control;
use baton_model::{BeatRecord, BeatStatus, CacheState, RunRecord};
use baton_telemetry::describe_change;

use crate::format;

/// Renders a recorded run. `previous_canonical` holds, by beat name, the canonical
/// shape each evolved beat evolved from (absent: the change is shown as hashes).
pub fn render_run(
    run: &RunRecord,
    beats: &[BeatRecord],
    previous_canonical: &HashMap<String, String>,
) -> String {
    let mut out = String::new();
    line(
        &mut out,
        &format!("{} · {} · {}", run.pipeline_name, run.label, run.status),
    );
    field(
        &mut out,
        "pipeline",
        &format!("{} ({})", run.pipeline_name, run.pipeline_id),
    );
    field(&mut out, "file", &run.pipeline_file);
    field(&mut out, "run id", &run.run_id.to_string());
    let took = run
        .finished_at
        .and_then(|end| u64::try_from(end.duration_since(run.started_at).as_millis()).ok())
        .map(|ms| format!(", took {}", format::duration_ms(ms)))
        .unwrap_or_default();
    field(
        &mut out,
        "started",
        &format!("{} UTC{took}", format::timestamp(run.started_at)),
    );
    field(&mut out, "level", run.level.as_str());
    let commit = match &run.git {
        Some(git) => {
            let mut text = format::short_hash(&git.commit).to_owned();
            if let Some(branch) = &git.branch {
                let _ = write!(text, " on {branch}");
            }
            if let Some(author) = &git.author {
                let _ = write!(text, " by {author}");
            }
            text
        }
        None => "none recorded (not a git repository)".to_owned(),
    };
    field(&mut out, "commit", &commit);
    field(&mut out, "host", &run.host);
    if let Some(ci) = &run.ci {
        let id = ci
            .run_id
            .as_deref()
            .map(|id| format!(" run {id}"))
            .unwrap_or_default();
        field(&mut out, "ci", &format!("{}{id}", ci.provider));
    }
    field(&mut out, "baton", &run.baton_version);
    if beats.is_empty() {
        out.push_str("\nNo beats recorded.\n");
    }
    for b in beats {
        out.push('\n');
        beat(&mut out, b, previous_canonical.get(&b.beat));
    }
    out
}

fn beat(out: &mut String, b: &BeatRecord, previous_canonical: Option<&String>) {
    let outcome = match (b.status, b.exit_code, b.signal) {
        (BeatStatus::Skipped, _, _) => "skipped".to_owned(),
        (BeatStatus::Failure | BeatStatus::Timeout, _, Some(signal)) => {
            format!("{} (signal {signal})", b.status)
        }
        (BeatStatus::Failure, Some(code), None) => format!("failure (exit {code})"),
        _ => b.status.to_string(),
    };
    let mut heading = format!("{} / {}: {outcome}", b.movement, b.beat);
    if b.status != BeatStatus::Skipped {
        let _ = write!(heading, " in {}", format::duration_ms(b.duration_ms));
    }
    if b.attempts > 1 {
        let _ = write!(heading, " ({} attempts)", b.attempts);
    }
    line(out, &heading);
    if b.status == BeatStatus::Skipped {
        if let Some(reason) = &b.reason {
            field(out, "reason", reason);
        }
        return;
    }
    field(out, "cache", &cache(b));
    if let Some(identity) = &b.input_identity {
        field(out, "inputs", &short_identity(identity));
    }
    if let Some(log) = &b.log_path {
        field(out, "log", log);
    }
    if let Some(reason) = &b.reason {
        field(out, "reason", reason);
    }
    if b.status.is_judged() {
        field(
            out,
            "sla",
            &format!("{} {}", b.sla.overall_status, format::sla_detail(b)),
        );
        field(out, "shape", &shape(b, previous_canonical));
    }
    if let Some(r) = &b.rollback {
        field(out, "rollback", &format::rollback(r));
    }
}

/// `hit, restored from build-20260101-120000`, `miss`, `not cached`.
fn cache(b: &BeatRecord) -> String {
    let state = match b.cache_state {
        CacheState::Skip => return "not cached".to_owned(),
        other => other.as_str(),
    };
    match (&b.restored_from, b.restored) {
        (Some(from), _) => format!("{state}, restored from {from}"),
        (None, true) => format!("{state}, restored"),
        (None, false) => state.to_owned(),
    }
}

/// `inputs:3f2a9c1b2d4e` for `inputs:3f2a9c1b2d4e…` (the kind, then 12 characters).
fn short_identity(identity: &str) -> String {
    match identity.split_once(':') {
        Some((kind, value)) => format!("{kind}:{}", format::short_hash(value)),
        None => format::short_hash(identity).to_owned(),
    }
}

/// `new`, `same`, or `Δ memory <50MB → 50-100MB` (hashes when what changed is not
/// known).
fn shape(b: &BeatRecord, previous_canonical: Option<&String>) -> String {
    if !b.shape.evolved {
        return format::shape_change(&b.shape).to_owned();
    }
    let changes = previous_canonical
        .map(|previous| describe_change(previous, &b.shape.canonical))
        .unwrap_or_default();
    if !changes.is_empty() {
        return format!("Δ {}", format::shape_changes(&changes));
    }
    match &b.shape.previous_hash {
        Some(previous) => format!(
            "Δ {} → {}",
            format::short_hash(previous),
            format::short_hash(&b.shape.hash)
        ),
        None => format!("Δ {}", format::short_hash(&b.shape.hash)),
    }
}

fn line(out: &mut String, text: &str) {
    let _ = writeln!(out, "{}", escape_control(text));
}

fn field(out: &mut String, name: &str, value: &str) {
    line(out, &format!("  {name:<9} {value}"));
}
