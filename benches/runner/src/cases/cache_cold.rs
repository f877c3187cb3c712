//! `cache-cold-hash`: cold hashing throughput of the step cache. The cache's own
//! `cache_bench` example (built with cargo, then its binary run once and measured like
//! a side) writes 10,000 files of pseudo-random bytes totalling 100 MiB (1,000 files,
//! 10 MiB in quick mode), computes a key over all of them with no stat cache R times
//! (5; 1 in quick mode) and prints the best and median throughput; the median is the
//! figure judged. Its warm-key and in-process fully cached rerun times are reported
//! beside it (the floor under `cache-hit-34`'s CLI figure).

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::measure::{CmdSpec, measure};
use crate::suite::{Case, CaseResult, Ctx, SideResult, Target, Unit};
use crate::tools::release_example;

/// Issue #5: a cold hash of the 10,000 files runs at >= 500 MB/s.
const TARGET_MB_S: f64 = 500.0;

#[derive(Debug)]
pub(super) struct CacheCold;

impl Case for CacheCold {
    fn name(&self) -> &'static str {
        "cache-cold-hash"
    }

    fn about(&self) -> &'static str {
        "step cache: cold hashing throughput over 10,000 files, 100 MiB (baton-cache's \
         cache_bench example, median of 5)"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[CaseResult]) -> Result<CaseResult> {
        let bin = release_example(&ctx.root, &ctx.target_dir, "baton-cache", "cache_bench")?;
        let (files, mib, repeat) = if ctx.plan.quick {
            ("1000", "10", "1")
        } else {
            ("10000", "100", "5")
        };
        let dir = tempfile::Builder::new()
            .prefix("baton-bench-cache-cold-")
            .tempdir()?;
        let spec = CmdSpec::new(&bin, dir.path())
            .args(["--files", files, "--mb", mib, "--repeat", repeat, "--dir"])
            .arg(dir.path())
            .capture_stdout()
            .timeout(Duration::from_secs(300));
        eprintln!("  cache-cold-hash: cache_bench, {files} files, {mib} MiB, {repeat} rounds");
        let outcome = measure(&spec)?;
        let report = BenchReport::parse(&outcome.stdout)
            .with_context(|| format!("unexpected cache_bench output:\n{}", outcome.stdout))?;
        let mut result = CaseResult::new(self.name(), self.about());
        result.sides.push(SideResult::new(
            &format!("cache_bench {files} files, {mib} MiB"),
            spec.to_string(),
            vec![outcome.sample],
        )?);
        result.metric("cold key, median", report.cold_median_ms, Unit::Ms);
        result.metric(
            "cold hash throughput, best",
            report.cold_best_mb_s,
            Unit::MbPerSecond,
        );
        result.metric(
            "cold hash throughput, median",
            report.cold_median_mb_s,
            Unit::MbPerSecond,
        );
        for (what, ms) in &report.others {
            result.metric(format!("in-process {what}, median"), *ms, Unit::Ms);
        }
        result.note(format!("cache_bench: {}", report.cold_line));
        result.note(
            "cache_bench counts MB as MiB (1,048,576 bytes); its files vary from 0.1 to 2 \
             times the mean size and were just written (in the page cache)",
        );
        let target = Target::at_least(
            format!("cold hash throughput, {files} files (median of {repeat})"),
            Some(report.cold_median_mb_s),
            TARGET_MB_S,
            Unit::MbPerSecond,
        );
        result.targets.push(if ctx.plan.quick {
            target.not_applicable(format!(
                "quick mode: {files} files, {mib} MiB, one round; the target is for 10,000 \
                 files, 100 MB"
            ))
        } else {
            target
        });
        Ok(result)
    }
}

/// What cache_bench prints, the figures this case reports.
#[derive(Debug, PartialEq)]
struct BenchReport {
    cold_line: String,
    cold_median_ms: f64,
    cold_best_mb_s: f64,
    cold_median_mb_s: f64,
    /// (what, median ms) of the warm-key and fully-cached-rerun lines.
    others: Vec<(String, f64)>,
}

