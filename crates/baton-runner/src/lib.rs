//! Plans and runs a pipeline.
//!
//! [`plan()`] decides which beats run and in what order; [`run_plan`] runs them
//! through a [`Spawner`] (the real one is [`ProcessSpawner`]) with at most `-j`
//! at a time, emitting the typed [`baton_model::RunEvent`] stream, and returns
//! every beat's record. Output is masked and logged by [`output`]; the records are
//! built by [`record`], with the beats' [`HistoryHints`]; Ctrl-C reaches the run through a [`CancelToken`]. The step
//! cache ([`baton_cache`]) is consulted before a beat runs ([`cache_step`]).

pub mod baton_output;
mod beat;
pub mod cache_step;
pub mod cancel;
mod context;
pub mod direct;
mod graph;
pub mod hints;
pub mod identity;
pub mod junit;
pub mod leftovers;
mod masking;
pub mod options;
pub mod output;
pub mod passthrough;
pub mod plan;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod posix_spawn;
pub mod process;
pub mod record;
pub mod scheduler;
pub mod signals;
pub mod spawner;
pub mod testing;
pub mod trace;

pub use baton_cache::{Cache, CacheMode};
pub use cache_step::{cache_key_spec, shell_spec};
pub use cancel::{CancelLevel, CancelToken};
pub use hints::{HintsLoader, HistoryHints};
pub use identity::{CleanCommit, CleanCommitFinder};
pub use options::{RunOptions, RunOutcome, default_jobs};
pub use output::{BeatOutput, Masker};
pub use passthrough::PassThroughSpawner;
pub use plan::{Plan, PlanError, PlannedBeat, Selection, SkipReason, SkippedBeat, plan};
pub use process::ProcessSpawner;
pub use record::UnjudgedRecord;
pub use scheduler::run_plan;
pub use signals::{first_interrupt_signal, install_interrupt_handler};
pub use spawner::{Shell, SpawnRequest, SpawnResult, Spawner};
