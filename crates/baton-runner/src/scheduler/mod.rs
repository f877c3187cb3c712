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

mod end;
mod events;
mod pool;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use baton_model::{BeatRecord, Pipeline, RunEvent};

use crate::cancel::{CancelLevel, CancelToken};
use crate::context::Ctx;
use crate::hints::HistoryHints;
use crate::options::{RunOptions, RunOutcome};
use crate::output::Masker;
use crate::plan::Plan;
use crate::record::UnjudgedRecord;
use crate::spawner::Spawner;
use events::{Events, Told};

/// Events waiting for the consumer; a beat producing more waits (its pipe fills).
pub(crate) const EVENT_QUEUE: usize = 256;

/// Runs `plan` of `pipeline`. See the module documentation for the rules.
///
/// The scheduling runs on the calling thread (so the first beat starts at once,
/// with no new thread to wait for) and the consumers (`sink`) on a thread of their
/// own, so that a consumer taking its time (the history store, the telemetry
/// files) never delays the start of the next beat. The history hints are only
/// waited for there: each beat's record is judged against them (SLA verdict,
/// shape) on the consumers' thread before `sink` sees it (in one place, `judge`), and
/// the outcome holds the records as told. A
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
    let run_dir = baton_model::layout::run_dir(&opts.logs_dir, &opts.run.label);
    let run_dir_ok = std::fs::create_dir_all(&run_dir).is_ok();
    let ctx = Ctx {
        pipeline,
        plan,
        opts,
        history,
        spawner,
        cancel,
        masker: Arc::new(Masker::new(&secret_values)),
        run_dir_writable: run_dir_ok && crate::output::takes_writes(&run_dir),
        run_dir_ok,
        run_dir,
    };
    let (tx, events_rx) = mpsc::sync_channel::<Told>(EVENT_QUEUE);
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
            // Each beat's record as told, by its place in the plan, for the outcome.
            let mut judged: Vec<Option<BeatRecord>> = vec![None; plan.beats.len()];
            let mut stopping = StopWatch::new(cancel);
            loop {
                let told = match events_rx.recv_timeout(STOP_POLL) {
                    Ok(told) => told,
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
                let event = match told {
                    Told::Event(event) => event,
                    Told::Finished { index, record } => {
                        let record = judge(ctx, record, &mut judged[index]);
                        RunEvent::BeatFinished { record }
                    }
                    Told::RolledBack { index, record } => {
                        let record = judge(ctx, record, &mut judged[index]);
                        RunEvent::RollbackFinished { record }
                    }
                };
                stopping.saw(&event);
                sink(event);
            }
            judged
        });
        // Its end drops the last sender: the consumers' loop then ends.
        let ended = schedule(ctx, events);
        let judged = match consumers.join() {
            Ok(judged) => judged,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // Every record was told (the consumers saw the run to its end), so each
        // is there as judged; were one not, it is judged here the same way.
        let records = ended
            .records
            .into_iter()
            .zip(judged)
            .map(|(unjudged, told)| told.unwrap_or_else(|| *judge(ctx, unjudged, &mut None)))
            .collect();
        RunOutcome {
            run: ended.run,
            records,
            details: ended.details,
        }
    })
}

/// The scheduling of [`run_plan`]: tells the run started, runs the beats (see
/// [`pool`]), then ends the run (see [`end`]), telling everything in order.
fn schedule(ctx: &Ctx<'_>, events: Events) -> end::Ended {
    events.send(RunEvent::RunStarted {
        run: ctx.opts.run.clone(),
        planned_beats: ctx.plan.beats.iter().map(|b| b.name.clone()).collect(),
    });
    let finished = pool::run_beats(ctx, &events);
    end::end_run(ctx, &events, finished)
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

/// The one place a run's records are judged: a record built by a worker, against
/// its beat's history, waiting for the history to load (the workers build records
/// without it, so that no beat waits for the history store to open), and given
/// the commit identity when it needs one (waiting for git the same way). The
/// judged record is kept in `told` for the outcome.
fn judge(ctx: &Ctx<'_>, record: UnjudgedRecord, told: &mut Option<BeatRecord>) -> Box<BeatRecord> {
    let beat_history = ctx.history.wait().get(record.beat());
    let mut record = record.judge(ctx.pipeline, beat_history);
    let declares_inputs = ctx
        .pipeline
        .movements
        .get(record.movement_index as usize)
        .and_then(|m| m.beats.get(record.beat_index as usize))
        .is_some_and(|beat| !beat.inputs.is_empty());
    crate::identity::complete(&mut record, declares_inputs, &ctx.opts.clean_commit);
    *told = Some(record.clone());
    Box::new(record)
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
