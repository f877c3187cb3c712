//! The shape of a beat: a SHA-256 over its bucketed behaviour, so that a change of
//! bucket, status or cache state shows up as an evolved shape.

use baton_model::{BeatStatus, CacheState, Shape};
use sha2::{Digest, Sha256};

use crate::buckets::{artifacts_bucket, duration_bucket, errors_bucket, memory_bucket};

/// What the shape is computed from.
#[derive(Debug, Clone, Copy)]
pub struct ShapeInput<'a> {
    pub movement_index: u32,
    pub beat_index: u32,
    pub duration_ms: u64,
    pub status: BeatStatus,
    pub artifacts_count: u64,
    pub errors_count: u64,
    pub peak_rss_bytes: u64,
    pub cache_state: CacheState,
    /// The same beat's previous shape hash, if it ran before.
    pub previous_hash: Option<&'a str>,
}

pub fn shape_of(input: &ShapeInput<'_>) -> Shape {
    let canonical = format!(
        "m{}:b{}:{}:{}:a{}:e{}:mem{}:{}",
        input.movement_index,
        input.beat_index,
        duration_bucket(input.duration_ms),
        input.status.as_str(),
        artifacts_bucket(input.artifacts_count),
        errors_bucket(input.errors_count),
        memory_bucket(input.peak_rss_bytes),
        input.cache_state.as_str(),
    );
    let hash = hex(&Sha256::digest(canonical.as_bytes()));
    let evolved = input.previous_hash.is_some_and(|prev| prev != hash);
    Shape {
        hash,
        canonical,
        previous_hash: input.previous_hash.map(str::to_owned),
        evolved,
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(duration_ms: u64) -> ShapeInput<'static> {
        ShapeInput {
            movement_index: 1,
            beat_index: 2,
            duration_ms,
            status: BeatStatus::Success,
            artifacts_count: 3,
            errors_count: 0,
            peak_rss_bytes: 10_000_000,
            cache_state: CacheState::Miss,
            previous_hash: None,
        }
    }

    #[test]
    fn canonical_string_follows_the_design() {
        let shape = shape_of(&input(1_200));
        assert_eq!(
            shape.canonical,
            "m1:b2:1-5s:success:a1-4:eclean:mem<50MB:miss"
        );
        assert_eq!(shape.hash.len(), 64);
        assert!(!shape.evolved, "a first run has nothing to evolve from");
    }

    #[test]
    fn same_bucket_is_not_an_evolution_but_a_new_bucket_is() {
        let first = shape_of(&input(1_200));
        let same = shape_of(&ShapeInput {
            previous_hash: Some(&first.hash),
            ..input(4_900)
        });
        assert!(!same.evolved);
        let slower = shape_of(&ShapeInput {
            previous_hash: Some(&first.hash),
            ..input(6_000)
        });
        assert!(slower.evolved);
        assert_eq!(slower.previous_hash.as_deref(), Some(first.hash.as_str()));
    }
}
