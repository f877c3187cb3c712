//! `baton run`: plan, run with every consumer attached, judge, record, summarise.
//!
//! The runner emits one event stream; the terminal view and the history recorder
//! consume it. After the run, [`baton_finish`] makes the report (with the
//! anomalies the telemetry files found), writes the run's files and gives the
//! verdict, which this maps to the summary, warnings and the exit code. A failing
//! store or telemetry directory never changes the outcome unless `--strict` was
//! given.

pub(crate) mod webhook;

use std::io::IsTerminal;
use std::sync::Arc;

use baton_config::Severity;
use baton_finish::{Gate, Keep, Verdict};
use baton_model::{GitInfo, Level, Pipeline, Recording, RunEvent, RunRecord, RunStatus, SlaStatus};
use baton_report::RunReport;
use baton_runner::{CancelToken, ProcessSpawner, RunOptions, Selection};

use crate::cli::{OutputMode, RunArgs};
use crate::consumers::health::RecordingHealth;
use crate::consumers::recorder::Recorder;
use crate::consumers::telemetry_files::{BEAT_FILES_VAR, TelemetryFiles, beat_files_wanted};
use crate::consumers::terminal::Terminal;
use crate::consumers::{Consumer, Fanout};
use crate::exit::Exit;
use crate::history::History;
use crate::provenance;
use crate::state::StateDir;

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<Exit> {
    let level: Level = args.level.into();
    let path = baton_config::locate(args.file.as_deref());
    let Some(pipeline) = load_runnable(&path, level) else {
        return Ok(Exit::Usage);
    };
    let selection = Selection {
        level,
        only: args.only.clone(),
        from: args.from.clone(),
    };
    let plan = match baton_runner::plan(&pipeline, &selection) {
        Ok(plan) => plan,
        Err(err) => {
            crate::notice::error(err);
            return Ok(Exit::Usage);
        }
    };
    warn_about_skipped_needs(&pipeline, &plan);
    warn_about_skipped_only(&selection, &plan);
    if plan.beats.is_empty() {
        crate::notice::error(format!(
            "nothing to run: all {} beats are skipped ({})",
            plan.skipped.len(),
            skip_summary(&plan)
        ));
        return Ok(Exit::Usage);
    }
    if args.dry_run {
        stdout(&baton_report::render_dry_run(&plan));
        stdout(&dry_run_notes(&pipeline, &plan, args.jobs));
        return Ok(Exit::Success);
    }

    // Asking git costs a process (a few ms): it runs while the first beat does, and
    // the run's record gets it on its way to the consumers (GitLater). Whether the
    // work tree is clean (the input identity of beats without inputs) is asked on
    // another thread, waited for only when a beat's record needs it.
    let (clean_commit, clean_commit_finder) = baton_runner::CleanCommit::finding();
    let mut git = GitLater::start(pipeline.root.clone(), clean_commit_finder);
    let state = StateDir::for_pipeline(&pipeline.root);
    let mut health = RecordingHealth::default();
    health.check_state_dir(&state.root);
    // The webhook's outbox is retried from here on, while the beats run.
    let export = (!args.no_telemetry)
        .then(|| webhook::Export::start(&pipeline))
        .flatten();
    let beat_names: Vec<String> = plan.beats.iter().map(|b| b.name.clone()).collect();
    let history = if args.no_telemetry {
        History::none()
    } else {
        History::when_needed(
            state.clone(),
            pipeline.history_key().to_string(),
            beat_names.clone(),
            health.clone(),
        )
    };

    let mut run = new_run_record(&pipeline, level);
    run.label = claim_label(&state, &run.label);
    let mut opts = RunOptions::new(run, state.logs());
    opts.clean_commit = clean_commit;
    // A TRACEPARENT given to baton (a CI job's trace): the run joins that trace.
    opts.parent_trace_id =
        baton_runner::trace::parent_trace_id(std::env::var("TRACEPARENT").ok().as_deref());
    opts.shell = baton_runner::Shell::for_pipeline(&pipeline);
    if let Some(jobs) = args.jobs {
        opts.jobs = usize::from(jobs);
    }
    opts.cache_mode = match (args.no_cache, args.cache_only) {
        (true, _) => baton_runner::CacheMode::NoCache,
        (_, true) => baton_runner::CacheMode::CacheOnly,
        _ => baton_runner::CacheMode::Normal,
    };
    // Also for beats with inputs that are not cached: their key is their input
    // identity, and the cache's stat cache saves hashing unchanged files again.
    let keyed = plan
        .beats
        .iter()
        .any(|b| !b.spec(&pipeline).inputs.is_empty());
    if keyed {
        match baton_runner::Cache::open(&state.root) {
            Ok(cache) => opts.cache = Some(Arc::new(cache)),
            Err(err) => crate::notice::warning(format!(
                "the step cache is unavailable ({err}); every beat runs"
            )),
        }
    }
    let parallel = opts.jobs > 1 && plan.waves().iter().any(|w| w.len() > 1);
    let eta = {
        let history = Arc::clone(&history);
        move |beat: &str| {
            let hints = history.hints().get()?;
            hints.get(beat)?.median_duration_ms
        }
    };
    let mut terminal = Terminal::new(args.output, parallel, &beat_names, eta);
    let mut recorder =
        (!args.no_telemetry).then(|| Recorder::new(Arc::clone(&history), health.clone()));
    let mut files = (!args.no_telemetry).then(|| {
        TelemetryFiles::new(
            state.telemetry(),
            Arc::clone(&history),
            pipeline.anomalies,
            health.clone(),
            beat_files_wanted(level, std::env::var(BEAT_FILES_VAR).ok().as_deref()),
            baton_report::documented::allowed_failures(&pipeline),
        )
    });

    let mut ci_page = crate::consumers::ci::CiPage::for_run(&pipeline);
    let cancel: CancelToken = baton_runner::install_interrupt_handler();
    let outcome = {
        let mut consumers: Vec<&mut dyn Consumer> = vec![&mut terminal, &mut health];
        if !args.no_telemetry {
            consumers.push(&mut ci_page);
        }
        if let Some(r) = recorder.as_mut() {
            consumers.push(r);
        }
        if let Some(f) = files.as_mut() {
            consumers.push(f);
        }
        let mut fanout = Fanout::new(consumers);
        let mut sink = |mut event: RunEvent| {
            if matches!(event, RunEvent::RunStarted { .. }) {
                // The first event: the store opens and the hints load here, on the
                // consumers' thread, while the first beat runs.
                history.load_now();
            }
            if let RunEvent::RunStarted { run, .. } | RunEvent::RunFinished { run } = &mut event {
                run.git = git.get();
            }
            fanout.handle(event);
        };
        baton_runner::run_plan(
            &pipeline,
            &plan,
            &opts,
            &ProcessSpawner::default(),
            history.hints(),
            &mut sink,
            &cancel,
        )
    };
    let mut outcome = outcome;
    outcome.run.git = git.get();
    // The run is in the history now: its regressions are looked for while its
    // files are written and its summary printed (a read over every beat's series).
    let regressions = Regressions::look_for(&history, &outcome.run, &outcome.records);
    let anomalies = files
        .map(|files| files.finish(&outcome.records))
        .unwrap_or_default();
    let mut report = baton_finish::report(&outcome, anomalies);
    describe_evolutions(&mut report, history.store().map(|s| &**s));
    let dirs = state.layout();
    // The run's files are written on a thread of their own while the summary is
    // printed.
    let kept = std::thread::scope(|scope| {
        let kept = (!args.no_telemetry).then(|| {
            scope.spawn(|| {
                let keep = Keep {
                    pipeline: &pipeline,
                    dirs: &dirs,
                    store: history.store().map(|s| &**s),
                    archive: level == Level::Ff,
                };
                baton_finish::keep(&keep, &report, &outcome)
            })
        });
        print_summary(&report, args.output);
        for (beat, reason) in outcome.cache_miss_reasons() {
            stdout(&format!("cache miss {beat}: {reason}\n"));
        }
        kept.map(|k| k.join())
    });
    match kept {
        Some(Ok(kept)) => {
            for failure in kept.not_recorded {
                health.report(failure.what, failure.message);
            }
            if let Some(dir) = kept.archived {
                crate::notice::note(format!("archived the run to {}", dir.display()));
            }
        }
        Some(Err(_)) => health.report(
            Recording::TelemetryFiles,
            "internal error: writing the run's files panicked",
        ),
        None => {}
    }
    // Dropped first: its thread is joined, and no failure comes later.
    drop(recorder);
    if let Some(store) = history.store() {
        let evolved = !report.evolved_shapes.is_empty();
        if let Err(err) = crate::shape_registry::after_run(&state, store.as_ref(), evolved) {
            health.report(Recording::TelemetryFiles, format!("{err:#}"));
        }
        collect_garbage(&state, store.as_ref(), &outcome.run);
    }
    regressions.print();
    ci_page.finish(&report, history.store().map(|s| &**s));
    if let Some(export) = export {
        export.finish(&outcome, &report);
    }

    let gate = Gate {
        fail_on: args.fail_on.map(SlaStatus::from),
        strict: args.strict,
    };
    let verdict = baton_finish::verdict(&pipeline, &report, &gate, &health.failures());
    Ok(exit_for(verdict))
}

