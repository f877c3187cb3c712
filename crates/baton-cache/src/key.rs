//! A beat's cache key: BLAKE3 over the JSON of its [`KeyComponents`], everything
//! the beat's result is assumed to depend on:
//!
//! - the command and the shell it is handed to (program and arguments);
//! - the beat's `env` values, and its `secrets` by name only (a secret's value
//!   never enters a key, a manifest or the index; changing it does not change
//!   the key);
//! - the values of the `cache.key_env` variables in baton's environment (a secret
//!   named there still counts by name only);
//! - every input file (the `inputs` globs resolved, see [`crate::inputs`]) with the
//!   BLAKE3 of its content;
//! - the declared `outputs` globs;
//! - [`CACHE_FORMAT_VERSION`].
//!
//! The components are kept with each entry and by key in the index, so that a miss
//! can be explained ([`mod@crate::explain`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use baton_model::{BeatSpec, Pipeline};
use serde::{Deserialize, Serialize};

use crate::error::{CacheError, Result};

/// Bumped whenever what goes into a key or an entry changes meaning.
pub const CACHE_FORMAT_VERSION: u32 = 1;

/// The shell a beat's command is handed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellSpec {
    pub program: String,
    pub args: Vec<String>,
}

/// An environment variable as it enters a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvValue {
    Value(String),
    /// A secret: present by name, its value left out.
    Secret,
    /// Named in `key_env` but not set.
    Unset,
}

/// Everything a key is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyComponents {
    pub format_version: u32,
    pub command: String,
    pub shell: ShellSpec,
    pub env: BTreeMap<String, EnvValue>,
    pub key_env: BTreeMap<String, EnvValue>,
    pub outputs: Vec<String>,
    /// Relative path -> BLAKE3 (hex) of the content.
    pub inputs: BTreeMap<String, String>,
}

impl KeyComponents {
    /// The key: BLAKE3 (hex) of the components' JSON.
    pub fn key(&self) -> Result<String> {
        let mut hasher = blake3::Hasher::new();
        serde_json::to_writer(&mut hasher, self).map_err(|source| CacheError::Serialize {
            what: "the key components",
            source,
        })?;
        Ok(hasher.finalize().to_hex().to_string())
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|source| CacheError::Serialize {
            what: "the key components",
            source,
        })
    }

    pub fn from_json(json: &str) -> std::result::Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// What the cache needs to know about a beat to compute its key and find its
/// entries. Build it with [`KeySpec::for_beat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// [`Pipeline::history_key`]: the stable id, else the name.
    pub pipeline_id: String,
    pub beat: String,
    /// The pipeline root: inputs are resolved and outputs restored under it.
    pub root: PathBuf,
    pub command: String,
    pub shell: ShellSpec,
    pub env: BTreeMap<String, String>,
    pub secrets: Vec<String>,
    /// `cache.key_env` names with their values in baton's environment.
    pub key_env: BTreeMap<String, Option<String>>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub ttl: Option<Duration>,
}

impl KeySpec {
    /// The spec of `beat` of `pipeline` run through `shell`, reading the
    /// `cache.key_env` values from baton's environment.
    pub fn for_beat(pipeline: &Pipeline, beat: &BeatSpec, shell: ShellSpec) -> Self {
        Self::for_beat_with_env(pipeline, beat, shell, |name| std::env::var(name).ok())
    }

    /// [`KeySpec::for_beat`] with the environment given by `lookup`.
    pub fn for_beat_with_env(
        pipeline: &Pipeline,
        beat: &BeatSpec,
        shell: ShellSpec,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        Self {
            pipeline_id: pipeline.history_key().to_owned(),
            beat: beat.name.clone(),
            root: pipeline.root.clone(),
            command: beat.run.clone(),
            shell,
            env: beat.env.clone(),
            secrets: beat.secrets.clone(),
            key_env: beat
                .cache
                .key_env
                .iter()
                .map(|name| (name.clone(), lookup(name)))
                .collect(),
            inputs: beat.inputs.clone(),
            outputs: beat.outputs.clone(),
            ttl: beat.cache.ttl,
        }
    }

    /// The components, given the resolved inputs with their hashes.
    pub fn components(&self, inputs: BTreeMap<String, String>) -> KeyComponents {
        let secret = |name: &str| self.secrets.iter().any(|s| s == name);
        let mut env: BTreeMap<String, EnvValue> = self
            .env
            .iter()
            .map(|(k, v)| {
                let value = if secret(k) {
                    EnvValue::Secret
                } else {
                    EnvValue::Value(v.clone())
                };
                (k.clone(), value)
            })
            .collect();
        for name in &self.secrets {
            env.insert(name.clone(), EnvValue::Secret);
        }
        let key_env = self
            .key_env
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    _ if secret(name) => EnvValue::Secret,
                    Some(v) => EnvValue::Value(v.clone()),
                    None => EnvValue::Unset,
                };
                (name.clone(), value)
            })
            .collect();
        KeyComponents {
            format_version: CACHE_FORMAT_VERSION,
            command: self.command.clone(),
            shell: self.shell.clone(),
            env,
            key_env,
            outputs: self.outputs.clone(),
            inputs,
        }
    }
}

/// Whether `beat` takes part in the cache: `cache` enabled and some `inputs`.
/// Others are `skip`.
pub fn is_cacheable(beat: &BeatSpec) -> bool {
    beat.cache.enabled && !beat.inputs.is_empty()
}

/// A key with the components it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedKey {
    /// BLAKE3 hex (64 characters).
    pub key: String,
    pub components: KeyComponents,
    /// Problems worth a warning (unreadable directories under an input glob).
    pub problems: Vec<String>,
}
