//! `baton regressions`, `flaky`, `trends` and `slowest` over histories filled
//! through the store API (runs of the last days), and the regression line of a
//! real `baton run`.

mod common;

use baton_model::{BeatRecord, BeatStatus, CacheState, RunRecord, RunStatus};
use baton_store::test_records::{beat, run};
use baton_store::{HistoryStore, SqliteStore};
use common::Project;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// A deterministic +-4% wobble around `base`.
fn noisy(base: f64, i: usize) -> u64 {
    const PATTERN: [f64; 7] = [1.0, 1.03, 0.97, 1.01, 0.99, 1.04, 0.96];
    (base * PATTERN[i % PATTERN.len()]).round() as u64
}

/// What one beat does in run `i` of `runs`.
type Script = fn(i: usize, runs: usize) -> (BeatStatus, u64, CacheState, Option<String>);

/// Writes `runs` runs of pipeline `pipeline`, an hour apart and ending an hour
/// ago, with the given beats; returns the runs oldest first.
fn fill(
    dir: &std::path::Path,
    pipeline: &str,
    runs: usize,
    beats: &[(&str, Script)],
) -> Vec<RunRecord> {
    let store = SqliteStore::open(dir.join(".baton/history.db")).expect("store");
    let now = Timestamp::now();
    let mut records: Vec<RunRecord> = Vec::new();
    let mut beat_records: Vec<BeatRecord> = Vec::new();
    for i in 0..runs {
        let started = now - SignedDuration::from_hours((runs - i) as i64);
        let mut failed = false;
        let r = run(pipeline, started, RunStatus::Success);
        for (b, (name, script)) in beats.iter().enumerate() {
            let (status, ms, cache, key) = script(i, runs);
            failed |= status.is_failure();
            let mut record = beat(&r, 0, b as u32, name, status, ms, cache);
            record.input_identity = key;
            beat_records.push(record);
        }
        let mut r = r;
        if failed {
            r.status = RunStatus::Failure;
        }
        records.push(r);
    }
    store.record_runs_bulk(&records).expect("runs");
    store.record_beats_bulk(&beat_records).expect("beats");
    records
}

fn ok(status: BeatStatus, ms: u64) -> (BeatStatus, u64, CacheState, Option<String>) {
    (status, ms, CacheState::Skip, None)
}

/// 26 runs: `compile` 30% slower for the last 6, `lint` steady, a cached beat that
/// hits every other run, and the awkward ones: a beat new in the last two runs,
/// one that always fails, one of 0 ms, one always the same.
fn regression_history(project: &Project) -> Vec<RunRecord> {
    fill(
        project.path(),
        "ci",
        26,
        &[
            ("compile", |i, _| {
                ok(
                    BeatStatus::Success,
                    noisy(if i >= 20 { 1300.0 } else { 1000.0 }, i),
                )
            }),
            ("lint", |i, _| ok(BeatStatus::Success, noisy(400.0, i))),
            ("cached", |i, _| {
                if i % 2 == 1 {
                    (BeatStatus::Success, noisy(50.0, i), CacheState::Hit, None)
                } else {
                    (
                        BeatStatus::Success,
                        noisy(2000.0, i),
                        CacheState::Miss,
                        None,
                    )
                }
            }),
            ("new", |i, runs| {
                if i + 2 >= runs {
                    ok(BeatStatus::Success, 700)
                } else {
                    ok(BeatStatus::Skipped, 0)
                }
            }),
            ("broken", |_, _| ok(BeatStatus::Failure, 30)),
            ("zero", |_, _| ok(BeatStatus::Success, 0)),
            ("same", |_, _| ok(BeatStatus::Success, 1234)),
        ],
    )
}

fn run_ok(project: &Project, args: &[&str]) -> String {
    let out = project.baton(args).output().expect("baton");
    assert!(
        out.status.success(),
        "baton {args:?} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json(project: &Project, args: &[&str]) -> Value {
    let text = run_ok(project, args);
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    serde_json::from_str(&text).expect("json")
}

fn beat_of<'a>(doc: &'a Value, list: &str, beat: &str, cache: Option<&str>) -> &'a Value {
    doc[list]
        .as_array()
        .expect("list")
        .iter()
        .find(|b| b["beat"] == beat && cache.is_none_or(|c| b["cache_state"] == c))
        .unwrap_or_else(|| panic!("no {beat} in {doc:#}"))
}

