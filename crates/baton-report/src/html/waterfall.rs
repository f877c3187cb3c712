//! The waterfall: every beat on a time axis from its `started_at` and duration, one
//! row per beat in start order (beats that ran in parallel sit side by side in
//! time), the critical path marked, retries, rollbacks and cache restores drawn
//! apart. [`layout`] is the geometry (pure, tested); [`render`] draws it as SVG.

use std::fmt::Write as _;

use baton_model::{BeatRecord, BeatStatus};
use jiff::Timestamp;

use super::escape::Esc;
use crate::format;

/// One beat on the time axis, in milliseconds since the run's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Skipped beats have a row but no bar and are never on the critical path.
    pub ran: bool,
}

/// Where each beat goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Indices into the beats, in row order (by start, then plan order).
    pub rows: Vec<usize>,
    /// The intervals, by beat index.
    pub intervals: Vec<Interval>,
    /// The rollbacks, by beat index: (start, end) since the origin.
    pub rollbacks: Vec<Option<(u64, u64)>>,
    /// The critical path, first beat first (indices into the beats).
    pub critical: Vec<usize>,
    /// The end of the axis: the last end of a beat, a rollback or the run.
    pub span_ms: u64,
}

fn since(origin: Timestamp, t: Timestamp) -> u64 {
    let ms = t.as_millisecond() - origin.as_millisecond();
    u64::try_from(ms).unwrap_or(0)
}

/// The geometry of a run's waterfall. The origin is the run's start (or its first
/// beat's, when that is earlier).
pub fn layout(run_start: Timestamp, run_end: Option<Timestamp>, beats: &[BeatRecord]) -> Layout {
    let origin = beats
        .iter()
        .map(|b| b.started_at)
        .chain([run_start])
        .min()
        .unwrap_or(run_start);
    let intervals: Vec<Interval> = beats
        .iter()
        .map(|b| {
            let start_ms = since(origin, b.started_at);
            Interval {
                start_ms,
                end_ms: start_ms.saturating_add(b.duration_ms),
                ran: b.status != BeatStatus::Skipped,
            }
        })
        .collect();
    let rollbacks: Vec<Option<(u64, u64)>> = beats
        .iter()
        .map(|b| {
            b.rollback.as_ref().map(|r| {
                let s = since(origin, r.started_at);
                (s, s.saturating_add(r.duration_ms))
            })
        })
        .collect();
    let span_ms = intervals
        .iter()
        .map(|i| i.end_ms)
        .chain(rollbacks.iter().flatten().map(|r| r.1))
        .chain(run_end.map(|e| since(origin, e)))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut rows: Vec<usize> = (0..beats.len()).collect();
    rows.sort_by_key(|&i| (intervals[i].start_ms, i));
    let critical = critical_path(&intervals, tolerance(span_ms));
    Layout {
        rows,
        intervals,
        rollbacks,
        critical,
        span_ms,
    }
}

/// How far apart an end and the next start may be and still count as one waiting
/// on the other (the runner's own scheduling time between beats).
pub fn tolerance(span_ms: u64) -> u64 {
    (span_ms / 200).max(50)
}

/// The chain of beats that leaves no slack: from the beat that ended last, back
/// through the beat that ended latest before each one started (within
/// `tolerance_ms` of its start), until none did. First beat first.
pub fn critical_path(intervals: &[Interval], tolerance_ms: u64) -> Vec<usize> {
    let last = intervals
        .iter()
        .enumerate()
        .filter(|(_, i)| i.ran)
        // The latest end; among equal ends, the longest (earliest start).
        .max_by_key(|&(idx, i)| {
            (
                i.end_ms,
                std::cmp::Reverse(i.start_ms),
                std::cmp::Reverse(idx),
            )
        });
    let Some((mut current, _)) = last else {
        return Vec::new();
    };
    let mut path = vec![current];
    loop {
        let start = intervals[current].start_ms;
        let before = intervals
            .iter()
            .enumerate()
            .filter(|&(idx, i)| {
                i.ran
                    && !path.contains(&idx)
                    && i.start_ms < start.max(1)
                    && i.end_ms <= start.saturating_add(tolerance_ms)
                    && start.saturating_sub(i.end_ms) <= tolerance_ms
            })
            .max_by_key(|&(idx, i)| {
                (
                    i.end_ms,
                    std::cmp::Reverse(i.start_ms),
                    std::cmp::Reverse(idx),
                )
            });
        match before {
            Some((idx, _)) => {
                path.push(idx);
                current = idx;
            }
            None => break,
        }
    }
    path.reverse();
    path
}

/// Drawing constants (SVG user units; the SVG scales to the page width).
/// The most characters of a beat name the label column shows (a longer name ends
/// in `…`; the bar's tooltip has it whole).
const LABEL_CHARS: usize = 25;

