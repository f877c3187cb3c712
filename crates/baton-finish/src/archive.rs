//! Level ff: copy the run's artifacts, logs and report to `.baton/archive/<run>/`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use baton_model::{ArtifactManifest, Pipeline};
use baton_report::RunReport;

use crate::state::StateDir;

pub fn archive_run(
    pipeline: &Pipeline,
    state: &StateDir,
    report: &RunReport,
    manifest: &ArtifactManifest,
) -> anyhow::Result<PathBuf> {
    let label = &report.run.label;
    let dir = state.archive().join(label);
    fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    copy_tree(&state.logs().join(label), &dir.join("logs"))?;
    copy_tree(&state.telemetry().join(label), &dir.join("telemetry"))?;
    // The artifacts this run produced, as its manifest lists them.
    for file in manifest.beats.iter().flat_map(|b| &b.files) {
        let source = pipeline.root.join(&file.path);
        let target = dir.join("artifacts").join(&file.path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(&source, &target)
            .with_context(|| format!("failed to copy {}", source.display()))?;
    }
    Ok(dir)
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    if !from.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("failed to copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}