#[test]
fn regressions_names_the_slowdown_with_its_first_run_and_evidence() {
    let project = Project::new();
    let runs = regression_history(&project);
    let text = run_ok(&project, &["regressions", "--all"]);
    let first = text.lines().next().expect("a line");
    assert!(first.starts_with("slower  compile"), "{text}");
    assert!(first.contains(" +"), "{text}");
    assert!(
        first.contains(&format!("since {}", runs[20].label)),
        "{text}"
    );
    assert!(first.contains("20 runs before, 6 after"), "{text}");
    assert!(first.ends_with("[26 runs]"), "{text}");
    assert!(text.contains("steady  lint"), "{text}");
    assert!(text.contains("insufficient data"), "{text}");
    assert!(text.contains("1 slower now, 0 faster"), "{text}");

    let doc = json(&project, &["regressions", "--all", "--format", "json"]);
    assert_eq!(doc["format_version"], 1);
    let compile = beat_of(&doc, "beats", "compile", Some("miss"));
    assert_eq!(compile["pipeline_id"], "ci");
    assert_eq!(compile["result"], "analyzed");
    assert_eq!(compile["runs"], 26);
    assert_eq!(compile["slower_now"], true);
    let cp = &compile["change_points"][0];
    assert_eq!(cp["direction"], "slower");
    assert_eq!(cp["first_run"]["run_id"], runs[20].run_id.to_string());
    assert_eq!(cp["first_run"]["label"], runs[20].label.as_str());
    assert_eq!(
        (cp["runs_before"].as_u64(), cp["runs_after"].as_u64()),
        (Some(20), Some(6))
    );
    let shift = cp["shift"].as_f64().expect("shift");
    assert!((0.25..0.35).contains(&shift), "{cp}");
    assert!(cp["shift_low"].as_f64() <= Some(shift) && cp["shift_high"].as_f64() >= Some(shift));
    // Hits and misses are separate series; neither moves.
    let misses = beat_of(&doc, "beats", "cached", Some("miss"));
    let hits = beat_of(&doc, "beats", "cached", Some("hit"));
    assert_eq!(
        (misses["runs"].as_u64(), hits["runs"].as_u64()),
        (Some(13), Some(13))
    );
    assert_eq!(misses["change_points"], serde_json::json!([]));
    assert_eq!(hits["change_points"], serde_json::json!([]));
}

#[test]
fn awkward_beats_are_plain_insufficient_data_or_steady() {
    let project = Project::new();
    regression_history(&project);
    let doc = json(
        &project,
        &["regressions", "--format", "json", "--pipeline", "ci"],
    );
    let new = beat_of(&doc, "beats", "new", Some("miss"));
    assert_eq!(new["result"], "insufficient");
    assert_eq!(new["runs"], 2);
    assert_eq!(new["detectable_shift"], Value::Null);
    let broken = beat_of(&doc, "beats", "broken", Some("miss"));
    assert_eq!(
        (broken["result"].as_str(), broken["runs"].as_u64()),
        (Some("insufficient"), Some(0))
    );
    for steady in ["zero", "same", "lint"] {
        let b = beat_of(&doc, "beats", steady, Some("miss"));
        assert_eq!(b["result"], "analyzed", "{b}");
        assert_eq!(b["change_points"], serde_json::json!([]), "{b}");
        assert!(
            b["detectable_shift"].as_f64().is_some_and(f64::is_finite),
            "{b}"
        );
    }
    // One beat, and an unknown one.
    let one = json(
        &project,
        &["regressions", "--all", "--beat", "lint", "--format", "json"],
    );
    assert_eq!(one["beats"].as_array().map(Vec::len), Some(1));
    let out = project
        .baton(&["regressions", "--all", "--beat", "nope"])
        .output()
        .expect("baton");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no beat named 'nope'"));
}

#[test]
fn an_empty_history_is_said_plainly() {
    let project = Project::new();
    SqliteStore::open(project.join(".baton/history.db")).expect("store");
    assert!(run_ok(&project, &["regressions"]).contains("No beat has a successful run"));
    assert!(run_ok(&project, &["flaky"]).contains("0 flaky, 0 broken, 0 healthy"));
    assert!(run_ok(&project, &["trends"]).contains("No runs in the last 14 days"));
    assert!(run_ok(&project, &["slowest"]).contains("No runs in the last 14 days"));
    let doc = json(&project, &["trends", "--format", "json"]);
    assert_eq!(doc["pipelines"], serde_json::json!([]));
}