/// `name` cut to [`LABEL_CHARS`] characters.
fn fit_label(name: &str) -> String {
    if name.chars().count() <= LABEL_CHARS {
        return name.to_owned();
    }
    let mut cut: String = name.chars().take(LABEL_CHARS - 1).collect();
    cut.push('…');
    cut
}

const WIDTH: f64 = 960.0;
const LABEL: f64 = 210.0;
const RIGHT: f64 = 70.0;
const ROW: f64 = 20.0;
const AXIS: f64 = 22.0;

fn x(ms: u64, span: u64) -> f64 {
    LABEL + (ms as f64 / span as f64) * (WIDTH - LABEL - RIGHT)
}

/// A step for the axis ticks: 1, 2 or 5 times a power of ten, at most 8 ticks.
pub fn tick_step(span_ms: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let s = step.saturating_mul(m);
            if span_ms / s <= 8 {
                return s;
            }
        }
        step = step.saturating_mul(10);
    }
}

fn status_class(b: &BeatRecord) -> &'static str {
    match b.status {
        BeatStatus::Success => "ok",
        BeatStatus::Failure => "fail",
        BeatStatus::Timeout => "timeout",
        BeatStatus::Cancelled => "cancel",
        BeatStatus::Skipped => "skip",
    }
}

/// The waterfall of `beats` as an inline SVG, with a legend and the critical path
/// in words.
pub fn render(out: &mut String, beats: &[BeatRecord], layout: &Layout) {
    let span = layout.span_ms;
    let height = AXIS + ROW * layout.rows.len() as f64 + 6.0;
    let _ = write!(
        out,
        "<svg class=\"waterfall\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"waterfall of the run's beats\">\
         <defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" class=\"hatch-bg\"/>\
         <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" class=\"hatch-line\"/></pattern></defs>"
    );
    // Axis.
    let step = tick_step(span);
    let mut t = 0;
    while t <= span {
        let tx = x(t, span);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{tx:.1}\" y1=\"{AXIS}\" x2=\"{tx:.1}\" y2=\"{height}\"/>\
             <text class=\"tick\" x=\"{tx:.1}\" y=\"14\">{}</text>",
            format::duration_ms(t)
        );
        t += step;
    }
    for (row, &i) in layout.rows.iter().enumerate() {
        let b = &beats[i];
        let iv = layout.intervals[i];
        let y = AXIS + ROW * row as f64;
        let on_path = layout.critical.contains(&i);
        let mut classes = vec!["bar", status_class(b)];
        if b.restored {
            classes.push("restored");
        }
        if b.attempts > 1 {
            classes.push("retried");
        }
        if on_path {
            classes.push("crit");
        }
        let name_class = if on_path { "name crit-name" } else { "name" };
        let _ = write!(
            out,
            "<g class=\"row\"><text class=\"{name_class}\" x=\"{:.1}\" y=\"{:.1}\">{}{}</text>",
            LABEL - 6.0,
            y + 14.0,
            if on_path { "◆ " } else { "" },
            Esc(&fit_label(&b.beat))
        );
        if iv.ran {
            let x0 = x(iv.start_ms, span);
            let w = (x(iv.end_ms, span) - x0).max(1.5);
            let mut title = format!(
                "{} ({}): {} at +{}, {}",
                b.beat,
                b.movement,
                format::duration_ms(b.duration_ms),
                format::duration_ms(iv.start_ms),
                format::status_with_attempts(b)
            );
            if b.restored {
                title.push_str(", restored from the cache");
            }
            if on_path {
                title.push_str(", on the critical path");
            }
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\">\
                 <title>{}</title></rect>",
                classes.join(" "),
                y + 3.0,
                ROW - 6.0,
                Esc(&title)
            );
            let mut note = format::duration_ms(b.duration_ms);
            if b.attempts > 1 {
                let _ = write!(note, " ×{}", b.attempts);
            }
            if b.restored {
                note.push_str(" cached");
            }
            let _ = write!(
                out,
                "<text class=\"dur\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x0 + w + 4.0,
                y + 14.0,
                Esc(&note)
            );
        } else {
            let _ = write!(
                out,
                "<text class=\"dur\" x=\"{:.1}\" y=\"{:.1}\">skipped</text>",
                x(iv.start_ms, span),
                y + 14.0
            );
        }
        if let (Some((rs, re)), Some(r)) = (layout.rollbacks[i], &b.rollback) {
            let x0 = x(rs, span);
            let w = (x(re, span) - x0).max(1.5);
            let _ = write!(
                out,
                "<rect class=\"bar rollback\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\">\
                 <title>rollback of {}: {}</title></rect>",
                y + 5.0,
                ROW - 10.0,
                Esc(&b.beat),
                Esc(&format::rollback(r))
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out.push_str(
        "<p class=\"legend\"><span class=\"key ok\"></span>succeeded \
         <span class=\"key fail\"></span>failed or timed out \
         <span class=\"key restored\"></span>restored from the cache \
         <span class=\"key rollback\"></span>rollback \
         <span class=\"key crit\"></span>critical path (◆) · ×N: attempts</p>",
    );
    if !layout.critical.is_empty() {
        let names: Vec<String> = layout
            .critical
            .iter()
            .map(|&i| super::escape::escape(&beats[i].beat))
            .collect();
        let busy: u64 = layout.critical.iter().map(|&i| beats[i].duration_ms).sum();
        let _ = write!(
            out,
            "<p class=\"critical\">Critical path ({} of {} on the axis): {}</p>",
            format::duration_ms(busy),
            format::duration_ms(span),
            names.join(" → ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(start_ms: u64, end_ms: u64) -> Interval {
        Interval {
            start_ms,
            end_ms,
            ran: true,
        }
    }

    #[test]
    fn a_chain_with_a_parallel_branch() {
        // a ─┬─ b (long) ─┬─ d
        //    └─ c (short) ┘
        let intervals = [iv(0, 100), iv(105, 500), iv(104, 200), iv(510, 600)];
        assert_eq!(critical_path(&intervals, 50), [0, 1, 3]);
    }

    #[test]
    fn the_path_stops_at_slack() {
        // b starts long after a ended: something else held it, a is not on the path.
        let intervals = [iv(0, 100), iv(1_000, 1_200)];
        assert_eq!(critical_path(&intervals, 50), [1]);
        // Within the tolerance it is.
        assert_eq!(critical_path(&intervals, 1_000), [0, 1]);
    }

    #[test]
    fn skipped_beats_are_never_on_it() {
        let mut intervals = [iv(0, 100), iv(100, 100), iv(100, 300)];
        intervals[1].ran = false;
        assert_eq!(critical_path(&intervals, 10), [0, 2]);
        assert_eq!(critical_path(&[], 10), Vec::<usize>::new());
    }

    #[test]
    fn fully_parallel_beats_put_the_longest_on_the_path() {
        let intervals = [iv(0, 300), iv(0, 900), iv(0, 500)];
        assert_eq!(critical_path(&intervals, 50), [1]);
    }

    #[test]
    fn rows_follow_start_times_and_the_axis_covers_rollbacks() {
        use baton_model::RollbackRecord;
        let t0: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let at = |ms: i64| {
            t0.checked_add(jiff::SignedDuration::from_millis(ms))
                .unwrap()
        };
        let beat = |name: &str, start: i64, ms: u64| BeatRecord {
            beat: name.into(),
            started_at: at(start),
            duration_ms: ms,
            status: BeatStatus::Success,
            ..crate::html::tests::record()
        };
        let mut beats = vec![
            beat("first", 0, 100),
            beat("late", 400, 100),
            beat("parallel-a", 110, 250),
            beat("parallel-b", 110, 280),
        ];
        beats[0].rollback = Some(RollbackRecord {
            started_at: at(600),
            status: BeatStatus::Success,
            exit_code: Some(0),
            duration_ms: 50,
            reason: None,
        });
        let l = layout(t0, Some(at(520)), &beats);
        assert_eq!(l.rows, [0, 2, 3, 1]);
        assert_eq!(l.intervals[2], iv(110, 360));
        assert_eq!(l.intervals[3], iv(110, 390));
        assert_eq!(l.rollbacks[0], Some((600, 650)));
        assert_eq!(l.span_ms, 650);
        assert_eq!(l.critical, [0, 3, 1]);
        // A beat that started before the run (clock skew) moves the origin.
        let l = layout(at(50), None, &beats);
        assert_eq!(l.intervals[0].start_ms, 0);
    }

    #[test]
    fn ticks() {
        assert_eq!(tick_step(0), 1);
        assert_eq!(tick_step(8), 1);
        assert_eq!(tick_step(9), 2);
        assert_eq!(tick_step(650), 100);
        assert_eq!(tick_step(14_000), 2_000);
        assert_eq!(tick_step(3_600_000), 500_000);
    }

    #[test]
    fn long_names_are_cut_to_fit_the_label_column() {
        assert_eq!(fit_label("compile"), "compile");
        let long = "generate-comprehensive-build-report";
        let cut = fit_label(long);
        assert_eq!(cut.chars().count(), LABEL_CHARS);
        assert!(cut.ends_with('…') && long.starts_with(cut.trim_end_matches('…')));
        assert_eq!(fit_label(&"é".repeat(40)).chars().count(), LABEL_CHARS);
    }
}