/// The automatic `baton gc` past the size cap (see [`crate::auto_gc`]): one line
/// says what went; a failure is one warning and the run's outcome stands.
fn collect_garbage(state: &StateDir, store: &dyn baton_store::HistoryStore, run: &RunRecord) {
    use crate::auto_gc::{DEFAULT_CAP, MAX_SIZE_VAR};
    let var = std::env::var(MAX_SIZE_VAR).ok();
    let cap = match crate::auto_gc::cap_from(var.as_deref()) {
        Ok(Some(cap)) => cap,
        Ok(None) => return,
        Err(err) => {
            crate::notice::warning(format!(
                "{err}; the default cap of {} applies",
                baton_report::format::bytes(DEFAULT_CAP)
            ));
            DEFAULT_CAP
        }
    };
    match crate::auto_gc::after_run(state, store, run, cap) {
        Ok(Some(done)) if done.runs > 0 => crate::notice::note(format!(
            "gc: removed the {} oldest run(s) ({}) to keep the history under {} ({MAX_SIZE_VAR}); {} left",
            done.runs,
            baton_report::format::bytes(done.bytes),
            baton_report::format::bytes(cap),
            baton_report::format::bytes(done.left),
        )),
        Ok(_) => {}
        Err(err) => crate::notice::warning(format!(
            "failed to remove old runs past the history's size cap: {err:#}"
        )),
    }
}

