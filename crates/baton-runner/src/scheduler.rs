//! Running a plan: beats start when what they wait for is done, at most `jobs` at a
//! time (on up to `jobs` worker threads, no async runtime), each through the
//! [`Spawner`], with retries, and the whole run is told as one [`RunEvent`] stream.
//!
//! - Retries: up to `retry.attempts`, waiting `backoff * factor^(n-2)` before
//!   attempt n, when the failure matches `retry.on` (empty: any failure).
//! - `allow_failure`: a beat that fails for good does not fail the run.
//! - A beat that fails for good stops the run: no new beat starts, the running
//!   ones (all in the same movement, by the barrier) finish, then the `rollback`
//!   commands of that movement's successful beats run in reverse completion order
//!   ([`RunEvent::RollbackFinished`]), and every beat that did not run gets a
//!   record with status skipped ("an earlier beat failed").
//! - Cancellation ([`CancelToken`]): no new beat starts; the spawner interrupts
//!   (graceful) or kills the running beats, which end as cancelled; the beats that
//!   never started are skipped ("the run was cancelled"); the run is cancelled.
//! - Beats the plan skips (level, `--only`, `--from`) get no record: they are in
//!   the plan.
//! - The step cache ([`RunOptions::cache`], see [`crate::cache_step`]) is asked
//!   before a beat's first attempt: a hit is restored instead of run (its saved log
//!   replayed, status success, exit code 0, one attempt, the duration being the
//!   key computation and the restore); a miss runs (with its retries) and is
//!   stored after a success. The key computation counts in a beat's duration.
//! - After a beat ends, its `outputs` are collected with their SHA-256 (the
//!   artifact list in [`RunOutcome::details`], from which `artifacts_count` and
//!   `artifacts_bytes` come).
//!
//! The beats run on up to `jobs` worker threads that share one board (what is
//! pending, running, done) under a lock: a worker that ends a beat starts the next
//! ready one itself. Every thread sends its events through one bounded channel to
//! the thread that called [`run_plan`], which alone calls `sink`.

use std::collections::{HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use baton_cache::{Cache, CacheMode, error_chain};
use baton_model::{
    ARTIFACT_MANIFEST_VERSION, ArtifactManifest, BeatArtifacts, BeatDetails, BeatRecord, BeatSpec,
    BeatStatus, CacheState, Pipeline, RetryOn, RetryPolicy, RunEvent, RunRecord, RunStatus,
};
use jiff::Timestamp;

use crate::cache_step::{self, Before};
use crate::cancel::{CancelLevel, CancelToken};
use crate::hints::HistoryHints;
use crate::output::{BeatOutput, Emit, Masker};
use crate::plan::Plan;
use crate::record::{Measured, RecordContext, build_record, skipped_record};
use crate::spawner::{Shell, SpawnRequest, SpawnResult, Spawner};
use crate::{baton_output, trace};

/// Events waiting for the consumer; a beat producing more waits (its pipe fills).
const EVENT_QUEUE: usize = 256;

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run being made, with status running; finished by [`run_plan`].
    pub run: RunRecord,
    /// At most this many beats at once (`-j`; at least 1).
    pub jobs: usize,
    /// Logs go to `<logs_dir>/<run label>/<movement>/<beat>.log`.
    pub logs_dir: PathBuf,
    pub shell: Shell,
    /// Between SIGTERM and SIGKILL when a beat times out.
    pub kill_grace: Duration,
    /// The step cache; `None` runs every beat (cache state skip).
    pub cache: Option<Arc<Cache>>,
    /// `--no-cache` / `--cache-only`.
    pub cache_mode: CacheMode,
}

impl RunOptions {
    /// Defaults: as many jobs as cores, the detected shell, a 5 s kill grace.
    pub fn new(run: RunRecord, logs_dir: impl Into<PathBuf>) -> Self {
        Self {
            run,
            jobs: default_jobs(),
            logs_dir: logs_dir.into(),
            shell: Shell::detect(),
            kill_grace: Duration::from_secs(5),
            cache: None,
            cache_mode: CacheMode::Normal,
        }
    }
}

