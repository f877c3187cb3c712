//! What changed between two shapes: [`describe_change`] reads two canonical shape
//! strings (see [`crate::shape::shape_of`]) and names each component that differs,
//! `memory 50-100MB → 100-500MB`, `cache miss → hit`, so an *evolved* shape says why.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A part of a beat's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeComponent {
    /// The movement and beat index (`m1:b2`).
    Position,
    /// The duration bucket.
    Duration,
    Status,
    /// The artifacts bucket.
    Artifacts,
    /// The errors bucket.
    Errors,
    /// The peak memory bucket.
    Memory,
    /// The cache state.
    Cache,
    /// The whole canonical string, when one of the two cannot be read part by part
    /// (written by another version of baton, or imported).
    Shape,
}

impl ShapeComponent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Position => "position",
            Self::Duration => "duration",
            Self::Status => "status",
            Self::Artifacts => "artifacts",
            Self::Errors => "errors",
            Self::Memory => "memory",
            Self::Cache => "cache",
            Self::Shape => "shape",
        }
    }
}

impl fmt::Display for ShapeComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One component of a shape that differs from the previous run's, with its values
/// as the buckets name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub component: ShapeComponent,
    pub from: String,
    pub to: String,
}

impl fmt::Display for Change {
    /// `memory 50-100MB → 100-500MB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} → {}", self.component, self.from, self.to)
    }
}

/// The components that differ from `previous` to `current` (both canonical shape
/// strings), in the order of the canonical string: position, duration, status,
/// artifacts, errors, memory, cache. Empty when the strings are equal; one
/// [`ShapeComponent::Shape`] change when either cannot be read.
pub fn describe_change(previous: &str, current: &str) -> Vec<Change> {
    if previous == current {
        return Vec::new();
    }
    let (Some(before), Some(after)) = (components(previous), components(current)) else {
        return vec![Change {
            component: ShapeComponent::Shape,
            from: previous.to_owned(),
            to: current.to_owned(),
        }];
    };
    before
        .into_iter()
        .zip(after)
        .filter(|((_, from), (_, to))| from != to)
        .map(|((component, from), (_, to))| Change {
            component,
            from,
            to,
        })
        .collect()
}

/// `m{movement}:b{beat}:{duration}:{status}:a{artifacts}:e{errors}:mem{memory}:{cache}`
/// split into its components, with the tags removed.
fn components(canonical: &str) -> Option<[(ShapeComponent, String); 7]> {
    let parts: Vec<&str> = canonical.split(':').collect();
    let [
        movement,
        beat,
        duration,
        status,
        artifacts,
        errors,
        memory,
        cache,
    ] = parts[..]
    else {
        return None;
    };
    let tagged = |part: &str, tag: &str| part.strip_prefix(tag).map(str::to_owned);
    movement.strip_prefix('m')?;
    beat.strip_prefix('b')?;
    Some([
        (ShapeComponent::Position, format!("{movement}:{beat}")),
        (ShapeComponent::Duration, duration.to_owned()),
        (ShapeComponent::Status, status.to_owned()),
        (ShapeComponent::Artifacts, tagged(artifacts, "a")?),
        (ShapeComponent::Errors, tagged(errors, "e")?),
        (ShapeComponent::Memory, tagged(memory, "mem")?),
        (ShapeComponent::Cache, cache.to_owned()),
    ])
}

#[cfg(test)]
mod tests {
    use baton_model::{BeatStatus, CacheState};

    use super::*;
    use crate::shape::{ShapeInput, shape_of};

    fn text(changes: &[Change]) -> Vec<String> {
        changes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn equal_shapes_have_no_changes() {
        let shape = "m1:b2:1-5s:success:a1-4:eclean:mem<50MB:miss";
        assert!(describe_change(shape, shape).is_empty());
    }

    #[test]
    fn a_memory_bucket_crossed_is_named_with_both_buckets() {
        let changes = describe_change(
            "m0:b3:5-30s:success:a0:eclean:mem50-100MB:skip",
            "m0:b3:5-30s:success:a0:eclean:mem100-500MB:skip",
        );
        assert_eq!(
            changes,
            vec![Change {
                component: ShapeComponent::Memory,
                from: "50-100MB".into(),
                to: "100-500MB".into(),
            }]
        );
        assert_eq!(text(&changes), ["memory 50-100MB → 100-500MB"]);
    }

    #[test]
    fn every_component_that_differs_is_named_in_canonical_order() {
        let changes = describe_change(
            "m0:b1:<1s:success:a0:eclean:mem<50MB:miss",
            "m1:b0:1-5s:failure:a1-4:e1-5:mem0.5-2GB:hit",
        );
        assert_eq!(
            text(&changes),
            [
                "position m0:b1 → m1:b0",
                "duration <1s → 1-5s",
                "status success → failure",
                "artifacts 0 → 1-4",
                "errors clean → 1-5",
                "memory <50MB → 0.5-2GB",
                "cache miss → hit",
            ]
        );
    }

    #[test]
    fn a_string_that_cannot_be_read_is_one_whole_change() {
        for (previous, current) in [
            ("garbage", "m0:b0:<1s:success:a0:eclean:mem<50MB:hit"),
            ("m0:b0:<1s:success:a0:eclean:mem<50MB:hit", ""),
            (
                "m0:b0:<1s:success:x0:eclean:mem<50MB:hit",
                "m0:b0:<1s:success:a0:eclean:mem<50MB:hit",
            ),
            (
                "m0:b0:<1s:success:a0:eclean:mem<50MB:hit:extra",
                "m0:b0:<1s:success:a0:eclean:mem<50MB:hit",
            ),
        ] {
            let changes = describe_change(previous, current);
            assert_eq!(changes.len(), 1, "{previous} -> {current}: {changes:?}");
            assert_eq!(changes[0].component, ShapeComponent::Shape);
            assert_eq!(changes[0].from, previous);
            assert_eq!(changes[0].to, current);
        }
    }

    #[test]
    fn it_reads_what_shape_of_writes() {
        let input = |duration_ms, peak_rss_bytes, cache_state| ShapeInput {
            movement_index: 2,
            beat_index: 0,
            duration_ms,
            status: BeatStatus::Success,
            artifacts_count: 0,
            errors_count: 0,
            peak_rss_bytes,
            cache_state,
            previous_hash: None,
        };
        let before = shape_of(&input(400, 60_000_000, CacheState::Miss));
        let after = shape_of(&input(1_200, 120_000_000, CacheState::Hit));
        assert_eq!(
            text(&describe_change(&before.canonical, &after.canonical)),
            [
                "duration <1s → 1-5s",
                "memory 50-100MB → 100-500MB",
                "cache miss → hit"
            ]
        );
    }

    #[test]
    fn changes_serialize_with_snake_case_components() {
        let change = Change {
            component: ShapeComponent::Cache,
            from: "miss".into(),
            to: "hit".into(),
        };
        let json = serde_json::to_value(&change).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"component": "cache", "from": "miss", "to": "hit"})
        );
    }
}
