//! `baton artifacts verify [RUN]`: re-hash the files a run produced and list any that
//! changed or vanished since.

use baton_cache::ChangeKind;
use baton_model::{ARTIFACT_MANIFEST_VERSION, ArtifactManifest};
use serde_json::json;

use super::reading;
use crate::cli::{ArtifactsCommand, ArtifactsVerifyArgs, TextOrJson};
use crate::exit::Exit;

pub(crate) fn run(cmd: &ArtifactsCommand) -> anyhow::Result<Exit> {
    match cmd {
        ArtifactsCommand::Verify(args) => verify(args),
    }
}

fn verify(args: &ArtifactsVerifyArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let (run, beats) = reading::load_run(&history, &args.run)?;
    let manifest = match history.store.load_artifacts(run.run_id)? {
        Some(manifest) => manifest,
        // A run whose beats produced nothing saves no manifest: nothing to verify.
        None if beats.iter().all(|b| b.artifacts_count == 0) => ArtifactManifest {
            format_version: ARTIFACT_MANIFEST_VERSION,
            run_id: run.run_id,
            run_label: run.label.clone(),
            pipeline_id: run.pipeline_id.clone(),
            beats: Vec::new(),
        },
        None => crate::usage_bail!("run {} has no artifact manifest", run.label),
    };
    let root = baton_config::pipeline_root(std::path::Path::new(&run.pipeline_file));
    let changes = baton_cache::verify_manifest(&root, &manifest);
    match args.format {
        TextOrJson::Json => {
            let out = json!({
                "run": run.label,
                "files": manifest.count(),
                "changes": changes.iter().map(|c| json!({
                    "beat": c.beat,
                    "path": c.path,
                    "kind": match c.kind { ChangeKind::Changed => "changed", ChangeKind::Missing => "missing" },
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        TextOrJson::Text => {
            for c in &changes {
                let kind = match c.kind {
                    ChangeKind::Changed => "changed",
                    ChangeKind::Missing => "missing",
                };
                println!("{kind:<8} {} ({})", c.path, c.beat);
            }
            println!(
                "{}: {} artifact(s), {} changed or missing",
                run.label,
                manifest.count(),
                changes.len()
            );
        }
    }
    // Like `diff`: exit 1 when something differs, so scripts can gate on it.
    Ok(if changes.is_empty() {
        Exit::Success
    } else {
        Exit::BeatFailed
    })
}