/// 30 runs: `test` fails now and then on inputs that also pass (and times out once), `deploy` fails
/// the last 4 runs on new inputs, `lint` always passes; run 10 is an outage
/// (everything failed).
fn flaky_history(project: &Project) -> Vec<RunRecord> {
    fn key(k: usize) -> Option<String> {
        Some(format!("inputs:{k:064x}"))
    }
    fill(
        project.path(),
        "ci",
        30,
        &[
            ("lint", |i, _| {
                let status = if i == 10 {
                    BeatStatus::Failure
                } else {
                    BeatStatus::Success
                };
                (status, 100, CacheState::Skip, key(i / 3))
            }),
            ("test", |i, _| {
                let status = if i == 10 || i % 7 == 4 {
                    BeatStatus::Failure
                } else if i == 20 {
                    BeatStatus::Timeout
                } else {
                    BeatStatus::Success
                };
                (status, 1000, CacheState::Skip, key(100 + i / 3))
            }),
            ("deploy", |i, runs| {
                let status = if i == 10 || i + 4 >= runs {
                    BeatStatus::Failure
                } else {
                    BeatStatus::Success
                };
                let k = if i + 4 >= runs { 999 } else { 200 + i };
                (status, 500, CacheState::Skip, key(k))
            }),
            ("cancelled", |_, _| ok(BeatStatus::Cancelled, 5)),
        ],
    )
}

