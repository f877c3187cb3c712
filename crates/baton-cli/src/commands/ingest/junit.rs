//! `baton ingest junit`: JUnit XML reports (Maven surefire, pytest, jest-junit,
//! cargo-nextest) read as a stream, so memory stays bounded whatever a report
//! holds: per suite only its counts and the first names of its failed and flaky
//! tests are kept, and no single element or text may exceed [`MAX_EVENT_BYTES`].
//! Entities other than XML's five are left as written (a DTD is never expanded).
//!
//! With `--run RUN --beat BEAT` the results are put on that beat (its `tests`
//! counts, the failed and flaky names in its reason, `tests_flaky` in its
//! metrics). Without, the reports make one run with a beat per test suite (suites
//! of the same name in several reports are one beat).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use anyhow::Context;
use baton_model::{BeatStatus, BeatType, RunStatus, TestCounts};
use baton_store::RunSelector;
use jiff::Timestamp;
use jiff::civil::DateTime;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value, json};

use super::record;
use super::{Outcome, rejected, store_outcome};
use crate::cli::IngestJunitArgs;
use crate::exit::Exit;

/// The largest element (with its attributes) or run of text read at once.
pub(super) const MAX_EVENT_BYTES: u64 = 16 << 20;
/// Failed (and flaky) test names kept per suite; the rest are counted.
const NAMES_KEPT: usize = 20;
/// Longest test name kept, in characters.
const NAME_CHARS: usize = 200;

/// One test suite's results.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Suite {
    pub name: String,
    pub timestamp: Option<Timestamp>,
    /// Seconds, from the suite's `time` (else the sum of its cases').
    pub seconds: f64,
    pub counts: TestCounts,
    pub failed: Names,
    /// Tests that failed, were run again and passed (`flakyFailure`, `flakyError`).
    pub flaky: Names,
    /// The most runs one test needed: 1 + its reruns.
    pub max_attempts: u32,
}

/// The first [`NAMES_KEPT`] names and how many there were.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Names {
    pub kept: Vec<String>,
    pub count: u64,
}

impl Names {
    fn push(&mut self, name: &str) {
        self.count += 1;
        if self.kept.len() < NAMES_KEPT {
            self.kept.push(name.chars().take(NAME_CHARS).collect());
        }
    }

    fn merge(&mut self, other: Names) {
        let room = NAMES_KEPT.saturating_sub(self.kept.len());
        self.kept.extend(other.kept.into_iter().take(room));
        self.count += other.count;
    }

    /// `a, b and 3 more`.
    fn list(&self) -> String {
        let shown = self.kept.join(", ");
        let more = self.count.saturating_sub(self.kept.len() as u64);
        if more > 0 {
            format!("{shown} and {more} more")
        } else {
            shown
        }
    }
}

impl Suite {
    fn absorb(&mut self, other: Suite) {
        self.timestamp = match (self.timestamp, other.timestamp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.seconds += other.seconds;
        self.counts.total += other.counts.total;
        self.counts.failures += other.counts.failures;
        self.counts.errors += other.counts.errors;
        self.counts.skipped += other.counts.skipped;
        self.failed.merge(other.failed);
        self.flaky.merge(other.flaky);
        self.max_attempts = self.max_attempts.max(other.max_attempts);
    }

    fn status(&self) -> BeatStatus {
        if self.failed.count > 0 {
            BeatStatus::Failure
        } else if self.counts.total > 0 && self.counts.skipped == self.counts.total {
            BeatStatus::Skipped
        } else {
            BeatStatus::Success
        }
    }

    fn duration_ms(&self) -> u64 {
        let ms = (self.seconds * 1000.0).round();
        if ms.is_finite() && ms > 0.0 {
            ms as u64
        } else {
            0
        }
    }
}

/// `tests: 2 failed (a, b); 1 flaky (c)`, or `None` when all passed cleanly.
pub(super) fn reason(failed: &Names, flaky: &Names) -> Option<String> {
    let mut parts = Vec::new();
    if failed.count > 0 {
        parts.push(format!("{} failed ({})", failed.count, failed.list()));
    }
    if flaky.count > 0 {
        parts.push(format!("{} flaky ({})", flaky.count, flaky.list()));
    }
    (!parts.is_empty()).then(|| format!("tests: {}", parts.join("; ")))
}

/// A `BufRead` that refuses to hand out more than [`MAX_EVENT_BYTES`] between two
/// calls of `reset` (one XML event), and hashes what it hands out.
struct Bounded<R> {
    inner: R,
    since_reset: u64,
    limit: u64,
    hasher: blake3::Hasher,
}

impl<R: BufRead> Read for Bounded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Bounded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let room = self.limit.saturating_sub(self.since_reset);
        if room == 0 {
            return Err(io::Error::other(TOO_LONG));
        }
        let buf = self.inner.fill_buf()?;
        let room = usize::try_from(room).unwrap_or(usize::MAX);
        Ok(&buf[..buf.len().min(room)])
    }

    fn consume(&mut self, amount: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            self.hasher.update(&buf[..amount.min(buf.len())]);
        }
        self.since_reset += amount as u64;
        self.inner.consume(amount);
    }
}

