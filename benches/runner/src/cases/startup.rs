//! `startup`: the cost of starting the binary at all, `baton --version` vs
//! `make --version`. Each execution takes about a millisecond, so the full suite
//! runs this case ten times as many rounds as the others.

use anyhow::{Result, bail};

use crate::measure::CmdSpec;
use crate::suite::{Case, CaseResult, Ctx, Side, run_alternating};
use crate::tools::find_on_path;

#[derive(Debug)]
pub(super) struct Startup;

impl Case for Startup {
    fn name(&self) -> &'static str {
        "startup"
    }

    fn about(&self) -> &'static str {
        "start-up cost: `baton --version` vs `make --version` (no target: reported only)"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[CaseResult]) -> Result<CaseResult> {
        let Some(make) = find_on_path("make") else {
            bail!("`make` is not on PATH");
        };
        let dir = std::env::temp_dir();
        let sides = vec![
            Side::new("baton --version", ctx.baton(&dir).arg("--version")),
            Side::new("make --version", CmdSpec::new(make, &dir).arg("--version")),
        ];
        let measured = run_alternating(self.name(), &sides, ctx.plan.scaled(10))?;
        Ok(CaseResult::new(self.name(), self.about()).with_sides(measured))
    }
}