#[test]
fn flaky_tells_flaky_from_broken_with_evidence() {
    let project = Project::new();
    let runs = flaky_history(&project);
    let text = run_ok(&project, &["flaky"]);
    assert!(text.starts_with("broken  deploy"), "{text}");
    assert!(text.contains("flaky   test"), "{text}");
    assert!(text.contains("same inputs inputs:"), "{text}");
    assert!(
        text.contains(
            "1 flaky, 1 broken, 1 healthy, 1 with fewer than 3 executed runs in the last 14 days."
        ),
        "{text}"
    );

    let doc = json(
        &project,
        &["flaky", "--all", "--format", "json", "--window", "30d"],
    );
    assert_eq!(
        (doc["format_version"].as_u64(), doc["window_days"].as_u64()),
        (Some(1), Some(30))
    );
    let test = beat_of(&doc, "beats", "test", None);
    assert_eq!(test["verdict"], "flaky");
    assert_eq!(test["runs"], 29, "the outage is left out");
    assert_eq!(test["outages"], 1);
    let rate = &test["failure_rate"];
    assert!(
        rate["low"].as_f64() < rate["rate"].as_f64()
            && rate["rate"].as_f64() < rate["high"].as_f64()
    );
    assert!(
        test["flip_rate"]
            .as_f64()
            .is_some_and(|f| f > 0.0 && f < 1.0)
    );
    let evidence = &test["flaky_keys"][0];
    assert!(!evidence["failed"].as_array().expect("failed").is_empty());
    assert!(!evidence["passed"].as_array().expect("passed").is_empty());
    let deploy = beat_of(&doc, "beats", "deploy", None);
    assert_eq!(deploy["verdict"], "broken");
    let failed = deploy["broken_key"]["failed"].as_array().expect("failed");
    assert_eq!(failed.len(), 4);
    assert_eq!(failed[3]["label"], runs[29].label.as_str());
    assert_eq!(beat_of(&doc, "beats", "lint", None)["verdict"], "healthy");
    assert_eq!(
        beat_of(&doc, "beats", "cancelled", None)["verdict"],
        "insufficient_data"
    );

    // A window that holds none of the runs says nothing about them.
    let recent = json(&project, &["flaky", "--format", "json", "--window", "1d"]);
    let test = beat_of(&recent, "beats", "test", None);
    assert_eq!(test["runs"], 22, "23 runs in the last day, one an outage");
    let bad = project
        .baton(&["flaky", "--window", "2h"])
        .output()
        .expect("baton");
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn trends_show_periods_rates_sparklines_and_change_points() {
    let project = Project::new();
    regression_history(&project);
    let text = run_ok(&project, &["trends"]);
    assert!(
        text.starts_with("ci-name: 26 runs in the last 14 days, by day"),
        "{text}"
    );
    let compile = text
        .lines()
        .find(|l| l.trim_start().starts_with("compile"))
        .expect("compile line");
    assert!(compile.contains("▲ +"), "{text}");
    assert!(
        compile.chars().any(|c| ('▁'..='█').contains(&c)),
        "{compile}"
    );

    let doc = json(&project, &["trends", "--all", "--format", "json"]);
    assert_eq!(
        (doc["format_version"].as_u64(), doc["period"].as_str()),
        (Some(1), Some("day"))
    );
    let pipeline = &doc["pipelines"][0];
    assert_eq!(pipeline["runs"], 26);
    let days: u64 = pipeline["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b["runs"].as_u64().expect("runs"))
        .sum();
    assert_eq!(days, 26);
    let compile = beat_of(pipeline, "beats", "compile", None);
    assert_eq!(compile["change_points"][0]["direction"], "slower");
    assert_eq!(compile["daily_p50_ms"].as_array().map(Vec::len), Some(14));
    let window = &compile["window"];
    assert_eq!(window["executed"]["n"], 26);
    assert!(
        window["executed"]["p95_ms"].is_number(),
        "26 runs have a p95"
    );
    let cached = beat_of(pipeline, "beats", "cached", None);
    assert_eq!(cached["window"]["cache_hit_rate"]["count"], 13);
    let broken = beat_of(pipeline, "beats", "broken", None);
    assert_eq!(broken["window"]["lost_ms"], 26 * 30);
    assert_eq!(broken["window"]["executed"], Value::Null);

    let weeks = json(
        &project,
        &["trends", "--period", "week", "--format", "json"],
    );
    assert_eq!(
        (weeks["period"].as_str(), weeks["days"].as_u64()),
        (Some("iso_week"), Some(84))
    );
}

#[test]
fn slowest_ranks_by_median_and_by_time_spent() {
    let project = Project::new();
    regression_history(&project);
    let text = run_ok(&project, &["slowest", "--limit", "3"]);
    assert!(
        text.starts_with("Slowest by median duration (last 14 days)"),
        "{text}"
    );
    assert!(text.contains("Most time spent"), "{text}");
    let doc = json(&project, &["slowest", "--limit", "3", "--format", "json"]);
    let by_p50: Vec<&str> = doc["by_p50"]
        .as_array()
        .expect("list")
        .iter()
        .map(|b| b["beat"].as_str().expect("beat"))
        .collect();
    assert_eq!(by_p50, ["cached", "same", "compile"]);
    assert_eq!(doc["by_total"][0]["beat"], "same", "26 x 1234 ms");
    assert_eq!(doc["by_p50"][2]["last_change"]["direction"], "slower");
}

#[test]
fn a_run_that_reveals_a_slowdown_names_it_in_its_summary() {
    // The history: `slow` took ~100 ms for 20 runs, then ~400 ms three times; this
    // run (a real `sleep 0.4`) is the fourth slow one.
    let yaml = r#"
version: 1
name: sig
movements:
  - name: build
    beats:
      - { name: slow, type: build, run: "sleep 0.4" }
"#;
    let project = Project::with_pipeline(yaml);
    fill(
        project.path(),
        "sig",
        23,
        &[("slow", |i, _| {
            ok(
                BeatStatus::Success,
                noisy(if i >= 20 { 400.0 } else { 100.0 }, i),
            )
        })],
    );
    let out = run_ok(&project, &["run"]);
    let line = out
        .lines()
        .find(|l| l.starts_with("regression slow: +"))
        .unwrap_or_else(|| panic!("no regression line in:\n{out}"));
    assert!(line.contains("(20 runs before, 4 after)"), "{line}");
    // Quiet when nothing changed: a steady history.
    let steady = Project::with_pipeline(&yaml.replace("sleep 0.4", "sleep 0.1"));
    fill(
        steady.path(),
        "sig",
        22,
        &[("slow", |i, _| ok(BeatStatus::Success, noisy(100.0, i)))],
    );
    assert!(!run_ok(&steady, &["run"]).contains("regression"));
}

#[test]
fn trends_count_the_time_a_retried_beat_lost_before_its_last_attempt() {
    // Every run: the first attempt fails after 300 ms, the retry passes after 300 ms.
    let project = Project::with_pipeline(
        "version: 1\nname: retried\nmovements:\n  - name: m\n    beats:\n      - name: flappy\n        run: 'sleep 0.3; if [ -f .tried ]; then rm .tried; else touch .tried; exit 1; fi'\n        retry: { attempts: 2, backoff: 0s }\n",
    );
    run_ok(&project, &["run", "--output", "quiet"]);
    let doc = json(&project, &["trends", "--format", "json"]);
    let window = &doc["pipelines"][0]["beats"][0]["window"];
    let lost = window["lost_ms"].as_u64().expect("lost_ms");
    let p50 = window["executed"]["p50_ms"].as_f64().expect("p50");
    assert!(
        lost >= 250 && (lost as f64) < p50,
        "half of a two-attempt run is lost: {lost} of {p50}"
    );
}
