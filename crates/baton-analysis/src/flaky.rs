//! Flaky and broken beats.
//!
//! A beat is **flaky** when, with the same input identity (the cache key of its
//! inputs, or the commit of a clean tree), it both passed and failed: nothing it
//! was given changed, yet the outcome did. A run in which it passed only on a
//! rerun (a retry of the beat, or tests its JUnit report says failed and then
//! passed) is the same evidence inside one run. A key that failed three or more times
//! in a row and never passed is **broken**: a real breakage, not noise. Timeouts
//! count as failures; cancellations, skips and cache restores say nothing and are
//! left out, and so are runs the caller marks as an outage (every beat of the
//! run failed: the machine or the network, not the beat). A flaky beat **clears**
//! after five passes in a row; the caller moves the window (14 days by default).

use std::collections::HashMap;

use serde::Serialize;

use crate::proportion::Proportion;

/// Failures in a row, with no pass, that make a key broken.
pub const BROKEN_STREAK: usize = 3;
/// Passes in a row that clear a flaky beat.
pub const CLEAR_STREAK: usize = 5;
/// Fewest executed runs before a beat is called anything.
pub const MIN_RUNS: usize = 3;

/// One executed run of a beat, as flaky detection sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt<'a> {
    pub run_id: &'a str,
    /// The input identity; `None` when the beat has none (no `inputs`, dirty tree).
    pub key: Option<&'a str>,
    pub passed: bool,
    /// It passed only after failing in the same run (a retry, or tests rerun):
    /// a pass, and flaky evidence.
    pub rerun: bool,
    /// The run failed as a whole (an outage): left out of the evidence.
    pub outage: bool,
}

/// What a beat is, over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Flaky,
    Broken,
    Healthy,
    /// Fewer than [`MIN_RUNS`] executed runs.
    InsufficientData,
}

/// Runs of one input identity that passed and failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyEvidence {
    pub key: String,
    pub passed: Vec<String>,
    pub failed: Vec<String>,
}

/// The verdict and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlakyReport {
    pub verdict: Verdict,
    /// Executed runs considered (outages excluded).
    pub runs: usize,
    pub outages: usize,
    /// Failures among `runs`, with a 95% Wilson interval.
    pub failure_rate: Proportion,
    /// Share of consecutive runs whose outcome differs from the one before.
    pub flip_rate: f64,
    /// Keys that both passed and failed, most recent first.
    pub flaky_keys: Vec<KeyEvidence>,
    /// The key that is broken, with its failed runs, when the verdict is broken.
    pub broken_key: Option<KeyEvidence>,
    /// Runs in which it passed only on a rerun, oldest first.
    pub reruns: Vec<String>,
    /// A flaky beat whose last [`CLEAR_STREAK`] runs passed.
    pub cleared: bool,
}

