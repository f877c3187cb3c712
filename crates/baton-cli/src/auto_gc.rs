//! `baton gc` by itself: after each run, when the history (history.db with its
//! WAL, logs, telemetry files, archives; the step cache has its own `baton cache
//! prune`) takes more disk than a cap (`$BATON_GC_MAX_SIZE`, 1 GB by default), the
//! oldest runs go, with their folders, until it is under 80% of the cap again.
//! The run just made is never removed, a failure is one warning and never the
//! run's outcome, and what went is said in one line.
//!
//! Measuring every folder at every run would cost a walk of thousands of files:
//! a small ledger (`.baton/gc-usage`) keeps the folders' size, grown by each run's
//! own folders, and the whole walk is done only when the ledger is missing, every
//! [`REMEASURE_EVERY`] runs (runs finishing at once can each miss the other's
//! bytes), or when the ledger says the cap is passed.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use baton_model::RunRecord;
use baton_store::{GcPolicy, HistoryStore, RunFilter};

use crate::state::StateDir;

/// The variable that sets the cap: `500MB`, `2GB`, `1.5GiB`, a number of bytes,
/// or `off` (also `0`) for no automatic gc.
pub(crate) const MAX_SIZE_VAR: &str = "BATON_GC_MAX_SIZE";
/// The cap when the variable is not set: 1 GB.
pub(crate) const DEFAULT_CAP: u64 = 1_000_000_000;
/// The ledger next to the history.
const LEDGER: &str = "gc-usage";
/// Runs between two whole measures while under the cap.
const REMEASURE_EVERY: u32 = 50;

/// What the automatic gc did after a run.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Collected {
    pub runs: usize,
    pub bytes: u64,
    pub left: u64,
}

/// The cap `$BATON_GC_MAX_SIZE` sets: `None` for off; an error names the value.
pub(crate) fn cap_from(var: Option<&str>) -> Result<Option<u64>, String> {
    let Some(raw) = var.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Some(DEFAULT_CAP));
    };
    if raw.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bytes = crate::size::parse_size(raw).map_err(|err| format!("{MAX_SIZE_VAR}: {err}"))?;
    Ok((bytes > 0).then_some(bytes))
}

/// After a run: measures the history and, past `cap`, removes the oldest runs
/// (never `run`). `Ok(None)` when nothing had to go.
pub(crate) fn after_run(
    state: &StateDir,
    store: &dyn HistoryStore,
    run: &RunRecord,
    cap: u64,
) -> anyhow::Result<Option<Collected>> {
    let layout = state.layout();
    let ledger = read_ledger(&state.root.join(LEDGER));
    let (mut folders, mut runs_since, mut measured) = match ledger {
        Some((bytes, since)) if since < REMEASURE_EVERY => {
            let this_run: u64 = layout
                .run_dirs(&run.label)
                .iter()
                .map(|d| tree_bytes(d))
                .sum();
            (bytes.saturating_add(this_run), since + 1, None)
        }
        _ => {
            let by_run = measure(state);
            (by_run.values().sum(), 0, Some(by_run))
        }
    };
    let mut collected = None;
    if folders.saturating_add(db_bytes(state)) > cap {
        let by_run = match measured.take() {
            Some(by_run) => by_run,
            None => measure(state),
        };
        folders = by_run.values().sum();
        runs_since = 0;
        if folders.saturating_add(db_bytes(state)) > cap {
            let done = collect(state, store, run, cap, &by_run)?;
            folders = folders.saturating_sub(done.bytes);
            collected = Some(done);
        }
    }
    write_ledger(&state.root.join(LEDGER), folders, runs_since);
    Ok(collected.map(|mut c| {
        c.left = folders.saturating_add(db_bytes(state));
        c
    }))
}

/// Forgets the ledger: the next run measures again (after a `baton gc`).
pub(crate) fn forget(state: &StateDir) {
    let _ = fs::remove_file(state.root.join(LEDGER));
}

