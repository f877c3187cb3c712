//! The `$BATON_OUTPUT` channel: a beat appends `key=value` lines to the file it
//! names to tell baton what only the beat knows, like GitHub's `$GITHUB_OUTPUT`.
//!
//! Keys: `cache=hit|miss|skip|expired`, `errors=N`, `artifacts=N`,
//! `metric.NAME=number`, `cost_usd=number`. Blank lines and `#` comments are
//! ignored; a later line overrides an earlier one. A malformed line is returned
//! (to become one warning) and never fails the beat.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use baton_model::CacheState;

/// At most this much of the file is read (a beat writing more is told so).
pub const MAX_BYTES: u64 = 1024 * 1024;

/// What a beat reported about itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BeatReport {
    pub cache: Option<CacheState>,
    pub errors: Option<u64>,
    pub artifacts: Option<u64>,
    pub metrics: BTreeMap<String, f64>,
    pub cost_usd: Option<f64>,
}

/// A line that could not be understood, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// 1-based line number.
    pub line_number: usize,
    pub line: String,
    pub problem: String,
}

/// Parses the text of a `$BATON_OUTPUT` file.
pub fn parse(text: &str) -> (BeatReport, Vec<Malformed>) {
    let mut report = BeatReport::default();
    let mut malformed = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Err(problem) = parse_line(line, &mut report) {
            malformed.push(Malformed {
                line_number: i + 1,
                line: line.to_owned(),
                problem,
            });
        }
    }
    (report, malformed)
}

fn parse_line(line: &str, report: &mut BeatReport) -> Result<(), String> {
    let Some((key, value)) = line.split_once('=') else {
        return Err("expected key=value".into());
    };
    let (key, value) = (key.trim(), value.trim());
    match key {
        "cache" => {
            report.cache = Some(value.parse().map_err(|()| {
                format!("cache must be hit, miss, skip or expired, not '{value}'")
            })?);
        }
        "errors" => report.errors = Some(count(key, value)?),
        "artifacts" => report.artifacts = Some(count(key, value)?),
        "cost_usd" => {
            let cost = number(key, value)?;
            if cost < 0.0 {
                return Err(format!("cost_usd must not be negative, not '{value}'"));
            }
            report.cost_usd = Some(cost);
        }
        _ => match key.strip_prefix("metric.") {
            Some(name) if is_metric_name(name) => {
                report.metrics.insert(name.to_owned(), number(key, value)?);
            }
            Some(_) => {
                return Err(format!(
                    "'{key}' is not a metric name (letters, digits, _ . -)"
                ));
            }
            None => {
                return Err(format!(
                    "unknown key '{key}' (known: cache, errors, artifacts, metric.NAME, cost_usd)"
                ));
            }
        },
    }
    Ok(())
}

fn count(key: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("{key} must be a whole number, not '{value}'"))
}

fn number(key: &str, value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => Err(format!("{key} must be a number, not '{value}'")),
    }
}

fn is_metric_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Reads at most [`MAX_BYTES`] of the file; `true` when there was more.
pub fn read(path: &Path) -> std::io::Result<(String, bool)> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)?;
    let truncated = bytes.len() as u64 > MAX_BYTES;
    if truncated {
        bytes.truncate(MAX_BYTES as usize);
    }
    Ok((String::from_utf8_lossy(&bytes).into_owned(), truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_are_parsed_and_later_lines_win() {
        let text = "cache=hit\nerrors=3\n\n# a comment\nartifacts = 8\nmetric.tokens_in=1200\n\
                    metric.ratio=0.5\ncost_usd=0.04\nerrors=2\n";
        let (report, malformed) = parse(text);
        assert!(malformed.is_empty(), "{malformed:?}");
        assert_eq!(report.cache, Some(CacheState::Hit));
        assert_eq!(report.errors, Some(2));
        assert_eq!(report.artifacts, Some(8));
        assert_eq!(report.cost_usd, Some(0.04));
        assert_eq!(report.metrics.get("tokens_in"), Some(&1200.0));
        assert_eq!(report.metrics.get("ratio"), Some(&0.5));
    }

    #[test]
    fn malformed_lines_are_reported_and_skipped() {
        let text = "errors=many\ncache=warm\njust text\nmetric.=1\nmetric.x=NaN\ncost_usd=-1\ncolour=blue\nerrors=1";
        let (report, malformed) = parse(text);
        assert_eq!(report.errors, Some(1));
        assert_eq!(report.cache, None);
        let numbers: Vec<usize> = malformed.iter().map(|m| m.line_number).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            malformed[0].problem,
            "errors must be a whole number, not 'many'"
        );
        assert_eq!(malformed[2].problem, "expected key=value");
    }
}
