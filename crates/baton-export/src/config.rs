//! The webhook's configuration: `BATON_TELEMETRY_*` from the real environment,
//! else from the `.env` next to the pipeline file (the environment wins, value by
//! value). A key or a secret is never shown whole: see [`mask`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub const URL_VAR: &str = "BATON_TELEMETRY_URL";
pub const KEY_VAR: &str = "BATON_TELEMETRY_KEY";
pub const SECRET_VAR: &str = "BATON_TELEMETRY_SECRET";
pub const ARTIFACTS_VAR: &str = "BATON_TELEMETRY_ARTIFACTS";
pub const WAIT_VAR: &str = "BATON_TELEMETRY_WAIT";

/// How long a run waits at its end for deliveries in flight, by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(2);

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Env,
    DotEnv,
    Default,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Env => "env",
            Self::DotEnv => ".env",
            Self::Default => "default",
        }
    }
}

/// A value and where it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T: fmt::Debug> fmt::Debug for Sourced<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({})", self.value, self.source.as_str())
    }
}

/// A key or a secret: its `Debug` and `Display` are masked, so it cannot be
/// printed whole by accident (errors and debug output included).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.0))
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.0))
    }
}

/// What is sent as artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactsMode {
    /// The manifest only: paths, sizes, SHA-256.
    Manifest,
    /// The manifest, and small text artifacts and the run report, compressed.
    Content,
}

/// The webhook's resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Empty or absent: the webhook is off.
    pub url: Option<Sourced<String>>,
    pub key: Option<Sourced<Secret>>,
    pub secret: Option<Sourced<Secret>>,
    pub artifacts: Sourced<ArtifactsMode>,
    pub wait: Sourced<Duration>,
    /// The outbox's directory.
    pub queue_dir: Sourced<PathBuf>,
    /// Problems with the configuration, one line each (a bad `.env` line, a bad
    /// value): told once, never fatal.
    pub warnings: Vec<String>,
}

impl Config {
    /// Resolves the configuration of a pipeline whose `.env` is `dotenv_path`,
    /// given a lookup of the real environment and the default outbox directory
    /// (`BATON_QUEUE_DIR` overrides it).
    pub fn resolve(
        env: impl Fn(&str) -> Option<String>,
        dotenv_path: &Path,
        default_queue_dir: PathBuf,
    ) -> Self {
        let mut warnings = Vec::new();
        let dotenv = read_dotenv(dotenv_path, &mut warnings);
        let get = |name: &str| lookup(&env, &dotenv, name);
        let secret = |s: Sourced<String>| Sourced {
            value: Secret::new(s.value),
            source: s.source,
        };
        let artifacts = match get(ARTIFACTS_VAR) {
            None => Sourced {
                value: ArtifactsMode::Manifest,
                source: Source::Default,
            },
            Some(s) => {
                let value = match s.value.to_ascii_lowercase().as_str() {
                    "content" => ArtifactsMode::Content,
                    "manifest" => ArtifactsMode::Manifest,
                    other => {
                        warnings.push(format!(
                            "{ARTIFACTS_VAR}={other} is not 'manifest' or 'content'; the manifest is sent"
                        ));
                        ArtifactsMode::Manifest
                    }
                };
                Sourced {
                    value,
                    source: s.source,
                }
            }
        };
        let wait = match get(WAIT_VAR) {
            None => Sourced {
                value: DEFAULT_WAIT,
                source: Source::Default,
            },
            Some(s) => match parse_wait(&s.value) {
                Some(value) => Sourced {
                    value,
                    source: s.source,
                },
                None => {
                    warnings.push(format!(
                        "{WAIT_VAR}={} is not a duration (2, 1.5, 500ms, 2s); waiting 2s",
                        s.value
                    ));
                    Sourced {
                        value: DEFAULT_WAIT,
                        source: Source::Default,
                    }
                }
            },
        };
        let queue_dir = match get(baton_model::layout::QUEUE_DIR_ENV) {
            Some(s) => Sourced {
                value: PathBuf::from(s.value),
                source: s.source,
            },
            None => Sourced {
                value: default_queue_dir,
                source: Source::Default,
            },
        };
        Self {
            url: get(URL_VAR),
            key: get(KEY_VAR).map(secret),
            secret: get(SECRET_VAR).map(secret),
            artifacts,
            wait,
            queue_dir,
            warnings,
        }
    }

    /// The URL, when the webhook is configured at all.
    pub fn url(&self) -> Option<&str> {
        self.url.as_ref().map(|u| u.value.as_str())
    }
}

/// The variables of a `.env` file; a line that cannot be read is one warning
/// naming it, and the other lines still count. A missing file is no file.
/// `name` from the environment, else from the `.env` file's `dotenv`: trimmed,
/// empty counting as unset (the real environment wins over `.env`).
pub(crate) fn lookup(
    env: &impl Fn(&str) -> Option<String>,
    dotenv: &BTreeMap<String, String>,
    name: &str,
) -> Option<Sourced<String>> {
    let set = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    if let Some(value) = env(name).as_deref().and_then(set) {
        return Some(Sourced {
            value,
            source: Source::Env,
        });
    }
    dotenv.get(name).and_then(|v| set(v)).map(|value| Sourced {
        value,
        source: Source::DotEnv,
    })
}

