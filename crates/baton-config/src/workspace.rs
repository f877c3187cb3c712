//! Checks that look at the files next to the pipeline (`baton validate`, `baton run`
//! on a real file; never [`crate::load_str`]): what the text alone cannot tell.
//!
//! - B306: an `inputs` glob of a cached beat whose literal directory does not
//!   exist and that no beat's `outputs` can create. It matches no file, so the
//!   beat's cache key could never change (the run refuses to use the cache for it
//!   and says so; validation says it first).

use std::path::Path;

use crate::checks::{globs_overlap, literal_prefix};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::fields::Reader;
use crate::resolve::Draft;

/// Runs the workspace checks of `draft`, whose beats run in `root`.
pub(crate) fn check(draft: &Draft, root: &Path, r: &mut Reader) {
    if !root.is_dir() {
        return;
    }
    let outputs: Vec<&str> = draft
        .movements
        .iter()
        .flat_map(|m| &m.beats)
        .flat_map(|b| b.spec.outputs.iter().map(String::as_str))
        .collect();
    for beat in draft.movements.iter().flat_map(|m| &m.beats) {
        if !beat.spec.cache.enabled {
            continue;
        }
        for glob in &beat.spec.inputs {
            let (prefix, wild) = literal_prefix(glob);
            // The directory the glob starts in: its literal prefix, or the parent of
            // a literal file name.
            let dir = if wild {
                prefix.as_str()
            } else {
                prefix.rsplit_once('/').map_or("", |(dir, _)| dir)
            };
            if dir.is_empty() || root.join(dir).exists() {
                continue;
            }
            if outputs.iter().any(|o| globs_overlap(o, glob)) {
                continue;
            }
            r.report(
                Diagnostic::new(
                    Code::InputsMatchNothing,
                    Severity::Minor,
                    beat.inputs_pos.or(Some(beat.pos)),
                    format!(
                        "input '{glob}' of beat '{}' matches no file: '{dir}/' does not exist and no beat's outputs write it",
                        beat.spec.name
                    ),
                )
                .fix("fix the path, or list the files in the outputs of the beat that makes them"),
            );
        }
    }
}