/// The number of cores, the default for `-j`.
pub fn default_jobs() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
}

/// How a run ended: the finished run record and one record per planned beat, in
/// plan order, each with its details (cache key, miss reason, artifacts) at the
/// same index.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub run: RunRecord,
    pub records: Vec<BeatRecord>,
    pub details: Vec<BeatDetails>,
}

impl RunOutcome {
    pub fn status(&self) -> RunStatus {
        self.run.status
    }

    /// The run's artifacts: the content of `artifacts.json`. Beats without
    /// artifacts are left out.
    pub fn artifact_manifest(&self) -> ArtifactManifest {
        ArtifactManifest {
            format_version: ARTIFACT_MANIFEST_VERSION,
            run_id: self.run.run_id,
            run_label: self.run.label.clone(),
            pipeline_id: self.run.pipeline_id.clone(),
            beats: self
                .records
                .iter()
                .zip(&self.details)
                .filter(|(_, d)| !d.artifacts.is_empty())
                .map(|(r, d)| BeatArtifacts {
                    movement: r.movement.clone(),
                    beat: r.beat.clone(),
                    files: d.artifacts.clone(),
                })
                .collect(),
        }
    }

    /// `(beat, reason)` for each cache miss that had an earlier entry: one line
    /// each for the run summary.
    pub fn cache_miss_reasons(&self) -> Vec<(&str, &str)> {
        self.records
            .iter()
            .zip(&self.details)
            .filter(|(r, _)| matches!(r.cache_state, CacheState::Miss))
            .filter_map(|(r, d)| Some((r.beat.as_str(), d.cache_miss_reason.as_deref()?)))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done,
}

/// What every beat thread shares.
struct Ctx<'a> {
    pipeline: &'a Pipeline,
    plan: &'a Plan,
    opts: &'a RunOptions,
    spawner: &'a dyn Spawner,
    history: &'a HistoryHints,
    cancel: &'a CancelToken,
    masker: Arc<Masker>,
    run_dir: PathBuf,
    /// Log folders already made in this run (one `mkdir` per movement, not per beat).
    log_dirs: Mutex<HashSet<PathBuf>>,
}

/// The consumers' queue, as every thread of the run sends to it. Once the
/// consumers are gone (one panicked) `gone` is set and no new beat starts.
#[derive(Clone)]
struct Events {
    tx: SyncSender<RunEvent>,
    gone: Arc<AtomicBool>,
}

impl Events {
    fn send(&self, event: RunEvent) {
        if self.tx.send(event).is_err() {
            self.gone.store(true, Ordering::SeqCst);
        }
    }

    fn gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    fn emitter(&self) -> Arc<Emit> {
        let events = self.clone();
        Arc::new(move |event| events.send(event))
    }
}

