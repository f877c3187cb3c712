//! The speed history: N runs of 10 beats (100,000 runs, 1,000,000 beat records in
//! the full benchmark) written as JSON Lines straight to disk, run by run, so the
//! generator's memory does not grow with N.

use std::io::Write;

use anyhow::{Context, Result};
use baton_model::BeatType;
use jiff::{SignedDuration, Timestamp};

use super::generate::Outcome;
use super::history::{
    Event, Fields, Written, beat_record, pipeline_id, push_beat, run_id, run_line, run_record,
};
use super::rng::Rng;

/// Runs of the full benchmark's speed history (x 10 beats = 1M records).
pub(super) const FULL_RUNS: usize = 100_000;
/// Runs in quick mode.
pub(super) const QUICK_RUNS: usize = 2_000;
pub(super) const PIPELINES: usize = 10;
pub(super) const BEATS: usize = 10;
/// Seconds between two runs of one pipeline (10,000 runs: about a week).
const GAP_S: i64 = 60;

/// One beat's behaviour over the history.
#[derive(Debug, Clone)]
struct BeatModel {
    name: String,
    beat_type: BeatType,
    base_ms: f64,
    sigma: f64,
    /// Cache hit probability (0 for beats that are not cached).
    hit_prob: f64,
    /// Per-run failure probability and executed runs per key (uncached beats).
    fail_prob: f64,
    repeats: usize,
    /// From this run on the misses are 20% slower.
    step_at: Option<usize>,
    key: u64,
    uses: usize,
}

/// The ten beats of every pipeline: lint, compile (cached, half hits), a compile that
/// gets 20% slower half-way, codegen (cached, 90% hits), four test beats (one 5%
/// flaky, one 1%), package, deploy.
fn models(rng: &mut Rng, runs: usize, pipeline: u64) -> Vec<BeatModel> {
    let spec: [(&str, BeatType, f64, f64, usize, bool); BEATS] = [
        ("lint", BeatType::Validation, 0.0, 0.0, 3, false),
        ("compile", BeatType::Build, 0.5, 0.0, 1, false),
        ("compile-slow", BeatType::Build, 0.5, 0.0, 1, true),
        ("codegen", BeatType::Generation, 0.9, 0.0, 1, false),
        ("test-unit", BeatType::Test, 0.0, 0.05, 3, false),
        ("test-integration", BeatType::Test, 0.0, 0.01, 2, false),
        ("test-e2e", BeatType::Test, 0.0, 0.0, 2, true),
        ("test-doc", BeatType::Test, 0.0, 0.0, 4, false),
        ("package", BeatType::Build, 0.5, 0.0, 1, false),
        ("deploy", BeatType::Deploy, 0.0, 0.0, 1, false),
    ];
    spec.iter()
        .enumerate()
        .map(
            |(i, &(name, beat_type, hit_prob, fail_prob, repeats, step))| BeatModel {
                name: name.to_owned(),
                beat_type,
                base_ms: rng.range(2_000f64.ln(), 300_000f64.ln()).exp(),
                sigma: [0.03, 0.05, 0.08][i % 3],
                hit_prob,
                fail_prob,
                repeats,
                step_at: step.then(|| rng.int(runs / 4, 3 * runs / 4)),
                key: (pipeline << 40) | ((i as u64) << 32),
                uses: 0,
            },
        )
        .collect()
}

/// Writes `runs` runs over [`PIPELINES`] pipelines (one after the other, runs a
/// minute apart, ending before `end`).
pub(super) fn write(
    out: &mut impl Write,
    seed: u64,
    runs: usize,
    end: Timestamp,
) -> Result<Written> {
    let mut written = Written::default();
    let per_pipeline = runs.div_ceil(PIPELINES);
    for p in 0..PIPELINES {
        let count = per_pipeline.min(runs - written.runs.min(runs));
        if count == 0 {
            break;
        }
        let mut rng = Rng::derive(seed, 0x5BEE_D000_0000 + p as u64);
        let id = pipeline_id(&mut rng);
        let name = format!("speed-{p:02}");
        let mut beats = models(&mut rng, count, p as u64);
        let first = end - SignedDuration::from_secs(GAP_S * (count as i64 + 1));
        for run in 0..count {
            let started_at = first + SignedDuration::from_secs(GAP_S * run as i64);
            let run_id = run_id(started_at, &mut rng);
            let mut values = String::with_capacity(BEATS * 1100);
            let (mut longest, mut failed) = (0, false);
            for (index, beat) in beats.iter_mut().enumerate() {
                let event = next_event(beat, run, &mut rng);
                longest = longest.max(event.duration_ms);
                failed |= event.outcome != Outcome::Passed;
                let record = beat_record(
                    run_id,
                    index as u32,
                    &beat.name,
                    beat.beat_type,
                    started_at,
                    &event,
                    Fields::Full,
                );
                if index > 0 {
                    values.push(',');
                }
                push_beat(&mut values, &record, Fields::Full)?;
            }
            let record = run_record(run_id, &id, &name, started_at, longest, failed);
            let line = run_line(&record, &values, Fields::Full)?;
            out.write_all(line.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .context("failed to write the speed history")?;
            written.add(&line, BEATS);
        }
    }
    Ok(written)
}

fn next_event(beat: &mut BeatModel, run: usize, rng: &mut Rng) -> Event {
    let hit = run > 0 && rng.chance(beat.hit_prob);
    if !hit && (beat.hit_prob > 0.0 || beat.uses >= beat.repeats) {
        beat.key += 1;
        beat.uses = 0;
    }
    beat.uses += 1;
    let mut ms = beat.base_ms * rng.lognormal(beat.sigma);
    if hit {
        ms *= 0.1;
    } else if beat.step_at.is_some_and(|at| run >= at) {
        ms *= 1.2;
    }
    let outcome = if !hit && rng.chance(beat.fail_prob) {
        Outcome::Failed
    } else {
        Outcome::Passed
    };
    Event {
        duration_ms: ms.round() as u64,
        outcome,
        hit,
        key: beat.key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_asked_runs_of_ten_beats() {
        let end: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let mut out = Vec::new();
        let written = write(&mut out, 1, 95, end).unwrap();
        assert_eq!((written.runs, written.beats), (95, 950));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 95);
        let mut pipelines = std::collections::BTreeSet::new();
        let mut hits = 0;
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            pipelines.insert(v["run"]["pipeline_id"].as_str().unwrap().to_owned());
            let beats = v["beats"].as_array().unwrap();
            assert_eq!(beats.len(), BEATS);
            hits += beats.iter().filter(|b| b["restored"] == true).count();
        }
        assert_eq!(pipelines.len(), PIPELINES);
        assert!(hits > 100, "{hits}");
        let mut again = Vec::new();
        write(&mut again, 1, 95, end).unwrap();
        assert_eq!(String::from_utf8(again).unwrap(), text);
    }
}
