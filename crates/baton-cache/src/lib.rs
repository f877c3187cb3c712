//! The step cache: a beat whose inputs, command, shell, environment and declared
//! outputs are what they were when it last succeeded is not run again; its outputs
//! are restored and its log replayed.
//!
//! - [`key`]: what a key is made of ([`KeyComponents`], hashed with BLAKE3) and
//!   [`KeySpec`], a beat as the cache sees it.
//! - [`inputs`]: globs to files (git-ignored ones left out unless named; the
//!   rules in `gitignore`).
//! - [`stat_cache`]: unchanged files are not hashed again.
//! - [`index`]: `.baton/cache/index.db` (stat cache, entries, keys, runs' keys).
//! - [`entry`]: `.baton/cache/entries/<key>/` (manifest, log, files), stored
//!   atomically; `compress`: the outputs kept as one zstd stream; `restore` and
//!   `copy`: verified restores from older entries' plain copies.
//! - [`lookup`]: hit, expired or miss; restore; store.
//! - [`mod@explain`] and [`history`]: why a key changed.
//! - [`maintenance`]: `ls`, `prune`, `clear`.
//! - [`artifacts`]: per-beat artifact lists, `artifacts.json`, `verify`.
//!
//! Everything here is an optimisation: a caller that gets a [`CacheError`] warns
//! and runs the beat.
//!
//! ```no_run
//! # fn demo(pipeline: &baton_model::Pipeline) -> Result<(), baton_cache::CacheError> {
//! use baton_cache::{Cache, KeySpec, Lookup, ShellSpec};
//! let cache = Cache::open(std::path::Path::new(".baton"))?;
//! let (_, beat) = pipeline.beat("build").expect("a beat named build");
//! let shell = ShellSpec { program: "sh".into(), args: vec!["-c".into()] };
//! let spec = KeySpec::for_beat(pipeline, beat, shell);
//! let key = cache.compute_key(&spec)?;
//! match cache.lookup(&key.key, spec.ttl)? {
//!     Lookup::Hit(hit) => { cache.restore(&hit, &spec.root)?; }
//!     Lookup::Expired { .. } | Lookup::Miss => { /* run it, then */
//!         cache.store(&spec, &key, None, false)?; }
//! }
//! # Ok(()) }
//! ```

pub mod artifacts;
pub mod cache;
mod compress;
mod copy;
pub mod entry;
pub mod error;
pub mod explain;
mod gitignore;
pub mod hash;
pub mod history;
pub mod index;
pub mod inputs;
pub mod key;
pub mod lookup;
pub mod maintenance;
mod restore;
pub mod stat_cache;

pub use artifacts::{
    ArtifactChange, ChangeKind, artifact_manifest, read_manifest, verify, verify_manifest,
    write_manifest,
};
pub use cache::Cache;
pub use entry::{OutputStream, ProducedBy, Published};
pub use error::CacheError;
pub use explain::{Diff, Explanation, explain};
pub use history::{CurrentExplanation, EntryInfo};
pub use key::{
    CACHE_FORMAT_VERSION, ComputedKey, EnvValue, KeyComponents, KeySpec, ShellSpec, is_cacheable,
};
pub use lookup::{EntryLog, Hit, Lookup, Restored, Stored};
pub use maintenance::PruneReport;

/// How a run uses the cache (`baton run` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheMode {
    /// Look up, restore hits, store after successful misses.
    #[default]
    Normal,
    /// `--no-cache`: every cacheable beat runs (a forced miss) and is stored again.
    NoCache,
    /// `--cache-only`: a beat that would have to run fails instead.
    CacheOnly,
}

/// `err` and its sources, joined by ": ".
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
