//! The worker pool of a run: up to `jobs` threads that share one board (what is
//! pending, running, done) under a lock; a worker that ends a beat starts the
//! next ready one itself; the first worker is the thread that called
//! [`crate::run_plan`].

use std::collections::{BTreeSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

use baton_model::{BeatDetails, BeatStatus, RunEvent};
use jiff::Timestamp;

use super::EVENT_QUEUE;
use super::events::{Events, Told};
use crate::beat::{self, Ran};
use crate::context::Ctx;
use crate::output::Emit;
use crate::plan::Plan;
use crate::record::UnjudgedRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    /// Its process ended in success; its worker finishes it while the next beat
    /// starts. Only that worker may start what needs it (see [`work`]).
    Exited,
    Done,
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
    records: Vec<Option<UnjudgedRecord>>,
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
    /// history: the consumers' thread judges them). Else the next beat's process would go unwatched
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

/// What the pool leaves for the end of the run: each beat's record and details
/// (`None` for a beat that did not run), the successful beats in the order they
/// ended, and the first movement in which a beat failed for good.
pub(super) struct Finished {
    pub(super) records: Vec<Option<UnjudgedRecord>>,
    pub(super) details: Vec<Option<BeatDetails>>,
    pub(super) succeeded_in_order: Vec<usize>,
    pub(super) failed_movement: Option<usize>,
}

/// Runs the beats of the plan on the calling thread and up to `jobs - 1` helper
/// threads, until nothing is running and nothing can start.
pub(super) fn run_beats(ctx: &Ctx<'_>, events: &Events) -> Finished {
    let team = Team {
        ctx,
        events: events.clone(),
        jobs: ctx.opts.jobs.max(1),
        board: Mutex::new(Board::new(ctx.plan)),
        changed: Condvar::new(),
    };
    thread::scope(|scope| work(&team, scope));
    let board = team
        .board
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    Finished {
        records: board.records,
        details: board.details,
        succeeded_in_order: board.succeeded_in_order,
        failed_movement: board.failed_movement,
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
fn end(team: &Team<'_, '_>, ending: Ending) -> (UnjudgedRecord, BeatDetails) {
    let ctx = team.ctx;
    let started_at = ending.ran.started_at();
    catch_unwind(AssertUnwindSafe(|| {
        beat::end_beat(ctx, ending.index, ending.ran)
    }))
    .unwrap_or_else(|panic| beat::panicked(ctx, ending.index, started_at, &*panic))
}

/// Puts beat `index`'s record on the board and tells it.
fn finish(team: &Team<'_, '_>, index: usize, (record, details): (UnjudgedRecord, BeatDetails)) {
    let ctx = team.ctx;
    let mut board = team.board();
    if board.state[index] == State::Exited {
        board.exited -= 1;
    }
    board.running -= 1;
    board.done(index);
    if record.status() == BeatStatus::Success {
        board.succeeded_in_order.push(index);
    } else if record.status().is_failure() && !ctx.spec(index).allow_failure {
        board
            .failed_movement
            .get_or_insert(ctx.plan.beats[index].movement_index);
    }
    // Told under the lock: a beat that needs this one starts after it is told.
    team.events.tell(Told::Finished {
        index,
        record: record.clone(),
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
