//! Fill a history store with synthetic runs of a 34-beat pipeline, then time the
//! reads the CLI makes. Used to check the store's performance targets:
//!
//! ```text
//! cargo run --release -p baton-store --example fill_store -- /tmp/bench/history.db 30000
//! cargo run --release -p baton-store --example fill_store -- /tmp/bench/history.db 0   # reads only
//! cargo run --release -p baton-store --example fill_store -- /tmp/x.db 1000 --no-queries
//! ```
//!
//! Prints the insert time of the runs and of the beats (via `record_beats_bulk`, in
//! batches of 1,000 runs: wall clock, CPU of the calling thread, CPU of the whole
//! process, which includes the store's encoding thread), the time of each query
//! (first call, then again), and the peak RSS. Set `FILL_STORE_VERBOSE=1` for the
//! time of each batch.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use baton_model::{
    BeatRecord, BeatStatus, BeatType, CacheState, Level, RunRecord, RunStatus, SlaThresholds,
    SloTarget, TestCounts,
};
use baton_store::{HistoryStore, RunFilter, RunSelector, SqliteStore};
use baton_telemetry::{ShapeInput, duration_bucket, evaluate_sla, shape_of};
use jiff::Timestamp;
use uuid::Uuid;

use common::{Rng, ms, peak_rss, process_cpu, thread_cpu};

const PIPELINE: &str = "6f1c2d3e-0000-4000-8000-00000000b470";
/// Movements and how many beats each holds: 34 in all.
const MOVEMENTS: [(&str, BeatType, usize); 7] = [
    ("validation", BeatType::Validation, 5),
    ("generation", BeatType::Generation, 5),
    ("build", BeatType::Build, 6),
    ("test", BeatType::Test, 6),
    ("verification", BeatType::Verification, 4),
    ("deploy", BeatType::Deploy, 4),
    ("observation", BeatType::Observation, 4),
];
const BATCH_RUNS: usize = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: fill_store PATH RUNS")?;
    let runs: usize = args.next().ok_or("usage: fill_store PATH RUNS")?.parse()?;
    let queries = args.next().as_deref() != Some("--no-queries");

    let started = Instant::now();
    let store = SqliteStore::open(&path)?;
    println!("open: {:.1} ms", ms(started.elapsed()));
    if runs > 0 {
        fill(&store, runs)?;
        drop(store);
    }
    if !queries {
        return Ok(());
    }
    let store = SqliteStore::open(&path)?;
    query(&store)?;
    println!("peak RSS: {}", peak_rss());
    Ok(())
}

