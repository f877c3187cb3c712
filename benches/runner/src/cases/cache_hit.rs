//! `cache-hit-34`: a fully cached rerun. A fixture of 10,000 input files totalling
//! 100 MB (1,000 files, 10 MB in quick mode) in 34 folders `src/p00..p33`, and a
//! pipeline of 34 cacheable beats in the build symphony's 6 movements, beat N with
//! `inputs: ["src/pNN/**"]` and `outputs: ["out/pNN.txt"]`. One `baton run` primes the
//! cache (all misses, measured once); then the rerun that hits every beat alternates
//! with the same pipeline run with `--no-cache` (every beat runs, its inputs hashed
//! again and its outputs stored again). Afterwards one more rerun, not timed, is
//! checked with `baton show --format json`: every beat must be a hit, or the case
//! fails.

use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::require_run;
use crate::fixtures::{self, pipeline_yaml_with, symphony_layout};
use crate::measure::measure;
use crate::suite::{Case, CaseResult, Ctx, Side, SideResult, Target, Unit, run_alternating};

const BEATS: usize = 34;
/// Issue #5: 10,000 input files totalling 100 MB.
const FULL_FILES: usize = 10_000;
const FULL_BYTES: usize = 100_000_000;
/// Quick mode: a tenth of the files, a tenth of the bytes.
const QUICK_FILES: usize = 1_000;
const QUICK_BYTES: usize = 10_000_000;
/// Issue #5: the fully cached rerun finishes in <= 150 ms wall.
const TARGET_MS: f64 = 150.0;

const HITS: &str = "baton run (all hits)";
const NO_CACHE: &str = "baton run --no-cache";

#[derive(Debug)]
pub(super) struct CacheHit;

impl Case for CacheHit {
    fn name(&self) -> &'static str {
        "cache-hit-34"
    }

    fn about(&self) -> &'static str {
        "step cache: fully cached rerun of 34 beats over 10,000 input files (100 MB) vs \
         the same pipeline with `--no-cache`"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[CaseResult]) -> Result<CaseResult> {
        require_run(ctx)?;
        if !ctx.help_mentions(&["run"], "--no-cache") {
            bail!("`baton run --no-cache` does not exist in this build");
        }
        let (files, bytes) = if ctx.plan.quick {
            (QUICK_FILES, QUICK_BYTES)
        } else {
            (FULL_FILES, FULL_BYTES)
        };
        let dir = tempfile::Builder::new()
            .prefix("baton-bench-cache-hit-")
            .tempdir()?;
        let d = dir.path();
        eprintln!(
            "  cache-hit-34: writing {files} files, {} MB",
            bytes / 1_000_000
        );
        write_inputs(d, files, bytes)?;
        let yaml = pipeline_yaml_with(
            "bench-cache-34",
            None,
            &symphony_layout(|i| {
                format!("mkdir -p out && ls src/p{i:02} | wc -l > out/p{i:02}.txt")
            }),
            |i| {
                vec![
                    ("inputs", format!("[\"src/p{i:02}/**\"]")),
                    ("outputs", format!("[\"out/p{i:02}.txt\"]")),
                    ("cache", "true".to_owned()),
                ]
            },
        );
        fixtures::write(&d.join("baton.yaml"), &yaml)?;
        let result = CaseResult::new(self.name(), self.about());

        // Inputs a little older than the stat cache's racy margin, as sources are.
        std::thread::sleep(Duration::from_millis(200));
        let run = ctx
            .baton(d)
            .args(["run", "baton.yaml", "--output", "quiet"]);
        eprintln!("  cache-hit-34: priming (every beat a miss)");
        let prime = run.clone().timeout(Duration::from_secs(300));
        let primed = measure(&prime)?;
        let prime_side = SideResult::new(
            "baton run (prime, all misses)",
            prime.to_string(),
            vec![primed.sample],
        )?;

        let sides = vec![
            Side::new(HITS, run.clone()),
            Side::new(NO_CACHE, run.clone().arg("--no-cache")),
        ];
        let measured = run_alternating(self.name(), &sides, ctx.plan)?;
        let mut result = result.with_sides(measured);
        result.sides.push(prime_side);

        // Not timed: one more rerun (after a `--no-cache` run, as every measured one
        // was), then its record must show a hit for every beat.
        measure(&run)?;
        let show = ctx
            .baton(d)
            .args(["show", "--format", "json"])
            .capture_stdout();
        let shown = measure(&show)?;
        match check_all_hits(&shown.stdout) {
            Ok(n) => result.note(format!(
                "verified after the rounds: a rerun recorded {n} of {BEATS} beats as \
                 cache hits (`baton show --format json`)"
            )),
            Err(err) => result.error = Some(format!("the cached rerun was not all hits: {err:#}")),
        }

        let hits = result.side(HITS).map(|s| s.wall_ms.median);
        let no_cache = result.side(NO_CACHE).map(|s| s.wall_ms.median);
        if let (Some(h), Some(n)) = (hits, no_cache) {
            result.metric("--no-cache / all hits (wall, medians)", n / h, Unit::Ratio);
            result.metric(
                "saved per beat by the cache (wall, medians)",
                (n - h) / BEATS as f64,
                Unit::Ms,
            );
        }
        result.metric("input files", files as f64, Unit::Count);
        result.metric("input bytes", bytes as f64, Unit::Bytes);
        let target = Target::at_most(
            format!("fully cached rerun, {files} files (median wall)"),
            hits,
            TARGET_MS,
            Unit::Ms,
        );
        result.targets.push(if ctx.plan.quick {
            target.not_applicable(format!(
                "quick mode: {files} files, {} MB; the target is for 10,000 files, 100 MB",
                bytes / 1_000_000
            ))
        } else {
            target
        });
        Ok(result)
    }
}

