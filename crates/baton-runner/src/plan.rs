//! Planning: which beats of a pipeline run at a given level and selection, what each
//! one waits for, and why the others are skipped.
//!
//! The ordering rule (DESIGN.md): every beat waits for every beat of the previous
//! movement that runs (a barrier); inside a movement beats run in listed order,
//! unless the movement is `parallel`, where only `needs` orders them. `--only` runs
//! the named beats plus, transitively, what they `need` (not the whole previous
//! movement); `--from` starts at a movement, taking the earlier ones as done.
//! A beat whose need does not run (skipped by level or `--from`) still runs: the
//! need is taken as done. When every beat `--only` names is above the run's level,
//! planning fails and names the `--level` that would run them; an empty name (a
//! stray comma) is an error.
//!
//! The pipeline is one `baton_config` accepted: its needs name beats of the same
//! or an earlier movement, without cycles (`validate` reports those, with their
//! line:col). A need that names no beat is ignored here; a cycle (possible only in
//! a pipeline built by hand) is [`PlanError::Cycle`]. The order itself is worked
//! out in `graph.rs`; `baton_report::dry_run` shows the plan.

use std::collections::{BTreeSet, HashMap, VecDeque};

pub use baton_model::plan::{Plan, PlannedBeat, SkipReason, SkippedBeat};
use baton_model::{Level, Pipeline};

use crate::graph;

/// What the user asked to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The run's dynamic level: beats declared above it are skipped.
    pub level: Level,
    /// `--only`: beat names; empty means every beat.
    pub only: Vec<String>,
    /// `--from`: the name of the first movement to run.
    pub from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("failed to select beat '{name}': the pipeline has no such beat{}", hint(.suggestion))]
    UnknownBeat {
        name: String,
        suggestion: Option<String>,
    },
    #[error("failed to start from movement '{name}': the pipeline has no such movement{}", hint(.suggestion))]
    UnknownMovement {
        name: String,
        suggestion: Option<String>,
    },
    /// Only for a pipeline that did not come through `baton_config` (which reports
    /// cycles with their line:col): the beats that wait for each other.
    #[error("failed to order the beats: their needs form a cycle ({})", .beats.join(" -> "))]
    Cycle { beats: Vec<String> },
    #[error("failed to select beats: --only has an empty name (a stray comma?)")]
    EmptyBeatName,
    /// Every beat `--only` names is above the run's level, so none of them runs.
    #[error("failed to select {}", above_level(.beats, .run_level))]
    OnlyAboveLevel {
        /// The named beats with their levels.
        beats: Vec<(String, Level)>,
        run_level: Level,
    },
}