/// Runs `plan` of `pipeline`. See the module documentation for the rules.
///
/// The consumers (`sink`) run on the calling thread while the scheduling runs on a
/// thread of its own, so that a consumer taking its time (the history store, the
/// telemetry files) never delays the start of the next beat.
pub fn run_plan(
    pipeline: &Pipeline,
    plan: &Plan,
    opts: &RunOptions,
    spawner: &dyn Spawner,
    history: &HistoryHints,
    sink: &mut dyn FnMut(RunEvent),
    cancel: &CancelToken,
) -> RunOutcome {
    let secret_values: Vec<String> = pipeline
        .beats()
        .flat_map(|(_, b)| b.secrets.iter())
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    let ctx = Ctx {
        pipeline,
        plan,
        opts,
        spawner,
        history,
        cancel,
        masker: Arc::new(Masker::new(&secret_values)),
        run_dir: opts.logs_dir.join(path_safe(&opts.run.label)),
        log_dirs: Mutex::new(HashSet::new()),
    };
    let (tx, events_rx) = mpsc::sync_channel::<RunEvent>(EVENT_QUEUE);
    let events = Events {
        tx,
        gone: Arc::new(AtomicBool::new(false)),
    };
    thread::scope(|scope| {
        let ctx = &ctx;
        let scheduler = scope.spawn(move || schedule(ctx, events));
        for event in events_rx {
            sink(event);
        }
        match scheduler.join() {
            Ok(outcome) => outcome,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Where the run stands, shared by the workers under one lock.
struct Board {
    state: Vec<State>,
    /// Beats claimed or running.
    running: usize,
    /// Beats claimed to start that no worker has taken yet.
    claimed: VecDeque<usize>,
    /// Worker threads started, and how many of them wait for a ready beat.
    workers: usize,
    idle: usize,
    records: Vec<Option<BeatRecord>>,
    details: Vec<Option<BeatDetails>>,
    succeeded_in_order: Vec<usize>,
    failed_movement: Option<usize>,
}

impl Board {
    fn new(beats: usize) -> Self {
        Self {
            state: vec![State::Pending; beats],
            running: 0,
            claimed: VecDeque::new(),
            workers: 1,
            idle: 0,
            records: vec![None; beats],
            details: vec![None; beats],
            succeeded_in_order: Vec::new(),
            failed_movement: None,
        }
    }

    /// Claims every pending beat whose dependencies are done, while fewer than
    /// `jobs` beats are claimed or running.
    fn claim_ready(&mut self, plan: &Plan, jobs: usize) {
        for i in 0..self.state.len() {
            if self.running >= jobs {
                return;
            }
            let ready = self.state[i] == State::Pending
                && plan.beats[i]
                    .deps
                    .iter()
                    .all(|&d| self.state[d] == State::Done);
            if ready {
                self.state[i] = State::Running;
                self.running += 1;
                self.claimed.push_back(i);
            }
        }
    }
}

/// The workers of one run: the scheduling thread and the helpers it hires.
struct Team<'c, 'a> {
    ctx: &'c Ctx<'a>,
    events: Events,
    jobs: usize,
    board: Mutex<Board>,
    /// Told when beats are claimed or end: idle workers look at the board again.
    changed: Condvar,
}

impl Team<'_, '_> {
    fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stopping(&self, board: &Board) -> bool {
        board.failed_movement.is_some() || self.ctx.cancel.is_cancelled() || self.events.gone()
    }
}

/// The scheduling thread of [`run_plan`]: runs the beats (on itself and up to
/// `jobs - 1` helper threads), then the rollbacks, and tells everything in order.
fn schedule(ctx: &Ctx<'_>, events: Events) -> RunOutcome {
    let (plan, opts) = (ctx.plan, ctx.opts);
    let mut run = opts.run.clone();
    events.send(RunEvent::RunStarted {
        run: run.clone(),
        planned_beats: plan.beats.iter().map(|b| b.name.clone()).collect(),
    });

    let n = plan.beats.len();
    let team = Team {
        ctx,
        events: events.clone(),
        jobs: opts.jobs.max(1),
        board: Mutex::new(Board::new(n)),
        changed: Condvar::new(),
    };
    thread::scope(|scope| work(&team, scope));
    let Board {
        mut records,
        details,
        succeeded_in_order,
        failed_movement,
        ..
    } = team
        .board
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);

    let cancelled = ctx.cancel.is_cancelled();
    // A failed movement's successful beats are undone, newest first.
    if let Some(m) = failed_movement.filter(|_| !cancelled) {
        let to_undo: Vec<usize> = succeeded_in_order
            .iter()
            .rev()
            .copied()
            .filter(|&i| plan.beats[i].movement_index == m && ctx.spec(i).rollback.is_some())
            .collect();
        if catch_unwind(AssertUnwindSafe(|| run_rollbacks(ctx, &to_undo, &events))).is_err() {
            events.send(RunEvent::Warning {
                message: "internal error: the rollbacks panicked".into(),
            });
        }
    }

    let reason = if cancelled {
        "the run was cancelled"
    } else {
        "an earlier beat failed"
    };
    let now = Timestamp::now();
    for (i, slot) in records.iter_mut().enumerate() {
        if slot.is_none() {
            let record = skipped_record(&ctx.record_context(i, None), reason, now);
            events.send(RunEvent::BeatFinished {
                record: Box::new(record.clone()),
            });
            *slot = Some(record);
        }
    }

    let details = details
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            d.unwrap_or_else(|| BeatDetails {
                beat: plan.beats[i].name.clone(),
                ..BeatDetails::default()
            })
        })
        .collect();

    run.status = if cancelled {
        RunStatus::Cancelled
    } else if failed_movement.is_some() {
        RunStatus::Failure
    } else {
        RunStatus::Success
    };
    let finished = Timestamp::now();
    run.finished_at = Some(finished);
    run.heartbeat_at = finished;
    events.send(RunEvent::RunFinished { run: run.clone() });
    RunOutcome {
        run,
        records: records.into_iter().flatten().collect(),
        details,
    }
}

/// One worker: runs claimed beats until nothing is running and nothing can start.
///
/// Whoever looks at the board claims every beat that is ready at that moment (as
/// many as `jobs` allows), so that beats ready together start together whatever
/// happens next. The worker runs one claim itself and leaves the rest to idle
/// workers or to helpers it hires; a worker that finishes a beat claims and starts
/// the next itself, so a chain of beats never waits on a hand-over between threads.
fn work<'scope, 'c: 'scope, 'a: 'scope>(
    team: &'scope Team<'c, 'a>,
    scope: &'scope thread::Scope<'scope, '_>,
) {
    let (ctx, plan) = (team.ctx, team.ctx.plan);
    let mut board = team.board();
    loop {
        if !team.stopping(&board) {
            board.claim_ready(plan, team.jobs);
        }
        let Some(index) = board.claimed.pop_front() else {
            if board.running == 0 {
                // The run is over (or stopping with nothing left running).
                team.changed.notify_all();
                return;
            }
            board.idle += 1;
            board = team
                .changed
                .wait(board)
                .unwrap_or_else(PoisonError::into_inner);
            board.idle -= 1;
            continue;
        };
        if !board.claimed.is_empty() {
            team.changed.notify_all();
            for _ in board.idle..board.claimed.len() {
                if board.workers < team.jobs {
                    board.workers += 1;
                    scope.spawn(move || work(team, scope));
                }
            }
        }
        drop(board);

        let (record, details) = guarded_beat(ctx, index, &team.events);

        board = team.board();
        board.running -= 1;
        board.state[index] = State::Done;
        let planned = &plan.beats[index];
        if record.status == BeatStatus::Success {
            board.succeeded_in_order.push(index);
        } else if record.status.is_failure() && !ctx.spec(index).allow_failure {
            board.failed_movement.get_or_insert(planned.movement_index);
        }
        // Told under the lock: a beat that needs this one starts after it is told.
        team.events.send(RunEvent::BeatFinished {
            record: Box::new(record.clone()),
        });
        board.records[index] = Some(record);
        board.details[index] = Some(details);
        if board.idle > 0 {
            team.changed.notify_all();
        }
    }
}

