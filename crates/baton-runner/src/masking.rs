//! Declared secrets masked out of every string a beat can influence before it is
//! kept (history, telemetry files, `artifacts.json`) or shown: metric names from
//! `$BATON_OUTPUT`, the failure reason, the cache's miss reason and the artifact
//! paths. Output lines and warnings are masked where they are made
//! ([`crate::output`]). Numbers (metric values, counts) are kept: a number cannot
//! be told apart from a secret that happens to be one.

use std::collections::BTreeMap;

use baton_model::BeatDetails;

use crate::output::Masker;
use crate::record::Measured;

/// Masks what a beat reported and left behind, in place.
pub(crate) fn mask_beat_strings(
    masker: &Masker,
    measured: &mut Measured,
    details: &mut BeatDetails,
) {
    if masker.is_empty() {
        return;
    }
    let metrics = std::mem::take(&mut measured.report.metrics);
    measured.report.metrics = metrics
        .into_iter()
        .map(|(name, value)| (masker.mask_str(&name), value))
        .collect::<BTreeMap<_, _>>();
    mask_option(masker, &mut measured.reason);
    mask_option(masker, &mut details.cache_miss_reason);
    for artifact in &mut details.artifacts {
        artifact.path = masker.mask_str(&artifact.path);
    }
    if let Some(artifacts) = &mut measured.artifacts {
        for artifact in artifacts {
            artifact.path = masker.mask_str(&artifact.path);
        }
    }
}

/// `text` masked in place.
pub(crate) fn mask_option(masker: &Masker, text: &mut Option<String>) {
    if let Some(t) = text {
        *t = masker.mask_str(t);
    }
}

#[cfg(test)]
mod tests {
    use baton_model::{ArtifactEntry, BeatStatus};
    use jiff::Timestamp;

    use super::*;

    #[test]
    fn metric_names_reasons_and_artifact_paths_lose_the_secret() {
        let masker = Masker::new(["s3cr3t"]);
        let mut measured = Measured::new(Timestamp::UNIX_EPOCH, BeatStatus::Failure);
        measured.report.metrics.insert("tok_s3cr3t".into(), 1.0);
        measured.report.metrics.insert("plain".into(), 2.0);
        measured.reason = Some("failed near s3cr3t".into());
        let entry = ArtifactEntry {
            path: "dist/s3cr3t.txt".into(),
            bytes: 1,
            sha256: String::new(),
        };
        measured.artifacts = Some(vec![entry.clone()]);
        let mut details = BeatDetails {
            artifacts: vec![entry],
            cache_miss_reason: Some("input s3cr3t changed".into()),
            ..BeatDetails::default()
        };
        mask_beat_strings(&masker, &mut measured, &mut details);
        let all = format!("{measured:?} {details:?}");
        assert!(!all.contains("s3cr3t"), "{all}");
        assert_eq!(measured.report.metrics.get("tok_***"), Some(&1.0));
        assert_eq!(measured.report.metrics.get("plain"), Some(&2.0));
        assert_eq!(details.artifacts[0].path, "dist/***.txt");
    }
}
