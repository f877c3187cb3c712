//! `baton regressions`: where each beat got slower or faster, as JSON (the
//! document below, `format_version` 1) and as text, one line per beat series with
//! the beats slower now first.

use std::fmt::Write as _;

use baton_analysis::changepoint::Direction;
use jiff::Timestamp;
use serde::Serialize;
use uuid::Uuid;

use crate::format;

/// The `format_version` of the signals documents (regressions, flaky, trends,
/// slowest).
pub const SIGNALS_FORMAT_VERSION: u32 = 1;

/// What `baton regressions --format json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionsDoc {
    pub format_version: u32,
    /// Most recent runs of a series the scan looks at.
    pub max_runs: usize,
    pub beats: Vec<RegressionBeat>,
}

/// Which runs of a beat one series holds: executed runs (a cache miss, or a beat
/// without cache) or runs restored from the cache. They are never mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    Miss,
    Hit,
}

/// Whether the scan said something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanResult {
    Analyzed,
    Insufficient,
}

/// One series of one beat and what the scan found in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionBeat {
    pub pipeline_id: String,
    pub pipeline: String,
    pub beat: String,
    pub cache_state: SeriesKind,
    /// Successful runs scanned (the newest `max_runs` of them).
    pub runs: usize,
    /// Successful runs of the series in the history.
    pub runs_recorded: usize,
    pub result: ScanResult,
    /// Runs the scan needs before it says anything.
    pub runs_needed: usize,
    /// Lone outliers left out of the scan.
    pub outliers: usize,
    /// The smallest relative shift the scan could detect at this series' noise
    /// (with `runs_needed` runs when insufficient); `null` under three runs.
    pub detectable_shift: Option<f64>,
    /// The newest change point is a slowdown: the beat is slower now.
    pub slower_now: bool,
    /// Oldest first.
    pub change_points: Vec<ChangePointDoc>,
}

/// One change point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangePointDoc {
    pub direction: Direction,
    /// Relative change of the durations (0.23: 23% slower), with its 95% interval.
    pub shift: f64,
    pub shift_low: f64,
    pub shift_high: f64,
    pub runs_before: usize,
    pub runs_after: usize,
    pub median_before_ms: f64,
    pub median_after_ms: f64,
    pub p_adjusted: f64,
    /// The first run after the change.
    pub first_run: RunRef,
    /// The last run before it.
    pub last_run_before: Option<RunRef>,
    /// `before..after` commits when both runs recorded one.
    pub commit_range: Option<String>,
}

/// A run as the signals documents name it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRef {
    pub run_id: Uuid,
    pub label: String,
    pub started_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

impl RegressionBeat {
    /// The newest change point, if any.
    pub fn newest(&self) -> Option<&ChangePointDoc> {
        self.change_points.last()
    }

    /// Sort rank for the text: slower now, then faster now, then steady, then too
    /// few runs.
    fn rank(&self) -> u8 {
        match (self.result, self.newest().map(|c| c.direction)) {
            (_, Some(Direction::Slower)) => 0,
            (_, Some(Direction::Faster)) => 1,
            (ScanResult::Analyzed, None) => 2,
            (ScanResult::Insufficient, None) => 3,
        }
    }
}

/// A relative change as a signed percentage: `+23%`, `-4.5%` (one decimal under 10%).
pub fn signed_share(x: f64) -> String {
    if !x.is_finite() {
        return "?".to_owned();
    }
    if x.abs() < 0.095 {
        format!("{:+.1}%", x * 100.0)
    } else {
        format!("{:+.0}%", x * 100.0)
    }
}

/// Half the width of an interval as `±8%`.
pub fn plus_minus(low: f64, high: f64) -> String {
    let half = (high - low).abs() / 2.0;
    if !half.is_finite() {
        return "±?".to_owned();
    }
    format!("±{}", share(half))
}

/// `compile +23% (±8%) since build-…`: a change point in a few words.
pub fn change_summary(beat: &str, c: &ChangePointDoc) -> String {
    format!(
        "{beat} {} ({}) since {}",
        signed_share(c.shift),
        plus_minus(c.shift_low, c.shift_high),
        c.first_run.label
    )
}

