//! Small builders for pipelines in tests (this crate's and its callers'): every field
//! gets the default a pipeline file would give it, and a builder method sets one.
//! Also a running [`RunRecord`] and this process's [`peak_rss`], for tests and benches.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_model::{
    BeatSpec, BeatType, CacheSpec, Level, MovementSpec, Pipeline, RetryOn, RetryPolicy, RunRecord,
    RunStatus, SlaThresholds, SloTarget,
};

/// A beat named `name` of type build, at level mf, running `true`.
pub fn beat(name: &str) -> BeatBuilder {
    BeatBuilder(BeatSpec {
        name: name.to_owned(),
        beat_type: BeatType::Build,
        run: "true".to_owned(),
        needs: Vec::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        cache: CacheSpec::default(),
        env: BTreeMap::new(),
        secrets: Vec::new(),
        timeout: None,
        retry: RetryPolicy::default(),
        level: Level::Mf,
        slo: BeatType::Build.default_slo(),
        allow_failure: false,
        rollback: None,
        junit: None,
    })
}

/// Builds a [`BeatSpec`] one field at a time.
#[derive(Debug, Clone)]
pub struct BeatBuilder(pub BeatSpec);

impl BeatBuilder {
    pub fn run(mut self, command: &str) -> Self {
        self.0.run = command.to_owned();
        self
    }

    pub fn needs(mut self, names: &[&str]) -> Self {
        self.0.needs = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    pub fn level(mut self, level: Level) -> Self {
        self.0.level = level;
        self
    }

    pub fn beat_type(mut self, beat_type: BeatType) -> Self {
        self.0.beat_type = beat_type;
        self.0.slo = beat_type.default_slo();
        self
    }

    pub fn slo(mut self, slo: SloTarget) -> Self {
        self.0.slo = slo;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.0.timeout = Some(timeout);
        self
    }

    /// `attempts` in total, with `backoff` growing by a factor of 2, retried on `on`.
    pub fn retry(mut self, attempts: u32, backoff: Duration, on: &[RetryOn]) -> Self {
        self.0.retry = RetryPolicy {
            attempts,
            backoff,
            factor: 2.0,
            on: on.to_vec(),
        };
        self
    }

    pub fn allow_failure(mut self) -> Self {
        self.0.allow_failure = true;
        self
    }

    pub fn rollback(mut self, command: &str) -> Self {
        self.0.rollback = Some(command.to_owned());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.0.env.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn secrets(mut self, names: &[&str]) -> Self {
        self.0.secrets = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    pub fn outputs(mut self, globs: &[&str]) -> Self {
        self.0.outputs = globs.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    pub fn inputs(mut self, globs: &[&str]) -> Self {
        self.0.inputs = globs.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    /// `cache: true` (with `ttl` when given).
    pub fn cached(mut self, ttl: Option<Duration>) -> Self {
        self.0.cache.enabled = true;
        self.0.cache.ttl = ttl;
        self
    }

    pub fn key_env(mut self, names: &[&str]) -> Self {
        self.0.cache.key_env = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    pub fn junit(mut self, glob: &str) -> Self {
        self.0.junit = Some(glob.to_owned());
        self
    }

    pub fn build(self) -> BeatSpec {
        self.0
    }
}

impl From<BeatBuilder> for BeatSpec {
    fn from(b: BeatBuilder) -> Self {
        b.0
    }
}

/// Builds a [`Pipeline`] rooted at the current directory unless told otherwise.
#[derive(Debug, Clone)]
pub struct PipelineBuilder(Pipeline);

impl PipelineBuilder {
    pub fn new(name: &str) -> Self {
        Self(Pipeline {
            version: 1,
            id: None,
            name: name.to_owned(),
            source: PathBuf::from("baton.yaml"),
            root: PathBuf::from("."),
            sla: SlaThresholds::default(),
            anomalies: Default::default(),
            shell: None,
            movements: Vec::new(),
        })
    }

    pub fn root(mut self, root: &Path) -> Self {
        self.0.source = root.join("baton.yaml");
        self.0.root = root.to_owned();
        self
    }

    pub fn movement(mut self, name: &str, parallel: bool, beats: Vec<BeatBuilder>) -> Self {
        self.0.movements.push(MovementSpec {
            name: name.to_owned(),
            parallel,
            beats: beats.into_iter().map(BeatSpec::from).collect(),
        });
        self
    }

    pub fn build(self) -> Pipeline {
        self.0
    }
}

/// A run of pipeline `p` labelled `label`, started now and still running.
pub fn run_record(label: &str) -> RunRecord {
    let now = jiff::Timestamp::now();
    RunRecord {
        run_id: uuid::Uuid::now_v7(),
        label: label.to_owned(),
        pipeline_id: "p".into(),
        pipeline_name: "p".into(),
        pipeline_file: "baton.yaml".into(),
        level: Level::Mf,
        git: None,
        host: "test".into(),
        ci: None,
        started_at: now,
        finished_at: None,
        heartbeat_at: now,
        status: RunStatus::Running,
        baton_version: "0".into(),
    }
}

/// Peak RSS of this process image: VmHWM on Linux (getrusage's ru_maxrss also
/// counts the process that forked us before exec, here cargo), else ru_maxrss.
pub fn peak_rss() -> u64 {
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
    if let Some(kib) = hwm {
        return kib * 1024;
    }
    // SAFETY: rusage is a plain C struct for which all-zero bytes are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a live, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024
}
