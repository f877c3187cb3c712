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
//! ready one itself; the first worker is the thread that called [`run_plan`].
//! Every thread sends its events through one bounded channel to the consumers'
//! thread, which alone calls `sink`.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use baton_cache::{Cache, CacheMode};
use baton_model::{
    ARTIFACT_MANIFEST_VERSION, ArtifactManifest, BeatArtifacts, BeatDetails, BeatRecord,
    BeatStatus, CacheState, Pipeline, RunEvent, RunRecord, RunStatus, Shape, SlaVerdict,
};
use jiff::Timestamp;

use crate::beat::{self, Ctx, Ran, path_safe};
use crate::cancel::{CancelLevel, CancelToken};
use crate::hints::HistoryHints;
use crate::output::{Emit, Masker};
use crate::plan::Plan;
use crate::record::{judge_record, skipped_record};
use crate::spawner::{Shell, Spawner};

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
    /// Its process ended in success; its worker finishes it while the next beat
    /// starts. Only that worker may start what needs it (see [`work`]).
    Exited,
    Done,
}

/// The consumers' queue, as every thread of the run sends to it. Once the
/// consumers are gone (one panicked) `gone` is set and no new beat starts.
#[derive(Clone)]
struct Events {
    tx: SyncSender<RunEvent>,
    gone: Arc<AtomicBool>,
    /// Sent and not yet taken by the consumers.
    in_flight: Arc<AtomicUsize>,
}

impl Events {
    fn send(&self, event: RunEvent) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(event).is_err() {
            self.gone.store(true, Ordering::SeqCst);
        }
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
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
/// The scheduling runs on the calling thread (so the first beat starts at once,
/// with no new thread to wait for) and the consumers (`sink`) on a thread of their
/// own, so that a consumer taking its time (the history store, the telemetry
/// files) never delays the start of the next beat. The history hints are only
/// waited for there: each beat's record is judged against them (SLA verdict,
/// shape) on the consumers' thread before `sink` sees it, and in the outcome. A
/// panic in `sink` stops new beats at once and reaches the caller once the
/// running beats have ended.
pub fn run_plan(
    pipeline: &Pipeline,
    plan: &Plan,
    opts: &RunOptions,
    spawner: &dyn Spawner,
    history: &HistoryHints,
    sink: &mut (dyn FnMut(RunEvent) + Send),
    cancel: &CancelToken,
) -> RunOutcome {
    let secret_values: Vec<String> = pipeline
        .beats()
        .flat_map(|(_, b)| b.secrets.iter())
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    // Normally made already, when the run's label was claimed.
    let run_dir = opts.logs_dir.join(path_safe(&opts.run.label));
    let ctx = Ctx {
        pipeline,
        plan,
        opts,
        spawner,
        cancel,
        masker: Arc::new(Masker::new(&secret_values)),
        run_dir_ok: std::fs::create_dir_all(&run_dir).is_ok(),
        run_dir,
    };
    let (tx, events_rx) = mpsc::sync_channel::<RunEvent>(EVENT_QUEUE);
    let events = Events {
        tx,
        gone: Arc::new(AtomicBool::new(false)),
        in_flight: Arc::new(AtomicUsize::new(0)),
    };
    let in_flight = Arc::clone(&events.in_flight);
    let gone = Arc::clone(&events.gone);
    thread::scope(|scope| {
        let ctx = &ctx;
        let consumers = scope.spawn(move || {
            // Set as soon as a consumer panics, not at the next failed send: a
            // worker may be about to start the next beat.
            let _gone_on_panic = SetOnPanic(gone);
            // Each beat's verdict and shape as told, for the outcome's copy.
            let mut judged: HashMap<String, (SlaVerdict, Shape)> = HashMap::new();
            let mut stopping = StopWatch::new(cancel);
            loop {
                let mut event = match events_rx.recv_timeout(STOP_POLL) {
                    Ok(event) => event,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if let Some(stop) = stopping.changed() {
                            sink(stop);
                        }
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                };
                in_flight.fetch_sub(1, Ordering::SeqCst);
                // Before the event: the beats a Ctrl-C ends are still running then.
                if let Some(stop) = stopping.changed() {
                    sink(stop);
                }
                let (RunEvent::BeatFinished { record } | RunEvent::RollbackFinished { record }) =
                    &mut event
                else {
                    stopping.saw(&event);
                    sink(event);
                    continue;
                };
                judge(pipeline, history, record);
                judged.insert(
                    record.beat.clone(),
                    (record.sla.clone(), record.shape.clone()),
                );
                stopping.saw(&event);
                sink(event);
            }
            judged
        });
        // Its end drops the last sender: the consumers' loop then ends.
        let mut outcome = schedule(ctx, events);
        let mut judged = match consumers.join() {
            Ok(judged) => judged,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        for record in &mut outcome.records {
            match judged.remove(&record.beat) {
                Some((sla, shape)) => (record.sla, record.shape) = (sla, shape),
                None => judge(pipeline, history, record),
            }
        }
        outcome
    })
}

/// How often the consumers' thread looks for a Ctrl-C while no event comes.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Tells the consumers once per step that the run was asked to stop
/// ([`RunEvent::Stopping`]), with the beats still running then.
struct StopWatch<'a> {
    cancel: &'a CancelToken,
    told: CancelLevel,
    running: Vec<String>,
}

impl<'a> StopWatch<'a> {
    fn new(cancel: &'a CancelToken) -> Self {
        Self {
            cancel,
            told: CancelLevel::None,
            running: Vec::new(),
        }
    }

