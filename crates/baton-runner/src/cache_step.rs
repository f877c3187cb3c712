//! The step cache's part in running one beat ([`baton_cache`]): before it runs,
//! compute its key and look it up (a hit is restored instead of run); after a
//! successful run, store its outputs and log.
//!
//! - A beat with `cache: false` or no `inputs`, or a run without a cache, is
//!   `skip`. A beat with `inputs` and `cache: false` still has its key computed
//!   (through the stat cache; nothing looked up or stored): its input identity.
//! - Hit: outputs restored (verified), the saved log replayed; the beat does not
//!   run.
//! - Miss: it runs and, on success, is stored. When the beat had an earlier entry
//!   under another key, the miss carries a one-line reason (what changed).
//! - Expired (older than `cache.ttl`): it runs and its entry is replaced.
//! - Inputs that match no file: a miss, with a warning, and nothing stored (no
//!   change could ever invalidate such an entry).
//! - [`CacheMode::NoCache`]: every cacheable beat is a miss, runs, and is stored
//!   again. [`CacheMode::CacheOnly`]: a beat that would have to run (a miss, an
//!   expired entry, a beat that is not cacheable) fails instead.
//! - The cache is an optimisation: any error in it is a warning and the beat runs
//!   (under `--cache-only` it fails, since it would have to run).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use baton_cache::{
    Cache, CacheMode, ComputedKey, EntryLog, KeySpec, Lookup, ProducedBy, Restored, ShellSpec,
    error_chain, is_cacheable,
};
use baton_model::{ArtifactEntry, BeatSpec, CacheState, OutputStream, Pipeline};

use crate::output::{BeatOutput, CHUNK, StreamWriter};
use crate::spawner::Shell;

/// What the cache says before a beat runs.
#[derive(Debug)]
pub(crate) enum Before {
    /// Restored from the cache: the beat does not run.
    Hit {
        key: ComputedKey,
        restored: Restored,
    },
    /// The beat runs; with a key, it is stored after a success.
    Run(ToRun),
    /// `--cache-only` and the beat would have to run: it fails with this reason.
    Refuse { run: ToRun, reason: String },
}

/// A beat that runs, as the cache sees it.
#[derive(Debug, Default)]
pub(crate) struct ToRun {
    pub state: CacheState,
    /// With the spec it was computed from; `None` when the beat is not cached.
    pub key: Option<(KeySpec, ComputedKey)>,
    /// Replace an existing entry when storing (expired, `--no-cache`).
    pub replace: bool,
    pub miss_reason: Option<String>,
    /// The key of the beat's inputs when it was computed, for its input
    /// identity: [`ToRun::key`]'s, or that of a beat that is not cached.
    pub inputs_key: Option<String>,
    /// The time the key of a beat that is not cached took: bookkeeping, left out
    /// of the beat's duration (a cached beat's key is part of its work).
    pub uncached_key_time: Duration,
}

/// The [`KeySpec`] of `beat` when run through `shell`: what `baton cache explain`
/// must use to compute the same key the runner does.
pub fn cache_key_spec(pipeline: &Pipeline, beat: &BeatSpec, shell: &Shell) -> KeySpec {
    KeySpec::for_beat(pipeline, beat, shell_spec(shell))
}

/// The cache's view of a shell.
pub fn shell_spec(shell: &Shell) -> ShellSpec {
    ShellSpec {
        program: shell.program.display().to_string(),
        args: shell.args.clone(),
    }
}

/// Computes `beat`'s key, records it for `run_id`, looks it up and restores a hit.
pub(crate) fn before(
    cache: Option<&Cache>,
    mode: CacheMode,
    pipeline: &Pipeline,
    beat: &BeatSpec,
    shell: &Shell,
    run_id: &str,
    warn: &dyn Fn(String),
) -> Before {
    let refuse_or_run = |run: ToRun, reason: &str| {
        if mode == CacheMode::CacheOnly {
            Before::Refuse {
                run,
                reason: reason.to_owned(),
            }
        } else {
            Before::Run(run)
        }
    };
    let (Some(cache), true) = (cache, is_cacheable(beat)) else {
        let keyed = Instant::now();
        let inputs_key = cache
            .filter(|_| !beat.inputs.is_empty())
            .and_then(|cache| uncached_inputs_key(cache, pipeline, beat, shell, warn));
        return refuse_or_run(
            ToRun {
                inputs_key,
                uncached_key_time: keyed.elapsed(),
                ..ToRun::default()
            },
            "not cacheable: no inputs or cache disabled (--cache-only)",
        );
    };
    let spec = cache_key_spec(pipeline, beat, shell);
    let key = match cache.compute_key(&spec) {
        Ok(key) => key,
        Err(err) => {
            warn(format!(
                "beat '{}': failed to compute its cache key ({}); running it uncached",
                beat.name,
                error_chain(&err)
            ));
            return refuse_or_run(
                ToRun {
                    state: CacheState::Miss,
                    ..ToRun::default()
                },
                "not in cache (--cache-only)",
            );
        }
    };
    for problem in &key.problems {
        warn(format!("beat '{}': {problem}", beat.name));
    }
    // Nothing the key rests on can change: a hit would replay stale output forever.
    if key.components.inputs.is_empty() {
        warn(format!(
            "beat '{}': its inputs ({}) match no file; running it instead of using the cache",
            beat.name,
            beat.inputs.join(", ")
        ));
        return refuse_or_run(
            ToRun {
                state: CacheState::Miss,
                miss_reason: Some("its inputs match no file".to_owned()),
                ..ToRun::default()
            },
            "its inputs match no file (--cache-only)",
        );
    }
    if let Err(err) = cache.record_run_key(run_id, &spec, &key) {
        warn(format!(
            "beat '{}': failed to record its cache key: {}",
            beat.name,
            error_chain(&err)
        ));
    }
    if mode == CacheMode::NoCache {
        return Before::Run(ToRun {
            state: CacheState::Miss,
            inputs_key: Some(key.key.clone()),
            key: Some((spec, key)),
            replace: true,
            miss_reason: None,
            uncached_key_time: Duration::ZERO,
        });
    }

    let mut miss_reason = None;
    let (state, replace) = match cache.lookup(&key.key, spec.ttl) {
        Ok(Lookup::Hit(hit)) => match cache.restore(&hit, &spec.root) {
            Ok(restored) => return Before::Hit { key, restored },
            Err(err) => {
                if err.is_corrupt() {
                    miss_reason = Some("its cache entry was corrupt".to_owned());
                }
                warn(format!(
                    "beat '{}': failed to restore it from the cache ({}); running it",
                    beat.name,
                    error_chain(&err)
                ));
                (CacheState::Miss, true)
            }
        },
        Ok(Lookup::Expired { .. }) => (CacheState::Expired, true),
        Ok(Lookup::Miss) => {
            miss_reason = cache.miss_reason(&spec, &key).unwrap_or_else(|err| {
                warn(format!(
                    "beat '{}': failed to explain its cache miss: {}",
                    beat.name,
                    error_chain(&err)
                ));
                None
            });
            (CacheState::Miss, false)
        }
        Err(err) => {
            warn(format!(
                "beat '{}': failed to look it up in the cache ({}); running it",
                beat.name,
                error_chain(&err)
            ));
            (CacheState::Miss, false)
        }
    };
    let reason = if state == CacheState::Expired {
        "cache entry expired (--cache-only)"
    } else {
        "not in cache (--cache-only)"
    };
    refuse_or_run(
        ToRun {
            state,
            inputs_key: Some(key.key.clone()),
            key: Some((spec, key)),
            replace,
            miss_reason,
            uncached_key_time: Duration::ZERO,
        },
        reason,
    )
}