/// Says what changed in the run's evolved shapes, from the records they evolved
/// from (no read at all when no shape evolved). Shadow principle: a history that
/// cannot be read leaves the shapes unexplained, and the run goes on.
fn describe_evolutions(report: &mut RunReport, store: Option<&dyn baton_store::HistoryStore>) {
    let Some(store) = store.filter(|_| !report.evolved_shapes.is_empty()) else {
        return;
    };
    let pipeline_id = report.run.pipeline_id.clone();
    if let Ok(previous) = super::reading::previous_shapes(store, &pipeline_id, &report.beats) {
        report.describe_evolutions(&previous);
    }
}

/// A slowdown this run revealed, one line per beat (see [`crate::signals::summary`]),
/// looked for on a thread of its own once the run is recorded. The run's outcome
/// does not depend on it: a store that cannot be read is one warning.
struct Regressions(Option<std::thread::JoinHandle<baton_store::Result<Vec<String>>>>);

impl Regressions {
    fn look_for(history: &History, run: &RunRecord, records: &[baton_model::BeatRecord]) -> Self {
        let Some(store) = history.store().cloned() else {
            return Self(None);
        };
        let (run, records) = (run.clone(), records.to_vec());
        let look =
            move || crate::signals::summary::regression_lines(store.as_ref(), &run, &records);
        Self(std::thread::Builder::new().spawn(look).ok())
    }

    fn print(self) {
        let Some(found) = self.0 else {
            return;
        };
        match found.join() {
            Ok(Ok(lines)) => {
                for line in lines {
                    stdout(&format!("{line}\n"));
                }
            }
            Ok(Err(err)) => crate::notice::warning(format!(
                "failed to look for regressions in the history: {err}"
            )),
            Err(_) => crate::notice::warning("internal error: looking for regressions panicked"),
        }
    }
}

/// The git commit, branch and author of the run, asked on a thread of its own so
/// that no beat waits for git; whoever first needs them (the consumers, when the
/// run starts) waits for that thread instead. Outside a repository there is no
/// thread and no git.
pub(crate) struct GitLater {
    thread: Option<std::thread::JoinHandle<Option<GitInfo>>>,
    info: Option<GitInfo>,
}

impl GitLater {
    /// Starts asking git; `clean_commit` is told the commit when the work tree is
    /// clean (outside a repository, dropped: none).
    pub(crate) fn start(
        root: std::path::PathBuf,
        clean_commit: baton_runner::CleanCommitFinder,
    ) -> Self {
        if !provenance::in_git_work_tree(&root) {
            return Self {
                thread: None,
                info: None,
            };
        }
        let status_root = root.clone();
        std::thread::spawn(move || clean_commit.set(provenance::clean_commit(&status_root)));
        let thread = Some(std::thread::spawn(move || provenance::git_info(&root)));
        Self { thread, info: None }
    }