    /// Follows which beats run, from the events the consumers are told.
    fn saw(&mut self, event: &RunEvent) {
        match event {
            RunEvent::BeatStarted { beat, .. } if !self.running.contains(beat) => {
                self.running.push(beat.clone());
            }
            RunEvent::BeatFinished { record } => self.running.retain(|b| *b != record.beat),
            _ => {}
        }
    }

    /// The event to tell when the cancellation went a step further since last time.
    fn changed(&mut self) -> Option<RunEvent> {
        let level = self.cancel.level();
        if level <= self.told {
            return None;
        }
        self.told = level;
        Some(RunEvent::Stopping {
            kill: level == CancelLevel::Kill,
            running: self.running.clone(),
        })
    }
}

/// Judges a record built by a worker against its beat's history, waiting for the
/// history to load: the workers build records without it, so that no beat waits
/// for the history store to open (see [`judge_record`]).
fn judge(pipeline: &Pipeline, history: &HistoryHints, record: &mut BeatRecord) {
    judge_record(pipeline, history.wait().get(&record.beat), record);
}

/// Sets its flag when dropped by a panic's unwinding.
struct SetOnPanic(Arc<AtomicBool>);

impl Drop for SetOnPanic {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// Where the run stands, shared by the workers under one lock.
struct Board {
    state: Vec<State>,
    /// Beats claimed, running or exited (not yet done).
    running: usize,
    /// Of those, the exited ones: they count for the end of the run, not for `jobs`.
    exited: usize,
    /// Beats claimed to start that no worker has taken yet.
    claimed: VecDeque<usize>,
    /// Worker threads started, and how many of them wait for a ready beat.
    workers: usize,
    idle: usize,
    records: Vec<Option<BeatRecord>>,
    details: Vec<Option<BeatDetails>>,
    /// For each beat, how many of its dependencies are not done yet.
    unmet: Vec<usize>,
    /// For each beat, the beats that depend on it.
    dependents: Vec<Vec<usize>>,
    /// The pending beats with every dependency done, in plan order: finding what
    /// can start does not walk every beat (a run of n beats would cost n²).
    ready: BTreeSet<usize>,
    succeeded_in_order: Vec<usize>,
    failed_movement: Option<usize>,
    /// A worker panicked outside a beat: every worker stops.
    aborted: bool,
}

impl Board {
    fn new(plan: &Plan) -> Self {
        let beats = plan.beats.len();
        let unmet: Vec<usize> = plan.beats.iter().map(|b| b.deps.len()).collect();
        let mut dependents = vec![Vec::new(); beats];
        for (i, beat) in plan.beats.iter().enumerate() {
            for &d in &beat.deps {
                dependents[d].push(i);
            }
        }
        Self {
            ready: (0..beats).filter(|&i| unmet[i] == 0).collect(),
            unmet,
            dependents,
            state: vec![State::Pending; beats],
            running: 0,
            exited: 0,
            claimed: VecDeque::new(),
            workers: 1,
            idle: 0,
            records: vec![None; beats],
            details: vec![None; beats],
            succeeded_in_order: Vec::new(),
            failed_movement: None,
            aborted: false,
        }
    }

    /// Claims every pending beat whose dependencies are done, while fewer than
    /// `jobs` beats are claimed or running.
    fn claim_ready(&mut self, jobs: usize) {
        while self.running - self.exited < jobs {
            let Some(i) = self.ready.pop_first() else {
                return;
            };
            self.state[i] = State::Running;
            self.running += 1;
            self.claimed.push_back(i);
        }
    }

