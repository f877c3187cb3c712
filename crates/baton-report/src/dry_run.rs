//! `baton run --dry-run`: a planned run as text, the waves in order (beats of one
//! wave can start together), each beat's level and what it waits for, then the
//! skipped beats and why.

use std::fmt::Write as _;

use baton_model::Plan;

/// The plan for a terminal. What a beat waits for is [`baton_model::PlannedBeat::after`]:
/// its dependencies without those another of them implies.
pub fn render_dry_run(plan: &Plan) -> String {
    let mut out = String::new();
    let waves = plan.waves();
    let _ = writeln!(
        out,
        "plan for '{}' at level {}: {} {} in {} {}, {} skipped",
        plan.pipeline,
        plan.level,
        plan.beats.len(),
        plural(plan.beats.len(), "beat", "beats"),
        waves.len(),
        plural(waves.len(), "wave", "waves"),
        plan.skipped.len(),
    );
    let width = plan
        .beats
        .iter()
        .map(|b| b.movement.len() + b.name.len() + 1)
        .chain(
            plan.skipped
                .iter()
                .map(|b| b.movement.len() + b.name.len() + 1),
        )
        .max()
        .unwrap_or(0);
    for (w, group) in waves.iter().enumerate() {
        let together = if group.len() > 1 {
            format!(" ({} beats can start together)", group.len())
        } else {
            String::new()
        };
        let _ = writeln!(out, "\nwave {}{together}", w + 1);
        for &i in group {
            let beat = &plan.beats[i];
            let direct: Vec<&str> = beat
                .after
                .iter()
                .map(|&d| plan.beats[d].name.as_str())
                .collect();
            let qualified = format!("{}/{}", beat.movement, beat.name);
            let after = if direct.is_empty() {
                String::new()
            } else {
                format!("  after {}", direct.join(", "))
            };
            let _ = writeln!(
                out,
                "  {qualified:<width$}  level {:<2}{after}",
                beat.level.as_str()
            );
        }
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "\nskipped");
        for beat in &plan.skipped {
            let qualified = format!("{}/{}", beat.movement, beat.name);
            let _ = writeln!(out, "  {qualified:<width$}  {}", beat.reason);
        }
    }
    out
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use baton_model::{Level, PlannedBeat, SkipReason, SkippedBeat};

    use super::*;

    fn planned(
        i: usize,
        movement: &str,
        name: &str,
        deps: &[usize],
        after: &[usize],
        wave: usize,
    ) -> PlannedBeat {
        PlannedBeat {
            movement_index: 0,
            beat_index: i,
            movement: movement.into(),
            name: name.into(),
            level: Level::Mf,
            deps: deps.to_vec(),
            after: after.to_vec(),
            wave,
        }
    }

    #[test]
    fn dry_run_shows_waves_levels_and_skips() {
        let plan = Plan {
            pipeline: "demo".into(),
            level: Level::Mf,
            beats: vec![
                planned(0, "build", "compile", &[], &[], 0),
                planned(1, "build", "docs", &[], &[], 0),
                planned(2, "build", "package", &[0], &[0], 1),
                planned(3, "test", "unit", &[0, 1, 2], &[1, 2], 2),
            ],
            skipped: vec![SkippedBeat {
                movement_index: 1,
                beat_index: 1,
                movement: "test".into(),
                name: "e2e".into(),
                reason: SkipReason::AboveLevel {
                    beat_level: Level::F,
                    run_level: Level::Mf,
                },
            }],
        };
        assert_eq!(
            render_dry_run(&plan),
            "plan for 'demo' at level mf: 4 beats in 3 waves, 1 skipped\n\
             \n\
             wave 1 (2 beats can start together)\n\
             \x20 build/compile  level mf\n\
             \x20 build/docs     level mf\n\
             \n\
             wave 2\n\
             \x20 build/package  level mf  after compile\n\
             \n\
             wave 3\n\
             \x20 test/unit      level mf  after docs, package\n\
             \n\
             skipped\n\
             \x20 test/e2e       level f is above the run level mf; --level f would include it\n"
        );
    }
}
