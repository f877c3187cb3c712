//! Pure functions over a beat's history: no I/O, no clock, no store.
//!
//! Histories are slices of [`BeatRecord`](baton_model::BeatRecord)s of one beat,
//! newest first. [`stats`] holds the small statistics the rules need (median,
//! success rate); [`anomaly`] holds the three anomaly rules, evaluated per
//! beat at the end of a run.

pub mod anomaly;
pub mod budget;
pub mod changepoint;
pub mod flaky;
pub mod proportion;
pub mod rank_test;
pub mod stats;
pub mod trends;

pub use anomaly::{Anomaly, AnomalyRule, detect, detect_before, detect_outcomes};
pub use stats::{median, success_rate};