impl Ctx<'_> {
    fn spec(&self, index: usize) -> &BeatSpec {
        let planned = &self.plan.beats[index];
        &self.pipeline.movements[planned.movement_index].beats[planned.beat_index]
    }

    fn log_path(&self, index: usize) -> PathBuf {
        let planned = &self.plan.beats[index];
        self.run_dir
            .join(path_safe(&planned.movement))
            .join(format!("{}.log", path_safe(&planned.name)))
    }

    /// The output of beat `index` into its log at `log_path`, its folder made once
    /// per run.
    fn output(&self, index: usize, log_path: &Path, emit: &Arc<Emit>) -> BeatOutput {
        let folder = log_path.parent().map_or(Ok(()), |dir| {
            let mut made = self.log_dirs.lock().unwrap_or_else(PoisonError::into_inner);
            if made.contains(dir) {
                return Ok(());
            }
            std::fs::create_dir_all(dir)?;
            made.insert(dir.to_owned());
            Ok(())
        });
        BeatOutput::open_prepared(
            &self.spec(index).name,
            Some((log_path, folder)),
            Arc::clone(&self.masker),
            Arc::clone(emit),
        )
    }

    fn record_context<'b>(&'b self, index: usize, log_path: Option<&'b str>) -> RecordContext<'b> {
        let planned = &self.plan.beats[index];
        RecordContext {
            run_id: self.opts.run.run_id,
            pipeline: self.pipeline,
            movement_index: planned.movement_index,
            beat_index: planned.beat_index,
            // Loaded by now, or soon: the beat has run already.
            history: self.history.wait().get(&planned.name),
            log_path,
        }
    }

    /// The environment baton adds for `beat`: its `env`, its secrets (from baton's
    /// own environment), `BATON_RUN_ID` and `BATON_BEAT`; `TRACEPARENT` is added
    /// per attempt.
    fn env(&self, beat: &BeatSpec, warn: &dyn Fn(String)) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = beat
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for name in &beat.secrets {
            match std::env::var(name) {
                Ok(value) => env.push((name.clone(), value)),
                Err(_) => warn(format!(
                    "beat '{}': secret {name} is not set in baton's environment",
                    beat.name
                )),
            }
        }
        env.push(("BATON_RUN_ID".into(), self.opts.run.run_id.to_string()));
        env.push(("BATON_BEAT".into(), beat.name.clone()));
        env
    }
}

