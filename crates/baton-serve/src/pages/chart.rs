//! A beat's durations over its runs against its SLO, as inline SVG: executed runs
//! (cache misses) filled, cache hits hollow, failures red, change points as dashed
//! lines labelled with their shift.

use std::fmt::Write as _;

use baton_analysis::changepoint::Direction;

use super::Esc;

/// One run of the beat, oldest first.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub duration_ms: u64,
    pub failed: bool,
    /// Restored from the cache (or a cache hit).
    pub hit: bool,
}

/// A change point at the run with index `at` in the points.
#[derive(Debug, Clone)]
pub struct Mark {
    pub at: usize,
    pub label: String,
    pub direction: Direction,
}

const W: f64 = 900.0;
const H: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 24.0;

/// The chart; empty for no points.
pub fn render(points: &[Point], slo_ms: u64, marks: &[Mark]) -> String {
    if points.is_empty() {
        return String::new();
    }
    let longest = points
        .iter()
        .map(|p| p.duration_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    // An SLO far above every run would flatten them: it is then named, not drawn.
    let slo_drawn = slo_ms > 0 && slo_ms <= longest.saturating_mul(3);
    let top = longest.max(if slo_drawn { slo_ms } else { 0 }) as f64 * 1.1;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x = |i: usize| {
        if points.len() == 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + i as f64 * plot_w / (points.len() - 1) as f64
        }
    };
    let y = |ms: f64| TOP + plot_h - (ms / top) * plot_h;
    let mut out = String::with_capacity(points.len() * 80 + 2048);
    let _ = write!(
        out,
        "<svg class=\"history\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"durations of the last {} runs\">",
        points.len()
    );
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{0:.1}\"/>",
        TOP + plot_h,
        W - RIGHT
    );
    for step in 0..=4 {
        let ms = top / 1.1 * f64::from(step) / 4.0;
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 4.0,
            y(ms) + 4.0,
            baton_report::format::duration_ms(ms.round() as u64)
        );
    }
    if slo_ms > 0 && !slo_drawn {
        let _ = write!(
            out,
            "<text class=\"slo-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">SLO {} (above the chart)</text>",
            W - RIGHT,
            TOP - 4.0,
            baton_report::format::duration_ms(slo_ms)
        );
    }
    if slo_drawn {
        let _ = write!(
            out,
            "<line class=\"slo\" x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\"/>\
             <text class=\"slo-label\" x=\"{1:.1}\" y=\"{2:.1}\" text-anchor=\"end\">SLO {3}</text>",
            y(slo_ms as f64),
            W - RIGHT,
            y(slo_ms as f64) - 4.0,
            baton_report::format::duration_ms(slo_ms)
        );
    }
    for mark in marks.iter().filter(|m| m.at < points.len()) {
        let class = match mark.direction {
            Direction::Slower => "",
            Direction::Faster => " faster",
        };
        let at = x(mark.at);
        let _ = write!(
            out,
            "<line class=\"cp{class}\" x1=\"{at:.1}\" y1=\"{TOP}\" x2=\"{at:.1}\" y2=\"{:.1}\"/>\
             <text class=\"cp-label{class}\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            TOP + plot_h,
            at + 3.0,
            TOP + 10.0,
            Esc(&mark.label)
        );
    }
    let radius = if points.len() > 120 { 2.0 } else { 3.2 };
    for (i, p) in points.iter().enumerate() {
        let class = if p.failed {
            "pt fail"
        } else if p.hit {
            "pt hit"
        } else {
            "pt"
        };
        let _ = write!(
            out,
            "<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{radius}\"><title>{}</title></circle>",
            x(i),
            y(p.duration_ms as f64),
            baton_report::format::duration_ms(p.duration_ms)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_failures_and_marks_are_drawn_apart() {
        let p = |duration_ms, failed, hit| Point {
            duration_ms,
            failed,
            hit,
        };
        let svg = render(
            &[p(100, false, false), p(5, false, true), p(300, true, false)],
            250,
            &[Mark {
                at: 2,
                label: "<b>+200%</b>".into(),
                direction: Direction::Slower,
            }],
        );
        assert!(svg.contains("class=\"pt\""));
        assert!(svg.contains("class=\"pt hit\""));
        assert!(svg.contains("class=\"pt fail\""));
        assert!(svg.contains("class=\"slo\""));
        assert!(svg.contains("&lt;b&gt;+200%&lt;/b&gt;"));
        assert!(!svg.contains("NaN"));
        assert!(render(&[], 0, &[]).is_empty());
    }
}
