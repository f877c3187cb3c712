//! `baton exec -- CMD ARGS...`: one command run as a measured beat, a drop-in
//! for the bare command.
//!
//! The command is a one-beat pipeline run by the same runner as `baton run`
//! (measurement, judging against its type's SLO, shape, artifacts, masked log)
//! and told to the same consumers (history, telemetry files, the CI page), with
//! the [`PassThroughSpawner`]: stdin, stdout and stderr are the command's, and
//! baton exits with the command's own status. Whatever baton fails to record,
//! the command runs and its status stands.
//!
//! The calls of one CI job join one run ([`join`]): each adds its beat, in
//! order, and leaves the run open; `baton exec --finish` ends it (status: the
//! worst of its beats) and hands it to the exporters. A run never finished is
//! abandoned by the heartbeat rule.

mod finish;
pub(crate) mod join;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton_model::{BeatRecord, BeatSpec, Level, MovementSpec, Pipeline, RunEvent, RunRecord};
use baton_runner::{PassThroughSpawner, RunOptions, Selection};

use crate::cli::ExecArgs;
use crate::commands::run::{GitLater, claim_label, new_run_record, webhook};
use crate::consumers::health::RecordingHealth;
use crate::consumers::recorder::Recorder;
use crate::consumers::telemetry_files::{BEAT_FILES_VAR, TelemetryFiles, beat_files_wanted};
use crate::consumers::{Consumer, Fanout};
use crate::exit::Exit;
use crate::history::History;
use crate::state::StateDir;
use join::RunIdentity;

pub(crate) fn run(args: &ExecArgs) -> anyhow::Result<Exit> {
    let env = |k: &str| std::env::var(k).ok();
    if args.finish {
        return finish::run(RunIdentity::detect(env));
    }
    if args.command.is_empty() {
        crate::usage_bail!(
            "failed to run: no command given (baton exec [OPTIONS] -- CMD [ARGS...])"
        );
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let identity = RunIdentity::detect(env);
    let name = args
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| default_beat_name(&args.command));
    let pipeline = exec_pipeline(args, &cwd, join::pipeline_name(env, &cwd), name);

    let state = StateDir::for_pipeline(&cwd);
    let health = RecordingHealth::default();
    health.check_state_dir(&state.root);
    let history = History::when_needed(
        state.clone(),
        pipeline.history_key().to_string(),
        vec![pipeline.movements[0].beats[0].name.clone()],
        health.clone(),
    );
    let (clean_commit, clean_commit_finder) = baton_runner::CleanCommit::finding();
    let mut git = GitLater::start(cwd.clone(), clean_commit_finder);
    let (run, place) = open_run(&identity, &pipeline, &state, &history, &health, &mut git);
    let pipeline = place.rename(pipeline);
    let joined = matches!(identity, RunIdentity::Joined { .. });
    let export = (!joined)
        .then(|| webhook::Export::start(&pipeline))
        .flatten();

    let plan = baton_runner::plan(
        &pipeline,
        &Selection {
            level: Level::Ff,
            only: Vec::new(),
            from: None,
        },
    )?;
    let mut opts = RunOptions::new(run, state.logs());
    opts.clean_commit = clean_commit;
    opts.jobs = 1;
    opts.parent_trace_id =
        baton_runner::trace::parent_trace_id(std::env::var("TRACEPARENT").ok().as_deref());
    if !args.inputs.is_empty() {
        match baton_runner::Cache::open(&state.root) {
            Ok(cache) => opts.cache = Some(Arc::new(cache)),
            Err(err) => crate::notice::warning(format!(
                "the step cache is unavailable ({err}); the input identity is not recorded"
            )),
        }
    }
    let mut recorder = if joined {
        Recorder::keeping_run_open(Arc::clone(&history), health.clone())
    } else {
        Recorder::new(Arc::clone(&history), health.clone())
    };
    let mut files = TelemetryFiles::new(
        state.telemetry(),
        Arc::clone(&history),
        pipeline.anomalies,
        health.clone(),
        // A wrapped command runs at the default level: per-beat files on request.
        beat_files_wanted(
            Level::default(),
            std::env::var(BEAT_FILES_VAR).ok().as_deref(),
        ),
        baton_report::documented::AllowedFailures::new(),
    );
    let mut ci_page = crate::consumers::ci::CiPage::for_exec(&pipeline);
    if joined {
        ci_page = ci_page.without_summary();
    }
    let spawner = PassThroughSpawner::new(args.command.clone());
    let cancel = baton_runner::install_interrupt_handler();
    // On GitLab the command's output folds under its beat: the markers go to
    // stderr, around the run, since the output passes through as it comes.
    let section = crate::consumers::ci::gitlab::on_gitlab().then(|| {
        let name = &pipeline.movements[0].beats[0].name;
        let id = crate::consumers::ci::gitlab::section_id(place.beat_index as usize, name);
        eprint!("{}", crate::consumers::ci::gitlab::section_start(&id, name));
        id
    });
    let mut outcome = {
        let mut health_consumer = health.clone();
        let consumers: Vec<&mut dyn Consumer> = vec![
            &mut health_consumer,
            &mut recorder,
            &mut files,
            &mut ci_page,
        ];
        let mut fanout = Fanout::new(consumers);
        let mut sink = |mut event: RunEvent| {
            if matches!(event, RunEvent::RunStarted { .. }) {
                history.load_now();
            }
            match &mut event {
                RunEvent::RunStarted { run, .. } | RunEvent::RunFinished { run } => {
                    run.git = git.get();
                }
                RunEvent::BeatFinished { record } | RunEvent::RollbackFinished { record } => {
                    place.apply(record);
                }
                _ => {}
            }
            fanout.handle(event);
        };
        baton_runner::run_plan(
            &pipeline,
            &plan,
            &opts,
            &spawner,
            history.hints(),
            &mut sink,
            &cancel,
        )
    };
    if let Some(id) = section {
        eprint!("{}", crate::consumers::ci::gitlab::section_end(&id));
    }
    outcome.run.git = git.get();
    for record in &mut outcome.records {
        place.apply(record);
    }
    let anomalies = files.finish(&outcome.records);
    let report = baton_finish::report(&outcome, anomalies);
    if !joined {
        let dirs = state.layout();
        let keep = baton_finish::Keep {
            pipeline: &pipeline,
            dirs: &dirs,
            store: history.store().map(|s| &**s),
            archive: false,
        };
        for failure in baton_finish::keep(&keep, &report, &outcome).not_recorded {
            health.report(failure.what, failure.message);
        }
    }
    drop(recorder);
    ci_page.finish(&report, history.store().map(|s| &**s));
    if let Some(export) = export {
        export.finish(&outcome, &report);
    }
    Ok(Exit::Command(command_status(outcome.records.first())))
}

