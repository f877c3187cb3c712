//! Time `beat_series`, the read behind `baton regressions`, `flaky`, `trends` and
//! `slowest`, over a store shaped like the signals benchmark's speed history: 10
//! pipelines of 10 beats (cached beats hit 50% or 90% of the time, uncached ones
//! run on a commit, a few fail), runs a minute apart ending now.
//!
//! ```text
//! cargo run --release -p baton-store --example series_speed -- /tmp/s/.baton/history.db 100000
//! cargo run --release -p baton-store --example series_speed -- /tmp/s/.baton/history.db 0  # reads only
//! ```
//!
//! Prints the fill time, then each read (all records without and with input
//! identities, one pipeline, its newest 1,000 records of each outcome per beat, the
//! newest 500 runs of one pipeline) with its wall
//! and CPU time and the peak RSS after it. The store it leaves can be read with the `baton`
//! verbs (`BATON_DIR=/tmp/s/.baton baton regressions --all`).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use baton_model::{
    BeatRecord, BeatStatus, BeatType, CacheState, Level, RunRecord, RunStatus, Shape, SlaStatus,
    SlaVerdict, SloTarget,
};
use baton_store::{HistoryStore, SeriesQuery, SqliteStore};
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use common::{Rng, ms, peak_rss, thread_cpu};

const PIPELINES: usize = 10;
/// Name, cache hit probability, failure probability (per mille), base ms.
const BEATS: [(&str, u64, u64, u64); 10] = [
    ("lint", 0, 0, 4_000),
    ("compile", 50, 0, 90_000),
    ("compile-slow", 50, 0, 120_000),
    ("codegen", 90, 0, 20_000),
    ("test-unit", 0, 50, 30_000),
    ("test-integration", 0, 10, 200_000),
    ("test-e2e", 0, 0, 250_000),
    ("test-doc", 0, 0, 8_000),
    ("package", 50, 0, 15_000),
    ("deploy", 0, 0, 5_000),
];
const BATCH_RUNS: usize = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: series_speed PATH RUNS")?;
    let runs: usize = args
        .next()
        .ok_or("usage: series_speed PATH RUNS")?
        .parse()?;
    if runs > 0 {
        let store = SqliteStore::open(&path)?;
        let t = Instant::now();
        fill(&store, runs)?;
        println!(
            "fill {runs} runs x {} beats: {:.1} s",
            BEATS.len(),
            t.elapsed().as_secs_f64()
        );
    }
    let store = SqliteStore::open(&path)?;
    let first = store.pipelines()?.last().map(|p| p.pipeline_id.clone());
    let queries = [
        ("all records", SeriesQuery::default()),
        (
            "all records with identities",
            SeriesQuery {
                identities: true,
                ..SeriesQuery::default()
            },
        ),
        (
            "one pipeline",
            SeriesQuery {
                pipeline: first.clone(),
                ..SeriesQuery::default()
            },
        ),
        (
            "one pipeline, newest 1,000 records of each outcome per beat",
            SeriesQuery {
                pipeline: first.clone(),
                newest_per_outcome: Some(1_000),
                ..SeriesQuery::default()
            },
        ),
        (
            "newest 500 runs of one pipeline, 3 beats",
            SeriesQuery {
                pipeline: first,
                beats: vec!["compile".into(), "lint".into(), "deploy".into()],
                last_runs: Some(500),
                ..SeriesQuery::default()
            },
        ),
    ];
    for (what, query) in queries {
        let (t, cpu) = (Instant::now(), thread_cpu());
        let set = store.beat_series(&query)?;
        let (took, cpu) = (t.elapsed(), thread_cpu().saturating_sub(cpu));
        println!(
            "beat_series {what}: {:.0} ms ({:.0} ms CPU), {} records, {} runs, {} identities; \
             peak RSS {}",
            ms(took),
            ms(cpu),
            set.records(),
            set.runs.len(),
            set.identity_count(),
            peak_rss()
        );
    }
    Ok(())
}

