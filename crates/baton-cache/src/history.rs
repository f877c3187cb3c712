//! What the cache remembers about past keys, for `baton cache explain` and the
//! one-line miss reasons in a run summary: the components of every key computed
//! (by key), the key each beat of each run was looked up under, and each beat's
//! newest entry.

use jiff::Timestamp;
use serde::Serialize;

use crate::cache::Cache;
use crate::entry;
use crate::error::{CacheError, Result};
use crate::explain::{Explanation, explain};
use crate::index::EntryRow;
use crate::key::{ComputedKey, KeyComponents, KeySpec};
use crate::stat_cache::now_ns;

/// One entry, as `baton cache ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryInfo {
    pub key: String,
    pub pipeline_id: String,
    pub beat: String,
    /// Bytes on disk (outputs, log, manifest).
    pub size: u64,
    pub created_at: Timestamp,
    pub last_used: Timestamp,
}

impl From<EntryRow> for EntryInfo {
    fn from(row: EntryRow) -> Self {
        let at = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        Self {
            created_at: at(row.created_at_ms),
            last_used: at(row.last_used_ms),
            key: row.key,
            pipeline_id: row.pipeline_id,
            beat: row.beat,
            size: row.size,
        }
    }
}

/// A beat's key now, against its newest stored entry.
#[derive(Debug, Clone)]
pub struct CurrentExplanation {
    pub current: ComputedKey,
    /// The beat's newest entry, if any.
    pub previous: Option<EntryInfo>,
    /// What changed since that entry; `None` without one (or when its components
    /// are no longer known). Empty when the current key *is* that entry's.
    pub explanation: Option<Explanation>,
    /// Whether an entry with the current key exists (maybe older than the newest,
    /// when the inputs went back to an earlier state): the beat would hit now.
    pub would_hit: bool,
}

/// Whether `key` looks like a key (64 lowercase hex digits): anything else is
/// never used as a path.
pub(crate) fn is_key(key: &str) -> bool {
    key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Cache {
    /// Remembers that `run_id` looked `spec`'s beat up under `key` (and the key's
    /// components, once per key).
    pub fn record_run_key(&self, run_id: &str, spec: &KeySpec, key: &ComputedKey) -> Result<()> {
        let now_ms = now_ns() / 1_000_000;
        let index = self.index();
        if !index.has_key(&key.key)? {
            let json = key.components.to_json()?;
            index.save_key(&key.key, &spec.pipeline_id, &spec.beat, &json, now_ms)?;
        }
        index.save_run_key(run_id, &spec.pipeline_id, &spec.beat, &key.key, now_ms)
    }

    /// The key `beat` was looked up under in run `run_id`.
    pub fn run_key(&self, run_id: &str, beat: &str) -> Result<Option<String>> {
        self.index().run_key(run_id, beat)
    }

    /// The components of `key`: from the index, else from its entry's manifest.
    pub fn components(&self, key: &str) -> Result<Option<KeyComponents>> {
        if !is_key(key) {
            return Ok(None);
        }
        let json = self.index().components(key)?;
        if let Some(json) = json {
            return KeyComponents::from_json(&json).map(Some).map_err(|source| {
                CacheError::Manifest {
                    path: self.layout.index(),
                    source,
                }
            });
        }
        Ok(entry::read_manifest(&self.layout, key)?.map(|m| m.components))
    }

    /// The newest entry of `beat` of pipeline `pipeline_id`.
    pub fn latest_entry(&self, pipeline_id: &str, beat: &str) -> Result<Option<EntryInfo>> {
        Ok(self
            .index()
            .latest_entry(pipeline_id, beat)?
            .map(EntryInfo::from))
    }

    /// For a miss: one line saying what changed since the beat's newest entry, when
    /// it had one under another key.
    pub fn miss_reason(&self, spec: &KeySpec, current: &ComputedKey) -> Result<Option<String>> {
        let Some(previous) = self.latest_entry(&spec.pipeline_id, &spec.beat)? else {
            return Ok(None);
        };
        if previous.key == current.key {
            return Ok(None);
        }
        Ok(self
            .components(&previous.key)?
            .map(|before| explain(&before, &current.components).summary()))
    }

    /// `baton cache explain BEAT`: the beat's key computed now against its newest
    /// entry.
    pub fn explain_current(&self, spec: &KeySpec) -> Result<CurrentExplanation> {
        let current = self.compute_key(spec)?;
        let previous = self.latest_entry(&spec.pipeline_id, &spec.beat)?;
        let explanation = match &previous {
            Some(p) => self
                .components(&p.key)?
                .map(|before| explain(&before, &current.components)),
            None => None,
        };
        let would_hit = self.index().has_entry(&current.key)?;
        Ok(CurrentExplanation {
            current,
            previous,
            explanation,
            would_hit,
        })
    }

    /// `baton cache explain BEAT --run A --vs B`: what changed in `beat`'s key from
    /// run `run_a` to run `run_b` (run ids as the runner was given them).
    pub fn explain_runs(&self, beat: &str, run_a: &str, run_b: &str) -> Result<Explanation> {
        let components = |run: &str| -> Result<KeyComponents> {
            let key = self
                .run_key(run, beat)?
                .ok_or_else(|| CacheError::NotFound {
                    what: format!("the cache key of beat '{beat}' in run {run}"),
                })?;
            self.components(&key)?.ok_or_else(|| CacheError::NotFound {
                what: format!("the components of key {key} (pruned?)"),
            })
        };
        let a = components(run_a)?;
        let b = components(run_b)?;
        Ok(explain(&a, &b))
    }
}
