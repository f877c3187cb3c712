//! `peak-rss-34`: baton's peak RSS while it runs the 34-beat no-op pipeline, read
//! from `overhead-34`'s measurements when that case ran (it runs just before);
//! otherwise it runs the same pipeline itself. wait4 reports the largest process of
//! baton and the beats it reaped; the beats are `bash -c true` (a few MB), so the
//! figure is baton's own.

use anyhow::Result;

use super::{overhead, require_run};
use crate::suite::{Case, CaseResult, Ctx, SideResult, Target, Unit, run_alternating};

/// Issue #3: baton itself stays under 20 MB on the 34-beat pipeline.
const TARGET_BYTES: f64 = 20e6;

#[derive(Debug)]
pub(super) struct PeakRss;

impl Case for PeakRss {
    fn name(&self) -> &'static str {
        "peak-rss-34"
    }

    fn about(&self) -> &'static str {
        "baton's own peak RSS while running the 34-beat no-op pipeline of overhead-34"
    }

    fn run(&self, ctx: &Ctx, earlier: &[CaseResult]) -> Result<CaseResult> {
        let mut result = CaseResult::new(self.name(), self.about());
        let from_overhead = earlier
            .iter()
            .filter(|r| r.name == overhead::NAME)
            .find_map(|r| r.side(overhead::BATON))
            .cloned();
        let side: SideResult = match from_overhead {
            Some(side) => {
                result.note(format!(
                    "derived from the {} runs of overhead-34",
                    side.samples.len()
                ));
                side
            }
            None => {
                require_run(ctx)?;
                let (_dir, side) = overhead::baton_side(ctx)?;
                let mut measured = run_alternating(self.name(), &[side], ctx.plan)?;
                measured.remove(0)
            }
        };
        let max = side.peak_rss_bytes.max;
        result.metric(
            "peak RSS, median of the runs",
            side.peak_rss_bytes.median,
            Unit::Bytes,
        );
        result.targets.push(
            Target::at_most(
                "baton peak RSS (largest run)",
                Some(max),
                TARGET_BYTES,
                Unit::Bytes,
            )
            .with_note("wait4 ru_maxrss of baton and the beats it reaped"),
        );
        Ok(result.with_sides(vec![side]))
    }
}
