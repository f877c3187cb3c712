//! The files a finished run leaves: its report file, its artifact manifest
//! (`artifacts.json` and the history store's copy) and, at level ff, its
//! archive. Shadow principle: what cannot be written is returned as
//! [`NotRecorded`], and the run's outcome stands.

use std::path::{Path, PathBuf};
use std::thread;

use baton_cache::error_chain;
use baton_model::layout::StateLayout;
use baton_model::{Pipeline, Recording};
use baton_report::RunReport;
use baton_runner::RunOutcome;
use baton_store::HistoryStore;

use crate::archive;

/// What to keep of a run, and where.
pub struct Keep<'a> {
    pub pipeline: &'a Pipeline,
    pub dirs: &'a StateLayout,
    /// The history store, for the artifact manifest; `None` when it is not open.
    pub store: Option<&'a dyn HistoryStore>,
    /// Archive the run (level ff), once its files are written.
    pub archive: bool,
}

/// What [`keep`] did: where the run was archived, and what it could not write.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Kept {
    pub archived: Option<PathBuf>,
    pub not_recorded: Vec<NotRecorded>,
}

/// Something of the run that could not be kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRecorded {
    pub what: Recording,
    pub message: String,
}

/// Writes the run's report file, its artifact manifest, and its archive when
/// asked. The report file (the largest) is written on a thread of its own while
/// the manifest is saved.
pub fn keep(keep: &Keep<'_>, report: &RunReport, outcome: &RunOutcome) -> Kept {
    let mut kept = Kept::default();
    thread::scope(|scope| {
        let report_file = scope.spawn(|| {
            let allowed = baton_report::documented::allowed_failures(keep.pipeline);
            save_report(&keep.dirs.telemetry(), report, &allowed)
        });
        kept.not_recorded
            .extend(save_manifest(keep, &report.run.label, outcome));
        match report_file.join() {
            Ok(failure) => kept.not_recorded.extend(failure),
            Err(_) => kept.not_recorded.push(NotRecorded {
                what: Recording::TelemetryFiles,
                message: "internal error: writing the report file panicked".into(),
            }),
        }
    });
    if keep.archive {
        match archive::archive_run(
            keep.pipeline,
            keep.dirs,
            report,
            &outcome.artifact_manifest(),
        ) {
            Ok(dir) => kept.archived = Some(dir),
            Err(err) => kept.not_recorded.push(NotRecorded {
                what: Recording::Archive,
                message: error_chain(&err),
            }),
        }
    }
    kept
}

/// Writes the run's report file.
fn save_report(
    telemetry: &Path,
    report: &RunReport,
    allowed: &baton_report::documented::AllowedFailures,
) -> Option<NotRecorded> {
    let err = baton_report::telemetry_files::write_report(telemetry, report, allowed).err()?;
    Some(NotRecorded {
        what: Recording::TelemetryFiles,
        message: format!("{}: {err}", telemetry.display()),
    })
}

/// Writes the run's `artifacts.json` and records its artifact manifest. A run
/// without artifacts has neither (`baton artifacts verify` reads that as "none"):
/// a file and a store write saved.
fn save_manifest(keep: &Keep<'_>, label: &str, outcome: &RunOutcome) -> Vec<NotRecorded> {
    let mut failures = Vec::new();
    // The same test as `artifacts verify`'s for "no manifest, no artifacts".
    if outcome.records.iter().all(|r| r.artifacts_count == 0) {
        return failures;
    }
    let manifest = outcome.artifact_manifest();
    let path = keep.dirs.artifact_manifest(label);
    if let Err(err) = baton_cache::write_manifest(&path, &manifest) {
        failures.push(NotRecorded {
            what: Recording::ArtifactsFile,
            message: error_chain(&err),
        });
    }
    if let Some(store) = keep.store
        && let Err(err) = store.save_artifacts(&manifest)
    {
        failures.push(NotRecorded {
            what: Recording::ArtifactManifest,
            message: error_chain(&err),
        });
    }
    failures
}

#[cfg(test)]
mod tests {
    use std::fs;

    use baton_model::{ArtifactEntry, BeatDetails, BeatStatus, CacheState, RunStatus};
    use baton_report::REPORT_FILE_NAME;
    use baton_runner::testing::{PipelineBuilder, beat};
    use baton_store::{SqliteStore, test_records};

    use super::*;

    /// A run of one beat `build` that made `dist/app` (5 bytes) when `artifact`.
    fn outcome(artifact: bool) -> RunOutcome {
        let run = test_records::run("p", test_records::at(0), RunStatus::Success);
        let mut record = test_records::beat(
            &run,
            0,
            0,
            "build",
            BeatStatus::Success,
            10,
            CacheState::Skip,
        );
        record.artifacts_count = u64::from(artifact);
        let details = BeatDetails {
            beat: "build".into(),
            artifacts: artifact
                .then(|| ArtifactEntry {
                    path: "dist/app".into(),
                    bytes: 5,
                    sha256: "0".repeat(64),
                })
                .into_iter()
                .collect(),
            ..BeatDetails::default()
        };
        RunOutcome {
            run,
            records: vec![record],
            details: vec![details],
        }
    }

