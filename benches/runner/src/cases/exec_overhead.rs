//! `exec-overhead`: what `baton exec` adds to one command, `baton exec -- true`
//! against a bare `true`, side by side; also a call that joins an open run (as
//! every call but the first of a CI job does). Target: at most 3 ms (issue 16).

use anyhow::{Result, bail};

use crate::measure::CmdSpec;
use crate::suite::{Case, CaseResult, Ctx, Side, Unit, run_alternating};
use crate::tools::find_on_path;

/// The most `baton exec` may add to a command (medians).
const TARGET_MS: f64 = 3.0;

const EXEC: &str = "baton exec -- true";
const JOINED: &str = "baton exec -- true (joining a run)";
const BARE: &str = "true";

/// CI variables that would make the calls join a run or write to the job page.
const CI_VARS: &[&str] = &[
    "CI",
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_OUTPUT",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "JENKINS_URL",
    "JENKINS_HOME",
    "TF_BUILD",
    "BATON_RUN_ID",
    "BATON_TELEMETRY_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

#[derive(Debug)]
pub(super) struct ExecOverhead;

impl Case for ExecOverhead {
    fn name(&self) -> &'static str {
        "exec-overhead"
    }

    fn about(&self) -> &'static str {
        "`baton exec -- true` vs bare `true` (target: at most 3 ms more, medians)"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[CaseResult]) -> Result<CaseResult> {
        if !ctx.has_verb(&["exec"]) {
            bail!(
                "`{} exec` does not exist in this build",
                ctx.baton.display()
            );
        }
        let Some(bare) = find_on_path("true") else {
            bail!("`true` is not on PATH");
        };
        let dir = tempfile::tempdir()?;
        let clean = |mut spec: CmdSpec| {
            for var in CI_VARS {
                spec = spec.env_remove(var);
            }
            spec
        };
        let exec = clean(ctx.baton(dir.path()))
            .arg("exec")
            .arg("--")
            .arg("true");
        let joined = clean(ctx.baton(dir.path()))
            .env("BATON_RUN_ID", "exec-overhead")
            .arg("exec")
            .arg("--")
            .arg("true");
        let sides = vec![
            Side::new(EXEC, exec),
            Side::new(BARE, CmdSpec::new(bare, dir.path())),
            Side::new(JOINED, joined),
        ];
        let measured = run_alternating(self.name(), &sides, ctx.plan.scaled(10))?;
        let mut result = CaseResult::new(self.name(), self.about()).with_sides(measured);
        let added = |side: &str| {
            let (Some(s), Some(b)) = (result.side(side), result.side(BARE)) else {
                return None;
            };
            Some(s.wall_ms.median - b.wall_ms.median)
        };
        let own = added(EXEC);
        let join = added(JOINED);
        if let Some(ms) = own {
            result.metric("added by baton exec (a run per call)", ms, Unit::Ms);
        }
        if let Some(ms) = join {
            result.metric("added by baton exec joining a run", ms, Unit::Ms);
        }
        result.targets.push(crate::suite::Target::at_most(
            "wall added by baton exec, a run per call (medians)",
            own,
            TARGET_MS,
            Unit::Ms,
        ));
        result.targets.push(crate::suite::Target::at_most(
            "wall added by baton exec joining a run (medians)",
            join,
            TARGET_MS,
            Unit::Ms,
        ));
        Ok(result)
    }
}