/// The status a shell would give the command: its exit code, 128 + the signal
/// that ended it, 127 when it could not even be started.
fn command_status(record: Option<&BeatRecord>) -> u8 {
    let Some(record) = record else {
        return 127;
    };
    let code = record
        .exit_code
        .or(record.signal.map(|s| 128 + s))
        .unwrap_or(127);
    u8::try_from(code.rem_euclid(256)).unwrap_or(1)
}

/// A beat named after the command: its program's file name and the words that
/// follow up to the first option, at most three words.
fn default_beat_name(command: &[OsString]) -> String {
    let mut words = Vec::new();
    for (i, arg) in command.iter().enumerate() {
        let arg = arg.to_string_lossy();
        if i == 0 {
            let program = Path::new(arg.as_ref())
                .file_name()
                .map_or_else(|| arg.to_string(), |n| n.to_string_lossy().into_owned());
            words.push(program);
            continue;
        }
        if words.len() == 3 || arg.starts_with('-') || arg.contains(['/', '=']) {
            break;
        }
        words.push(arg.into_owned());
    }
    words.join(" ")
}

/// The command as one line, each argument quoted when a shell would need it:
/// the beat's `run`, for its record and its shape.
fn display_command(command: &[OsString]) -> String {
    command
        .iter()
        .map(|arg| {
            let arg = arg.to_string_lossy();
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                arg.into_owned()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A pipeline without beats, for what reads only its name and root.
fn pipeline_shell(name: String, cwd: &Path) -> Pipeline {
    Pipeline {
        version: 1,
        id: None,
        name,
        source: PathBuf::new(),
        root: cwd.to_owned(),
        sla: Default::default(),
        anomalies: Default::default(),
        shell: None,
        movements: Vec::new(),
    }
}

/// The one-beat pipeline of a call, rooted in the working directory.
fn exec_pipeline(args: &ExecArgs, cwd: &Path, pipeline_name: String, name: String) -> Pipeline {
    let beat_type = baton_model::BeatType::from(args.beat_type);
    let mut beat = BeatSpec {
        name,
        beat_type,
        run: display_command(&args.command),
        needs: Vec::new(),
        inputs: args.inputs.clone(),
        outputs: args.outputs.clone(),
        cache: baton_model::CacheSpec::default(),
        env: Default::default(),
        secrets: args.secrets.clone(),
        timeout: None,
        retry: baton_model::RetryPolicy::default(),
        level: Level::P,
        slo: beat_type.default_slo(),
        allow_failure: false,
        rollback: None,
        junit: None,
    };
    beat.secrets.dedup();
    Pipeline {
        movements: vec![MovementSpec {
            name: args.movement.clone(),
            parallel: false,
            beats: vec![beat],
        }],
        ..pipeline_shell(pipeline_name, cwd)
    }
}

/// Where this call's beat goes in its run: its movement's and its own index,
/// and its name, made unique in the run (`test`, then `test-2`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    movement_index: u32,
    beat_index: u32,
    name: String,
}

impl Place {
    /// After the beats a joined run holds already: a movement seen before keeps
    /// its index, a new one comes after the others.
    fn after(existing: &[BeatRecord], movement: &str, name: &str) -> Self {
        let movement_index = existing
            .iter()
            .find(|b| b.movement == movement)
            .map(|b| b.movement_index)
            .unwrap_or_else(|| {
                existing
                    .iter()
                    .map(|b| b.movement_index + 1)
                    .max()
                    .unwrap_or(0)
            });
        let beat_index = existing
            .iter()
            .filter(|b| b.movement_index == movement_index)
            .map(|b| b.beat_index + 1)
            .max()
            .unwrap_or(0);
        let taken = |candidate: &str| existing.iter().any(|b| b.beat == candidate);
        let mut unique = name.to_owned();
        let mut n = 2;
        while taken(&unique) {
            unique = format!("{name}-{n}");
            n += 1;
        }
        Self {
            movement_index,
            beat_index,
            name: unique,
        }
    }

    fn rename(&self, mut pipeline: Pipeline) -> Pipeline {
        pipeline.movements[0].beats[0].name = self.name.clone();
        pipeline
    }

    fn apply(&self, record: &mut BeatRecord) {
        record.movement_index = self.movement_index;
        record.beat_index = self.beat_index;
    }
}

/// The run this call's beat goes to, and the beat's place in it. A joined run is
/// opened in the store (created by the first call); when the store cannot be
/// used, the beat is still measured, as a run of its own that nothing records.
fn open_run(
    identity: &RunIdentity,
    pipeline: &Pipeline,
    state: &StateDir,
    history: &History,
    health: &RecordingHealth,
    git: &mut GitLater,
) -> (RunRecord, Place) {
    let spec = &pipeline.movements[0].beats[0];
    let mut run = new_run_record(pipeline, Level::P);
    run.pipeline_file = String::new();
    let fresh = Place::after(&[], &pipeline.movements[0].name, &spec.name);
    let RunIdentity::Joined { run_id, .. } = identity else {
        run.label = claim_label(state, &run.label);
        return (run, fresh);
    };
    run.run_id = *run_id;
    history.load_now();
    let Some(store) = history.store() else {
        run.label = claim_label(state, &run.label);
        return (run, fresh);
    };
    // Only a run this call creates needs a label of its own; git is asked then.
    let candidate = claim_label(state, &run.label);
    run.label = candidate.clone();
    run.git = git.get();
    match store.join_run(&run) {
        Ok((stored, beats)) => {
            if stored.label != candidate {
                let _ = std::fs::remove_dir(state.layout().run_logs(&candidate));
            }
            let place = Place::after(&beats, &pipeline.movements[0].name, &spec.name);
            (stored, place)
        }
        Err(err) => {
            health.report(
                baton_model::Recording::History,
                format!("the run: {}", baton_cache::error_chain(&err)),
            );
            (run, fresh)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_beat_is_named_after_its_program_and_first_words() {
        assert_eq!(
            default_beat_name(&argv(&["cargo", "test", "--workspace"])),
            "cargo test"
        );
        assert_eq!(
            default_beat_name(&argv(&["/usr/bin/make", "-j4", "all"])),
            "make"
        );
        assert_eq!(
            default_beat_name(&argv(&["npm", "run", "lint", "fix", "x"])),
            "npm run lint"
        );
        assert_eq!(
            default_beat_name(&argv(&["./ci.sh", "src/lib.rs"])),
            "ci.sh"
        );
    }

    #[test]
    fn the_command_is_shown_quoted_as_a_shell_would_need() {
        assert_eq!(
            display_command(&argv(&["sh", "-c", "echo 'hi' there", "a=b"])),
            r#"sh -c 'echo '\''hi'\'' there' a=b"#
        );
    }

    #[test]
    fn a_joined_beat_comes_after_the_run_s_beats_with_a_unique_name() {
        let run = baton_store::test_records::run(
            "p",
            baton_store::test_records::at(0),
            baton_model::RunStatus::Running,
        );
        let beat = |m: u32, b: u32, movement: &str, name: &str| {
            let mut r = baton_store::test_records::beat(
                &run,
                m,
                b,
                name,
                baton_model::BeatStatus::Success,
                1,
                baton_model::CacheState::Skip,
            );
            r.movement = movement.to_owned();
            r
        };
        let existing = vec![
            beat(0, 0, "exec", "test"),
            beat(0, 1, "exec", "lint"),
            beat(1, 0, "deploy", "push"),
        ];
        assert_eq!(
            Place::after(&existing, "exec", "test"),
            Place {
                movement_index: 0,
                beat_index: 2,
                name: "test-2".into()
            }
        );
        assert_eq!(
            Place::after(&existing, "release", "tag"),
            Place {
                movement_index: 2,
                beat_index: 0,
                name: "tag".into()
            }
        );
        assert_eq!(
            Place::after(&[], "exec", "x"),
            Place {
                movement_index: 0,
                beat_index: 0,
                name: "x".into()
            }
        );
    }
}