    fn pipeline(root: &Path) -> Pipeline {
        PipelineBuilder::new("p")
            .root(root)
            .movement("m", false, vec![beat("build").outputs(&["dist/**"])])
            .build()
    }

    #[test]
    fn the_report_file_and_the_artifact_manifest_are_written_and_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dirs = StateLayout::new(dir.path().join(".baton"));
        let store = SqliteStore::open(dir.path().join("history.db")).expect("store");
        let outcome = outcome(true);
        store.begin_run(&outcome.run).expect("begin");
        let p = pipeline(dir.path());
        let report = crate::report(&outcome, Vec::new());
        let keep = Keep {
            pipeline: &p,
            dirs: &dirs,
            store: Some(&store),
            archive: false,
        };
        let kept = super::keep(&keep, &report, &outcome);
        assert_eq!(kept, Kept::default());
        let run_dir = dirs.run_telemetry(&outcome.run.label);
        assert!(run_dir.join(REPORT_FILE_NAME).is_file());
        let manifest = fs::read_to_string(run_dir.join("artifacts.json")).expect("artifacts.json");
        assert!(manifest.contains("dist/app"), "{manifest}");
        let stored = store.load_artifacts(outcome.run.run_id).expect("load");
        assert_eq!(stored, Some(outcome.artifact_manifest()));
    }

    #[test]
    fn a_run_without_artifacts_has_no_manifest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dirs = StateLayout::new(dir.path().join(".baton"));
        let outcome = outcome(false);
        let p = pipeline(dir.path());
        let report = crate::report(&outcome, Vec::new());
        let keep = Keep {
            pipeline: &p,
            dirs: &dirs,
            store: None,
            archive: false,
        };
        assert_eq!(super::keep(&keep, &report, &outcome), Kept::default());
        let run_dir = dirs.run_telemetry(&outcome.run.label);
        assert!(run_dir.join(REPORT_FILE_NAME).is_file());
        assert!(!run_dir.join("artifacts.json").exists());
    }

    #[test]
    fn what_cannot_be_written_is_returned_by_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A file where the state folder should be.
        let blocker = dir.path().join(".baton");
        fs::write(&blocker, "").expect("write");
        let dirs = StateLayout::new(blocker);
        let outcome = outcome(true);
        let p = pipeline(dir.path());
        let report = crate::report(&outcome, Vec::new());
        let keep = Keep {
            pipeline: &p,
            dirs: &dirs,
            store: None,
            archive: true,
        };
        let kept = super::keep(&keep, &report, &outcome);
        assert_eq!(kept.archived, None);
        let what: Vec<Recording> = kept.not_recorded.iter().map(|n| n.what).collect();
        assert_eq!(
            what,
            [
                Recording::ArtifactsFile,
                Recording::TelemetryFiles,
                Recording::Archive
            ]
        );
        assert!(
            kept.not_recorded[2]
                .message
                .starts_with("failed to create "),
            "{:?}",
            kept.not_recorded
        );
    }

    #[test]
    fn level_ff_archives_logs_telemetry_and_artifacts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let dirs = StateLayout::new(root.join(".baton"));
        let outcome = outcome(true);
        let label = outcome.run.label.clone();
        fs::create_dir_all(root.join("dist")).expect("mkdir");
        fs::write(root.join("dist/app"), "12345").expect("write");
        fs::create_dir_all(dirs.run_logs(&label).join("m")).expect("mkdir");
        fs::write(dirs.run_logs(&label).join("m/build.log"), "built\n").expect("write");
        let p = pipeline(root);
        let report = crate::report(&outcome, Vec::new());
        let keep = Keep {
            pipeline: &p,
            dirs: &dirs,
            store: None,
            archive: true,
        };
        let kept = super::keep(&keep, &report, &outcome);
        assert!(kept.not_recorded.is_empty(), "{:?}", kept.not_recorded);
        let archived = kept.archived.expect("archived");
        assert_eq!(archived, dirs.run_archive(&label));
        let read = |path: &str| fs::read_to_string(archived.join(path)).expect(path);
        assert_eq!(read("logs/m/build.log"), "built\n");
        assert_eq!(read("artifacts/dist/app"), "12345");
        assert!(archived.join("telemetry").join(REPORT_FILE_NAME).is_file());
        assert!(archived.join("telemetry/artifacts.json").is_file());
    }
}