/// The text of `baton regressions`: one line per series, the beats slower now
/// first (largest shift first), then faster, steady, and those with too few runs;
/// then a count of each.
pub fn render_regressions(doc: &RegressionsDoc) -> String {
    if doc.beats.is_empty() {
        return "No beat has a successful run in the history yet.\n".to_owned();
    }
    let mut beats: Vec<&RegressionBeat> = doc.beats.iter().collect();
    beats.sort_by(|a, b| {
        a.rank().cmp(&b.rank()).then_with(|| {
            let shift = |x: &RegressionBeat| x.newest().map_or(0.0, |c| c.shift.abs());
            shift(b).total_cmp(&shift(a))
        })
    });
    let pipelines = {
        let mut ids: Vec<&str> = beats.iter().map(|b| b.pipeline_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let name = |b: &RegressionBeat| {
        let mut name = if pipelines > 1 {
            format!("{} / {}", b.pipeline, b.beat)
        } else {
            b.beat.clone()
        };
        if b.cache_state == SeriesKind::Hit {
            name.push_str(" [cache hits]");
        }
        name
    };
    let width = beats
        .iter()
        .map(|b| name(b).chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let mut counts = [0usize; 4];
    for b in &beats {
        counts[usize::from(b.rank())] += 1;
        let (word, detail) = match (b.result, b.newest()) {
            (_, Some(c)) => {
                let word = match c.direction {
                    Direction::Slower => "slower",
                    Direction::Faster => "faster",
                };
                let mut detail = format!(
                    "{} ({}) since {}",
                    signed_share(c.shift),
                    plus_minus(c.shift_low, c.shift_high),
                    c.first_run.label
                );
                if let Some(range) = &c.commit_range {
                    let _ = write!(detail, " ({range})");
                }
                let _ = write!(
                    detail,
                    ": median {} → {}, {} runs before, {} after",
                    format::duration_ms(c.median_before_ms.round() as u64),
                    format::duration_ms(c.median_after_ms.round() as u64),
                    c.runs_before,
                    c.runs_after
                );
                let earlier = b.change_points.len() - 1;
                if earlier > 0 {
                    let _ = write!(
                        detail,
                        "; {} before it",
                        format::count(earlier as u64, "change")
                    );
                }
                (word, detail)
            }
            (ScanResult::Analyzed, None) => (
                "steady",
                format!(
                    "no change{}",
                    b.detectable_shift
                        .map(|s| format!(" of {} or more", share(s)))
                        .unwrap_or_default()
                ),
            ),
            (ScanResult::Insufficient, None) => (
                "-",
                format!(
                    "insufficient data: {} needed{}",
                    b.runs_needed,
                    b.detectable_shift
                        .map(|s| format!(", then shifts of {} or more could be seen", share(s)))
                        .unwrap_or_default()
                ),
            ),
        };
        let runs = if b.runs_recorded > b.runs {
            format!("newest {} of {} runs", b.runs, b.runs_recorded)
        } else {
            format::count(b.runs as u64, "run")
        };
        let outliers = if b.outliers > 0 {
            format!(", {} left out", format::count(b.outliers as u64, "outlier"))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{word:<6}  {:<width$}  {detail} [{runs}{outliers}]",
            name(b)
        );
    }
    let _ = writeln!(
        out,
        "\n{} slower now, {} faster, {} steady, {} with too few runs.",
        counts[0], counts[1], counts[2], counts[3]
    );
    out
}

/// A share without sign: `7%`, `0.5%` (one decimal under 1%).
fn share(x: f64) -> String {
    let x = x.abs();
    if !x.is_finite() {
        "?".to_owned()
    } else if x < 0.0095 {
        format!("{:.1}%", x * 100.0)
    } else {
        format!("{:.0}%", x * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_ref(label: &str) -> RunRef {
        RunRef {
            run_id: Uuid::nil(),
            label: label.to_owned(),
            started_at: Timestamp::UNIX_EPOCH,
            commit: None,
        }
    }

    fn beat(name: &str, result: ScanResult, points: Vec<ChangePointDoc>) -> RegressionBeat {
        RegressionBeat {
            pipeline_id: "p".into(),
            pipeline: "ci".into(),
            beat: name.into(),
            cache_state: SeriesKind::Miss,
            runs: 26,
            runs_recorded: 26,
            result,
            runs_needed: 10,
            outliers: 0,
            detectable_shift: Some(0.07),
            slower_now: points
                .last()
                .is_some_and(|c| c.direction == Direction::Slower),
            change_points: points,
        }
    }

    fn point(direction: Direction, shift: f64) -> ChangePointDoc {
        ChangePointDoc {
            direction,
            shift,
            shift_low: shift - 0.08,
            shift_high: shift + 0.08,
            runs_before: 20,
            runs_after: 6,
            median_before_ms: 1000.0,
            median_after_ms: 1000.0 * (1.0 + shift),
            p_adjusted: 0.001,
            first_run: run_ref("build-20261201-120000"),
            last_run_before: None,
            commit_range: Some("0123abc..4567def".into()),
        }
    }

    #[test]
    fn slower_beats_come_first_with_their_evidence() {
        let doc = RegressionsDoc {
            format_version: 1,
            max_runs: 1000,
            beats: vec![
                beat("lint", ScanResult::Analyzed, vec![]),
                beat("new", ScanResult::Insufficient, vec![]),
                beat(
                    "compile",
                    ScanResult::Analyzed,
                    vec![point(Direction::Slower, 0.23)],
                ),
            ],
        };
        let text = render_regressions(&doc);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("slower  compile"), "{text}");
        assert!(
            lines[0].contains("+23% (±8%) since build-20261201-120000 (0123abc..4567def)"),
            "{text}"
        );
        assert!(lines[0].ends_with("[26 runs]"), "{text}");
        assert!(lines[1].starts_with("steady  lint "), "{text}");
        assert!(lines[2].contains("insufficient data: 10 needed"), "{text}");
        assert!(text.contains("1 slower now, 0 faster, 1 steady, 1 with too few runs."));
        assert_eq!(
            change_summary("compile", &point(Direction::Slower, 0.23)),
            "compile +23% (±8%) since build-20261201-120000"
        );
    }

    #[test]
    fn odd_numbers_never_print_nan() {
        assert_eq!(signed_share(f64::NAN), "?");
        assert_eq!(plus_minus(f64::NAN, 1.0), "±?");
        assert_eq!(plus_minus(0.1, 0.26), "±8%");
        assert_eq!(plus_minus(0.1, 0.11), "±0.5%");
        assert_eq!(signed_share(0.052), "+5.2%");
        assert_eq!(signed_share(-0.5), "-50%");
    }
}
