//! The fixed cost the store adds to a `baton run`: open, begin a run, record 34
//! beats one commit each, finish it, close; and what opening costs against the WAL
//! that the previous process left behind (the store does not checkpoint on close).
//!
//! ```text
//! cargo run --release -p baton-store --example open_close -- /tmp/open-close 200
//! ```
//!
//! Prints the median open, write and close times of N such cycles on a store that
//! already holds 1,000 runs, then the open time by the size of the WAL found (WAL
//! recovery reads all its valid frames) against an open with no WAL to recover.

use std::path::Path;
use std::time::{Duration, Instant};

use baton_model::{BeatStatus, CacheState, RunStatus};
use baton_store::test_records::{at, beat, run};
use baton_store::{HistoryStore, SqliteStore};
use jiff::{SignedDuration, Timestamp};

const BEATS: u32 = 34;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: open_close DIR [N]")?;
    let n: usize = args.next().map_or(Ok(200), |s| s.parse())?;
    let path = Path::new(&dir).join(".baton/history.db");
    if path.exists() {
        return Err(format!("{} exists: give a new directory", path.display()).into());
    }
    prefill(&path, 1_000)?;

    let (mut open, mut write, mut close, mut total) = (vec![], vec![], vec![], vec![]);
    let mut by_wal: Vec<(u64, Duration)> = Vec::new();
    for i in 0..n {
        let wal = wal_len(&path);
        let t0 = Instant::now();
        let store = SqliteStore::open(&path)?;
        let t1 = Instant::now();
        one_run(&store, i)?;
        let t2 = Instant::now();
        drop(store);
        let t3 = Instant::now();
        open.push(t1 - t0);
        write.push(t2 - t1);
        close.push(t3 - t2);
        total.push(t3 - t0);
        by_wal.push((wal, t1 - t0));
    }
    println!("{n} cycles of open + begin + {BEATS} beats + finish + close:");
    println!(
        "  open {:.3} ms, writes {:.3} ms, close {:.3} ms; cycle median {:.3} ms, mean {:.3} ms, p90 {:.3} ms",
        median(&open),
        median(&write),
        median(&close),
        median(&total),
        mean(&total),
        quantile(&total, 0.9)
    );

    // Opens with nothing to recover: the WAL checkpointed and truncated first.
    let mut empty = Vec::new();
    for _ in 0..50 {
        rusqlite::Connection::open(&path)?.query_row(
            "PRAGMA wal_checkpoint(TRUNCATE)",
            [],
            |_| Ok(()),
        )?;
        let t = Instant::now();
        let store = SqliteStore::open(&path)?;
        empty.push(t.elapsed());
        drop(store);
    }
    println!("open against the WAL left behind (recovery reads all its valid frames):");
    println!("  no WAL      {:.3} ms median (50 opens)", median(&empty));
    const MIB: u64 = 1 << 20;
    for lo in 0..4 {
        let opens: Vec<Duration> = by_wal
            .iter()
            .filter(|(wal, _)| *wal > lo * MIB && *wal <= (lo + 1) * MIB)
            .map(|(_, d)| *d)
            .collect();
        if !opens.is_empty() {
            println!(
                "  {lo}-{} MiB     {:.3} ms median ({} opens)",
                lo + 1,
                median(&opens),
                opens.len()
            );
        }
    }
    Ok(())
}

fn prefill(path: &Path, runs: i64) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open(path)?;
    let runs: Vec<_> = (0..runs)
        .map(|k| run("p", at(600 * k), RunStatus::Success))
        .collect();
    let beats: Vec<_> = runs
        .iter()
        .flat_map(|r| (0..BEATS).map(move |i| record(r, i)))
        .collect();
    store.record_runs_bulk(&runs)?;
    store.record_beats_bulk(&beats)?;
    Ok(())
}

fn one_run(store: &SqliteStore, i: usize) -> Result<(), Box<dyn std::error::Error>> {
    let started = Timestamp::now() + SignedDuration::from_micros(i as i64);
    let mut r = run("p", started, RunStatus::Running);
    store.begin_run(&r)?;
    for b in 0..BEATS {
        store.record_beat(&record(&r, b))?;
    }
    r.status = RunStatus::Success;
    r.finished_at = Some(Timestamp::now());
    store.finish_run(&r)?;
    Ok(())
}

fn record(r: &baton_model::RunRecord, i: u32) -> baton_model::BeatRecord {
    beat(
        r,
        i / 10,
        i % 10,
        &format!("beat-{i}"),
        BeatStatus::Success,
        5,
        CacheState::Hit,
    )
}

/// The bytes of the frames that WAL recovery will read: those after the WAL header
/// whose salts match it (the file itself can be longer, with stale frames after a
/// restart).
fn wal_len(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let Ok(bytes) = std::fs::read(wal) else {
        return 0;
    };
    let be32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(page), Some(salt1), Some(salt2)) = (be32(8), be32(16), be32(20)) else {
        return 0;
    };
    let frame = 24 + page as usize;
    let mut end = 32;
    while be32(end + 8) == Some(salt1)
        && be32(end + 12) == Some(salt2)
        && end + frame <= bytes.len()
    {
        end += frame;
    }
    (end - 32) as u64
}

fn ms(d: &Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn quantile(v: &[Duration], q: f64) -> f64 {
    let mut v: Vec<f64> = v.iter().map(ms).collect();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn median(v: &[Duration]) -> f64 {
    quantile(v, 0.5)
}

fn mean(v: &[Duration]) -> f64 {
    v.iter().map(ms).sum::<f64>() / v.len() as f64
}
