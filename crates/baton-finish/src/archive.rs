//! Level ff: copy the run's artifacts, logs and report to `.baton/archive/<run>/`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use baton_model::{ArtifactManifest, Pipeline};
use baton_report::RunReport;

use baton_model::layout::StateLayout;

/// A file or folder the archive could not take.
#[derive(Debug, thiserror::Error)]
#[error("failed to {action} {}", path.display())]
pub struct ArchiveError {
    action: &'static str,
    path: PathBuf,
    #[source]
    source: io::Error,
}

/// `map_err` for an I/O error on `path`.
fn failed(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ArchiveError {
    let path = path.to_owned();
    move |source| ArchiveError {
        action,
        path,
        source,
    }
}

/// Copies the run's logs, telemetry files and artifacts to
/// `<archive>/<run label>/`, and returns that folder.
pub fn archive_run(
    pipeline: &Pipeline,
    state: &StateLayout,
    report: &RunReport,
    manifest: &ArtifactManifest,
) -> Result<PathBuf, ArchiveError> {
    let label = &report.run.label;
    let dir = state.run_archive(label);
    fs::create_dir_all(&dir).map_err(failed("create", &dir))?;
    let parts = state.run_archive_parts(label);
    copy_tree(&state.run_logs(label), &parts.logs)?;
    copy_tree(&state.run_telemetry(label), &parts.telemetry)?;
    // The artifacts this run produced, as its manifest lists them.
    for file in manifest.beats.iter().flat_map(|b| &b.files) {
        let source = pipeline.root.join(&file.path);
        let target = parts.artifacts.join(&file.path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(failed("create", parent))?;
        }
        fs::copy(&source, &target).map_err(failed("copy", &source))?;
    }
    Ok(dir)
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), ArchiveError> {
    if !from.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(to).map_err(failed("create", to))?;
    for entry in fs::read_dir(from).map_err(failed("read", from))? {
        let entry = entry.map_err(failed("read", from))?;
        let target = to.join(entry.file_name());
        let path = entry.path();
        if entry.file_type().map_err(failed("read", &path))?.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            fs::copy(&path, &target).map_err(failed("copy", &path))?;
        }
    }
    Ok(())
}
