//! A beat's last durations against its SLO, as a small inline SVG.

use std::fmt::Write as _;

use crate::format;

/// How many of a beat's runs its chart shows.
pub const CHART_RUNS: usize = 20;

/// One run of a beat in its chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationPoint {
    pub duration_ms: u64,
    pub succeeded: bool,
    /// Restored from the cache (drawn hollow).
    pub restored: bool,
    /// The run the report is about.
    pub current: bool,
}

const W: f64 = 180.0;
const H: f64 = 44.0;
const PAD: f64 = 4.0;

/// The chart of `points` (oldest first, at most [`CHART_RUNS`] drawn: the newest)
/// against `slo_ms` (no line when 0). Empty when there is nothing to draw.
pub fn duration_chart(points: &[DurationPoint], slo_ms: u64) -> String {
    let points = &points[points.len().saturating_sub(CHART_RUNS)..];
    if points.is_empty() {
        return String::new();
    }
    let top = points
        .iter()
        .map(|p| p.duration_ms)
        .chain([slo_ms])
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.1;
    let y = |ms: u64| H - PAD - (ms as f64 / top) * (H - 2.0 * PAD);
    let step = (W - 2.0 * PAD) / (CHART_RUNS - 1) as f64;
    let x = |i: usize| PAD + step * (i + CHART_RUNS - points.len()) as f64;
    let over = points
        .iter()
        .filter(|p| slo_ms > 0 && p.duration_ms > slo_ms)
        .count();
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"spark\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" \
         aria-label=\"last {} durations, {over} over the SLO of {}\">",
        points.len(),
        format::duration_ms(slo_ms)
    );
    if slo_ms > 0 {
        let sy = y(slo_ms);
        let _ = write!(
            out,
            "<line class=\"slo\" x1=\"0\" y1=\"{sy:.1}\" x2=\"{W}\" y2=\"{sy:.1}\">\
             <title>SLO {}</title></line>",
            format::duration_ms(slo_ms)
        );
    }
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.duration_ms)))
        .collect();
    let _ = write!(
        out,
        "<polyline class=\"trend\" points=\"{}\"/>",
        line.join(" ")
    );
    for (i, p) in points.iter().enumerate() {
        let mut class = vec!["pt"];
        if !p.succeeded {
            class.push("fail");
        } else if slo_ms > 0 && p.duration_ms > slo_ms {
            class.push("over");
        }
        if p.restored {
            class.push("restored");
        }
        if p.current {
            class.push("current");
        }
        let r = if p.current { 3.2 } else { 2.2 };
        let _ = write!(
            out,
            "<circle class=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\"><title>{}{}{}</title></circle>",
            class.join(" "),
            x(i),
            y(p.duration_ms),
            format::duration_ms(p.duration_ms),
            if p.succeeded { "" } else { ", failed" },
            if p.current { ", this run" } else { "" }
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ms: u64) -> DurationPoint {
        DurationPoint {
            duration_ms: ms,
            succeeded: true,
            restored: false,
            current: false,
        }
    }

    #[test]
    fn the_newest_twenty_against_the_slo() {
        let mut points: Vec<DurationPoint> = (1..=25).map(|i| p(i * 10)).collect();
        points[24].current = true;
        let svg = duration_chart(&points, 200);
        assert_eq!(svg.matches("<circle").count(), CHART_RUNS);
        assert!(svg.contains("class=\"slo\""));
        // 210..250 are over the SLO of 200.
        assert_eq!(svg.matches("pt over").count(), 5);
        assert!(svg.contains("pt over current"));
        assert!(svg.contains("last 20 durations, 5 over the SLO"));
    }

    #[test]
    fn nothing_to_draw() {
        assert_eq!(duration_chart(&[], 100), "");
        let svg = duration_chart(&[p(0)], 0);
        assert!(!svg.contains("class=\"slo\""));
        assert!(!svg.contains("NaN"));
    }
}