fn fill(store: &SqliteStore, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let beat_names: Vec<(usize, &str, BeatType, usize, String)> = MOVEMENTS
        .iter()
        .enumerate()
        .flat_map(|(m, (movement, ty, n))| {
            (0..*n).map(move |b| (m, *movement, *ty, b, format!("{movement}-step-{b}")))
        })
        .collect();
    let mut previous: Vec<Option<String>> = vec![None; beat_names.len()];
    let base = Timestamp::from_second(1_767_225_600)?; // 2026-01-01
    let (mut run_time, mut beat_time, mut beat_count) = (Duration::ZERO, Duration::ZERO, 0usize);
    let (mut beat_cpu, mut beat_process_cpu) = (Duration::ZERO, Duration::ZERO);
    let mut done = 0;
    while done < runs {
        let n = BATCH_RUNS.min(runs - done);
        let mut run_batch = Vec::with_capacity(n);
        let mut beat_batch = Vec::with_capacity(n * beat_names.len());
        for i in done..done + n {
            let start = base.checked_add(jiff::SignedDuration::from_secs(600 * i as i64))?;
            let uuid_ts =
                uuid::Timestamp::from_unix(uuid::NoContext, start.as_second().unsigned_abs(), 0);
            let run_id = Uuid::new_v7(uuid_ts);
            let label = format!("build-{}", start.strftime("%Y%m%d-%H%M%S"));
            let mut offset = 0i64;
            let mut failed = false;
            for (k, (m, movement, ty, b, name)) in beat_names.iter().enumerate() {
                // Each beat has a steady profile with some noise, an occasional slow
                // run, failure or cache miss: shapes evolve now and then, as in CI.
                let base = 300 + (k as u64 * 7_919) % 25_000;
                let slow = if rng.below(50) == 0 { 3 } else { 1 };
                let duration_ms = (base * 9 / 10 + rng.below(base / 5 + 1)) * slow;
                let status = if rng.below(70) == 0 {
                    BeatStatus::Failure
                } else {
                    BeatStatus::Success
                };
                failed |= status.is_failure();
                let cache_state = match (k % 3, rng.below(10)) {
                    (0, 0) => CacheState::Miss,
                    (0, _) => CacheState::Hit,
                    _ => CacheState::Skip,
                };
                let artifacts_count = (k % 4) as u64;
                let peak_rss_bytes = 20_000_000 + (k as u64 * 3_000_000) + rng.below(2_000_000);
                let errors_count = u64::from(status.is_failure());
                let shape = shape_of(&ShapeInput {
                    movement_index: *m as u32,
                    beat_index: *b as u32,
                    duration_ms,
                    status,
                    artifacts_count,
                    errors_count,
                    peak_rss_bytes,
                    cache_state,
                    previous_hash: previous[k].as_deref(),
                });
                previous[k] = Some(shape.hash.clone());
                let slo: SloTarget = ty.default_slo();
                let sla = evaluate_sla(
                    status == BeatStatus::Success,
                    duration_ms,
                    errors_count,
                    &slo,
                    &SlaThresholds::default(),
                    &[cache_state],
                );
                beat_batch.push(BeatRecord {
                    run_id,
                    movement_index: *m as u32,
                    movement: (*movement).to_owned(),
                    beat_index: *b as u32,
                    beat: name.clone(),
                    beat_type: *ty,
                    level: Level::Mf,
                    started_at: start.checked_add(jiff::SignedDuration::from_millis(offset))?,
                    status,
                    reason: None,
                    exit_code: Some(i32::from(status.is_failure())),
                    signal: None,
                    attempts: 1,
                    duration_ms,
                    duration_bucket: duration_bucket(duration_ms).to_owned(),
                    cpu_user_ms: duration_ms / 2,
                    cpu_sys_ms: duration_ms / 10,
                    peak_rss_bytes,
                    artifacts_count,
                    artifacts_bytes: artifacts_count * 4096,
                    errors_count,
                    cache_state,
                    tests: (*ty == BeatType::Test).then_some(TestCounts {
                        total: 120,
                        failures: errors_count,
                        errors: 0,
                        skipped: 2,
                    }),
                    cost_usd: None,
                    metrics: BTreeMap::new(),
                    slo,
                    sla,
                    shape,
                    log_path: Some(format!("logs/{label}/{movement}/{name}.log")),
                    rollback: None,
                    attempt_log: Vec::new(),
                    input_identity: None,
                    restored: false,
                    restored_from: None,
                });
                offset += duration_ms as i64;
            }
            let end = start.checked_add(jiff::SignedDuration::from_millis(offset))?;
            run_batch.push(RunRecord {
                run_id,
                label,
                pipeline_id: PIPELINE.to_owned(),
                pipeline_name: "build-pipeline-symphony".to_owned(),
                pipeline_file: "baton.yaml".to_owned(),
                level: Level::Mf,
                git: None,
                host: "bench".to_owned(),
                ci: None,
                started_at: start,
                finished_at: Some(end),
                heartbeat_at: end,
                status: if failed {
                    RunStatus::Failure
                } else {
                    RunStatus::Success
                },
                baton_version: env!("CARGO_PKG_VERSION").to_owned(),
            });
        }
        let t = Instant::now();
        store.record_runs_bulk(&run_batch)?;
        run_time += t.elapsed();
        let (t, cpu, process) = (Instant::now(), thread_cpu(), process_cpu());
        store.record_beats_bulk(&beat_batch)?;
        beat_time += t.elapsed();
        beat_cpu += thread_cpu().saturating_sub(cpu);
        beat_process_cpu += process_cpu().saturating_sub(process);
        if std::env::var_os("FILL_STORE_VERBOSE").is_some() {
            eprintln!("batch at run {done}: {:.0} ms", ms(t.elapsed()));
        }
        beat_count += beat_batch.len();
        done += n;
    }
    println!(
        "insert {runs} runs (record_runs_bulk): {:.0} ms",
        ms(run_time)
    );
    println!(
        "insert {beat_count} beats (record_beats_bulk): {:.0} ms wall, {:.0} ms CPU \
         ({:.0} ms of it on the calling thread, {:.0} beats/s)",
        ms(beat_time),
        ms(beat_process_cpu),
        ms(beat_cpu),
        beat_count as f64 / beat_time.as_secs_f64()
    );
    Ok(())
}

fn query(store: &SqliteStore) -> Result<(), Box<dyn std::error::Error>> {
    let beat = "build-step-3";
    let time = |what: &str, f: &mut dyn FnMut() -> Result<usize, baton_store::StoreError>| {
        let t = Instant::now();
        let n = f()?;
        let first = t.elapsed();
        let t = Instant::now();
        f()?;
        println!(
            "{what}: {:.1} ms, again {:.1} ms ({n} rows)",
            ms(first),
            ms(t.elapsed())
        );
        Ok::<(), baton_store::StoreError>(())
    };
    let limit50 = RunFilter {
        limit: Some(50),
        ..RunFilter::default()
    };
    time("list_runs limit 50", &mut || {
        Ok(store.list_runs(&limit50)?.len())
    })?;
    let filtered = RunFilter {
        pipeline: Some(PIPELINE.to_owned()),
        beat: Some(beat.to_owned()),
        status: Some(RunStatus::Failure),
        limit: Some(50),
        ..RunFilter::default()
    };
    time("list_runs pipeline+beat+status limit 50", &mut || {
        Ok(store.list_runs(&filtered)?.len())
    })?;
    time("load_run latest", &mut || {
        Ok(store
            .load_run(&RunSelector::Latest)?
            .map_or(0, |(_, beats)| beats.len()))
    })?;
    time("beat_runs (any pipeline) 50", &mut || {
        Ok(store.beat_runs(None, beat, 50)?.len())
    })?;
    time("beat_runs (pipeline) 50", &mut || {
        Ok(store.beat_runs(Some(PIPELINE), beat, 50)?.len())
    })?;
    let names: Vec<String> = MOVEMENTS
        .iter()
        .flat_map(|(movement, _, n)| (0..*n).map(move |b| format!("{movement}-step-{b}")))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    time("beat_history_hints 34 beats", &mut || {
        Ok(store.beat_history_hints(PIPELINE, &names)?.len())
    })?;
    time("pipelines", &mut || Ok(store.pipelines()?.len()))?;
    println!("peak RSS after the reads above: {}", peak_rss());
    time("shape_evolutions (all, export)", &mut || {
        Ok(store.shape_evolutions(Some(PIPELINE))?.len())
    })?;
    Ok(())
}
