//! Artifact manifests: the files a beat's `outputs` matched after it ended, with
//! their sizes and SHA-256, so that a later `baton artifacts verify` can tell which
//! changed or vanished since. One [`ArtifactManifest`] per run is written as
//! `artifacts.json` in the run's telemetry folder.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Version of the `artifacts.json` format.
pub const ARTIFACT_MANIFEST_VERSION: u32 = 1;

/// One output file of a beat.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ArtifactEntry {
    /// Relative to the pipeline root, `/`-separated.
    pub path: String,
    pub bytes: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// The artifacts of one beat in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeatArtifacts {
    pub movement: String,
    pub beat: String,
    /// Sorted by path.
    pub files: Vec<ArtifactEntry>,
}

/// Every artifact a run produced: the content of `artifacts.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactManifest {
    pub format_version: u32,
    pub run_id: Uuid,
    pub run_label: String,
    pub pipeline_id: String,
    /// Beats in plan order; beats without outputs are left out.
    pub beats: Vec<BeatArtifacts>,
}

impl ArtifactManifest {
    pub fn count(&self) -> u64 {
        self.beats.iter().map(|b| b.files.len() as u64).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.beats
            .iter()
            .flat_map(|b| &b.files)
            .map(|f| f.bytes)
            .sum()
    }
}
