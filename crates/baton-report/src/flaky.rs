//! `baton flaky`: flaky and broken beats with their evidence, as JSON
//! (`format_version` 1) and as text (flaky and broken beats, then a count of the
//! others).

use std::fmt::Write as _;

use baton_analysis::flaky::Verdict;
use baton_analysis::proportion::Proportion;
use serde::Serialize;

use crate::format;

/// What `baton flaky --format json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlakyDoc {
    pub format_version: u32,
    pub window_days: u64,
    pub beats: Vec<FlakyBeat>,
}

/// One beat's verdict over the window and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlakyBeat {
    pub pipeline_id: String,
    pub pipeline: String,
    pub beat: String,
    pub verdict: Verdict,
    /// Executed runs that passed or failed, outages left out.
    pub runs: usize,
    /// Runs left out because every beat of the run failed.
    pub outages: usize,
    /// Failures (timeouts included) among `runs`, with a 95% Wilson interval.
    pub failure_rate: Proportion,
    /// Share of consecutive runs whose outcome differs.
    pub flip_rate: f64,
    /// Flaky once, but its last five runs passed.
    pub cleared: bool,
    /// How many input identities both passed and failed.
    pub flaky_key_count: usize,
    /// The most recent of them (at most ten), most recent first.
    pub flaky_keys: Vec<KeyEvidence>,
    /// The identity failing every time, when broken.
    pub broken_key: Option<KeyEvidence>,
    /// How many runs it passed only on a rerun (a retry, or tests that failed
    /// and then passed).
    pub rerun_count: usize,
    /// The most recent of them (at most ten), oldest first.
    pub reruns: Vec<RunName>,
}

/// Runs of one input identity, by outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyEvidence {
    pub key: String,
    pub passed: Vec<RunName>,
    pub failed: Vec<RunName>,
}

/// A run named in evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunName {
    pub run_id: String,
    pub label: String,
}

/// Runs named in a line of text before "and N more".
const RUNS_SHOWN: usize = 3;

