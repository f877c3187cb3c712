//! `telemetry-overhead`: what recording costs on a real pipeline. The build symphony
//! example (`examples/build-symphony`, copied to a temporary directory so no `.baton`
//! state lands in the repository) run with telemetry (history, telemetry files, logs)
//! vs with `--no-telemetry`, alternately in the same copy. Without the example, a
//! generated 34-beat pipeline whose beats sleep 0.05-0.3 s stands in for it.

use std::time::Duration;

use anyhow::{Result, bail};

use super::require_run;
use crate::fixtures::{self, pipeline_yaml, symphony_layout};
use crate::suite::{Case, CaseResult, Ctx, Side, Target, Unit, run_alternating_within};

const EXAMPLE: &str = "examples/build-symphony";
/// Each run of the example takes about 14 s: the full suite gives this case about
/// 3 minutes (at least 3 rounds), so the whole suite stays under 10.
const BUDGET: Duration = Duration::from_secs(180);
/// Issue #6: telemetry costs less than 1% of the wall time.
const TARGET_PERCENT: f64 = 1.0;

#[derive(Debug)]
pub(super) struct Telemetry;

impl Case for Telemetry {
    fn name(&self) -> &'static str {
        "telemetry-overhead"
    }

    fn about(&self) -> &'static str {
        "telemetry overhead: the build symphony example with telemetry vs `--no-telemetry`"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[CaseResult]) -> Result<CaseResult> {
        require_run(ctx)?;
        if !ctx.help_mentions(&["run"], "--no-telemetry") {
            bail!("`baton run` has no --no-telemetry flag in this build");
        }
        let mut result = CaseResult::new(self.name(), self.about());
        let dir = tempfile::Builder::new()
            .prefix("baton-bench-telemetry-")
            .tempdir()?;
        let work = dir.path().join("pipeline");
        let example = ctx.root.join(EXAMPLE);
        if example.join("baton.yaml").is_file() {
            fixtures::copy_dir(&example, &work, &[".baton"])?;
            result.note(format!(
                "pipeline: {EXAMPLE}/baton.yaml (copied; default level mf)"
            ));
        } else {
            std::fs::create_dir_all(&work)?;
            // 34 beats sleeping 0.05 s to 0.30 s, about 5.9 s in all.
            let sleep = |i: usize| format!("sleep {:.2}", 0.05 + (i * 7 % 26) as f64 * 0.01);
            let yaml = pipeline_yaml("bench-sleepers-34", &symphony_layout(sleep));
            fixtures::write(&work.join("baton.yaml"), &yaml)?;
            result.note(format!(
                "{EXAMPLE} not found: a generated 34-beat pipeline (sleeps of 0.05-0.3 s) stood in"
            ));
        }
        let run = |extra: &[&str]| {
            ctx.baton(&work)
                .args(["run", "baton.yaml", "--output", "quiet"])
                .args(extra.iter().copied())
                .timeout(Duration::from_secs(300))
        };
        let sides = vec![
            Side::new("telemetry on", run(&[])),
            Side::new("--no-telemetry", run(&["--no-telemetry"])),
        ];
        let measured = run_alternating_within(self.name(), &sides, ctx.plan, Some(BUDGET))?;
        let mut result = result.with_sides(measured);
        result.note_budget(ctx.plan, BUDGET);

        let overhead = result
            .comparison("--no-telemetry")
            .map(|c| (c.wall_ratio - 1.0) * 100.0);
        let paired = result
            .comparison("--no-telemetry")
            .and_then(|c| c.paired_wall_ratio)
            .map(|r| (r - 1.0) * 100.0);
        if let Some(p) = paired {
            result.metric("overhead, median of paired rounds", p, Unit::Percent);
        }
        if let (Some(on), Some(off)) = (result.sides.first(), result.sides.get(1)) {
            result.metric(
                "difference of medians",
                on.wall_ms.median - off.wall_ms.median,
                Unit::Ms,
            );
        }
        let target = Target::below(
            "telemetry overhead (wall, medians)",
            overhead,
            TARGET_PERCENT,
            Unit::Percent,
        )
        .with_note("the rounds' spread is shown beside it: noise can exceed 1%");
        // Without a warm-up the first side runs the example cold (about 10 s, 5-7 s
        // once its packages are cached): the ratio would measure the cache.
        result.targets.push(if ctx.plan.quick {
            target.not_applicable("quick mode: no warm-up, so the first side runs the example cold")
        } else {
            target
        });
        Ok(result)
    }
}