/// `files` files of `bytes / files` pseudo-random bytes each (xorshift, a different
/// seed per file: no two alike, nothing that compresses or dedups specially), file i
/// in `src/p<i mod 34>/f<i>.dat`.
fn write_inputs(root: &Path, files: usize, bytes: usize) -> Result<()> {
    for p in 0..BEATS {
        let dir = root.join(format!("src/p{p:02}"));
        fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let size = bytes / files;
    let mut buf = vec![0u8; size.div_ceil(8) * 8];
    for i in 0..files {
        let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        for chunk in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        let path = root.join(format!("src/p{:02}/f{i:05}.dat", i % BEATS));
        fs::write(&path, &buf[..size])
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(())
}

/// Checks `baton show --format json`: 34 beats, every `cache_state` `hit`; returns
/// the number of hits.
fn check_all_hits(json: &str) -> Result<usize> {
    let v: serde_json::Value =
        serde_json::from_str(json).context("`baton show --format json` is not JSON")?;
    let beats = v
        .get("beats")
        .and_then(|b| b.as_array())
        .context("no `beats` array in `baton show --format json`")?;
    let not_hits: Vec<String> = beats
        .iter()
        .filter(|b| b.get("cache_state").and_then(|s| s.as_str()) != Some("hit"))
        .map(|b| {
            format!(
                "{}: {}",
                b.get("beat").and_then(|s| s.as_str()).unwrap_or("?"),
                b.get("cache_state")
                    .map_or("none".to_owned(), |s| s.to_string())
            )
        })
        .collect();
    if beats.len() != BEATS {
        bail!("{} beats recorded, expected {BEATS}", beats.len());
    }
    if !not_hits.is_empty() {
        bail!("not hits: {}", not_hits.join(", "));
    }
    Ok(beats.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(states: &[&str]) -> String {
        let beats: Vec<_> = states
            .iter()
            .enumerate()
            .map(|(i, s)| serde_json::json!({"beat": format!("b-{i}"), "cache_state": s}))
            .collect();
        serde_json::json!({ "beats": beats }).to_string()
    }

    #[test]
    fn all_hits_pass_and_a_miss_fails() {
        assert_eq!(check_all_hits(&show(&["hit"; BEATS])).unwrap(), BEATS);
        let mut states = vec!["hit"; BEATS];
        states[3] = "miss";
        let err = check_all_hits(&show(&states)).unwrap_err().to_string();
        assert!(err.contains("b-3: \"miss\""), "{err}");
        assert!(check_all_hits(&show(&["hit"; 2])).is_err());
    }

    #[test]
    fn inputs_split_over_34_folders() {
        let dir = tempfile::tempdir().unwrap();
        write_inputs(dir.path(), 100, 100_000).unwrap();
        let count = |p: &str| fs::read_dir(dir.path().join(p)).unwrap().count();
        assert_eq!(count("src/p00"), 3);
        assert_eq!(count("src/p33"), 2);
        let a = fs::read(dir.path().join("src/p00/f00000.dat")).unwrap();
        let b = fs::read(dir.path().join("src/p01/f00001.dat")).unwrap();
        assert_eq!(a.len(), 1000);
        assert_ne!(a, b);
    }
}
