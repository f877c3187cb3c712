//! `shape-evolutions.json`, the source document's shape registry: every shape
//! change in the history, in the documented entry format
//! ([`baton_report::documented::RegistryEntry`]). `baton run` keeps the copy next to
//! the history up to date, `baton shape annotate` too, and `baton shape export`
//! writes one on demand.

use std::io;
use std::path::{Path, PathBuf};

use baton_report::documented::{self, Registry, RegistryEntry, RegistryFacts};
use baton_store::{HistoryStore, ShapeEvolution};

use crate::state::StateDir;

/// The registry's file name, next to `history.db`.
pub(crate) const FILE_NAME: &str = "shape-evolutions.json";

/// `<state>/shape-evolutions.json`.
pub(crate) fn path(state: &StateDir) -> PathBuf {
    state.root.join(FILE_NAME)
}

/// The registry of these shape changes, oldest first as given.
pub(crate) fn document(evolutions: &[ShapeEvolution]) -> Registry {
    Registry {
        format_version: documented::TELEMETRY_FORMAT_VERSION,
        evolutions: evolutions
            .iter()
            .map(|e| RegistryEntry {
                feature: documented::feature(e.movement_index, e.beat_index),
                previous_hash: e.previous_hash.clone(),
                new_hash: e.new_hash.clone(),
                annotated_at: e.annotated_at,
                reason: e.reason.clone(),
                baton: RegistryFacts {
                    beat: e.feature.clone(),
                    pipeline_id: e.pipeline_id.clone(),
                    run_id: e.run_id,
                    at: e.at,
                },
            })
            .collect(),
    }
}

/// The registry as the file holds it (pretty JSON, one trailing newline).
pub(crate) fn to_json(evolutions: &[ShapeEvolution]) -> String {
    let mut text =
        serde_json::to_string_pretty(&document(evolutions)).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// Rewrites `<state>/shape-evolutions.json` from the whole history (every
/// pipeline it holds), atomically.
pub(crate) fn refresh(state: &StateDir, store: &dyn HistoryStore) -> anyhow::Result<()> {
    let evolutions = store.shape_evolutions(None)?;
    let path = path(state);
    write_atomically(&path, to_json(&evolutions).as_bytes())
        .map_err(|err| anyhow::anyhow!("failed to write {}: {err}", path.display()))
}

/// After a run: the registry is rewritten when a shape evolved, or when it is
/// missing (a run without evolutions reads nothing more from the history).
pub(crate) fn after_run(
    state: &StateDir,
    store: &dyn HistoryStore,
    evolved: bool,
) -> anyhow::Result<()> {
    if evolved || !path(state).exists() {
        refresh(state, store)?;
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_file_name(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