    pub(crate) fn get(&mut self) -> Option<GitInfo> {
        if let Some(thread) = self.thread.take() {
            self.info = thread.join().unwrap_or_default();
        }
        self.info.clone()
    }
}

/// Load the pipeline and print what blocks it. At level f and above, minor
/// validation findings (warnings) block the run too.
fn load_runnable(path: &std::path::Path, level: Level) -> Option<Pipeline> {
    // Info findings are not shown here (`baton validate` shows them).
    let loaded = baton_config::load_findings(path, Severity::Minor);
    let file = loaded.display_path();
    let strict = level >= Level::F;
    let blocking = |s: Severity| s >= Severity::Major || (strict && s == Severity::Minor);
    for d in loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity >= Severity::Minor)
    {
        let kind = if blocking(d.severity) {
            crate::notice::Kind::Error
        } else {
            crate::notice::Kind::Warning
        };
        crate::notice::emit(kind, format!("{} [{}]", d.located(&file), d.code.as_str()));
    }
    let blocked = loaded.diagnostics.iter().any(|d| blocking(d.severity));
    if blocked && strict && loaded.pipeline.is_some() {
        crate::notice::error(format!("at level {level} validation warnings are errors"));
    }
    if blocked { None } else { loaded.pipeline }
}

pub(crate) fn new_run_record(pipeline: &Pipeline, level: Level) -> RunRecord {
    let now = jiff::Timestamp::now();
    let local = now.to_zoned(local_time_zone());
    RunRecord {
        run_id: uuid::Uuid::now_v7(),
        label: baton_model::layout::run_label_base(&local),
        pipeline_id: pipeline.history_key().to_string(),
        pipeline_name: pipeline.name.clone(),
        // Absolute, so that `artifacts verify` finds the files from any directory.
        pipeline_file: std::fs::canonicalize(&pipeline.source)
            .unwrap_or_else(|_| pipeline.source.clone())
            .display()
            .to_string(),
        level,
        // Filled in on the way to the consumers: see GitLater.
        git: None,
        host: provenance::host_name(),
        ci: provenance::detect_ci(|k| std::env::var(k).ok()),
        started_at: now,
        finished_at: None,
        heartbeat_at: now,
        status: RunStatus::Running,
        baton_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// The local time zone for run labels. Without `TZ`, `/etc/localtime` is read
/// directly: `TimeZone::system()` would first index the whole zoneinfo database to
/// name the zone (about a millisecond), and a label needs no name.
fn local_time_zone() -> jiff::tz::TimeZone {
    if std::env::var_os("TZ").is_none()
        && let Ok(data) = std::fs::read("/etc/localtime")
        && let Ok(tz) = jiff::tz::TimeZone::tzif("localtime", &data)
    {
        return tz;
    }
    jiff::tz::TimeZone::system()
}

/// A beat whose need is skipped (by level or `--from`) runs without it: say so.
fn warn_about_skipped_needs(pipeline: &Pipeline, plan: &baton_runner::Plan) {
    for planned in &plan.beats {
        for need in &planned.spec(pipeline).needs {
            if let Some(skipped) = plan.skipped.iter().find(|s| &s.name == need) {
                crate::notice::warning(format!(
                    "beat '{}' needs '{need}', which does not run ({}); it runs without it",
                    planned.name, skipped.reason
                ));
            }
        }
    }
}

/// A beat named by `--only` that does not run (above the level, say), when others
/// named with it do: said, not silently dropped.
fn warn_about_skipped_only(selection: &Selection, plan: &baton_runner::Plan) {
    for name in &selection.only {
        if let Some(skipped) = plan.skipped.iter().find(|s| &s.name == name) {
            crate::notice::warning(format!(
                "beat '{name}', named by --only, does not run ({})",
                skipped.reason
            ));
        }
    }
}

fn skip_summary(plan: &baton_runner::Plan) -> String {
    let mut reasons: Vec<String> = plan.skipped.iter().map(|s| s.reason.to_string()).collect();
    reasons.sort();
    reasons.dedup();
    reasons.join("; ")
}

/// Labels have one-second resolution; runs started in the same second get `-2`,
/// `-3`... Claiming the log folder with `create_dir` makes this safe across processes.
pub(crate) fn claim_label(state: &StateDir, base: &str) -> String {
    let layout = state.layout();
    if std::fs::create_dir_all(layout.logs()).is_err() {
        return base.to_string();
    }
    for n in 1..1000 {
        let label = baton_model::layout::run_label_candidate(base, n);
        match std::fs::create_dir(layout.run_logs(&label)) {
            Ok(()) => return label,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => break,
        }
    }
    // The log folder cannot be claimed (it will warn later): stay unique anyway.
    format!(
        "{base}-{}",
        &uuid::Uuid::now_v7().simple().to_string()[24..]
    )
}

fn print_summary(report: &RunReport, mode: OutputMode) {
    // Nobody reads it (about a tenth of a no-op run's instructions).
    if stdout_is_null() {
        return;
    }
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if mode != OutputMode::Quiet {
        stdout("\n");
    }
    stdout(&baton_report::render_text(report, color));
}

/// Whether stdout is `/dev/null` (`baton run > /dev/null`): the same character
/// device. Anything else, or a failure to tell, counts as read.
fn stdout_is_null() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(out) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return false;
    };
    let (Ok(out), Ok(null)) = (
        std::fs::File::from(out).metadata(),
        std::fs::metadata("/dev/null"),
    ) else {
        return false;
    };
    out.file_type().is_char_device() && out.rdev() == null.rdev()
}