pub(crate) fn read_dotenv(path: &Path, warnings: &mut Vec<String>) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    let Ok(iter) = dotenvy::from_path_iter(path) else {
        return vars;
    };
    for item in iter {
        match item {
            Ok((k, v)) => {
                vars.insert(k, v);
            }
            Err(dotenvy::Error::LineParse(line, _)) => warnings.push(format!(
                "{}: cannot read the line '{}'; it is ignored",
                path.display(),
                mask_line(&line)
            )),
            Err(err) => {
                warnings.push(format!("{}: {err}", path.display()));
                break;
            }
        }
    }
    vars
}

/// A bad `.env` line as it may be shown: the value of a key or secret masked.
fn mask_line(line: &str) -> String {
    match line.split_once('=') {
        Some((name, value)) if name.contains("KEY") || name.contains("SECRET") => {
            format!("{name}={}", mask(value.trim()))
        }
        _ => line.trim().to_owned(),
    }
}

/// `2`, `1.5`, `2s`, `500ms`, `0`.
pub fn parse_wait(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (number, scale) = if let Some(ms) = t.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = t.strip_suffix('s') {
        (s, 1.0)
    } else {
        (t, 1.0)
    };
    let n: f64 = number.trim().parse().ok()?;
    (n.is_finite() && (0.0..=3600.0).contains(&n)).then(|| Duration::from_secs_f64(n * scale))
}

/// A key or a secret as it may be shown: its prefix (up to a `-` or `_` among
/// the first 6 characters: `sk-`, `whsec_`), `****`, and its last 4 characters
/// when it is long enough (12 or more) that they give little away:
/// `sk-****1234`.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let prefix_len = chars
        .iter()
        .take(7)
        .position(|c| *c == '-' || *c == '_')
        .map_or(0, |i| i + 1);
    let prefix: String = chars[..prefix_len].iter().collect();
    let tail: String = if chars.len() >= 12 {
        chars[chars.len() - 4..].iter().collect()
    } else {
        String::new()
    };
    format!("{prefix}****{tail}")
}

/// A URL without any user name or password (`https://user:token@host/x` is
/// `https://host/x`); other strings (scp-like git remotes) as they are, less any
/// password.
pub fn strip_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        return format!("{scheme}://{host}{path}");
    }
    // `user:password@host:path` (scp-like): keep `user@host:path` only when
    // there is no password.
    if let Some((userinfo, host_path)) = url.split_once('@')
        && userinfo.contains(':')
    {
        return host_path.to_owned();
    }
    url.to_owned()
}

/// Whether `url` is `http://` to a host other than the loopback.
pub fn plain_http_off_loopback(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    !(host == "localhost"
        || host == "::1"
        || host.starts_with("127.")
        || host.ends_with(".localhost"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_a_prefix_and_a_short_tail() {
        assert_eq!(mask("sk-abcdefgh1234"), "sk-****1234");
        assert_eq!(
            mask("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "whsec_****LaSw"
        );
        assert_eq!(mask("short"), "****");
        assert_eq!(mask("abcdefghijklmnop"), "****mnop");
        assert!(!format!("{:?}", Secret::new("sk-abcdefgh1234")).contains("abcdefgh"));
    }

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(
            strip_credentials("https://user:tok@github.com/a/b.git"),
            "https://github.com/a/b.git"
        );
        assert_eq!(
            strip_credentials("https://x-access-token:ghs_1@github.com/a/b"),
            "https://github.com/a/b"
        );
        assert_eq!(
            strip_credentials("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
        assert_eq!(strip_credentials("https://h/p?q=a@b"), "https://h/p?q=a@b");
    }

    #[test]
    fn plain_http_is_flagged_off_loopback_only() {
        assert!(plain_http_off_loopback("http://example.com/hook"));
        assert!(!plain_http_off_loopback("http://127.0.0.1:8080/hook"));
        assert!(!plain_http_off_loopback("http://localhost/hook"));
        assert!(!plain_http_off_loopback("http://[::1]:9/x"));
        assert!(!plain_http_off_loopback("https://example.com/hook"));
    }

    #[test]
    fn waits_parse() {
        assert_eq!(parse_wait("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_wait("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_wait("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_wait("soon"), None);
    }

    #[test]
    fn env_wins_over_dotenv_and_bad_lines_warn() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dotenv = dir.path().join(".env");
        std::fs::write(
            &dotenv,
            "BATON_TELEMETRY_URL=http://from-dotenv\nBATON_TELEMETRY_KEY=sk-dotenvkey1234\nthis is not a line\n",
        )
        .expect("write");
        let env = |k: &str| (k == URL_VAR).then(|| "http://from-env".to_owned());
        let config = Config::resolve(env, &dotenv, dir.path().join("q"));
        assert_eq!(config.url(), Some("http://from-env"));
        assert_eq!(config.url.as_ref().map(|u| u.source), Some(Source::Env));
        let key = config.key.as_ref().expect("key");
        assert_eq!(key.source, Source::DotEnv);
        assert_eq!(key.value.expose(), "sk-dotenvkey1234");
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    }
}