    /// Claims the one pending beat that would be ready were the exited beat
    /// `exited` done, for the worker finishing `exited` to start. None when more
    /// than one would be: those start together, once `exited` is done.
    fn claim_one_after(&mut self, jobs: usize, exited: usize) -> Option<usize> {
        if self.running - self.exited >= jobs {
            return None;
        }
        let mut waiting_only_for_it = self.dependents[exited]
            .iter()
            .copied()
            .filter(|&i| self.state[i] == State::Pending && self.unmet[i] == 1);
        let i = match (self.ready.first().copied(), waiting_only_for_it.next()) {
            (Some(i), None) | (None, Some(i)) => i,
            _ => return None,
        };
        if waiting_only_for_it.next().is_some() || self.ready.len() > 1 {
            return None;
        }
        self.ready.remove(&i);
        self.state[i] = State::Running;
        self.running += 1;
        Some(i)
    }

    /// Beat `index` is done: what waited only for it is ready.
    fn done(&mut self, index: usize) {
        self.state[index] = State::Done;
        for k in 0..self.dependents[index].len() {
            let i = self.dependents[index][k];
            self.unmet[i] -= 1;
            if self.unmet[i] == 0 && self.state[i] == State::Pending {
                self.ready.insert(i);
            }
        }
    }
}

/// The workers of one run: the thread that called [`run_plan`] and the helpers it hires.
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

    /// Whether finishing a beat from the next one's `on_started` would be quick:
    /// telling it need not wait for the consumers (records never wait for the
    /// history: see [`judge`]). Else the next beat's process would go unwatched
    /// meanwhile (its exit seen late, its timeout and Ctrl-C held up).
    fn can_pipeline(&self) -> bool {
        self.events.in_flight() < EVENT_QUEUE / 2
    }
}

/// Marks the run aborted if its worker panics outside a beat (a bug), so that the
/// other workers stop waiting for beats that will never end.
struct AbortOnPanic<'t, 'c, 'a>(&'t Team<'c, 'a>);

impl Drop for AbortOnPanic<'_, '_, '_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.board().aborted = true;
            self.0.changed.notify_all();
        }
    }
}