fn fill(store: &SqliteStore, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Rng(0x5bee_d000_1234_5678);
    let per_pipeline = runs.div_ceil(PIPELINES);
    let end = Timestamp::now();
    let mut batch_runs = Vec::new();
    let mut batch_beats = Vec::new();
    let mut key = 0u64;
    for p in 0..PIPELINES {
        let pipeline_id = format!("00000000-0000-4000-8000-0000000000{p:02}");
        let first = end - SignedDuration::from_secs(60 * (per_pipeline as i64 + 1));
        let step_at = per_pipeline / 2;
        for i in 0..per_pipeline {
            let started_at = first + SignedDuration::from_secs(60 * i as i64);
            let secs = started_at.as_second().unsigned_abs();
            let mut id =
                *Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, 0)).as_bytes();
            id[8..].copy_from_slice(&rng.next().to_be_bytes());
            id[8] = (id[8] & 0x3f) | 0x80;
            let run_id = Uuid::from_bytes(id);
            let label = format!("build-{}-{p}", started_at.strftime("%Y%m%d-%H%M%S"));
            let commit = format!("{:040x}", (p as u64) << 32 | (i as u64 / 3));
            let mut failed = false;
            for (b, &(name, hit_pct, fail_pm, base)) in BEATS.iter().enumerate() {
                let hit = i > 0 && rng.below(100) < hit_pct;
                let noise = 950 + rng.below(100);
                let mut duration_ms = base * noise / 1000;
                if hit {
                    duration_ms /= 10;
                } else if name == "compile-slow" && i >= step_at {
                    duration_ms = duration_ms * 6 / 5;
                }
                let status = if !hit && rng.below(1000) < fail_pm {
                    BeatStatus::Failure
                } else {
                    BeatStatus::Success
                };
                failed |= status.is_failure();
                let identity = if hit_pct > 0 {
                    if !hit {
                        key += 1;
                    }
                    format!("inputs:{:064x}", key)
                } else {
                    format!("commit:{commit}")
                };
                batch_beats.push(record(
                    run_id,
                    b,
                    name,
                    started_at,
                    status,
                    duration_ms,
                    hit,
                    identity,
                    &label,
                ));
            }
            batch_runs.push(RunRecord {
                run_id,
                label,
                pipeline_id: pipeline_id.clone(),
                pipeline_name: format!("speed-{p:02}"),
                pipeline_file: "baton.yaml".into(),
                level: Level::Mf,
                git: Some(baton_model::GitInfo {
                    commit,
                    branch: None,
                    author: None,
                }),
                host: "bench".into(),
                ci: None,
                started_at,
                finished_at: Some(started_at + SignedDuration::from_secs(50)),
                heartbeat_at: started_at + SignedDuration::from_secs(50),
                status: if failed {
                    RunStatus::Failure
                } else {
                    RunStatus::Success
                },
                baton_version: "0.1.0".into(),
            });
            if batch_runs.len() == BATCH_RUNS {
                store.record_runs_bulk(&batch_runs)?;
                store.record_beats_bulk(&batch_beats)?;
                batch_runs.clear();
                batch_beats.clear();
            }
        }
    }
    if !batch_runs.is_empty() {
        store.record_runs_bulk(&batch_runs)?;
        store.record_beats_bulk(&batch_beats)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn record(
    run_id: Uuid,
    index: usize,
    name: &str,
    started_at: Timestamp,
    status: BeatStatus,
    duration_ms: u64,
    hit: bool,
    identity: String,
    label: &str,
) -> BeatRecord {
    let canonical = format!("m0:b{index}:{}", status.as_str());
    BeatRecord {
        run_id,
        movement_index: 0,
        movement: "main".into(),
        beat_index: index as u32,
        beat: name.into(),
        beat_type: BeatType::Build,
        level: Level::Mf,
        started_at,
        status,
        reason: None,
        exit_code: Some(i32::from(status.is_failure())),
        signal: None,
        attempts: 1,
        duration_ms,
        duration_bucket: "1-5m".into(),
        cpu_user_ms: duration_ms / 2,
        cpu_sys_ms: duration_ms / 10,
        peak_rss_bytes: 50_000_000,
        artifacts_count: 0,
        artifacts_bytes: 0,
        errors_count: u64::from(status.is_failure()),
        cache_state: if hit {
            CacheState::Hit
        } else {
            CacheState::Miss
        },
        tests: None,
        cost_usd: None,
        metrics: BTreeMap::new(),
        slo: SloTarget {
            duration: Duration::from_secs(600),
            errors: 0,
            cache_hit_rate: None,
            objective: None,
        },
        sla: SlaVerdict {
            overall_status: SlaStatus::Compliant,
            duration_status: SlaStatus::Compliant,
            duration_ratio: 0.5,
            duration_breach_percent: -50.0,
            errors_status: SlaStatus::Compliant,
            cache_status: SlaStatus::Compliant,
            cache_hit_rate: None,
        },
        shape: Shape {
            hash: format!("{:064x}", index),
            canonical,
            previous_hash: None,
            evolved: false,
        },
        log_path: Some(format!("logs/{label}/main/{name}.log")),
        rollback: None,
        attempt_log: Vec::new(),
        input_identity: Some(identity),
        restored: hit,
        restored_from: None,
    }
}