/// The text of `baton flaky`.
pub fn render_flaky(doc: &FlakyDoc) -> String {
    let mut out = String::new();
    let pipelines = {
        let mut ids: Vec<&str> = doc.beats.iter().map(|b| b.pipeline_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let name = |b: &FlakyBeat| {
        if pipelines > 1 {
            format!("{} / {}", b.pipeline, b.beat)
        } else {
            b.beat.clone()
        }
    };
    let mut shown: Vec<&FlakyBeat> = doc
        .beats
        .iter()
        .filter(|b| matches!(b.verdict, Verdict::Broken | Verdict::Flaky))
        .collect();
    shown.sort_by(|a, b| {
        (a.verdict != Verdict::Broken)
            .cmp(&(b.verdict != Verdict::Broken))
            .then(b.failure_rate.rate.total_cmp(&a.failure_rate.rate))
    });
    for b in &shown {
        let rate = &b.failure_rate;
        let _ = writeln!(
            out,
            "{:<6}  {}: {} of {} runs failed ({}, {}–{}), outcome flipped in {} of runs",
            match b.verdict {
                Verdict::Broken => "broken",
                _ => "flaky",
            },
            name(b),
            rate.count,
            rate.total,
            percent(rate.rate),
            percent(rate.low),
            percent(rate.high),
            percent(b.flip_rate),
        );
        if let Some(key) = &b.broken_key {
            let _ = writeln!(
                out,
                "        failing every time on {}: {}",
                short_key(&key.key),
                runs(&key.failed)
            );
        }
        for key in b.flaky_keys.iter().take(2) {
            let _ = writeln!(
                out,
                "        same inputs {}: failed in {}; passed in {}",
                short_key(&key.key),
                runs(&key.failed),
                runs(&key.passed)
            );
        }
        if b.rerun_count > 0 {
            let shown: Vec<&str> = b
                .reruns
                .iter()
                .rev()
                .take(RUNS_SHOWN)
                .map(|r| r.label.as_str())
                .collect();
            let _ = write!(
                out,
                "        passed only on a rerun in {} {}: {}",
                b.rerun_count,
                if b.rerun_count == 1 { "run" } else { "runs" },
                shown.join(", ")
            );
            if b.rerun_count > shown.len() {
                let _ = write!(out, " and {} earlier", b.rerun_count - shown.len());
            }
            out.push('\n');
        }
        if b.flaky_key_count > 2 {
            let more = b.flaky_key_count - 2;
            let noun = if more == 1 { "identity" } else { "identities" };
            let _ = writeln!(out, "        and {more} more input {noun}");
        }
    }
    let count = |v: Verdict| doc.beats.iter().filter(|b| b.verdict == v).count();
    let healthy = count(Verdict::Healthy);
    let cleared = doc.beats.iter().filter(|b| b.cleared).count();
    let few = count(Verdict::InsufficientData);
    if !shown.is_empty() {
        out.push('\n');
    }
    let _ = write!(
        out,
        "{} flaky, {} broken, {} healthy",
        count(Verdict::Flaky),
        count(Verdict::Broken),
        healthy
    );
    if cleared > 0 {
        let _ = write!(out, " ({cleared} of them cleared after 5 passes in a row)");
    }
    if few > 0 {
        let _ = write!(
            out,
            ", {} with fewer than {} executed runs",
            few,
            baton_analysis::flaky::MIN_RUNS
        );
    }
    let _ = writeln!(out, " in the last {} days.", doc.window_days);
    out
}

/// `12%`, `4.6%` (one decimal under 10%).
fn percent(x: f64) -> String {
    if !x.is_finite() {
        "?".to_owned()
    } else if x < 0.0995 {
        format!("{:.1}%", x * 100.0)
    } else {
        format!("{:.0}%", x * 100.0)
    }
}

/// `inputs:0123456789ab`: an identity cut to its kind and 12 characters.
fn short_key(key: &str) -> String {
    match key.split_once(':') {
        Some((kind, rest)) => format!("{kind}:{}", format::short_hash(rest)),
        None => format::short_hash(key).to_owned(),
    }
}

/// The newest few run labels, then how many more.
fn runs(names: &[RunName]) -> String {
    let mut text: Vec<&str> = names
        .iter()
        .rev()
        .take(RUNS_SHOWN)
        .map(|r| r.label.as_str())
        .collect();
    text.reverse();
    let mut out = text.join(", ");
    if names.len() > RUNS_SHOWN {
        let _ = write!(out, " and {} more", names.len() - RUNS_SHOWN);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(label: &str) -> RunName {
        RunName {
            run_id: format!("id-{label}"),
            label: label.to_owned(),
        }
    }

    fn beat(name_: &str, verdict: Verdict, failures: usize) -> FlakyBeat {
        FlakyBeat {
            pipeline_id: "p".into(),
            pipeline: "ci".into(),
            beat: name_.into(),
            verdict,
            runs: 40,
            outages: 0,
            failure_rate: Proportion::wilson(failures, 40, 0.95),
            flip_rate: 0.1,
            cleared: false,
            flaky_key_count: usize::from(verdict == Verdict::Flaky),
            flaky_keys: if verdict == Verdict::Flaky {
                vec![KeyEvidence {
                    key: "inputs:0123456789abcdef0123".into(),
                    passed: vec![name("b1"), name("b2"), name("b3"), name("b4")],
                    failed: vec![name("b5")],
                }]
            } else {
                vec![]
            },
            broken_key: None,
            rerun_count: 0,
            reruns: Vec::new(),
        }
    }

    #[test]
    fn flaky_beats_are_listed_with_evidence_then_counted() {
        let doc = FlakyDoc {
            format_version: 1,
            window_days: 14,
            beats: vec![
                beat("lint", Verdict::Healthy, 0),
                beat("test", Verdict::Flaky, 3),
                beat("new", Verdict::InsufficientData, 0),
            ],
        };
        let text = render_flaky(&doc);
        assert!(
            text.starts_with("flaky   test: 3 of 40 runs failed (7.5%, 2.6%–20%)"),
            "{text}"
        );
        assert!(
            text.contains(
                "same inputs inputs:0123456789ab: failed in b5; passed in b2, b3, b4 and 1 more"
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                "1 flaky, 0 broken, 1 healthy, 1 with fewer than 3 executed runs in the last 14 days.\n"
            ),
            "{text}"
        );
    }
}