/// The scheduling of [`run_plan`]: runs the beats (on the calling thread and up to
/// `jobs - 1` helper threads), then the rollbacks, and tells everything in order.
fn schedule(ctx: &Ctx<'_>, events: Events) -> RunOutcome {
    let (plan, opts) = (ctx.plan, ctx.opts);
    let mut run = opts.run.clone();
    events.send(RunEvent::RunStarted {
        run: run.clone(),
        planned_beats: plan.beats.iter().map(|b| b.name.clone()).collect(),
    });

    let team = Team {
        ctx,
        events: events.clone(),
        jobs: opts.jobs.max(1),
        board: Mutex::new(Board::new(plan)),
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

    // A failed movement's successful beats are undone, newest first, also when
    // Ctrl-C came meanwhile (only a kill skips them: see `run_rollbacks`).
    if let Some(m) = failed_movement {
        let to_undo: Vec<usize> = succeeded_in_order
            .iter()
            .rev()
            .copied()
            .filter(|&i| plan.beats[i].movement_index == m && ctx.spec(i).rollback.is_some())
            .collect();
        let rollbacks = || beat::run_rollbacks(ctx, &to_undo, &mut records, events.emitter());
        if catch_unwind(AssertUnwindSafe(rollbacks)).is_err() {
            events.send(RunEvent::Warning {
                message: "internal error: the rollbacks panicked".into(),
            });
        }
    }
    // Read after the rollbacks: a Ctrl-C during them makes the run cancelled too.
    let cancelled = ctx.cancel.is_cancelled();
    if cancelled {
        let kill = ctx.cancel.level() == CancelLevel::Kill;
        let stopped = ctx
            .spawner
            .stop_leftovers(&opts.run.run_id.to_string(), kill);
        if stopped > 0 {
            events.send(RunEvent::Warning {
                message: format!(
                    "stopped {stopped} process(es) this run's beats had started outside \
                     their process groups (setsid or a daemon)"
                ),
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
///
/// A beat that succeeded with nothing left to collect ([`Ran::can_end_later`])
/// is finished (log closed, record built and told) while the next beat starts,
/// when exactly one beat waits for it (the next of a chain): that worker claims
/// it itself, and holds its events back until the old one is told finished, so
/// consumers still see every beat end before what needs it starts. When several
/// wait for it, they start together once it is done, as without this.
fn work<'scope, 'c: 'scope, 'a: 'scope>(
    team: &'scope Team<'c, 'a>,
    scope: &'scope thread::Scope<'scope, '_>,
) {
    let _abort_on_panic = AbortOnPanic(team);
    let mut board = team.board();
    // A beat of this worker's that exited and is still to be finished.
    let mut ending: Option<Ending> = None;
    loop {
        if board.aborted {
            return;
        }
        if let Some(prev) = ending.take() {
            let next = if team.stopping(&board) || !team.can_pipeline() {
                None
            } else {
                board.claim_one_after(team.jobs, prev.index)
            };
            drop(board);
            match next {
                Some(index) => ending = run_after(team, index, prev),
                None => finish(team, prev.index, end(team, prev)),
            }
            board = team.board();
            continue;
        }
        if !team.stopping(&board) {
            board.claim_ready(team.jobs);
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
                // A thread the system refuses leaves the claim to the others.
                let hired = board.workers < team.jobs
                    && thread::Builder::new()
                        .spawn_scoped(scope, move || work(team, scope))
                        .is_ok();
                if hired {
                    board.workers += 1;
                }
            }
        }
        drop(board);
        ending = run(team, index, team.events.emitter(), None);
        board = team.board();
    }
}

/// A beat that exited and is still to be finished ([`beat::end_beat`]).
struct Ending {
    index: usize,
    ran: Ran,
}

/// Runs beat `index`: either finished and told, or exited (marked so on the
/// board) with its finishing left to the caller.
fn run(
    team: &Team<'_, '_>,
    index: usize,
    emit: Arc<Emit>,
    on_started: Option<&(dyn Fn() + Sync)>,
) -> Option<Ending> {
    let ctx = team.ctx;
    let started_at = Timestamp::now();
    let ran = catch_unwind(AssertUnwindSafe(|| {
        beat::run_beat(ctx, index, emit, on_started)
    }));
    // The beat before it is told finished before anything of this one is.
    if let Some(started) = on_started {
        started();
    }
    let done = match ran {
        Ok(ran) if ran.can_end_later(ctx.spec(index)) => {
            let mut board = team.board();
            board.state[index] = State::Exited;
            board.exited += 1;
            return Some(Ending { index, ran });
        }
        Ok(ran) => end(team, Ending { index, ran }),
        Err(panic) => beat::panicked(ctx, index, started_at, &*panic),
    };
    finish(team, index, done);
    None
}

/// Runs beat `index`, which needs the exited beat `prev`: `prev` is finished and
/// told once `index`'s process is started (or, if it does not start one, after),
/// and `index`'s events wait until then.
fn run_after(team: &Team<'_, '_>, index: usize, prev: Ending) -> Option<Ending> {
    let gate = Arc::new(Gate::closed(team.events.clone()));
    let prev = Mutex::new(Some(prev));
    let finish_prev = || {
        let prev = prev.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(prev) = prev {
            let index = prev.index;
            finish(team, index, end(team, prev));
            gate.open();
        }
    };
    let emit: Arc<Emit> = {
        let gate = Arc::clone(&gate);
        Arc::new(move |event| gate.send(event))
    };
    let ending = run(team, index, emit, Some(&finish_prev));
    finish_prev();
    ending
}

/// [`beat::end_beat`], a panic turned into a failed beat.
fn end(team: &Team<'_, '_>, ending: Ending) -> (BeatRecord, BeatDetails) {
    let ctx = team.ctx;
    let started_at = ending.ran.started_at();
    catch_unwind(AssertUnwindSafe(|| {
        beat::end_beat(ctx, ending.index, ending.ran)
    }))
    .unwrap_or_else(|panic| beat::panicked(ctx, ending.index, started_at, &*panic))
}

/// Puts beat `index`'s record on the board and tells it.
fn finish(team: &Team<'_, '_>, index: usize, (record, details): (BeatRecord, BeatDetails)) {
    let ctx = team.ctx;
    let mut board = team.board();
    if board.state[index] == State::Exited {
        board.exited -= 1;
    }
    board.running -= 1;
    board.done(index);
    if record.status == BeatStatus::Success {
        board.succeeded_in_order.push(index);
    } else if record.status.is_failure() && !ctx.spec(index).allow_failure {
        board
            .failed_movement
            .get_or_insert(ctx.plan.beats[index].movement_index);
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

/// A beat's events, held back while the beat before it is not told finished.
struct Gate {
    events: Events,
    /// `Some` while closed: what is waiting.
    held: Mutex<Option<Vec<RunEvent>>>,
}

impl Gate {
    fn closed(events: Events) -> Self {
        Self {
            events,
            held: Mutex::new(Some(Vec::new())),
        }
    }

    fn send(&self, event: RunEvent) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        match held.as_mut() {
            Some(waiting) => waiting.push(event),
            None => {
                drop(held);
                self.events.send(event);
            }
        }
    }

    /// Sends what waited, in order, and lets the rest through.
    fn open(&self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        for event in held.take().unwrap_or_default() {
            self.events.send(event);
        }
    }
}
