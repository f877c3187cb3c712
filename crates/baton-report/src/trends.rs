//! `baton trends` and `baton slowest`: durations, rates and time lost per day or
//! week, per pipeline and per beat, and the beats that cost the most; as JSON
//! (`format_version` 1) and as text tables with a sparkline of the last 14 days.

use std::fmt::Write as _;

use baton_analysis::changepoint::Direction;
use baton_analysis::trends::{Bucket, Durations, Period};
use serde::Serialize;

use crate::format;
use crate::regressions::{RunRef, plus_minus, signed_share};

/// Days the sparklines cover.
pub const SPARKLINE_DAYS: usize = 14;

/// What `baton trends --format json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendsDoc {
    pub format_version: u32,
    pub period: Period,
    /// The window: runs that started in the last `days` days.
    pub days: u64,
    pub pipelines: Vec<PipelineTrend>,
}

/// A pipeline's runs per period, and its beats'.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineTrend {
    pub pipeline_id: String,
    pub pipeline: String,
    pub runs: usize,
    /// Per period: the runs' wall time (`executed`: runs that succeeded) and
    /// success rate; the cache hit rate, flaky rate and time lost over the records
    /// of all its beats.
    pub buckets: Vec<Bucket>,
    pub beats: Vec<BeatTrend>,
}

/// One beat's records per period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BeatTrend {
    pub beat: String,
    pub runs: usize,
    pub buckets: Vec<Bucket>,
    /// The whole window as one bucket.
    pub window: Bucket,
    /// Daily median of executed runs that passed, the last 14 days, oldest first
    /// (`null`: none that day), and as a chart.
    pub daily_p50_ms: Vec<Option<f64>>,
    pub sparkline: String,
    /// Change points of its executed runs in the window, oldest first.
    pub change_points: Vec<ChangeMark>,
}

/// A change point, where a trend shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeMark {
    /// The period (day or week) of its first run.
    pub period: String,
    pub direction: Direction,
    pub shift: f64,
    pub shift_low: f64,
    pub shift_high: f64,
    pub first_run: RunRef,
}

impl ChangeMark {
    /// `▲ +23% (±8%) since build-…`.
    pub fn summary(&self) -> String {
        let arrow = match self.direction {
            Direction::Slower => '▲',
            Direction::Faster => '▼',
        };
        format!(
            "{arrow} {} ({}) since {}",
            signed_share(self.shift),
            plus_minus(self.shift_low, self.shift_high),
            self.first_run.label
        )
    }
}

/// What `baton slowest --format json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowestDoc {
    pub format_version: u32,
    pub days: u64,
    /// Slowest median of executed runs first.
    pub by_p50: Vec<SlowBeat>,
    /// Most time spent in the window first (every run: executed, restored,
    /// failed).
    pub by_total: Vec<SlowBeat>,
}

/// One beat, as `slowest` ranks it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowBeat {
    pub pipeline_id: String,
    pub pipeline: String,
    pub beat: String,
    /// Records in the window.
    pub runs: usize,
    /// Executed runs that passed, and their durations.
    pub executed: Option<Durations>,
    pub total_ms: u64,
    pub daily_p50_ms: Vec<Option<f64>>,
    pub sparkline: String,
    /// The newest change point of its executed runs in the window.
    pub last_change: Option<ChangeMark>,
}

/// Lines of cells, each column as wide as its widest cell (left aligned, two
/// spaces apart, trailing spaces trimmed).
fn columns(rows: &[Vec<String>], indent: &str) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = indent.to_owned();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn rate(p: &baton_analysis::proportion::Proportion) -> String {
    if p.total == 0 || !p.rate.is_finite() {
        "-".to_owned()
    } else {
        format!("{:.0}%", p.rate * 100.0)
    }
}

/// `1.2s (n=12)`.
fn p50(d: Option<&Durations>) -> String {
    match d {
        Some(d) if d.p50_ms.is_finite() => {
            format!(
                "{} (n={})",
                format::duration_ms(d.p50_ms.round() as u64),
                d.n
            )
        }
        _ => "-".to_owned(),
    }
}

/// The p95 when there are enough runs for one, else the maximum, saying which.
fn p95_or_max(d: Option<&Durations>) -> String {
    match d {
        Some(d) => match d.p95_ms {
            Some(p95) if p95.is_finite() => format::duration_ms(p95.round() as u64),
            _ if d.max_ms.is_finite() => {
                format!("{} max", format::duration_ms(d.max_ms.round() as u64))
            }
            _ => "-".to_owned(),
        },
        None => "-".to_owned(),
    }
}

