//! The end of a run, once no beat runs any more: the rollbacks of a failed
//! movement, the processes the beats left behind (on a cancelled run), a skipped
//! record for every beat that did not run, and the run's final status.

use std::panic::{AssertUnwindSafe, catch_unwind};

use baton_model::{BeatDetails, RunEvent, RunRecord, RunStatus};
use jiff::Timestamp;

use super::events::{Events, Told};
use super::pool::Finished;
use crate::beat;
use crate::cancel::CancelLevel;
use crate::context::Ctx;
use crate::record::{UnjudgedRecord, skipped_record};

/// The run, finished, and every planned beat's record and details in plan order.
pub(super) struct Ended {
    pub(super) run: RunRecord,
    pub(super) records: Vec<UnjudgedRecord>,
    pub(super) details: Vec<BeatDetails>,
}

/// Ends the run whose beats the pool `finished`, and tells it finished.
pub(super) fn end_run(ctx: &Ctx<'_>, events: &Events, finished: Finished) -> Ended {
    let (plan, opts) = (ctx.plan, ctx.opts);
    let mut run = opts.run.clone();
    let Finished {
        mut records,
        details,
        succeeded_in_order,
        failed_movement,
    } = finished;

    // A failed movement's successful beats are undone, newest first, also when
    // Ctrl-C came meanwhile (only a kill skips them: see `run_rollbacks`).
    if let Some(m) = failed_movement {
        let to_undo: Vec<usize> = succeeded_in_order
            .iter()
            .rev()
            .copied()
            .filter(|&i| plan.beats[i].movement_index == m && ctx.spec(i).rollback.is_some())
            .collect();
        let rolled_back = |index, record| events.tell(Told::RolledBack { index, record });
        let rollbacks = || {
            beat::run_rollbacks(ctx, &to_undo, &mut records, events.emitter(), &rolled_back);
        };
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
            events.tell(Told::Finished {
                index: i,
                record: record.clone(),
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
    Ended {
        run,
        records: records.into_iter().flatten().collect(),
        details,
    }
}