/// Judges one beat from its executed runs, oldest first.
pub fn classify(attempts: &[Attempt<'_>]) -> FlakyReport {
    let outages = attempts.iter().filter(|a| a.outage).count();
    let considered: Vec<&Attempt<'_>> = attempts.iter().filter(|a| !a.outage).collect();
    let runs = considered.len();
    let failures = considered.iter().filter(|a| !a.passed).count();
    let flips = considered
        .windows(2)
        .filter(|w| w[0].passed != w[1].passed)
        .count();
    let flip_rate = if runs > 1 {
        flips as f64 / (runs - 1) as f64
    } else {
        0.0
    };

    // Per key: the positions of its passes and failures, its last position and
    // its longest failing streak. Run ids are copied only for the keys reported
    // (a window can hold a million attempts).
    #[derive(Default)]
    struct Seen {
        passed: Vec<usize>,
        failed: Vec<usize>,
        last: usize,
        streak: usize,
        longest: usize,
    }
    let mut by_key: HashMap<&str, Seen> = HashMap::new();
    for (position, attempt) in considered.iter().enumerate() {
        let Some(key) = attempt.key else { continue };
        let seen = by_key.entry(key).or_default();
        seen.last = position;
        if attempt.passed {
            seen.passed.push(position);
            seen.streak = 0;
        } else {
            seen.failed.push(position);
            seen.streak += 1;
            seen.longest = seen.longest.max(seen.streak);
        }
    }
    let evidence = |key: &str, seen: &Seen| KeyEvidence {
        key: key.to_owned(),
        passed: seen
            .passed
            .iter()
            .map(|&i| considered[i].run_id.to_owned())
            .collect(),
        failed: seen
            .failed
            .iter()
            .map(|&i| considered[i].run_id.to_owned())
            .collect(),
    };
    let mut keys: Vec<(&str, Seen)> = by_key.into_iter().collect();
    keys.sort_by_key(|(_, seen)| std::cmp::Reverse(seen.last));

    let trailing_passes = considered
        .iter()
        .rev()
        .take_while(|a| a.passed && !a.rerun)
        .count();
    let reruns: Vec<String> = considered
        .iter()
        .filter(|a| a.passed && a.rerun)
        .map(|a| a.run_id.to_owned())
        .collect();
    let latest_key = considered.last().and_then(|a| a.key);
    let broken_key = keys
        .iter()
        .find(|(key, seen)| {
            Some(*key) == latest_key && seen.passed.is_empty() && seen.longest >= BROKEN_STREAK
        })
        .map(|(key, seen)| evidence(key, seen));
    let flaky_keys: Vec<KeyEvidence> = keys
        .iter()
        .filter(|(_, seen)| !seen.passed.is_empty() && !seen.failed.is_empty())
        .map(|(key, seen)| evidence(key, seen))
        .collect();
    let evidence_found = !flaky_keys.is_empty() || !reruns.is_empty();
    let cleared = evidence_found && trailing_passes >= CLEAR_STREAK;

    let verdict = if runs < MIN_RUNS {
        Verdict::InsufficientData
    } else if broken_key.is_some() {
        Verdict::Broken
    } else if evidence_found && !cleared {
        Verdict::Flaky
    } else {
        Verdict::Healthy
    };
    FlakyReport {
        verdict,
        runs,
        outages,
        failure_rate: Proportion::wilson(failures, runs, 0.95),
        flip_rate,
        flaky_keys,
        broken_key,
        reruns,
        cleared,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attempts from a compact script: `"a+ a- b+"` is key a passed, key a
    /// failed, key b passed; `"?"` for no key, `!` for an outage failure, `~` for
    /// a pass on a rerun.
    fn script(text: &str) -> Vec<(String, Option<String>, char)> {
        text.split_whitespace()
            .enumerate()
            .map(|(i, word)| {
                let (key, mark) = word.split_at(word.len() - 1);
                let key = (key != "?").then(|| key.to_owned());
                (format!("r{i}"), key, mark.chars().next().unwrap_or('-'))
            })
            .collect()
    }

    fn judge(text: &str) -> FlakyReport {
        let owned = script(text);
        let attempts: Vec<Attempt<'_>> = owned
            .iter()
            .map(|(run, key, mark)| Attempt {
                run_id: run,
                key: key.as_deref(),
                passed: matches!(mark, '+' | '~'),
                rerun: *mark == '~',
                outage: *mark == '!',
            })
            .collect();
        classify(&attempts)
    }

    #[test]
    fn same_inputs_both_ways_is_flaky() {
        let report = judge("a+ a+ a- a+ b+");
        assert_eq!(report.verdict, Verdict::Flaky);
        assert_eq!(report.flaky_keys.len(), 1);
        assert_eq!(report.flaky_keys[0].failed, ["r2"]);
        assert_eq!(report.flaky_keys[0].passed, ["r0", "r1", "r3"]);
        assert_eq!(report.runs, 5);
        assert!((report.flip_rate - 0.5).abs() < 1e-12);
    }

    #[test]
    fn failing_after_an_input_change_is_not_flaky() {
        // Key b failed once and was fixed by key c: a change, not noise.
        assert_eq!(judge("a+ a+ b- c+ c+").verdict, Verdict::Healthy);
    }

    #[test]
    fn three_failures_in_a_row_with_no_pass_is_broken() {
        let report = judge("a+ a+ b- b- b-");
        assert_eq!(report.verdict, Verdict::Broken);
        assert_eq!(report.broken_key.expect("broken").failed.len(), 3);
        // Two are not yet a breakage.
        assert_eq!(judge("a+ a+ b- b-").verdict, Verdict::Healthy);
    }

    #[test]
    fn a_fixed_breakage_is_history() {
        assert_eq!(judge("a+ b- b- b- c+").verdict, Verdict::Healthy);
    }

    #[test]
    fn five_passes_clear_a_flaky_beat() {
        let report = judge("a- a+ a+ a+ a+ a+");
        assert_eq!(report.verdict, Verdict::Healthy);
        assert!(report.cleared);
        assert_eq!(judge("a- a+ a+ a+ a+").verdict, Verdict::Flaky);
    }

    #[test]
    fn outages_and_unknown_inputs_are_no_evidence() {
        let report = judge("a+ a! a+ ?- ?+");
        assert_eq!(report.verdict, Verdict::Healthy);
        assert_eq!((report.runs, report.outages), (4, 1));
        assert_eq!(report.failure_rate.count, 1);
    }

    #[test]
    fn too_few_runs_say_nothing() {
        assert_eq!(judge("").verdict, Verdict::InsufficientData);
        assert_eq!(judge("a- a+").verdict, Verdict::InsufficientData);
        let report = judge("");
        assert_eq!(report.flip_rate, 0.0);
        assert!(report.failure_rate.rate.is_finite());
    }

    #[test]
    fn a_pass_on_a_rerun_is_flaky_evidence_until_five_clean_passes() {
        let report = judge("a+ a+ a~ a+");
        assert_eq!(report.verdict, Verdict::Flaky);
        assert_eq!(report.reruns, ["r2"]);
        assert_eq!(report.failure_rate.count, 0, "a rerun pass is a pass");
        assert!(report.flaky_keys.is_empty());

        let cleared = judge("a~ a+ a+ a+ a+ a+");
        assert!(cleared.cleared);
        assert_eq!(cleared.verdict, Verdict::Healthy);
        // Rerun passes do not count towards clearing.
        assert_eq!(judge("a~ a+ a+ a~ a+ a+ a+").verdict, Verdict::Flaky);
        // Too few runs say nothing, rerun or not.
        assert_eq!(judge("a~ a+").verdict, Verdict::InsufficientData);
        // In an outage it is left out like any other run.
        assert!(judge("a+ a+ a+ ?!").reruns.is_empty());
    }
}