/// Removes the oldest runs until the history would be under 80% of `cap`. A
/// run's share of history.db is the file's size over the runs it holds (SQLite
/// reuses the space of removed runs rather than shrinking the file).
fn collect(
    state: &StateDir,
    store: &dyn HistoryStore,
    current: &RunRecord,
    cap: u64,
    by_run: &HashMap<String, u64>,
) -> anyhow::Result<Collected> {
    let mut runs: Vec<RunRecord> = store
        .list_runs(&RunFilter::default())?
        .into_iter()
        .map(|s| s.run)
        .filter(|r| r.started_at < current.started_at && r.run_id != current.run_id)
        .collect();
    runs.sort_by_key(|r| r.started_at);
    let db = db_bytes(state);
    let db_share = db / (runs.len() as u64 + 1).max(1);
    let target = cap / 5 * 4;
    let mut total: u64 = by_run.values().sum::<u64>().saturating_add(db);
    let mut keep_from = None;
    for run in &runs {
        if total <= target {
            break;
        }
        total = total.saturating_sub(size_of(state, by_run, &run.label) + db_share);
        keep_from = Some(run.started_at);
    }
    let Some(last_removed) = keep_from else {
        return Ok(Collected::default());
    };
    // Every run started up to the last one chosen (ties included).
    let before = last_removed
        .checked_add(jiff::SignedDuration::from_nanos(1))
        .unwrap_or(last_removed);
    let before = before.min(current.started_at);
    let removed = store.gc(&GcPolicy::StartedBefore(before))?;
    let mut bytes = 0;
    for run in &removed {
        bytes += size_of(state, by_run, &run.label);
        for dir in state.layout().run_dirs(&run.label) {
            if dir.exists() {
                fs::remove_dir_all(&dir)
                    .map_err(|err| anyhow::anyhow!("failed to remove {}: {err}", dir.display()))?;
            }
        }
    }
    Ok(Collected {
        runs: removed.len(),
        bytes,
        left: 0,
    })
}

/// A run's folders' size in `by_run` (keyed by folder name, the encoded label).
fn size_of(state: &StateDir, by_run: &HashMap<String, u64>, label: &str) -> u64 {
    let dir = state.layout().run_telemetry(label);
    dir.file_name()
        .and_then(|n| by_run.get(&*n.to_string_lossy()))
        .copied()
        .unwrap_or(0)
}

/// The disk used by each run's folders (logs, telemetry, archive), by label.
fn measure(state: &StateDir) -> HashMap<String, u64> {
    let layout = state.layout();
    let mut by_run: HashMap<String, u64> = HashMap::new();
    for parent in [layout.logs(), layout.telemetry(), layout.archive()] {
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let bytes = tree_bytes(&entry.path());
            let label = entry.file_name().to_string_lossy().into_owned();
            *by_run.entry(label).or_default() += bytes;
        }
    }
    by_run
}

/// history.db with its WAL and shared memory.
fn db_bytes(state: &StateDir) -> u64 {
    let db = state.history_db();
    let mut total = disk_bytes(&db);
    for suffix in ["-wal", "-shm"] {
        let mut name = db.clone().into_os_string();
        name.push(suffix);
        total += disk_bytes(Path::new(&name));
    }
    total
}

/// The disk a file or folder takes, the folders themselves included.
fn tree_bytes(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = allocated(&meta);
    if meta.is_dir()
        && let Ok(entries) = fs::read_dir(path)
    {
        for entry in entries.flatten() {
            total += tree_bytes(&entry.path());
        }
    }
    total
}

fn disk_bytes(path: &Path) -> u64 {
    fs::symlink_metadata(path).map_or(0, |m| allocated(&m))
}

/// Blocks on disk where the platform says (a 20-byte log takes 4 KB), else the length.
#[cfg(unix)]
fn allocated(meta: &fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks() * 512
}

#[cfg(not(unix))]
fn allocated(meta: &fs::Metadata) -> u64 {
    meta.len()
}

/// `<bytes> <runs since the last whole measure>`.
fn read_ledger(path: &Path) -> Option<(u64, u32)> {
    let text = fs::read_to_string(path).ok()?;
    let mut parts = text.split_whitespace();
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn write_ledger(path: &Path, bytes: u64, runs_since: u32) {
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let written =
        fs::write(&tmp, format!("{bytes} {runs_since}\n")).and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_decimal_and_binary_units() {
        assert_eq!(cap_from(None), Ok(Some(DEFAULT_CAP)));
        assert_eq!(cap_from(Some("500MB")), Ok(Some(500_000_000)));
        assert_eq!(cap_from(Some("1.5 GB")), Ok(Some(1_500_000_000)));
        assert_eq!(cap_from(Some("2GiB")), Ok(Some(2 * 1024 * 1024 * 1024)));
        assert_eq!(cap_from(Some("4096")), Ok(Some(4096)));
        assert_eq!(cap_from(Some("off")), Ok(None));
        assert_eq!(cap_from(Some("0")), Ok(None));
        assert!(cap_from(Some("lots")).is_err());
        assert!(cap_from(Some("5 parsecs")).is_err());
    }
}