/// [`run_beat`], turning a panic (a bug, or a spawner's) into a failed beat so the
/// run still ends with every record.
fn guarded_beat(ctx: &Ctx<'_>, index: usize, events: &Events) -> (BeatRecord, BeatDetails) {
    let started_at = Timestamp::now();
    match catch_unwind(AssertUnwindSafe(|| run_beat(ctx, index, events))) {
        Ok(done) => done,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let mut measured = Measured::new(started_at, BeatStatus::Failure);
            measured.reason = Some(format!(
                "internal error: the beat's thread panicked: {what}"
            ));
            let (record, _) = build_record(&ctx.record_context(index, None), &measured);
            let details = BeatDetails {
                beat: record.beat.clone(),
                ..BeatDetails::default()
            };
            (record, details)
        }
    }
}

/// Runs beat `index` (from the cache, or every attempt): its record and details.
fn run_beat(ctx: &Ctx<'_>, index: usize, events: &Events) -> (BeatRecord, BeatDetails) {
    let planned = &ctx.plan.beats[index];
    let beat = ctx.spec(index);
    let emit = events.emitter();
    let warn = |message: String| {
        emit(RunEvent::Warning {
            message: ctx.masker.mask_str(&message),
        })
    };
    let log_path = ctx.log_path(index);
    let output = ctx.output(index, &log_path, &emit);

    let started = Instant::now();
    let mut measured = Measured::new(Timestamp::now(), BeatStatus::Success);
    emit(RunEvent::BeatStarted {
        movement_index: index_u32(planned.movement_index),
        beat: beat.name.clone(),
        attempt: 1,
    });
    let cache = ctx.opts.cache.as_deref();
    let before = cache_step::before(
        cache,
        ctx.opts.cache_mode,
        ctx.pipeline,
        beat,
        &ctx.opts.shell,
        &ctx.opts.run.run_id.to_string(),
        &warn,
    );
    let mut details = BeatDetails {
        beat: beat.name.clone(),
        ..BeatDetails::default()
    };
    let to_run = match before {
        Before::Hit { key, restored } => {
            output.note(&format!(
                "restored from the cache (key {}): {} files restored, {} already up to date",
                key.key.get(..16).unwrap_or(&key.key),
                restored.files_restored,
                restored.files_up_to_date
            ));
            if let Err(err) = cache_step::replay_log(&restored.log, &output) {
                warn(format!(
                    "beat '{}': failed to replay its cached log: {err}",
                    beat.name
                ));
            }
            measured.attempts = 1;
            measured.exit_code = Some(0);
            measured.cache_state = Some(CacheState::Hit);
            details.cache_key = Some(key.key);
            details.artifacts = restored.artifacts;
            None
        }
        Before::Refuse { run, reason } => {
            measured.status = BeatStatus::Failure;
            measured.reason = Some(reason);
            measured.cache_state = Some(run.state);
            details.cache_key = run.key.map(|(_, key)| key.key);
            details.cache_miss_reason = run.miss_reason;
            None
        }
        Before::Run(run) => {
            if let Some(reason) = &run.miss_reason {
                output.note(&format!("cache miss: {reason}"));
            }
            run_attempts(ctx, index, &output, &*emit, &warn, &mut measured);
            Some(run)
        }
    };
    measured.duration = started.elapsed();
    if measured.status.is_failure() && beat.allow_failure {
        let why = measured
            .reason
            .take()
            .map_or(String::new(), |r| format!("{r}; "));
        measured.reason = Some(format!("{why}allowed to fail"));
    }
    if let Err(err) = output.finish() {
        emit(RunEvent::RecordingFailed {
            what: "logs".into(),
            message: format!("beat '{}': {}", beat.name, error_chain(&err)),
        });
    }

    if let Some(run) = to_run {
        measured.cache_state = Some(run.state);
        let stored = match cache {
            Some(cache) if measured.status == BeatStatus::Success => {
                cache_step::after_success(cache, &run, &log_path, &warn)
            }
            _ => None,
        };
        details.artifacts = match stored {
            Some(artifacts) => artifacts,
            None => {
                let (artifacts, problems) =
                    baton_cache::artifact_manifest(&ctx.pipeline.root, &beat.outputs);
                for problem in problems {
                    warn(format!("beat '{}': {problem}", beat.name));
                }
                artifacts
            }
        };
        details.cache_key = run.key.map(|(_, key)| key.key);
        details.cache_miss_reason = run.miss_reason;
    }
    measured.artifacts = Some(details.artifacts.clone());

    let log = log_path.display().to_string();
    let (record, problems) = build_record(&ctx.record_context(index, Some(&log)), &measured);
    for problem in problems {
        warn(format!("beat '{}': {problem}", beat.name));
    }
    (record, details)
}

