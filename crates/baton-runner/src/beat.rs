//! One beat of a run: its attempts through the [`Spawner`] (with retries and the
//! step cache), its `$BATON_OUTPUT` report, its log, and its record; and the
//! rollback commands of a failed movement. [`crate::scheduler`] decides when;
//! [`crate::context`] holds what every beat shares.
//!
//! A beat is run in two halves: [`run_beat`] up to the end of its last attempt
//! (its duration ends there), and [`end_beat`] for the rest (log closed, cache
//! entry stored, artifacts listed, record built). The scheduler may do the second
//! half of one beat while the next beat's process starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use baton_cache::error_chain;
use baton_model::{
    AttemptRecord, BeatDetails, BeatSpec, BeatStatus, CacheState, Recording, RetryOn, RetryPolicy,
    RollbackRecord, RunEvent, format_duration,
};
use jiff::Timestamp;

use crate::cache_step::{self, Before, ToRun};
use crate::cancel::{CancelLevel, CancelToken};
use crate::context::Ctx;
use crate::output::{BeatOutput, Emit};
use crate::record::{Measured, UnjudgedRecord, build_unjudged};
use crate::spawner::{SpawnRequest, SpawnResult};
use crate::{baton_output, trace};

/// Runs beat `index` (from the cache, or every attempt) up to the end of its last
/// attempt; [`end_beat`] finishes it. `on_started` is called (it may be called
/// again: it must do its work once) once the first attempt's process is started,
/// or when the beat is restored or refused, and at the latest when the first
/// attempt ends.
pub(crate) fn run_beat(
    ctx: &Ctx<'_>,
    index: usize,
    emit: Arc<Emit>,
    on_started: Option<&(dyn Fn() + Sync)>,
) -> Ran {
    let planned = &ctx.plan.beats[index];
    let beat = ctx.spec(index);
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
    let uncached_key_time = match &before {
        Before::Run(run) | Before::Refuse { run, .. } => run.uncached_key_time,
        Before::Hit { .. } => Duration::ZERO,
    };
    let mut details = BeatDetails {
        beat: beat.name.clone(),
        ..BeatDetails::default()
    };
    // A beat that runs nothing of its own (restored or refused) is started now.
    if !matches!(before, Before::Run(_))
        && let Some(started) = on_started
    {
        started();
    }
    let to_run = match before {
        Before::Hit { key, restored } => {
            let from = restored.produced_by.as_ref();
            output.note(&format!(
                "restored from the cache (key {}{}): {} files restored, {} already up to date",
                key.key.get(..16).unwrap_or(&key.key),
                from.map_or(String::new(), |run| format!(
                    ", stored by run {}",
                    run.run_label
                )),
                restored.files_restored,
                restored.files_up_to_date
            ));
            // Before the replayed output, which every consumer can then tell apart.
            emit(RunEvent::BeatRestored {
                beat: beat.name.clone(),
                from_label: from.map(|run| run.run_label.clone()),
                from_run_id: from.map(|run| run.run_id.clone()),
            });
            measured.restored_from = from.map(|run| run.run_label.clone());
            measured.input_identity = Some(crate::identity::of_inputs(&key.key));
            if let Err(err) = cache_step::replay_log(&restored.log, &restored.log_stderr, &output) {
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
            measured.input_identity = run.inputs_key.as_deref().map(crate::identity::of_inputs);
            details.cache_key = run.key.map(|(_, key)| key.key);
            details.cache_miss_reason = run.miss_reason;
            None
        }
        Before::Run(run) => {
            measured.input_identity = run.inputs_key.as_deref().map(crate::identity::of_inputs);
            if let Some(reason) = &run.miss_reason {
                output.note(&format!("cache miss: {reason}"));
            }
            run_attempts(
                ctx,
                index,
                &output,
                &*emit,
                &warn,
                on_started,
                &mut measured,
            );
            Some(run)
        }
    };
    measured.duration = started.elapsed().saturating_sub(uncached_key_time);
    if measured.status.is_failure() && beat.allow_failure {
        let why = measured
            .reason
            .take()
            .map_or(String::new(), |r| format!("{r}; "));
        measured.reason = Some(format!("{why}allowed to fail"));
    }
    Ran {
        output,
        emit,
        measured,
        details,
        to_run,
        log_path,
    }
}

/// A beat whose last attempt has ended: what [`end_beat`] needs to finish it.
pub(crate) struct Ran {
    output: BeatOutput,
    emit: Arc<Emit>,
    measured: Measured,
    details: BeatDetails,
    to_run: Option<ToRun>,
    log_path: PathBuf,
}

impl Ran {
    pub(crate) fn started_at(&self) -> Timestamp {
        self.measured.started_at
    }

    /// Whether what is left (closing the log, the record) can wait while the next
    /// beat starts: it succeeded and leaves nothing to collect (no outputs to
    /// hash, nothing to store in the cache) that a next beat could change.
    pub(crate) fn can_end_later(&self, beat: &BeatSpec) -> bool {
        self.measured.status == BeatStatus::Success
            && beat.outputs.is_empty()
            && self.to_run.as_ref().is_none_or(|run| run.key.is_none())
    }
}

/// Finishes what [`run_beat`] ran: closes its log, stores it in the cache, lists
/// its artifacts, and builds its record.
pub(crate) fn end_beat(ctx: &Ctx<'_>, index: usize, ran: Ran) -> (UnjudgedRecord, BeatDetails) {
    let beat = ctx.spec(index);
    let Ran {
        output,
        emit,
        mut measured,
        mut details,
        to_run,
        log_path,
    } = ran;
    let warn = |message: String| {
        emit(RunEvent::Warning {
            message: ctx.masker.mask_str(&message),
        })
    };
    let cache = ctx.opts.cache.as_deref();
    if let Err(err) = output.finish() {
        emit(RunEvent::RecordingFailed {
            what: Recording::Logs,
            message: format!("beat '{}': {}", beat.name, error_chain(&err)),
        });
    }

    if let Some(run) = to_run {
        measured.cache_state = Some(run.state);
        let stored = match cache {
            Some(cache) if measured.status == BeatStatus::Success => {
                let stderr = output.log_stderr_ranges();
                let run_by = baton_cache::ProducedBy {
                    run_id: ctx.opts.run.run_id.to_string(),
                    run_label: ctx.opts.run.label.clone(),
                };
                cache_step::after_success(cache, &run, (&log_path, &stderr), &run_by, &warn)
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
    crate::masking::mask_beat_strings(&ctx.masker, &mut measured, &mut details);
    measured.artifacts = Some(details.artifacts.clone());

    // A beat that wrote nothing has no log file, and its record no log.
    let log = output.log_written().then(|| log_path.display().to_string());
    let (record, problems) = build_unjudged(&ctx.record_context(index, log.as_deref()), &measured);
    for problem in problems {
        warn(format!("beat '{}': {problem}", beat.name));
    }
    (record, details)
}

/// The record of beat `index` whose thread panicked (a bug, or a spawner's): a
/// failed beat, so that the run still ends with every record.
pub(crate) fn panicked(
    ctx: &Ctx<'_>,
    index: usize,
    started_at: Timestamp,
    panic: &(dyn std::any::Any + Send),
) -> (UnjudgedRecord, BeatDetails) {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let mut measured = Measured::new(started_at, BeatStatus::Failure);
    measured.reason = Some(format!(
        "internal error: the beat's thread panicked: {what}"
    ));
    let (record, _) = build_unjudged(&ctx.record_context(index, None), &measured);
    let details = BeatDetails {
        beat: record.beat().to_owned(),
        ..BeatDetails::default()
    };
    (record, details)
}

/// Runs the attempts of beat `index` (retrying as its policy says) into `measured`.
fn run_attempts(
    ctx: &Ctx<'_>,
    index: usize,
    output: &BeatOutput,
    emit: &Emit,
    warn: &dyn Fn(String),
    on_started: Option<&(dyn Fn() + Sync)>,
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
        let report_file = report_file_for(ctx, index, attempt);
        let mut env = base_env.clone();
        let span = trace::beat_span_id(&ctx.opts.run.run_id, &beat.name, attempt);
        env.push((
            "TRACEPARENT".into(),
            trace::traceparent_in(&ctx.opts.trace_id(), &span),
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
            on_started: on_started.filter(|_| attempt == 1),
        };
        let attempt_started = Timestamp::now();
        let result = ctx.spawner.run(&request, output, ctx.cancel);
        // Its spawner may not have called it (the start failed): before a retry.
        if let Some(started) = request.on_started {
            started();
        }
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
        measured.attempt_log.push(AttemptRecord {
            attempt,
            started_at: attempt_started,
            duration_ms: u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX),
            status,
            exit_code: result.exit_code,
            signal: result.signal,
            reason: measured.reason.clone(),
        });

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
            format_duration(delay)
        ));
        if !sleep_unless_cancelled(delay, ctx.cancel) {
            measured.status = BeatStatus::Cancelled;
            measured.reason = Some("cancelled while waiting to retry".into());
            break;
        }
    }
}

/// Runs the rollback commands of `beats` in this order, into their logs; each
/// beat's record, with its rollback, goes to `rolled_back`.
pub(crate) fn run_rollbacks(
    ctx: &Ctx<'_>,
    beats: &[usize],
    records: &mut [Option<UnjudgedRecord>],
    emit: Arc<Emit>,
    rolled_back: &dyn Fn(usize, UnjudgedRecord),
) {
    let warn = |message: String| {
        emit(RunEvent::Warning {
            message: ctx.masker.mask_str(&message),
        })
    };
    // Undoing is cleanup: a first Ctrl-C lets it finish, a second one kills it.
    let cancel = ctx.cancel.kill_only();
    for (done, &index) in beats.iter().enumerate() {
        let beat = ctx.spec(index);
        let Some(command) = &beat.rollback else {
            continue;
        };
        if cancel.level() == CancelLevel::Kill {
            // Better not started than cut off a few milliseconds in.
            warn(format!(
                "the run was killed: {} rollback(s) did not run",
                beats.len() - done
            ));
            return;
        }
        let log_path = ctx.log_path(index);
        let output = ctx.output(index, &log_path, &emit);
        output.note(&format!("rollback: {command}"));
        let mut env = ctx.env(beat, &warn);
        // What a rollback starts is not a leftover of the run (see `leftovers`).
        env.push((crate::leftovers::ROLLBACK_MARK.into(), "1".into()));
        let span = trace::rollback_span_id(&ctx.opts.run.run_id, &beat.name);
        env.push((
            "TRACEPARENT".into(),
            trace::traceparent_in(&ctx.opts.trace_id(), &span),
        ));
        let request = SpawnRequest {
            beat: &beat.name,
            command,
            shell: &ctx.opts.shell,
            cwd: &ctx.pipeline.root,
            env: &env,
            timeout: beat.timeout,
            kill_grace: ctx.opts.kill_grace,
            on_started: None,
        };
        let started_at = Timestamp::now();
        let result = ctx.spawner.run(&request, &output, &cancel);
        let (status, reason) = classify(&result, beat.timeout, &cancel);
        let mut reason = reason.filter(|_| status != BeatStatus::Success);
        crate::masking::mask_option(&ctx.masker, &mut reason);
        if let Some(reason) = &reason {
            output.note(&format!("rollback {}: {reason}", status.as_str()));
        }
        if let Err(err) = output.finish() {
            emit(RunEvent::RecordingFailed {
                what: Recording::Logs,
                message: format!("beat '{}': {}", beat.name, error_chain(&err)),
            });
        }
        let Some(unjudged) = records.get_mut(index).and_then(Option::as_mut) else {
            continue;
        };
        let record = unjudged.fields_mut();
        if record.log_path.is_none() && output.log_written() {
            record.log_path = Some(log_path.display().to_string());
        }
        record.rollback = Some(RollbackRecord {
            started_at,
            status,
            exit_code: result.exit_code,
            duration_ms: u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX),
            reason,
        });
        rolled_back(index, unjudged.clone());
    }
}

/// Where an attempt's `$BATON_OUTPUT` goes: a path in the run's log folder, which
/// the beat creates by appending to it (most beats never do, and files that are
/// never made cost nothing); when that folder could not be made or takes no writes
/// (a full or read-only disk), a new empty file in the temporary directory, so
/// that the beat's own append still works.
fn report_file_for(ctx: &Ctx<'_>, index: usize, attempt: u32) -> std::io::Result<PathBuf> {
    if ctx.run_dir_writable {
        // In the run's log folder, which exists (a movement's folder is made only
        // with its first log); absolute: the beat may `cd` before it appends.
        let path = std::path::absolute(baton_model::layout::beat_output_file(&ctx.run_dir, index))?;
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
            .map(|t| format!(" after {}", format_duration(t)))
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

fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}