const TOO_LONG: &str = "an element or a text longer than 16 MiB";

/// A test case being read.
#[derive(Default)]
struct Case {
    name: String,
    seconds: f64,
    failed: bool,
    errored: bool,
    skipped: bool,
    flaky: bool,
    reruns: u32,
}

/// One report's suites and the hash of its bytes.
#[derive(Debug)]
pub(super) struct Report {
    pub suites: Vec<Suite>,
    pub hash: blake3::Hash,
}

/// Reads one report to its end; `Err` is one line without the file's name.
pub(super) fn parse(input: impl BufRead, limit: u64) -> Result<Report, String> {
    let bounded = Bounded {
        inner: input,
        since_reset: 0,
        limit,
        hasher: blake3::Hasher::new(),
    };
    let mut reader = Reader::from_reader(bounded);
    let mut buf = Vec::new();
    let mut suites: Vec<Suite> = Vec::new();
    // Open suites, innermost last, each with whether it gave its own `time`.
    let mut open: Vec<(Suite, bool)> = Vec::new();
    let mut case: Option<Case> = None;
    let mut depth = 0usize;
    let mut saw_root = false;
    // nextest dates the run on <testsuites>, not its suites.
    let mut root_time: Option<Timestamp> = None;
    loop {
        reader.get_mut().since_reset = 0;
        buf.clear();
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(err) => {
                let text = err.to_string();
                return Err(if text.contains(TOO_LONG) {
                    format!("{TOO_LONG} at byte {}", reader.buffer_position())
                } else {
                    format!("malformed XML at byte {}: {text}", reader.error_position())
                });
            }
        };
        let (element, empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                match e.local_name().as_ref() {
                    "testcase" => finish_case(case.take(), &mut open),
                    "testsuite" => close_suite(&mut open, &mut suites),
                    _ => {}
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let Some(e) = element else { continue };
        let local = e.local_name();
        let tag = local.as_ref();
        if !saw_root {
            saw_root = true;
            if tag == "testsuites" {
                root_time = attr(e, "timestamp").and_then(|t| timestamp(&t));
            } else if tag != "testsuite" {
                return Err(format!(
                    "the root element is <{}>, not <testsuites> or <testsuite>",
                    tag.chars().take(64).collect::<String>()
                ));
            }
        }
        if !empty {
            depth += 1;
        }
        match tag {
            "testsuite" => {
                let (mut suite, timed) = open_suite(e);
                suite.timestamp = suite.timestamp.or(root_time);
                open.push((suite, timed));
                if empty {
                    close_suite(&mut open, &mut suites);
                }
            }
            "testcase" => {
                let name = attr(e, "name").unwrap_or_default();
                let class = attr(e, "classname").unwrap_or_default();
                let name = if class.is_empty() || name.starts_with(&class) {
                    name
                } else {
                    format!("{class}.{name}")
                };
                let seconds = attr(e, "time").map_or(0.0, |t| seconds(&t));
                let new = Case {
                    name,
                    seconds,
                    ..Case::default()
                };
                if empty {
                    finish_case(Some(new), &mut open);
                } else {
                    case = Some(new);
                }
            }
            other => {
                if let Some(case) = case.as_mut() {
                    match other {
                        "failure" => case.failed = true,
                        "error" => case.errored = true,
                        "skipped" => case.skipped = true,
                        "flakyFailure" | "flakyError" => {
                            case.flaky = true;
                            case.reruns += 1;
                        }
                        "rerunFailure" | "rerunError" => case.reruns += 1,
                        _ => {}
                    }
                }
            }
        }
    }
    if !saw_root {
        return Err("no <testsuites> or <testsuite> element".to_owned());
    }
    if depth > 0 {
        return Err("truncated: the report ends inside an element".to_owned());
    }
    let hash = reader.into_inner().hasher.finalize();
    Ok(Report { suites, hash })
}

fn open_suite(e: &BytesStart<'_>) -> (Suite, bool) {
    let time = attr(e, "time").map(|t| seconds(&t));
    let suite = Suite {
        name: attr(e, "name")
            .filter(|n| !n.trim().is_empty())
            .map_or_else(
                || "tests".to_owned(),
                |n| n.chars().take(NAME_CHARS).collect(),
            ),
        timestamp: attr(e, "timestamp").and_then(|t| timestamp(&t)),
        seconds: time.unwrap_or(0.0),
        max_attempts: 1,
        ..Suite::default()
    };
    (suite, time.is_some())
}

/// A case ends: counted in the innermost open suite (or one named `tests`).
fn finish_case(case: Option<Case>, open: &mut Vec<(Suite, bool)>) {
    let Some(case) = case else { return };
    if open.is_empty() {
        open.push((
            Suite {
                name: "tests".to_owned(),
                max_attempts: 1,
                ..Suite::default()
            },
            false,
        ));
    }
    let Some((suite, timed)) = open.last_mut() else {
        return;
    };
    suite.counts.total += 1;
    if !*timed {
        suite.seconds += case.seconds;
    }
    if case.failed {
        suite.counts.failures += 1;
        suite.failed.push(&case.name);
    } else if case.errored {
        suite.counts.errors += 1;
        suite.failed.push(&case.name);
    } else if case.skipped {
        suite.counts.skipped += 1;
    } else if case.flaky {
        suite.flaky.push(&case.name);
    }
    suite.max_attempts = suite.max_attempts.max(case.reruns.saturating_add(1));
}

fn close_suite(open: &mut Vec<(Suite, bool)>, suites: &mut Vec<Suite>) {
    // A suite without cases of its own (empty, or grouping others) is no beat.
    if let Some((suite, _)) = open.pop()
        && suite.counts.total > 0
    {
        suites.push(suite);
    }
}

/// An attribute's value, XML's own entities replaced (others left as written).
fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    let found = e
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == key)?;
    Some(
        match found.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
            Ok(v) => v.into_owned(),
            Err(_) => found.value.clone().into_owned(),
        },
    )
}