/// Runs the attempts of beat `index` (retrying as its policy says) into `measured`.
fn run_attempts(
    ctx: &Ctx<'_>,
    index: usize,
    output: &BeatOutput,
    emit: &Emit,
    warn: &dyn Fn(String),
    measured: &mut Measured,
) {
    let planned = &ctx.plan.beats[index];
    let beat = ctx.spec(index);
    let base_env = ctx.env(beat, warn);
    let max_attempts = beat.retry.attempts.max(1);
    for attempt in 1..=max_attempts {
        // The first attempt's start was told before the cache was asked.
        if attempt > 1 {
            emit(RunEvent::BeatStarted {
                movement_index: index_u32(planned.movement_index),
                beat: beat.name.clone(),
                attempt,
            });
        }
        if max_attempts > 1 {
            output.note(&format!("attempt {attempt} of {max_attempts}"));
        }
        let report_file = report_file_for(ctx, index, attempt, output);
        let mut env = base_env.clone();
        let span = trace::beat_span_id(&ctx.opts.run.run_id, &beat.name, attempt);
        env.push((
            "TRACEPARENT".into(),
            trace::traceparent(&ctx.opts.run.run_id, &span),
        ));
        match &report_file {
            Ok(path) => env.push(("BATON_OUTPUT".into(), path.display().to_string())),
            Err(err) => warn(format!(
                "beat '{}': no $BATON_OUTPUT file: {err}",
                beat.name
            )),
        }
        let request = SpawnRequest {
            beat: &beat.name,
            command: &beat.run,
            shell: &ctx.opts.shell,
            cwd: &ctx.pipeline.root,
            env: &env,
            timeout: beat.timeout,
            kill_grace: ctx.opts.kill_grace,
        };
        let result = ctx.spawner.run(&request, output, ctx.cancel);
        if result.output_abandoned {
            warn(format!(
                "beat '{}': its output stayed open after it ended (a process that left its process group?); stopped reading it",
                beat.name
            ));
        }

        measured.report = match &report_file {
            Ok(path) => read_report(path, &beat.name, &warn),
            Err(_) => Default::default(),
        };
        let (status, reason) = classify(&result, beat.timeout, ctx.cancel);
        measured.attempts = attempt;
        measured.status = status;
        measured.reason = reason;
        measured.exit_code = result.exit_code;
        measured.signal = result.signal;
        measured.cpu_user += result.cpu_user;
        measured.cpu_sys += result.cpu_sys;
        measured.peak_rss_bytes = measured.peak_rss_bytes.max(result.peak_rss_bytes);

        if !status.is_failure()
            || attempt == max_attempts
            || !retries_on(&beat.retry, status, &result)
        {
            break;
        }
        let delay = beat.retry.delay_before(attempt + 1);
        output.note(&format!(
            "attempt {attempt} {}; retrying in {}",
            measured.reason.as_deref().unwrap_or(status.as_str()),
            human(delay)
        ));
        if !sleep_unless_cancelled(delay, ctx.cancel) {
            measured.status = BeatStatus::Cancelled;
            measured.reason = Some("cancelled while waiting to retry".into());
            break;
        }
    }
}