/// What the plan alone does not say: how `-j` bounds its waves, and which cached
/// beats would be restored instead of run (with the files as they are now: a
/// beat that an earlier one's outputs feed may still miss). Reads the cache only
/// if there is one (without one, creates nothing).
fn dry_run_notes(pipeline: &Pipeline, plan: &baton_runner::Plan, jobs: Option<u16>) -> String {
    let mut out = String::new();
    let jobs = jobs.map_or_else(baton_runner::default_jobs, usize::from);
    let widest = plan.waves().iter().map(Vec::len).max().unwrap_or(0);
    if widest > jobs {
        out.push_str(&format!(
            "\n-j {jobs}: at most {jobs} at a time (the widest wave has {widest} beats)\n"
        ));
    }
    let state = StateDir::for_pipeline(&pipeline.root);
    let cacheable: Vec<_> = plan
        .beats
        .iter()
        .map(|b| b.spec(pipeline))
        .filter(|spec| baton_cache::is_cacheable(spec))
        .collect();
    if cacheable.is_empty() {
        return out;
    }
    out.push_str("\ncache (inputs as they are now):\n");
    let cache = state
        .layout()
        .cache()
        .is_dir()
        .then(|| baton_runner::Cache::open(&state.root));
    let shell = baton_runner::Shell::for_pipeline(pipeline);
    for spec in cacheable {
        let verdict = match &cache {
            None => "miss: no cache yet".to_owned(),
            Some(Err(err)) => format!("unknown: the cache cannot be read ({err})"),
            Some(Ok(cache)) => {
                let key = baton_runner::cache_key_spec(pipeline, spec, &shell);
                match cache.explain_current(&key) {
                    Ok(now) if now.would_hit => "hit: restored, not run".to_owned(),
                    Ok(now) => match now.explanation {
                        Some(why) if !why.is_empty() => format!("miss: {}", why.summary()),
                        _ => "miss: never stored".to_owned(),
                    },
                    Err(err) => format!("unknown: {err}"),
                }
            }
        };
        out.push_str(&format!("  {}  {verdict}\n", spec.name));
    }
    out
}

/// Write to stdout, ignoring a closed pipe (`baton run | head`): the run's outcome
/// and its records matter more than the terminal.
fn stdout(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// The exit code of a run's verdict, and what it says on stderr.
fn exit_for(verdict: Verdict) -> Exit {
    match verdict {
        Verdict::Passed => Exit::Success,
        Verdict::Cancelled => Exit::Interrupted {
            signal: baton_runner::first_interrupt_signal(),
        },
        Verdict::BeatFailed => Exit::BeatFailed,
        Verdict::SlaGateFailed { worst, threshold } => {
            crate::notice::note(format!(
                "SLA gate failed: worst verdict is {worst} (--fail-on {})",
                threshold.as_str()
            ));
            Exit::SlaGate
        }
        Verdict::NotRecorded { failures } => {
            crate::notice::error(format!("--strict: not recorded: {}", failures.join("; ")));
            Exit::Internal
        }
    }
}