/// `12.5`, `1,234.5` (surefire in some locales); garbage and negatives are 0.
fn seconds(text: &str) -> f64 {
    let clean: String = text.trim().chars().filter(|c| *c != ',').collect();
    clean
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(0.0)
}

/// A suite's timestamp: RFC 3339, or without an offset (surefire, jest-junit),
/// then taken as UTC.
fn timestamp(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    text.parse::<Timestamp>().ok().or_else(|| {
        text.parse::<DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    })
}

/// A report read from a file or stdin.
struct Read1 {
    name: String,
    report: Report,
    modified: Option<Timestamp>,
}

fn read_file(name: &str) -> Result<Read1, String> {
    if name == "-" {
        let stdin = io::stdin();
        return parse(
            BufReader::with_capacity(1 << 16, stdin.lock()),
            MAX_EVENT_BYTES,
        )
        .map(|report| Read1 {
            name: "<stdin>".to_owned(),
            report,
            modified: None,
        })
        .map_err(|why| format!("<stdin>: {why}"));
    }
    let path = Path::new(name);
    if path.is_dir() {
        return Err(format!("{name}: is a directory, not a report"));
    }
    let file = File::open(path).map_err(|err| format!("{name}: failed to open: {err}"))?;
    let modified = file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| Timestamp::try_from(t).ok());
    let report = parse(BufReader::with_capacity(1 << 16, file), MAX_EVENT_BYTES)
        .map_err(|why| format!("{name}: {why}"))?;
    Ok(Read1 {
        name: name.to_owned(),
        report,
        modified,
    })
}