/// Runs the rollback commands of `beats` in this order, into their logs.
fn run_rollbacks(ctx: &Ctx<'_>, beats: &[usize], events: &Events) {
    let emit = events.emitter();
    let warn = |message: String| {
        emit(RunEvent::Warning {
            message: ctx.masker.mask_str(&message),
        })
    };
    for &index in beats {
        let beat = ctx.spec(index);
        let Some(command) = &beat.rollback else {
            continue;
        };
        let log_path = ctx.log_path(index);
        let output = ctx.output(index, &log_path, &emit);
        output.note(&format!("rollback: {command}"));
        let mut env = ctx.env(beat, &warn);
        let span = trace::rollback_span_id(&ctx.opts.run.run_id, &beat.name);
        env.push((
            "TRACEPARENT".into(),
            trace::traceparent(&ctx.opts.run.run_id, &span),
        ));
        let request = SpawnRequest {
            beat: &beat.name,
            command,
            shell: &ctx.opts.shell,
            cwd: &ctx.pipeline.root,
            env: &env,
            timeout: beat.timeout,
            kill_grace: ctx.opts.kill_grace,
        };
        let result = ctx.spawner.run(&request, &output, ctx.cancel);
        let (status, reason) = classify(&result, beat.timeout, ctx.cancel);
        if let Some(reason) = reason.filter(|_| status != BeatStatus::Success) {
            output.note(&format!("rollback {}: {reason}", status.as_str()));
        }
        if let Err(err) = output.finish() {
            emit(RunEvent::RecordingFailed {
                what: "logs".into(),
                message: format!("beat '{}': {}", beat.name, error_chain(&err)),
            });
        }
        emit(RunEvent::RollbackFinished {
            beat: beat.name.clone(),
            success: status == BeatStatus::Success,
            duration_ms: u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX),
        });
    }
}

