//! The resolved pipeline: every default applied, every duration parsed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A whole pipeline file (a *symphony*), after validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub version: u32,
    /// Stable id written by `baton init`; history follows it across renames.
    pub id: Option<String>,
    pub name: String,
    /// The file it was read from.
    pub source: PathBuf,
    /// Directory beats run in (the pipeline file's directory).
    pub root: PathBuf,
    pub sla: SlaThresholds,
    /// How the anomaly rules are tuned (`anomalies:`).
    #[serde(default)]
    pub anomalies: AnomalySettings,
    /// The shell beats run with, as program and flags; the command is appended
    /// (`bash -eo pipefail -c`). `None`: bash where it exists, else `sh -c`.
    #[serde(default)]
    pub shell: Option<String>,
    pub movements: Vec<MovementSpec>,
}

impl Pipeline {
    /// All beats in file order with their movement index.
    pub fn beats(&self) -> impl Iterator<Item = (usize, &BeatSpec)> {
        self.movements
            .iter()
            .enumerate()
            .flat_map(|(m, movement)| movement.beats.iter().map(move |b| (m, b)))
    }

    pub fn beat(&self, name: &str) -> Option<(usize, &BeatSpec)> {
        self.beats().find(|(_, b)| b.name == name)
    }

    /// The key history is grouped by: the stable id when there is one, else the name.
    pub fn history_key(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovementSpec {
    pub name: String,
    /// `true`: only `needs` orders the beats; `false`: they run in listed order.
    pub parallel: bool,
    pub beats: Vec<BeatSpec>,
}

/// One step: one shell command with everything baton needs to run and judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub beat_type: BeatType,
    pub run: String,
    pub needs: Vec<String>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub cache: CacheSpec,
    pub env: BTreeMap<String, String>,
    pub secrets: Vec<String>,
    #[serde(with = "millis_opt")]
    pub timeout: Option<Duration>,
    pub retry: RetryPolicy,
    pub level: Level,
    /// The SLO in force: the beat's own override on top of its type's baseline.
    pub slo: SloTarget,
    pub allow_failure: bool,
    pub rollback: Option<String>,
    pub junit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheSpec {
    pub enabled: bool,
    #[serde(with = "millis_opt")]
    pub ttl: Option<Duration>,
    /// Environment variables whose values are part of the cache key.
    pub key_env: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Total attempts, at least 1.
    pub attempts: u32,
    #[serde(with = "millis")]
    pub backoff: Duration,
    pub factor: f64,
    /// Empty means retry on any failure.
    pub on: Vec<RetryOn>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 1,
            backoff: Duration::from_secs(1),
            factor: 2.0,
            on: Vec::new(),
        }
    }
}

impl RetryPolicy {
    /// The longest wait between two attempts, whatever `backoff` and `factor` say.
    pub const MAX_DELAY: Duration = Duration::from_secs(3600);
    /// The most attempts validation accepts.
    pub const MAX_ATTEMPTS: u32 = 100;
    /// The largest growth factor validation accepts.
    pub const MAX_FACTOR: f64 = 10.0;

    /// Delay before attempt `next` (2-based: the first retry is attempt 2):
    /// `backoff * factor^(next - 2)`, at most [`Self::MAX_DELAY`]. Total for any
    /// values, validated or not: a factor below 1 or NaN counts as 1.
    pub fn delay_before(&self, next: u32) -> Duration {
        if self.backoff.is_zero() {
            return Duration::ZERO;
        }
        let exponent = i32::try_from(next.saturating_sub(2)).unwrap_or(i32::MAX);
        let growth = self.factor.max(1.0).powi(exponent);
        Duration::try_from_secs_f64(self.backoff.as_secs_f64() * growth)
            .map_or(Self::MAX_DELAY, |d| d.min(Self::MAX_DELAY))
    }
}

/// What a retry reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    Timeout,
    Exit(i32),
    Any,
}

impl FromStr for RetryOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "timeout" => Ok(Self::Timeout),
            "any" => Ok(Self::Any),
            _ => match s.strip_prefix("exit:").map(str::parse::<i32>) {
                Some(Ok(code)) if (0..=255).contains(&code) => Ok(Self::Exit(code)),
                Some(Ok(code)) => Err(format!(
                    "'{s}' can never match: exit codes are 0 to 255, not {code}"
                )),
                _ => Err(format!(
                    "'{s}' is not a retry condition (timeout, any, exit:N)"
                )),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BeatType {
    Validation,
    Generation,
    Build,
    Test,
    Verification,
    Deploy,
    Observation,
}

impl BeatType {
    pub const ALL: [BeatType; 7] = [
        Self::Validation,
        Self::Generation,
        Self::Build,
        Self::Test,
        Self::Verification,
        Self::Deploy,
        Self::Observation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validation => "validation",
            Self::Generation => "generation",
            Self::Build => "build",
            Self::Test => "test",
            Self::Verification => "verification",
            Self::Deploy => "deploy",
            Self::Observation => "observation",
        }
    }

    /// The SLO baseline of the type (docs/pipeline.md#slo-and-sla), used when the
    /// pipeline sets none.
    pub fn default_slo(self) -> SloTarget {
        let (secs, cache) = match self {
            Self::Validation => (5, None),
            Self::Generation => (15, Some(0.80)),
            Self::Build => (120, Some(0.90)),
            Self::Test => (300, None),
            Self::Verification => (10, Some(0.85)),
            Self::Deploy => (600, None),
            Self::Observation => (5, None),
        };
        SloTarget {
            duration: Duration::from_secs(secs),
            errors: 0,
            cache_hit_rate: cache,
            objective: None,
        }
    }
}

