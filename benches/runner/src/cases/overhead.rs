//! `overhead-34`: what baton costs per beat. `baton run` of 34 no-op beats (`true`,
//! in the build symphony's 6 movements) with full telemetry (history and files) vs a
//! shell script running the same 34 `sh -c true` commands, vs `make -j1` with 34
//! chained no-op targets, and vs `just` with 34 chained recipes when it is installed.
//! `baton run --no-telemetry` runs beside them to split baton's cost into scheduling
//! and recording, and `baton run (shell: sh -c)` (the same pipeline with a top-level
//! `shell: sh -c`) to check the beats' shell: baton's default is
//! `bash -eo pipefail -c` where the baselines run `sh -c true`, but a plain command
//! such as `true` is executed without a shell (see `baton_runner::direct`), so the
//! two should be equal.

use anyhow::Result;
use tempfile::TempDir;

use super::require_run;
use crate::fixtures::{
    self, justfile, makefile, pipeline_yaml, pipeline_yaml_with, shell_script, symphony_layout,
};
use crate::measure::CmdSpec;
use crate::suite::{Case, CaseResult, Ctx, Side, Target, Unit, run_alternating};
use crate::tools::{find_on_path, just};

pub(super) const NAME: &str = "overhead-34";
pub(super) const BATON: &str = "baton run";
const NO_TELEMETRY: &str = "baton run --no-telemetry";
const SH_SHELL: &str = "baton run (shell: sh -c)";
const BEATS: usize = 34;
/// The wall ratio to the shell script issue #3 asks for.
const TARGET_RATIO: f64 = 1.3;

#[derive(Debug)]
pub(super) struct Overhead;

/// The temp directory with the 34-beat pipeline and the baton side that runs it.
pub(super) fn baton_side(ctx: &Ctx) -> Result<(TempDir, Side)> {
    let dir = tempfile::Builder::new()
        .prefix("baton-bench-overhead-")
        .tempdir()?;
    let yaml = pipeline_yaml("bench-noop-34", &symphony_layout(|_| "true".to_owned()));
    fixtures::write(&dir.path().join("baton.yaml"), &yaml)?;
    let spec = ctx
        .baton(dir.path())
        .args(["run", "baton.yaml", "--output", "quiet"]);
    Ok((dir, Side::new(BATON, spec)))
}

impl Case for Overhead {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "per-beat overhead: `baton run` of 34 no-op beats with full telemetry vs a shell \
         script of the same 34 commands, `make -j1` and `just`"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[CaseResult]) -> Result<CaseResult> {
        require_run(ctx)?;
        let mut result = CaseResult::new(self.name(), self.about());
        let (dir, baton) = baton_side(ctx)?;
        let d = dir.path();
        fixtures::write(&d.join("run.sh"), &shell_script(BEATS))?;
        fixtures::write(&d.join("Makefile"), &makefile(BEATS))?;
        fixtures::write(&d.join("justfile"), &justfile(BEATS))?;

        // The same run without recording splits baton's cost into scheduling and
        // recording (a reference, not a baseline users would pick).
        let unrecorded = ctx
            .help_mentions(&["run"], "--no-telemetry")
            .then(|| Side::new(NO_TELEMETRY, baton.spec.clone().arg("--no-telemetry")));
        // The same beats under the baselines' shell (`sh -c`) instead of baton's
        // default `bash -eo pipefail -c`: a pipeline-level `shell:`.
        let sh_yaml = pipeline_yaml_with(
            "bench-noop-34-sh",
            Some("sh -c"),
            &symphony_layout(|_| "true".to_owned()),
            |_| Vec::new(),
        );
        fixtures::write(&d.join("baton-sh.yaml"), &sh_yaml)?;
        let sh_shell = ctx
            .baton(d)
            .args(["run", "baton-sh.yaml", "--output", "quiet"]);
        let mut sides = vec![baton];
        sides.extend(unrecorded);
        sides.push(Side::new(SH_SHELL, sh_shell));
        sides.push(Side::new("sh script", CmdSpec::new("sh", d).arg("run.sh")));
        match find_on_path("make") {
            Some(make) => {
                sides.push(Side::new(
                    "make -j1",
                    CmdSpec::new(make, d).args(["-j1", "-s"]),
                ));
            }
            None => result.note("`make` is not on PATH: the make side was skipped"),
        }
        match just(&ctx.root, ctx.setup && !ctx.plan.quick)? {
            Some(just) => sides.push(Side::new("just", CmdSpec::new(just, d))),
            None => result.note(
                "`just` is not installed: the just side was skipped \
                 (`baton-bench --setup` runs `cargo install just`)",
            ),
        }

        let measured = run_alternating(self.name(), &sides, ctx.plan)?;
        let mut result = result.with_sides(measured);

        let sh = result.comparison("sh script").map(|c| c.wall_ratio);
        if let (Some(b), Some(s)) = (result.side(BATON), result.side("sh script")) {
            let per_beat = (b.wall_ms.median - s.wall_ms.median) / BEATS as f64;
            result.metric(
                "baton overhead per beat vs sh (wall, medians)",
                per_beat,
                Unit::Ms,
            );
        }
        if let (Some(b), Some(q)) = (result.side(BATON), result.side(NO_TELEMETRY)) {
            let per_beat = (b.wall_ms.median - q.wall_ms.median) / BEATS as f64;
            result.metric(
                "of which recording, per beat (vs --no-telemetry)",
                per_beat,
                Unit::Ms,
            );
        }
        if let (Some(b), Some(q)) = (result.side(BATON), result.side(SH_SHELL)) {
            let per_beat = (b.wall_ms.median - q.wall_ms.median) / BEATS as f64;
            result.metric(
                "of which the default shell, per beat (vs shell: sh -c; `true` runs without one)",
                per_beat,
                Unit::Ms,
            );
        }
        if let (Some(m), Some(s)) = (result.side("make -j1"), result.side("sh script")) {
            let ratio = m.wall_ms.median / s.wall_ms.median;
            result.metric("make -j1 / sh script wall (medians)", ratio, Unit::Ratio);
        }
        result.targets.push(
            Target::at_most(
                "wall ratio baton run / sh script",
                sh,
                TARGET_RATIO,
                Unit::Ratio,
            )
            .with_note("issue #3 measured make at 1.13 of the shell script"),
        );
        Ok(result)
    }
}