pub(super) fn run(args: &IngestJunitArgs) -> anyhow::Result<Exit> {
    let mut reports = Vec::new();
    let mut problems = Vec::new();
    for name in &args.files {
        match read_file(name) {
            Ok(r) => reports.push(r),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Ok(rejected(&problems));
    }
    match (&args.run, &args.beat) {
        (Some(run), Some(beat)) => attach(args, &reports, run, beat),
        _ => {
            let outcome = Outcome {
                documents: vec![run_document(&args.pipeline, &reports)],
                ..Outcome::default()
            };
            store_outcome(&args.store, outcome)
        }
    }
}

/// Suites of every report, those of the same name merged, in the order first seen.
fn merged(reports: &[Read1]) -> Vec<Suite> {
    let mut order: Vec<Suite> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for suite in reports.iter().flat_map(|r| r.report.suites.iter().cloned()) {
        match index.get(&suite.name) {
            Some(&i) => order[i].absorb(suite),
            None => {
                index.insert(suite.name.clone(), order.len());
                order.push(suite);
            }
        }
    }
    order
}

/// The reports as one run of pipeline `pipeline`, a beat per suite. Its id comes
/// from the reports' bytes: the same reports make the same run.
fn run_document(pipeline: &str, reports: &[Read1]) -> Value {
    let suites = merged(reports);
    let mut hasher = blake3::Hasher::new();
    for r in reports {
        hasher.update(r.report.hash.as_bytes());
    }
    let started_at = suites
        .iter()
        .filter_map(|s| s.timestamp)
        .min()
        .or_else(|| reports.iter().filter_map(|r| r.modified).min())
        .unwrap_or_else(Timestamp::now);
    let mut cursor = started_at;
    let mut beats = Vec::new();
    for (i, suite) in suites.iter().enumerate() {
        let at = suite.timestamp.unwrap_or(cursor);
        let duration_ms = suite.duration_ms();
        cursor = at
            .checked_add(jiff::SignedDuration::from_millis(
                i64::try_from(duration_ms).unwrap_or(i64::MAX),
            ))
            .unwrap_or(at);
        let status = suite.status();
        let mut beat = Map::new();
        beat.insert("beat".into(), json!(suite.name));
        beat.insert("movement".into(), json!("tests"));
        beat.insert("movement_index".into(), json!(0));
        beat.insert("beat_index".into(), json!(i));
        beat.insert("status".into(), json!(status));
        beat.insert("started_at".into(), json!(at));
        beat.insert("duration_ms".into(), json!(duration_ms));
        beat.insert("reason".into(), json!(reason(&suite.failed, &suite.flaky)));
        beat.insert("tests".into(), json!(suite.counts));
        beat.insert(
            "attempts".into(),
            json!(if status == BeatStatus::Skipped {
                0
            } else {
                suite.max_attempts
            }),
        );
        if suite.flaky.count > 0 {
            beat.insert(
                "metrics".into(),
                json!({ "tests_flaky": suite.flaky.count }),
            );
        }
        for (key, value) in record::judged(BeatType::Test, status, duration_ms) {
            beat.insert(key.into(), value);
        }
        beats.push(Value::Object(beat));
    }
    let failed = suites.iter().any(|s| s.status() == BeatStatus::Failure);
    let key = format!("junit/{pipeline}/{}", hasher.finalize().to_hex());
    json!({
        "format_version": 1,
        "run": {
            "run_id": record::run_id(started_at, &key),
            "pipeline_id": format!("junit:{pipeline}"),
            "pipeline_name": pipeline,
            "started_at": started_at,
            "status": if failed { RunStatus::Failure } else { RunStatus::Success },
        },
        "beats": beats,
    })
}

/// Puts the reports' results on one beat of a recorded run (replacing what an
/// earlier ingest put there).
fn attach(
    args: &IngestJunitArgs,
    reports: &[Read1],
    run: &str,
    beat: &str,
) -> anyhow::Result<Exit> {
    let store = crate::commands::import::open_store(&args.store)?;
    let selector: RunSelector = run.parse().unwrap_or(RunSelector::Latest);
    let Some((run_record, beats)) = store
        .load_run(&selector)
        .context("failed to load the run")?
    else {
        crate::usage_bail!("failed to find run '{run}' in the history");
    };
    let Some(mut record) = beats.into_iter().find(|b| b.beat == beat) else {
        crate::usage_bail!("run {} has no beat '{beat}'", run_record.label);
    };
    let mut total = Suite::default();
    for suite in merged(reports) {
        total.absorb(suite);
    }
    record.tests = Some(total.counts);
    let own = record
        .reason
        .as_deref()
        .map(|r| match r.find("tests: ") {
            Some(0) => "",
            Some(at) => r[..at].trim_end_matches([';', ' ']),
            None => r,
        })
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    record.reason = match (own, reason(&total.failed, &total.flaky)) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    if total.flaky.count > 0 {
        record
            .metrics
            .insert("tests_flaky".to_owned(), total.flaky.count as f64);
    } else {
        record.metrics.remove("tests_flaky");
    }
    store
        .record_beat(&record)
        .context("failed to store the beat")?;
    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    println!(
        "attached {} tests ({} failed, {} flaky) from {} to beat '{beat}' of run {}",
        total.counts.total,
        total.failed.count,
        total.flaky.count,
        names.join(", "),
        run_record.label
    );
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> Result<Vec<Suite>, String> {
        parse(xml.as_bytes(), MAX_EVENT_BYTES).map(|r| r.suites)
    }

    #[test]
    fn surefire_counts_failures_errors_skips_and_flaky_reruns() {
        let suites = read(
            r#"<?xml version="1.0"?>
<testsuite name="com.acme.CartTest" time="1,234.5" tests="5" timestamp="2026-11-02T10:00:00">
  <testcase name="adds" classname="com.acme.CartTest" time="0.1"/>
  <testcase name="removes" classname="com.acme.CartTest"><failure message="x &amp; y"/></testcase>
  <testcase name="totals" classname="com.acme.CartTest"><error type="NPE"/></testcase>
  <testcase name="later" classname="com.acme.CartTest"><skipped/></testcase>
  <testcase name="races" classname="com.acme.CartTest"><flakyFailure/><flakyFailure/></testcase>
  <testcase name="breaks" classname="com.acme.CartTest"><rerunFailure/><failure/></testcase>
</testsuite>"#,
        )
        .expect("parses");
        let s = &suites[0];
        assert_eq!(s.name, "com.acme.CartTest");
        assert_eq!(
            s.counts,
            TestCounts {
                total: 6,
                failures: 2,
                errors: 1,
                skipped: 1
            }
        );
        assert_eq!(s.failed.kept[0], "com.acme.CartTest.removes");
        assert_eq!(s.flaky.kept, vec!["com.acme.CartTest.races"]);
        assert_eq!(s.max_attempts, 3);
        assert_eq!(s.duration_ms(), 1_234_500);
        assert_eq!(
            s.timestamp,
            Some("2026-11-02T10:00:00Z".parse().expect("ts"))
        );
        assert_eq!(s.status(), BeatStatus::Failure);
    }

    #[test]
    fn unknown_entities_stay_as_written_and_bad_xml_is_one_line() {
        let suites = read(r#"<!DOCTYPE x [<!ENTITY boom "boom">]><testsuites><testsuite name="&boom;"><testcase name="a&lt;b"/></testsuite></testsuites>"#)
            .expect("parses");
        assert_eq!(suites[0].name, "&boom;");
        assert!(read("<html/>").unwrap_err().contains("<html>"));
        assert!(
            read("<testsuite><testcase>")
                .unwrap_err()
                .starts_with("truncated")
        );
        assert!(read("").unwrap_err().starts_with("no <testsuites>"));
    }

    #[test]
    fn an_attribute_longer_than_the_limit_is_refused() {
        let xml = format!(r#"<testsuite name="{}"/>"#, "x".repeat(5000));
        let err = parse(xml.as_bytes(), 1000).unwrap_err();
        assert!(err.starts_with(TOO_LONG), "{err}");
    }

    #[test]
    fn names_are_capped_and_counted() {
        let mut names = Names::default();
        for i in 0..25 {
            names.push(&format!("t{i}"));
        }
        assert_eq!(names.kept.len(), NAMES_KEPT);
        assert!(names.list().ends_with("t19 and 5 more"));
        assert_eq!(
            reason(&names, &Names::default())
                .as_deref()
                .map(|r| r.starts_with("tests: 25 failed (t0, ")),
            Some(true)
        );
    }
}