impl FromStr for BeatType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or(())
    }
}

impl fmt::Display for BeatType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Dynamic level: the lowest level at which a beat runs. `p < mf < f < ff`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    P,
    #[default]
    Mf,
    F,
    Ff,
}

impl Level {
    pub const ALL: [Level; 4] = [Self::P, Self::Mf, Self::F, Self::Ff];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::P => "p",
            Self::Mf => "mf",
            Self::F => "f",
            Self::Ff => "ff",
        }
    }

    /// Whether a beat declared at `beat_level` runs when the run is at `self`.
    pub fn includes(self, beat_level: Level) -> bool {
        beat_level <= self
    }
}

impl FromStr for Level {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|l| l.as_str() == s).ok_or(())
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An SLO: the targets a beat is judged against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloTarget {
    #[serde(rename = "duration_ms", with = "millis")]
    pub duration: Duration,
    pub errors: u32,
    pub cache_hit_rate: Option<f64>,
    /// The share of the beat's runs that must meet this SLO over a window (its
    /// error budget is the rest); `None`: [`SloTarget::DEFAULT_OBJECTIVE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<f64>,
}

impl SloTarget {
    /// The objective of a beat whose pipeline sets none: 95% of its runs.
    pub const DEFAULT_OBJECTIVE: f64 = 0.95;

    /// The objective that applies.
    pub fn objective(&self) -> f64 {
        self.objective.unwrap_or(Self::DEFAULT_OBJECTIVE)
    }
}

/// SLA thresholds as ratios of actual / SLO duration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SlaThresholds {
    pub warning: f64,
    pub breach: f64,
    pub critical: f64,
}

impl Default for SlaThresholds {
    fn default() -> Self {
        Self {
            warning: 1.0,
            breach: 1.5,
            critical: 2.0,
        }
    }
}

/// How the anomaly rules are tuned (`anomalies:` in the pipeline file; the rules
/// themselves are in docs/recording.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalySettings {
    /// The noise floor of the slow-duration rule: a run is only slow when it is
    /// also at least this much longer than the median of its earlier runs.
    #[serde(rename = "min_slowdown_ms", with = "millis")]
    pub min_slowdown: Duration,
}

impl AnomalySettings {
    /// The noise floor when the pipeline file sets none.
    pub const DEFAULT_MIN_SLOWDOWN: Duration = Duration::from_secs(1);
}

impl Default for AnomalySettings {
    fn default() -> Self {
        Self {
            min_slowdown: Self::DEFAULT_MIN_SLOWDOWN,
        }
    }
}

/// `Duration` as integer milliseconds in serialized records.
pub mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// `Option<Duration>` as integer milliseconds or null.
pub mod millis_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_include_lower_levels() {
        assert!(Level::Mf.includes(Level::P));
        assert!(Level::Mf.includes(Level::Mf));
        assert!(!Level::Mf.includes(Level::F));
        assert!(Level::Ff.includes(Level::F));
        assert!(!Level::P.includes(Level::Mf));
    }

    #[test]
    fn retry_backoff_grows_by_factor() {
        let policy = RetryPolicy {
            attempts: 4,
            backoff: Duration::from_millis(100),
            factor: 2.0,
            on: vec![],
        };
        assert_eq!(policy.delay_before(2), Duration::from_millis(100));
        assert_eq!(policy.delay_before(3), Duration::from_millis(200));
        assert_eq!(policy.delay_before(4), Duration::from_millis(400));
    }

    #[test]
    fn retry_backoff_is_total_and_capped() {
        let policy = |attempts, backoff, factor| RetryPolicy {
            attempts,
            backoff,
            factor,
            on: vec![],
        };
        let huge = policy(3, Duration::from_millis(1), 1e300);
        assert_eq!(huge.delay_before(2), Duration::from_millis(1));
        assert_eq!(huge.delay_before(3), RetryPolicy::MAX_DELAY);
        let steep = policy(u32::MAX, Duration::from_secs(1), 10.0);
        assert_eq!(steep.delay_before(u32::MAX), RetryPolicy::MAX_DELAY);
        assert_eq!(steep.delay_before(5), Duration::from_secs(1000));
        for factor in [f64::INFINITY, f64::NAN, -5.0, f64::MAX, 0.0] {
            let p = policy(u32::MAX, Duration::from_secs(1), factor);
            for next in [0, 1, 2, 3, 64, 1025, u32::MAX] {
                assert!(
                    p.delay_before(next) <= RetryPolicy::MAX_DELAY,
                    "{factor} {next}"
                );
            }
            let zero = policy(u32::MAX, Duration::ZERO, factor);
            assert_eq!(zero.delay_before(u32::MAX), Duration::ZERO);
        }
        // A backoff longer than the cap is capped from the first retry.
        let long = policy(2, Duration::from_secs(1_000_000_000), 2.0);
        assert_eq!(long.delay_before(2), RetryPolicy::MAX_DELAY);
    }

    #[test]
    fn retry_conditions_parse() {
        assert_eq!("exit:137".parse(), Ok(RetryOn::Exit(137)));
        assert_eq!("exit:0".parse(), Ok(RetryOn::Exit(0)));
        assert_eq!("exit:255".parse(), Ok(RetryOn::Exit(255)));
        assert_eq!("timeout".parse(), Ok(RetryOn::Timeout));
        assert!("exit:x".parse::<RetryOn>().is_err());
        for out_of_range in ["exit:256", "exit:999", "exit:-1"] {
            let err = out_of_range.parse::<RetryOn>().expect_err(out_of_range);
            assert!(err.contains("0 to 255"), "{err}");
        }
    }
}
