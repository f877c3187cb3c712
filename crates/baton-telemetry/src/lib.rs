//! Pure functions that turn measurements into judgements: the buckets of docs/recording.md,
//! the shape hash and what changed between two shapes, and the SLO/SLA verdict. No I/O, so every rule is unit-tested here.

pub mod buckets;
pub mod shape;
pub mod shape_change;
pub mod sla;

pub use buckets::{artifacts_bucket, duration_bucket, errors_bucket, memory_bucket};
pub use shape::{ShapeInput, shape_of};
pub use shape_change::{Change, ShapeComponent, describe_change};
pub use sla::{evaluate_sla, rolling_cache_hit_rate};