fn above_level(beats: &[(String, Level)], run_level: &Level) -> String {
    let highest = beats.iter().map(|(_, l)| *l).max().unwrap_or(*run_level);
    match beats {
        [(name, level)] => format!(
            "beat '{name}': it is at level {level}, above the run level {run_level} (--level {level} would include it)"
        ),
        _ => format!(
            "beats {}: they are above the run level {run_level} (--level {highest} would include them)",
            beats
                .iter()
                .map(|(name, level)| format!("'{name}' (level {level})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn hint(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default()
}

/// "did you mean 'x'?" for the candidate closest to `name`, when one is close: the
/// metric `validate` uses for misspelt keys and needs.
fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    baton_config::fields::suggest(name, &candidates).map(|c| format!("did you mean '{c}'?"))
}

/// Plans a run of `pipeline` for `sel`.
pub fn plan(pipeline: &Pipeline, sel: &Selection) -> Result<Plan, PlanError> {
    let beat_names = || pipeline.beats().map(|(_, b)| b.name.as_str());
    let movement_names = || pipeline.movements.iter().map(|m| m.name.as_str());

    // --from: the first movement that runs.
    let from_index = match sel.from.as_deref() {
        None => 0,
        Some(name) => match pipeline.movements.iter().position(|m| m.name == name) {
            Some(i) => i,
            None => {
                let suggestion = match pipeline.beat(name) {
                    Some((m, _)) => Some(format!(
                        "'{name}' is a beat of movement '{}'; --from takes a movement",
                        pipeline.movements[m].name
                    )),
                    None => did_you_mean(name, movement_names()),
                };
                return Err(PlanError::UnknownMovement {
                    name: name.to_string(),
                    suggestion,
                });
            }
        },
    };

    // Where each beat is; the first of duplicated names wins.
    let position: HashMap<&str, (usize, usize)> = pipeline
        .movements
        .iter()
        .enumerate()
        .flat_map(|(m, mv)| {
            mv.beats
                .iter()
                .enumerate()
                .map(move |(b, beat)| (beat.name.as_str(), (m, b)))
        })
        .rev()
        .collect();

    // --only: the named beats and, transitively, what they need.
    let selected: Option<BTreeSet<(usize, usize)>> = if sel.only.is_empty() {
        None
    } else {
        let mut set = BTreeSet::new();
        let mut queue = VecDeque::new();
        for name in sel.only.iter().map(String::as_str) {
            if name.is_empty() {
                return Err(PlanError::EmptyBeatName);
            }
            match position.get(name) {
                Some(&pos) => queue.push_back(pos),
                None => {
                    let suggestion = if pipeline.movements.iter().any(|m| m.name == name) {
                        Some(format!("'{name}' is a movement; --only takes beat names"))
                    } else {
                        did_you_mean(name, beat_names())
                    };
                    return Err(PlanError::UnknownBeat {
                        name: name.to_string(),
                        suggestion,
                    });
                }
            }
        }
        while let Some((m, b)) = queue.pop_front() {
            if set.insert((m, b)) {
                for need in &pipeline.movements[m].beats[b].needs {
                    if let Some(&pos) = position.get(need.as_str()) {
                        queue.push_back(pos);
                    }
                }
            }
        }
        Some(set)
    };

    // Which beats run, and why the others do not.
    let mut beats = Vec::new();
    let mut skipped = Vec::new();
    let mut planned_index: HashMap<(usize, usize), usize> = HashMap::new();
    for (m, movement) in pipeline.movements.iter().enumerate() {
        for (b, beat) in movement.beats.iter().enumerate() {
            let reason = if m < from_index {
                Some(SkipReason::BeforeFrom {
                    from: pipeline.movements[from_index].name.clone(),
                })
            } else if !sel.level.includes(beat.level) {
                Some(SkipReason::AboveLevel {
                    beat_level: beat.level,
                    run_level: sel.level,
                })
            } else if selected.as_ref().is_some_and(|s| !s.contains(&(m, b))) {
                Some(SkipReason::NotSelected)
            } else {
                None
            };
            match reason {
                Some(reason) => skipped.push(SkippedBeat {
                    movement_index: m,
                    beat_index: b,
                    movement: movement.name.clone(),
                    name: beat.name.clone(),
                    reason,
                }),
                None => {
                    planned_index.insert((m, b), beats.len());
                    beats.push(PlannedBeat {
                        movement_index: m,
                        beat_index: b,
                        movement: movement.name.clone(),
                        name: beat.name.clone(),
                        level: beat.level,
                        deps: Vec::new(),
                        after: Vec::new(),
                        wave: 0,
                    });
                }
            }
        }
    }

    // Dependencies: barrier, listed order, needs. Only beats that run count.
    let mut previous_movement: Vec<usize> = Vec::new();
    for (m, movement) in pipeline.movements.iter().enumerate() {
        let mut this_movement = Vec::new();
        let mut previous_in_movement: Option<usize> = None;
        for (b, beat) in movement.beats.iter().enumerate() {
            let Some(&p) = planned_index.get(&(m, b)) else {
                continue;
            };
            let mut deps: BTreeSet<usize> = previous_movement.iter().copied().collect();
            // Of them, those of its own movement: each of those waits for the whole
            // barrier, which waits for every earlier beat that runs, so when there
            // are any, what a reader needs to see is among them.
            let mut within: BTreeSet<usize> = BTreeSet::new();
            if !movement.parallel {
                within.extend(previous_in_movement);
            }
            for need in &beat.needs {
                if let Some((&(nm, _), &q)) = position
                    .get(need.as_str())
                    .and_then(|pos| Some((pos, planned_index.get(pos)?)))
                {
                    deps.insert(q);
                    if nm == m {
                        within.insert(q);
                    }
                }
            }
            deps.extend(within.iter().copied());
            deps.remove(&p);
            within.remove(&p);
            beats[p].deps = deps.into_iter().collect();
            beats[p].after = if within.is_empty() {
                beats[p].deps.clone()
            } else {
                within.into_iter().collect()
            };
            previous_in_movement = Some(p);
            this_movement.push(p);
        }
        if !this_movement.is_empty() {
            previous_movement = this_movement;
        }
    }

    // Every beat --only names left out by the level: nothing the user asked for
    // runs, so say which level would run it instead of running only its needs.
    let named: Vec<(usize, usize)> = sel
        .only
        .iter()
        .filter_map(|n| position.get(n.as_str()).copied())
        .collect();
    if !named.is_empty() && named.iter().all(|pos| !planned_index.contains_key(pos)) {
        let above: Vec<(String, Level)> = skipped
            .iter()
            .filter(|s| named.contains(&(s.movement_index, s.beat_index)))
            .filter_map(|s| match s.reason {
                SkipReason::AboveLevel { beat_level, .. } => Some((s.name.clone(), beat_level)),
                _ => None,
            })
            .collect();
        if !above.is_empty() {
            return Err(PlanError::OnlyAboveLevel {
                beats: above,
                run_level: sel.level,
            });
        }
    }

    let deps: Vec<Vec<usize>> = beats.iter().map(|b| b.deps.clone()).collect();
    let waves = graph::waves(&deps).map_err(|cycle| PlanError::Cycle {
        beats: cycle.iter().map(|&i| beats[i].name.clone()).collect(),
    })?;
    for (i, beat) in beats.iter_mut().enumerate() {
        beat.wave = waves[i];
        beat.after = graph::reduced(&beat.after, &deps, &waves);
    }
    Ok(Plan {
        pipeline: pipeline.name.clone(),
        level: sel.level,
        beats,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use baton_model::Level;

    use super::*;
    use crate::testing::{PipelineBuilder, beat};

    fn names(plan: &Plan, deps: &[usize]) -> Vec<String> {
        deps.iter().map(|&d| plan.beats[d].name.clone()).collect()
    }

    fn deps_of(plan: &Plan, name: &str) -> Vec<String> {
        let i = plan.index_of(name).expect("beat is planned");
        names(plan, &plan.beats[i].deps)
    }

    fn sample() -> Pipeline {
        PipelineBuilder::new("demo")
            .movement("validation", false, vec![beat("lint"), beat("fmt")])
            .movement(
                "build",
                true,
                vec![
                    beat("compile"),
                    beat("docs"),
                    beat("package").needs(&["compile"]),
                ],
            )
            .movement(
                "test",
                false,
                vec![beat("unit"), beat("e2e").level(Level::F)],
            )
            .movement("deploy", false, vec![beat("ship").needs(&["package"])])
            .build()
    }

    #[test]
    fn sequential_movements_follow_listed_order_and_barriers() {
        let plan = plan(&sample(), &Selection::default()).expect("plans");
        assert_eq!(deps_of(&plan, "lint"), Vec::<String>::new());
        assert_eq!(deps_of(&plan, "fmt"), ["lint"]);
        // Barrier: every beat of the previous movement that runs.
        assert_eq!(deps_of(&plan, "compile"), ["lint", "fmt"]);
        assert_eq!(deps_of(&plan, "docs"), ["lint", "fmt"]);
        // Parallel movement: only needs order beats inside it.
        assert_eq!(deps_of(&plan, "package"), ["lint", "fmt", "compile"]);
        assert_eq!(deps_of(&plan, "unit"), ["compile", "docs", "package"]);
        // e2e is level f: skipped at mf, and the barrier only counts beats that run.
        assert_eq!(deps_of(&plan, "ship"), ["package", "unit"]);
        assert_eq!(
            plan.skipped,
            [SkippedBeat {
                movement_index: 2,
                beat_index: 1,
                movement: "test".into(),
                name: "e2e".into(),
                reason: SkipReason::AboveLevel {
                    beat_level: Level::F,
                    run_level: Level::Mf
                },
            }]
        );
        let order: Vec<&str> = plan.beats.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            order,
            ["lint", "fmt", "compile", "docs", "package", "unit", "ship"]
        );
        let waves: Vec<Vec<String>> = plan.waves().iter().map(|w| names(&plan, w)).collect();
        assert_eq!(
            waves,
            [
                vec!["lint"],
                vec!["fmt"],
                vec!["compile", "docs"],
                vec!["package"],
                vec!["unit"],
                vec!["ship"]
            ]
        );
    }

    #[test]
    fn level_p_runs_only_p_beats_and_ff_runs_all() {
        let pipeline = PipelineBuilder::new("levels")
            .movement(
                "all",
                false,
                vec![
                    beat("a").level(Level::P),
                    beat("b"),
                    beat("c").level(Level::Ff),
                ],
            )
            .build();
        let p = plan(
            &pipeline,
            &Selection {
                level: Level::P,
                ..Selection::default()
            },
        )
        .expect("plans");
        assert_eq!(p.beats.len(), 1);
        assert_eq!(p.skipped.len(), 2);
        let ff = plan(
            &pipeline,
            &Selection {
                level: Level::Ff,
                ..Selection::default()
            },
        )
        .expect("plans");
        assert_eq!(ff.beats.len(), 3);
        assert_eq!(deps_of(&ff, "c"), ["b"]);
    }

    #[test]
    fn only_runs_named_beats_and_what_they_need() {
        let sel = Selection {
            only: vec!["ship".into()],
            ..Selection::default()
        };
        let plan = plan(&sample(), &sel).expect("plans");
        let order: Vec<&str> = plan.beats.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(order, ["compile", "package", "ship"]);
        assert_eq!(deps_of(&plan, "compile"), Vec::<String>::new());
        assert_eq!(deps_of(&plan, "package"), ["compile"]);
        // The barrier still holds between the beats that run.
        assert_eq!(deps_of(&plan, "ship"), ["compile", "package"]);
        let not_selected: Vec<&str> = plan
            .skipped
            .iter()
            .filter(|s| s.reason == SkipReason::NotSelected)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(not_selected, ["lint", "fmt", "docs", "unit"]);
    }

    #[test]
    fn from_starts_at_a_movement_and_ignores_needs_before_it() {
        let sel = Selection {
            from: Some("test".into()),
            ..Selection::default()
        };
        let plan = plan(&sample(), &sel).expect("plans");
        let order: Vec<&str> = plan.beats.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(order, ["unit", "ship"]);
        assert_eq!(deps_of(&plan, "ship"), ["unit"]);
        let before: Vec<&str> = plan
            .skipped
            .iter()
            .filter(|s| matches!(s.reason, SkipReason::BeforeFrom { .. }))
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(before, ["lint", "fmt", "compile", "docs", "package"]);
    }

    #[test]
    fn unknown_names_are_errors_with_suggestions() {
        let err = plan(
            &sample(),
            &Selection {
                only: vec!["compil".into()],
                ..Selection::default()
            },
        )
        .expect_err("unknown beat");
        assert_eq!(
            err.to_string(),
            "failed to select beat 'compil': the pipeline has no such beat (did you mean 'compile'?)"
        );
        let err = plan(
            &sample(),
            &Selection {
                from: Some("tets".into()),
                ..Selection::default()
            },
        )
        .expect_err("unknown movement");
        assert!(err.to_string().contains("did you mean 'test'?"), "{err}");
        let err = plan(
            &sample(),
            &Selection {
                from: Some("unit".into()),
                ..Selection::default()
            },
        )
        .expect_err("a beat is not a movement");
        assert!(
            err.to_string()
                .contains("'unit' is a beat of movement 'test'"),
            "{err}"
        );
        let err = plan(
            &sample(),
            &Selection {
                only: vec!["build".into()],
                ..Selection::default()
            },
        )
        .expect_err("a movement is not a beat");
        assert!(err.to_string().contains("is a movement"), "{err}");
        let err = plan(
            &sample(),
            &Selection {
                only: vec!["zzz".into()],
                ..Selection::default()
            },
        )
        .expect_err("unknown beat");
        assert_eq!(
            err,
            PlanError::UnknownBeat {
                name: "zzz".into(),
                suggestion: None
            }
        );
    }

    #[test]
    fn an_only_name_is_never_empty() {
        // (The command line trims the names: see the CLI's `trimmed`.)
        let err = plan(
            &sample(),
            &Selection {
                only: vec!["unit".into(), String::new()],
                ..Selection::default()
            },
        )
        .expect_err("empty name");
        assert_eq!(err, PlanError::EmptyBeatName);
    }

    #[test]
    fn only_beats_above_the_level_name_the_level_that_runs_them() {
        let only = |names: &[&str]| Selection {
            only: names.iter().map(|n| n.to_string()).collect(),
            ..Selection::default()
        };
        let err = plan(&sample(), &only(&["e2e"])).expect_err("e2e is at level f");
        assert_eq!(
            err.to_string(),
            "failed to select beat 'e2e': it is at level f, above the run level mf (--level f would include it)"
        );
        // One named beat that runs is enough: the other is skipped as before.
        let plan_of_two = plan(&sample(), &only(&["e2e", "lint"])).expect("lint runs");
        assert_eq!(plan_of_two.beats.len(), 1);
        let at_f = Selection {
            level: Level::F,
            ..only(&["e2e"])
        };
        assert!(plan(&sample(), &at_f).is_ok());

        let pipeline = PipelineBuilder::new("levels")
            .movement(
                "m",
                true,
                vec![
                    beat("base"),
                    beat("slow").level(Level::F).needs(&["base"]),
                    beat("slowest").level(Level::Ff),
                    beat("g").needs(&["slow"]),
                ],
            )
            .build();
        // Named beats above the level are not replaced by what they need.
        let err = plan(&pipeline, &only(&["slow", "slowest"])).expect_err("both above");
        assert_eq!(
            err.to_string(),
            "failed to select beats 'slow' (level f), 'slowest' (level ff): they are above the run level mf (--level ff would include them)"
        );
        // A need left out by the level: g still runs, and the reason names the level.
        let plan = plan(&pipeline, &only(&["g"])).expect("g runs");
        let order: Vec<&str> = plan.beats.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(order, ["base", "g"]);
        let slow = plan
            .skipped
            .iter()
            .find(|s| s.name == "slow")
            .expect("skipped");
        assert_eq!(
            slow.reason.to_string(),
            "level f is above the run level mf; --level f would include it"
        );
    }

    #[test]
    fn a_need_that_names_no_beat_is_left_to_validation() {
        // `validate` reports it with its line:col (baton_config::checks).
        let pipeline = PipelineBuilder::new("bad")
            .movement("m", true, vec![beat("a"), beat("b").needs(&["compil"])])
            .build();
        let plan = plan(&pipeline, &Selection::default()).expect("plans");
        assert_eq!(deps_of(&plan, "b"), Vec::<String>::new());
    }

    #[test]
    fn a_cycle_in_a_pipeline_built_by_hand_is_an_error() {
        let pipeline = PipelineBuilder::new("bad")
            .movement(
                "m",
                true,
                vec![
                    beat("a").needs(&["c"]),
                    beat("b").needs(&["a"]),
                    beat("c").needs(&["b"]),
                ],
            )
            .build();
        let err = plan(&pipeline, &Selection::default()).expect_err("cycle");
        assert_eq!(
            err.to_string(),
            "failed to order the beats: their needs form a cycle (a -> c -> b -> a)"
        );
    }

    #[test]
    fn after_lists_the_dependencies_a_reader_needs_to_see() {
        let plan = plan(&sample(), &Selection::default()).expect("plans");
        let after = |name: &str| {
            let i = plan.index_of(name).expect("planned");
            names(&plan, &plan.beats[i].after)
        };
        assert_eq!(after("lint"), Vec::<String>::new());
        assert_eq!(after("fmt"), ["lint"]);
        // The barrier: fmt waits for lint, so lint is implied.
        assert_eq!(after("compile"), ["fmt"]);
        // package waits for compile, which implies lint and fmt.
        assert_eq!(after("package"), ["compile"]);
        assert_eq!(after("unit"), ["docs", "package"]);
        assert_eq!(after("ship"), ["unit"]);
    }

    #[test]
    fn the_plan_serializes_for_json_output() {
        let plan = plan(&sample(), &Selection::default()).expect("plans");
        let json = serde_json::to_value(&plan).expect("serializes");
        assert_eq!(json["level"], "mf");
        assert_eq!(json["beats"][1]["name"], "fmt");
        assert_eq!(json["beats"][1]["deps"], serde_json::json!([0]));
        assert_eq!(json["beats"][1]["after"], serde_json::json!([0]));
        assert_eq!(json["skipped"][0]["reason"]["kind"], "above_level");
        assert_eq!(json["skipped"][0]["reason"]["beat_level"], "f");
    }
}