/// The key of a beat with `inputs` that is not cached (`cache: false`): its input
/// identity, computed as the cache would (unchanged files are not hashed again),
/// with nothing looked up, recorded or stored.
fn uncached_inputs_key(
    cache: &Cache,
    pipeline: &Pipeline,
    beat: &BeatSpec,
    shell: &Shell,
    warn: &dyn Fn(String),
) -> Option<String> {
    match cache.compute_key(&cache_key_spec(pipeline, beat, shell)) {
        Ok(key) => Some(key.key),
        Err(err) => {
            warn(format!(
                "beat '{}': failed to compute the key of its inputs ({}); its record has no input identity",
                beat.name,
                error_chain(&err)
            ));
            None
        }
    }
}

/// After a successful run: stores the outputs and `log` (with the byte ranges
/// of it that came from stderr) as stored by `run_by`; returns the stored
/// artifacts, `None` when nothing was stored.
pub(crate) fn after_success(
    cache: &Cache,
    run: &ToRun,
    log: (&Path, &[[u64; 2]]),
    run_by: &ProducedBy,
    warn: &dyn Fn(String),
) -> Option<Vec<ArtifactEntry>> {
    let (spec, key) = run.key.as_ref()?;
    let entry_log = EntryLog {
        path: Some(log.0),
        stderr: log.1,
        produced_by: Some(run_by),
    };
    match cache.store_entry(spec, key, &entry_log, run.replace) {
        Ok(stored) => {
            for problem in stored.problems {
                warn(format!("beat '{}': {problem}", spec.beat));
            }
            Some(stored.artifacts)
        }
        Err(err) => {
            warn(format!(
                "beat '{}': failed to store it in the cache: {}",
                spec.beat,
                error_chain(&err)
            ));
            None
        }
    }
}

/// Replays a saved log: its lines go out as output (and into this run's log), on
/// the stream they were written to (`stderr`: the byte ranges of the log that
/// came from stderr; the rest is stdout); baton's own `[baton] ...` notes of the
/// run that stored it (attempt headers, its miss reason) are left out.
pub(crate) fn replay_log(
    path: &Path,
    stderr: &[[u64; 2]],
    output: &BeatOutput,
) -> std::io::Result<()> {
    const NOTE: &[u8] = b"[baton] ";
    let mut reader = BufReader::with_capacity(CHUNK, File::open(path)?);
    let mut writer: Option<(OutputStream, StreamWriter)> = None;
    let mut ranges = stderr.iter().peekable();
    let mut offset = 0u64;
    let mut line = Vec::new();
    let mut at_line_start = true;
    loop {
        line.clear();
        // At most one chunk at a time: a long line arrives in pieces.
        let n = (&mut reader)
            .take(CHUNK as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        let at = offset;
        offset += n as u64;
        while ranges.next_if(|[_, end]| *end <= at).is_some() {}
        let stream = match ranges.peek() {
            Some([start, _]) if *start <= at => OutputStream::Stderr,
            _ => OutputStream::Stdout,
        };
        let complete = line.ends_with(b"\n");
        let note = stream == OutputStream::Stdout && at_line_start && line.starts_with(NOTE);
        if !(note && complete) {
            // A writer per run of one stream, so that the lines keep their order.
            if writer.as_ref().is_none_or(|(s, _)| *s != stream) {
                writer = Some((stream, output.stream(stream)));
            }
            if let Some((_, w)) = writer.as_mut() {
                w.write(&line);
            }
        }
        at_line_start = complete;
    }
    Ok(())
}