/// The text of `baton trends`: per pipeline a table of its periods, then one line
/// per beat over the whole window with its sparkline and change point.
pub fn render_trends(doc: &TrendsDoc) -> String {
    if doc.pipelines.is_empty() {
        return format!("No runs in the last {} days.\n", doc.days);
    }
    let period = match doc.period {
        Period::Day => "day",
        Period::IsoWeek => "week",
    };
    let mut out = String::new();
    for (i, p) in doc.pipelines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{}: {} in the last {} days, by {period}",
            p.pipeline,
            format::count(p.runs as u64, "run"),
            doc.days
        );
        let mut rows = vec![
            [
                "period",
                "runs",
                "p50 (runs that passed)",
                "p95",
                "success",
                "cache hits",
                "flaky",
                "lost",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for b in &p.buckets {
            rows.push(vec![
                b.period.clone(),
                b.runs.to_string(),
                p50(b.executed.as_ref()),
                p95_or_max(b.executed.as_ref()),
                rate(&b.success_rate),
                rate(&b.cache_hit_rate),
                rate(&b.flaky_rate),
                format::duration_ms(b.lost_ms),
            ]);
        }
        out.push_str(&columns(&rows, "  "));
        let mut rows = vec![
            [
                "beat",
                "runs",
                "p50 executed",
                "p95",
                "p50 restored",
                "success",
                "cache hits",
                "flaky",
                "lost",
                "last 14 days",
                "change",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for beat in &p.beats {
            let w = &beat.window;
            rows.push(vec![
                beat.beat.clone(),
                beat.runs.to_string(),
                p50(w.executed.as_ref()),
                p95_or_max(w.executed.as_ref()),
                p50(w.restored.as_ref()),
                rate(&w.success_rate),
                rate(&w.cache_hit_rate),
                rate(&w.flaky_rate),
                format::duration_ms(w.lost_ms),
                beat.sparkline.clone(),
                beat.change_points
                    .last()
                    .map(ChangeMark::summary)
                    .unwrap_or_default(),
            ]);
        }
        out.push('\n');
        out.push_str(&columns(&rows, "  "));
    }
    out
}

/// The text of `baton slowest`: two rankings.
pub fn render_slowest(doc: &SlowestDoc) -> String {
    if doc.by_p50.is_empty() && doc.by_total.is_empty() {
        return format!("No runs in the last {} days.\n", doc.days);
    }
    let pipelines = {
        let mut ids: Vec<&str> = doc
            .by_total
            .iter()
            .map(|b| b.pipeline_id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let name = |b: &SlowBeat| {
        if pipelines > 1 {
            format!("{} / {}", b.pipeline, b.beat)
        } else {
            b.beat.clone()
        }
    };
    let mut out = String::new();
    let table = |title: &str, beats: &[SlowBeat], out: &mut String| {
        let _ = writeln!(out, "{title} (last {} days)", doc.days);
        let mut rows = vec![
            [
                "beat",
                "p50 executed",
                "p95",
                "time spent",
                "runs",
                "last 14 days",
                "change",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for b in beats {
            rows.push(vec![
                name(b),
                p50(b.executed.as_ref()),
                p95_or_max(b.executed.as_ref()),
                format::duration_ms(b.total_ms),
                b.runs.to_string(),
                b.sparkline.clone(),
                b.last_change
                    .as_ref()
                    .map(ChangeMark::summary)
                    .unwrap_or_default(),
            ]);
        }
        out.push_str(&columns(&rows, "  "));
    };
    table("Slowest by median duration", &doc.by_p50, &mut out);
    out.push('\n');
    table("Most time spent", &doc.by_total, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_on_characters_not_bytes() {
        let rows = vec![
            vec!["a".to_owned(), "▁█".to_owned(), "x".to_owned()],
            vec!["long".to_owned(), "b".to_owned(), "".to_owned()],
        ];
        assert_eq!(columns(&rows, ""), "a     ▁█  x\nlong  b\n");
    }

    #[test]
    fn p95_falls_back_to_the_maximum_and_says_so() {
        let few = Durations::of(&[1000, 3000]);
        assert_eq!(p95_or_max(few.as_ref()), "3s max");
        assert_eq!(p50(few.as_ref()), "2s (n=2)");
        assert_eq!(p50(None), "-");
    }
}