/// Where an attempt's `$BATON_OUTPUT` goes: a path next to the beat's log, which
/// the beat creates by appending to it (most beats never do, and files that are
/// never made cost nothing); when the log folder could not be made, a new empty
/// file in the temporary directory, so that the beat's own append still works.
fn report_file_for(
    ctx: &Ctx<'_>,
    index: usize,
    attempt: u32,
    output: &BeatOutput,
) -> std::io::Result<PathBuf> {
    if output.is_logging() {
        // Absolute: the beat may `cd` before it appends.
        let path = std::path::absolute(ctx.log_path(index).with_extension("output"))?;
        if attempt > 1 {
            // A retry starts from nothing (read_report removed what it read).
            let _ = std::fs::remove_file(&path);
        }
        return Ok(path);
    }
    let path = std::env::temp_dir().join(format!(
        "baton-output-{}-{index}-{attempt}",
        ctx.opts.run.run_id.simple()
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok(path)
}

/// Reads, parses and removes a `$BATON_OUTPUT` file (none: nothing reported); one
/// warning per malformed line.
fn read_report(path: &Path, beat: &str, warn: &dyn Fn(String)) -> baton_output::BeatReport {
    let read = baton_output::read(path);
    if read.is_ok() {
        let _ = std::fs::remove_file(path);
    }
    let (text, truncated) = match read {
        Ok(read) => read,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Default::default(),
        Err(err) => {
            warn(format!(
                "beat '{beat}': failed to read $BATON_OUTPUT: {err}"
            ));
            return Default::default();
        }
    };
    if truncated {
        warn(format!(
            "beat '{beat}': $BATON_OUTPUT is larger than {} bytes; only the start was read",
            baton_output::MAX_BYTES
        ));
    }
    let (report, malformed) = baton_output::parse(&text);
    for m in malformed {
        warn(format!(
            "beat '{beat}': ignored line {} of $BATON_OUTPUT '{}': {}",
            m.line_number, m.line, m.problem
        ));
    }
    report
}

/// The status of one attempt, and a reason when the status alone does not say it.
fn classify(
    result: &SpawnResult,
    timeout: Option<Duration>,
    cancel: &CancelToken,
) -> (BeatStatus, Option<String>) {
    if result.success() {
        return (BeatStatus::Success, None);
    }
    if result.cancelled {
        let how = if cancel.level() == CancelLevel::Kill {
            "killed"
        } else {
            "interrupted"
        };
        return (
            BeatStatus::Cancelled,
            Some(format!("{how}: the run was cancelled")),
        );
    }
    if result.timed_out {
        let after = timeout
            .map(|t| format!(" after {}", human(t)))
            .unwrap_or_default();
        let killed = if result.signal == Some(libc::SIGKILL) {
            ", killed after the grace period"
        } else {
            ""
        };
        return (
            BeatStatus::Timeout,
            Some(format!("timed out{after}{killed}")),
        );
    }
    if let Some(error) = &result.error {
        return (BeatStatus::Failure, Some(error.clone()));
    }
    let reason = match (result.exit_code, result.signal) {
        (Some(127), _) => Some("command not found".to_owned()),
        (Some(126), _) => Some("command not executable".to_owned()),
        (_, Some(signal)) => Some(format!("killed by signal {signal}{}", signal_name(signal))),
        _ => None,
    };
    (BeatStatus::Failure, reason)
}

/// Whether a failed attempt (failure or timeout) is retried under `policy`.
fn retries_on(policy: &RetryPolicy, status: BeatStatus, result: &SpawnResult) -> bool {
    policy.on.is_empty()
        || policy.on.iter().any(|on| match on {
            RetryOn::Any => true,
            RetryOn::Timeout => status == BeatStatus::Timeout,
            RetryOn::Exit(code) => {
                status == BeatStatus::Failure && result.shell_exit_code() == Some(*code)
            }
        })
}

/// Sleeps `delay`; `false` when the run was cancelled meanwhile.
fn sleep_unless_cancelled(delay: Duration, cancel: &CancelToken) -> bool {
    let until = Instant::now() + delay;
    loop {
        if cancel.is_cancelled() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        thread::sleep(left.min(Duration::from_millis(20)));
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => " (SIGINT)",
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGTERM => " (SIGTERM)",
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGPIPE => " (SIGPIPE)",
        libc::SIGBUS => " (SIGBUS)",
        _ => "",
    }
}

/// `1.5s`, `250ms`, `2m`.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// A name made safe as one path component.
fn path_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match safe.as_str() {
        "" | "." | ".." => format!("_{safe}"),
        _ => safe,
    }
}
