//! `parallel-16x0.5`: scheduling efficiency. 16 beats sleeping 0.5 s in one
//! `parallel: true` movement, `baton run -j 4`, against the ideal 4 waves x 0.5 s =
//! 2.0 s, and against `xargs -P 4` running the same 16 sleeps.

use anyhow::Result;

use super::require_run;
use crate::fixtures::{self, MovementSpec, pipeline_yaml};
use crate::measure::CmdSpec;
use crate::suite::{Case, CaseResult, Ctx, Side, Target, Unit, run_alternating};

const BEATS: usize = 16;
const JOBS: usize = 4;
const SLEEP_S: f64 = 0.5;
/// Issue #3: within 3% of the ideal.
const TARGET_RATIO: f64 = 1.03;

#[derive(Debug)]
pub(super) struct Parallel;

impl Case for Parallel {
    fn name(&self) -> &'static str {
        "parallel-16x0.5"
    }

    fn about(&self) -> &'static str {
        "parallel efficiency: 16 beats sleeping 0.5 s at `-j 4` vs the ideal 2.0 s \
         (and `xargs -P 4`)"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[CaseResult]) -> Result<CaseResult> {
        require_run(ctx)?;
        let dir = tempfile::Builder::new()
            .prefix("baton-bench-parallel-")
            .tempdir()?;
        let d = dir.path();
        let movement = MovementSpec {
            name: "sleepers".to_owned(),
            beat_type: "test",
            parallel: true,
            beats: vec![format!("sleep {SLEEP_S}"); BEATS],
        };
        fixtures::write(
            &d.join("baton.yaml"),
            &pipeline_yaml("bench-parallel-16", &[movement]),
        )?;
        let jobs = JOBS.to_string();
        let baton = ctx
            .baton(d)
            .args(["run", "baton.yaml", "-j", &jobs, "--output", "quiet"]);
        let script = format!("seq {BEATS} | xargs -P {JOBS} -I{{}} sleep {SLEEP_S}");
        let xargs = CmdSpec::new("sh", d).args(["-c", &script]);
        let sides = vec![
            Side::new(format!("baton run -j {JOBS}"), baton),
            Side::new(format!("xargs -P {JOBS}"), xargs),
        ];
        let measured = run_alternating(self.name(), &sides, ctx.plan)?;
        let mut result = CaseResult::new(self.name(), self.about()).with_sides(measured);

        let ideal_ms = (BEATS / JOBS) as f64 * SLEEP_S * 1000.0;
        result.metric("ideal wall", ideal_ms, Unit::Ms);
        let baton = result.sides.first().map(|s| s.wall_ms.median / ideal_ms);
        let xargs = result.sides.get(1).map(|s| s.wall_ms.median / ideal_ms);
        if let Some(r) = baton {
            result.metric("baton wall / ideal", r, Unit::Ratio);
            result.metric(
                "baton overhead over ideal",
                (r - 1.0) * 100.0,
                Unit::Percent,
            );
        }
        if let Some(r) = xargs {
            result.metric("xargs wall / ideal", r, Unit::Ratio);
        }
        result.targets.push(Target::at_most(
            "baton wall / ideal 2.0 s",
            baton,
            TARGET_RATIO,
            Unit::Ratio,
        ));
        Ok(result)
    }
}