impl BenchReport {
    /// Parses lines such as
    /// `cold key (files in the page cache): 10000 files, 100.0 MB hashed in 150.1 ms
    /// best, 160.2 ms median = 666 MB/s best, 624 MB/s median`,
    /// `warm key, 10000 files unchanged: 5.1 ms best, 5.3 ms median (same process);
    /// 20.0 ms best, 21.0 ms median (new handle, ...); files hashed again: 0` and
    /// `fully cached rerun of 34 beats (34 hits), 1 at a time, cache opened anew:
    /// 30.0 ms best, 31.0 ms median; files hashed: 0`.
    fn parse(stdout: &str) -> Result<Self> {
        let mut cold = None;
        let mut others = Vec::new();
        for line in stdout.lines() {
            if line.starts_with("cold key") {
                let ms = number_before(line, " ms median").context("no cold key median")?;
                let best = number_before(line, " MB/s best").context("no MB/s best")?;
                let median = number_before(line, " MB/s median").context("no MB/s median")?;
                cold = Some((line.to_owned(), ms, best, median));
            } else if line.starts_with("warm key") {
                for (part, what) in line
                    .split("; ")
                    .zip(["warm key (same process)", "warm key (new handle)"])
                {
                    if let Some(ms) = number_before(part, " ms median") {
                        others.push((what.to_owned(), ms));
                    }
                }
            } else if line.starts_with("fully cached rerun")
                && let (Some((what, _)), Some(ms)) = (
                    line.split_once(", cache"),
                    number_before(line, " ms median"),
                )
            {
                others.push((what.to_owned(), ms));
            }
        }
        let Some((cold_line, cold_median_ms, cold_best_mb_s, cold_median_mb_s)) = cold else {
            bail!("no `cold key` line");
        };
        Ok(Self {
            cold_line,
            cold_median_ms,
            cold_best_mb_s,
            cold_median_mb_s,
            others,
        })
    }
}

/// The number just before the first `suffix` in `s`.
fn number_before(s: &str, suffix: &str) -> Option<f64> {
    let (head, _) = s.split_once(suffix)?;
    head.rsplit(|c: char| c.is_whitespace() || c == '=')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "workload: 10000 files, 100 MB, in 34 package directories (written in 900 ms) under /tmp/x\n\
        cores: 2\n\
        cold key (files in the page cache): 10000 files, 100.0 MB hashed in 150.1 ms best, 160.2 ms median = 666 MB/s best, 624 MB/s median\n\
        warm key, 10000 files unchanged: 5.1 ms best, 5.3 ms median (same process); 20.0 ms best, 21.0 ms median (new handle, stat cache read from index.db); files hashed again: 0\n\
        fully cached rerun of 34 beats (34 hits), 1 at a time, cache opened anew: 30.0 ms best, 31.0 ms median; files hashed: 0\n\
        fully cached rerun of 34 beats (34 hits), 2 at a time, cache opened anew: 25.0 ms best, 26.5 ms median; files hashed: 0\n";

    #[test]
    fn parses_cache_bench_output() {
        let r = BenchReport::parse(OUT).unwrap();
        assert_eq!(
            (r.cold_median_ms, r.cold_best_mb_s, r.cold_median_mb_s),
            (160.2, 666.0, 624.0)
        );
        assert_eq!(
            r.others,
            vec![
                ("warm key (same process)".to_owned(), 5.3),
                ("warm key (new handle)".to_owned(), 21.0),
                (
                    "fully cached rerun of 34 beats (34 hits), 1 at a time".to_owned(),
                    31.0
                ),
                (
                    "fully cached rerun of 34 beats (34 hits), 2 at a time".to_owned(),
                    26.5
                ),
            ]
        );
    }

    #[test]
    fn output_without_a_cold_line_is_an_error() {
        assert!(BenchReport::parse("cores: 2\n").is_err());
    }
}
