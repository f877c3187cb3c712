//! The history store through its public API: round trips, reads, filters,
//! liveness, shapes, retention.

use std::collections::BTreeMap;
use std::time::Duration;

use baton_model::{BeatStatus, CacheState, RunStatus, SlaStatus, TestCounts};
use baton_store::test_records::{at, beat, chain_shapes, run};
use baton_store::{
    GcPolicy, HistoryStore, RunFilter, RunSelector, ShapeTarget, SqliteStore, StoreError,
};
use jiff::{SignedDuration, Timestamp};

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join(".baton/history.db")).expect("open");
    (dir, store)
}

#[test]
fn open_creates_the_directory_and_a_wal_database() {
    let (dir, store) = store();
    assert!(dir.path().join(".baton/history.db").exists());
    assert_eq!(
        store.schema_version().expect("version"),
        baton_store::SCHEMA_VERSION
    );
    drop(store);
    // Reopening an up-to-date store is fine.
    SqliteStore::open(dir.path().join(".baton/history.db")).expect("reopen");
}

#[test]
fn a_fully_populated_beat_record_round_trips() {
    let (_dir, store) = store();
    let r = run("p", at(0), RunStatus::Failure);
    store.begin_run(&r).expect("begin");

    let mut full = beat(
        &r,
        2,
        5,
        "compile",
        BeatStatus::Timeout,
        93_456,
        CacheState::Expired,
    );
    full.reason = Some("timed out after 90s \"quoted\"\nsecond line".to_owned());
    full.exit_code = None;
    full.signal = Some(9);
    full.attempts = 3;
    full.attempt_log = (1..=3)
        .map(|n| baton_model::AttemptRecord {
            attempt: n,
            started_at: Timestamp::from_nanosecond(1_767_225_600_000_000_000 + i128::from(n))
                .expect("ts"),
            duration_ms: 30_000 + u64::from(n),
            status: BeatStatus::Timeout,
            exit_code: None,
            signal: Some(9),
            reason: Some(format!("timed out after 30s (attempt {n})")),
        })
        .collect();
    full.level = baton_model::Level::Ff;
    full.beat_type = baton_model::BeatType::Deploy;
    full.tests = Some(TestCounts {
        total: 120,
        failures: 3,
        errors: 1,
        skipped: 4,
    });
    full.cost_usd = Some(0.042);
    full.metrics = BTreeMap::from([
        ("tokens_in".to_owned(), 1200.0),
        ("ratio".to_owned(), f64::INFINITY),
        ("neg".to_owned(), -0.5),
    ]);
    full.slo.duration = Duration::from_nanos(1_500_000_001);
    full.slo.errors = 2;
    full.slo.cache_hit_rate = None;
    full.sla.overall_status = SlaStatus::Critical;
    full.sla.duration_status = SlaStatus::Critical;
    full.sla.errors_status = SlaStatus::Breach;
    full.sla.cache_status = SlaStatus::Warning;
    full.sla.duration_ratio = f64::INFINITY;
    full.sla.duration_breach_percent = f64::NEG_INFINITY;
    full.sla.cache_hit_rate = Some(0.25);
    full.shape.previous_hash = Some("0".repeat(64));
    full.shape.evolved = true;
    full.shape.canonical = "not the usual canonical string".to_owned();
    full.log_path = Some("/elsewhere/compile.log".to_owned());
    full.started_at = Timestamp::from_nanosecond(1_767_225_600_123_456_789).expect("ts");

    // A beat with the conventional log path and canonical string, and one whose
    // hash is not lowercase hex.
    let plain = beat(&r, 0, 0, "lint", BeatStatus::Success, 10, CacheState::Hit);
    let mut odd = beat(&r, 0, 1, "odd", BeatStatus::Skipped, 0, CacheState::Skip);
    odd.shape.hash = "NOT-A-SHA".to_owned();
    odd.log_path = None;
    for b in [&full, &plain, &odd] {
        store.record_beat(b).expect("record");
    }

    let (loaded, beats) = store
        .load_run(&RunSelector::Latest)
        .expect("load")
        .expect("a run");
    assert_eq!(loaded, r);
    assert_eq!(
        beats,
        vec![plain, odd, full],
        "plan order, every field equal"
    );
}

#[test]
fn recording_a_beat_again_replaces_it_and_unknown_runs_are_errors() {
    let (_dir, store) = store();
    let r = run("p", at(0), RunStatus::Success);
    store.begin_run(&r).expect("begin");
    let first = beat(&r, 0, 0, "lint", BeatStatus::Failure, 10, CacheState::Miss);
    let second = beat(&r, 0, 0, "lint", BeatStatus::Success, 20, CacheState::Hit);
    store.record_beat(&first).expect("record");
    store.record_beat(&second).expect("record again");
    let (_, beats) = store
        .load_run(&RunSelector::Latest)
        .expect("load")
        .expect("run");
    assert_eq!(beats, vec![second]);

    let stranger = run("p", at(10), RunStatus::Success);
    let err = store
        .record_beat(&beat(
            &stranger,
            0,
            0,
            "lint",
            BeatStatus::Success,
            1,
            CacheState::Hit,
        ))
        .expect_err("unknown run");
    assert!(matches!(err, StoreError::UnknownRun(_)), "{err}");
    assert!(store.heartbeat(stranger.run_id, at(11)).is_err());
}

/// Three pipelines' worth of runs: `a` has 5 runs, `b` 2; beat "test" only in some.
fn populate(store: &SqliteStore) -> Vec<baton_model::RunRecord> {
    let mut runs = Vec::new();
    for i in 0..5 {
        let status = if i == 3 {
            RunStatus::Failure
        } else {
            RunStatus::Success
        };
        let r = run("a", at(i * 600), status);
        store.begin_run(&r).expect("begin");
        store
            .record_beat(&beat(
                &r,
                0,
                0,
                "lint",
                BeatStatus::Success,
                100,
                CacheState::Hit,
            ))
            .expect("b");
        let build = if i == 3 {
            BeatStatus::Failure
        } else {
            BeatStatus::Success
        };
        store
            .record_beat(&beat(&r, 1, 0, "build", build, 2_000, CacheState::Miss))
            .expect("b");
        if i % 2 == 0 {
            store
                .record_beat(&beat(
                    &r,
                    1,
                    1,
                    "test",
                    BeatStatus::Skipped,
                    0,
                    CacheState::Skip,
                ))
                .expect("b");
        }
        store.finish_run(&r).expect("finish");
        runs.push(r);
    }
    for i in 0..2 {
        let r = run("b", at(i * 600 + 300), RunStatus::Success);
        store.begin_run(&r).expect("begin");
        store
            .record_beat(&beat(
                &r,
                0,
                0,
                "build",
                BeatStatus::Success,
                500,
                CacheState::Hit,
            ))
            .expect("b");
        store.finish_run(&r).expect("finish");
        runs.push(r);
    }
    runs
}

#[test]
fn list_runs_filters_and_counts() {
    let (_dir, store) = store();
    populate(&store);

    let all = store.list_runs(&RunFilter::default()).expect("list");
    assert_eq!(all.len(), 7);
    let starts: Vec<_> = all.iter().map(|s| s.run.started_at).collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "newest first");

    let a = store
        .list_runs(&RunFilter {
            pipeline: Some("a".into()),
            limit: Some(2),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(a.len(), 2);
    assert!(a.iter().all(|s| s.run.pipeline_id == "a"));
    assert_eq!(a[0].run.started_at, at(2400));

    let with_test = store
        .list_runs(&RunFilter {
            beat: Some("test".into()),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(with_test.len(), 3);

    let failed = store
        .list_runs(&RunFilter {
            status: Some(RunStatus::Failure),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(failed.len(), 1);
    let summary = &failed[0];
    assert_eq!(summary.beats.success, 1);
    assert_eq!(summary.beats.failure, 1);
    assert_eq!(summary.beats.total(), 2);
    assert_eq!(summary.beats_duration_ms, 2_100);
    assert_eq!(summary.sla.compliant, 2);
    assert_eq!(summary.sla_at_least(baton_model::SlaStatus::Compliant), 2);
    assert_eq!(summary.sla_at_least(baton_model::SlaStatus::Breach), 0);
    assert_eq!(summary.duration_ms, Some(60_000));

    let none = store
        .list_runs(&RunFilter {
            pipeline: Some("b".into()),
            beat: Some("test".into()),
            ..Default::default()
        })
        .expect("list");
    assert!(none.is_empty());
}

#[test]
fn list_runs_filters_by_branch_and_host() {
    let (_dir, store) = store();
    let mut feature = run("a", at(0), RunStatus::Success);
    if let Some(git) = feature.git.as_mut() {
        git.branch = Some("feature/x".into());
    }
    let mut other_host = run("a", at(600), RunStatus::Success);
    other_host.host = "ci-7".into();
    let plain = run("a", at(1200), RunStatus::Success);
    for r in [&feature, &other_host, &plain] {
        store.begin_run(r).expect("begin");
    }
    let ids = |filter: RunFilter| -> Vec<_> {
        store
            .list_runs(&filter)
            .expect("list")
            .into_iter()
            .map(|s| s.run.run_id)
            .collect()
    };
    assert_eq!(
        ids(RunFilter {
            branch: Some("feature/x".into()),
            ..RunFilter::default()
        }),
        vec![feature.run_id]
    );
    assert_eq!(
        ids(RunFilter {
            host: Some("ci-7".into()),
            ..RunFilter::default()
        }),
        vec![other_host.run_id]
    );
    assert_eq!(
        ids(RunFilter {
            branch: Some("main".into()),
            host: Some("test-host".into()),
            ..RunFilter::default()
        }),
        vec![plain.run_id]
    );
}

#[test]
fn load_run_by_latest_id_prefix_and_label() {
    let (_dir, store) = store();
    let runs = populate(&store);
    let newest = runs.iter().max_by_key(|r| r.started_at).expect("runs");
    let (latest, _) = store
        .load_run(&RunSelector::Latest)
        .expect("load")
        .expect("run");
    assert_eq!(latest.run_id, newest.run_id);

    let (of_b, beats) = store
        .load_run(&RunSelector::LatestOf("b".into()))
        .expect("load")
        .expect("run");
    assert_eq!((of_b.pipeline_id.as_str(), beats.len()), ("b", 1));

    let target = &runs[1];
    let full = target.run_id.to_string();
    for selector in [
        RunSelector::Id(full.clone()),
        RunSelector::Id(full.to_uppercase()),
        RunSelector::Id(full[..30].to_owned()),
        RunSelector::Label(target.label.clone()),
        full.parse().expect("parse"),
        target.label.parse().expect("parse"),
    ] {
        let (found, _) = store.load_run(&selector).expect("load").expect("found");
        assert_eq!(found.run_id, target.run_id, "{selector:?}");
    }
    assert_eq!("latest".parse::<RunSelector>(), Ok(RunSelector::Latest));

    // Every v7 id of the same year starts alike: a short prefix is ambiguous.
    let err = store
        .load_run(&RunSelector::Id(full[..4].to_owned()))
        .expect_err("ambiguous");
    assert!(
        matches!(err, StoreError::AmbiguousRun { count: 7, .. }),
        "{err}"
    );
    assert!(
        store
            .load_run(&RunSelector::Id("ffff".into()))
            .expect("load")
            .is_none()
    );
    assert!(
        store
            .load_run(&RunSelector::Label("build-nope".into()))
            .expect("load")
            .is_none()
    );
}

#[test]
fn beat_runs_are_newest_first_across_pipelines() {
    let (_dir, store) = store();
    populate(&store);
    let a = store.beat_runs(Some("a"), "build", 3).expect("beat runs");
    assert_eq!(a.len(), 3);
    assert_eq!(a[0].started_at.as_second(), at(2400).as_second());
    assert!(a.windows(2).all(|w| w[0].started_at > w[1].started_at));

    let every = store.beat_runs(None, "build", 50).expect("beat runs");
    assert_eq!(every.len(), 7);
    assert!(every.windows(2).all(|w| w[0].started_at > w[1].started_at));
    assert!(
        store
            .beat_runs(None, "nope", 5)
            .expect("beat runs")
            .is_empty()
    );

    // The outcomes are the same runs, read lighter.
    let full = store.beat_runs(Some("a"), "build", 50).expect("beat runs");
    let outcomes = store.beat_outcomes("a", "build", 50).expect("outcomes");
    let expected: Vec<baton_model::BeatOutcome> =
        full.iter().map(baton_model::BeatOutcome::from).collect();
    assert_eq!(outcomes, expected);
    assert_eq!(
        store
            .beat_outcomes("a", "build", 2)
            .expect("outcomes")
            .len(),
        2
    );
    assert!(
        store
            .beat_outcomes("a", "nope", 5)
            .expect("outcomes")
            .is_empty()
    );

    let pipelines = store.pipelines().expect("pipelines");
    let ids: Vec<_> = pipelines
        .iter()
        .map(|p| (p.pipeline_id.as_str(), p.runs))
        .collect();
    assert_eq!(ids, vec![("a", 5), ("b", 2)]);
    assert_eq!(pipelines[0].name, "a-name");
}

fn want(b: &baton_model::BeatRecord) -> baton_store::PreviousShape<'_> {
    baton_store::PreviousShape {
        beat: &b.beat,
        previous: b.shape.previous_hash.as_deref().expect("previous"),
        before: b.started_at,
    }
}

#[test]
fn previous_shapes_finds_each_evolved_beat_s_earlier_record_in_one_read() {
    let (_dir, store) = store();
    // Three runs of two beats: `build` changes shape in every run, `test` at run 2
    // only (back to the shape of run 0's), `lint` never ran before.
    let mut runs = Vec::new();
    let mut builds = Vec::new();
    let mut tests = Vec::new();
    for i in 0..3i64 {
        let r = run("p", at(i * 60), RunStatus::Success);
        builds.push(beat(
            &r,
            0,
            0,
            "build",
            BeatStatus::Success,
            10 + i as u64 * 2_000,
            CacheState::Miss,
        ));
        let cache = if i == 1 {
            CacheState::Hit
        } else {
            CacheState::Miss
        };
        tests.push(beat(&r, 0, 1, "test", BeatStatus::Success, 5, cache));
        runs.push(r);
    }
    chain_shapes(&mut builds);
    chain_shapes(&mut tests);
    store.record_runs_bulk(&runs).expect("runs");
    let all: Vec<_> = builds.iter().chain(&tests).cloned().collect();
    store.record_beats_bulk(&all).expect("beats");
    let lint = baton_store::PreviousShape {
        beat: "lint",
        previous: &builds[0].shape.hash,
        before: at(999),
    };
    let found = store
        .previous_shapes("p", &[want(&builds[2]), want(&tests[2]), lint], 100)
        .expect("previous shapes");
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found["build"], builds[1].shape.canonical);
    assert_eq!(found["test"], tests[1].shape.canonical);
    // Only records before the evolved one count, and only `per_beat` of them.
    let first = baton_store::PreviousShape {
        before: builds[1].started_at,
        ..want(&builds[2])
    };
    assert!(
        store
            .previous_shapes("p", &[first], 100)
            .expect("read")
            .is_empty()
    );
    let back = baton_store::PreviousShape {
        previous: &builds[0].shape.hash,
        ..want(&builds[2])
    };
    assert_eq!(
        store.previous_shapes("p", &[back], 2).expect("read")["build"],
        builds[0].shape.canonical
    );
    assert!(
        store
            .previous_shapes("p", &[back], 1)
            .expect("read")
            .is_empty()
    );
    assert!(
        store
            .previous_shapes("q", &[back], 100)
            .expect("read")
            .is_empty()
    );
}

#[test]
fn hints_give_previous_shape_recent_caches_and_median() {
    let (_dir, store) = store();
    let mut records = Vec::new();
    let mut runs = Vec::new();
    for i in 0..30i64 {
        let r = run("p", at(i * 60), RunStatus::Success);
        let status = if i % 5 == 4 {
            BeatStatus::Failure
        } else {
            BeatStatus::Success
        };
        let cache = if i % 2 == 0 {
            CacheState::Hit
        } else {
            CacheState::Miss
        };
        // Successful durations are 1000 + i.
        records.push(beat(&r, 0, 0, "build", status, 1_000 + i as u64, cache));
        runs.push(r);
    }
    chain_shapes(&mut records);
    store.record_runs_bulk(&runs).expect("runs");
    store.record_beats_bulk(&records).expect("beats");
    // Another pipeline's beat of the same name does not leak in.
    let other = run("q", at(99_999), RunStatus::Success);
    store.begin_run(&other).expect("begin");
    store
        .record_beat(&beat(
            &other,
            0,
            0,
            "build",
            BeatStatus::Success,
            1,
            CacheState::Skip,
        ))
        .expect("b");

    let hints = store
        .beat_history_hints("p", &["build", "never-ran"])
        .expect("hints");
    assert_eq!(hints.len(), 1);
    let h = &hints["build"];
    assert_eq!(
        h.previous_shape.as_deref(),
        Some(records[29].shape.hash.as_str())
    );
    let expected: Vec<_> = records[10..].iter().map(|b| b.cache_state).collect();
    assert_eq!(h.recent_cache_states, expected, "last 20, oldest first");
    // The last 20 successes are i in 5..30 without 9, 14, 19, 24, 29: 5..=28 minus
    // those, median of 20 values = mean of the 10th and 11th.
    let mut ok: Vec<u64> = (0..30u64)
        .filter(|i| i % 5 != 4)
        .map(|i| 1_000 + i)
        .rev()
        .take(20)
        .collect();
    ok.sort_unstable();
    assert_eq!(h.median_duration_ms, Some((ok[9] + ok[10]) / 2));
    // The anomaly rules' outcomes: newest first, failures included, back to the
    // 20th success (i = 5): i in 29..=5.
    let outcomes: Vec<(BeatStatus, u64)> = h
        .recent_outcomes
        .iter()
        .map(|o| (o.status, o.duration_ms))
        .collect();
    let expected: Vec<(BeatStatus, u64)> = records[5..]
        .iter()
        .rev()
        .map(|b| (b.status, b.duration_ms))
        .collect();
    assert_eq!(outcomes, expected);
    assert!(
        h.recent_outcomes
            .windows(2)
            .all(|w| w[0].started_at > w[1].started_at)
    );
}

#[test]
fn stale_running_runs_read_as_abandoned() {
    let (_dir, store) = store();
    let now = Timestamp::now();
    let mut stale = run(
        "p",
        now - SignedDuration::from_secs(600),
        RunStatus::Running,
    );
    stale.heartbeat_at = now - SignedDuration::from_secs(45);
    let live = run("p", now - SignedDuration::from_secs(5), RunStatus::Running);
    store.begin_run(&stale).expect("begin");
    store.begin_run(&live).expect("begin");

    let find = |status| {
        store
            .list_runs(&RunFilter {
                status: Some(status),
                ..Default::default()
            })
            .expect("list")
            .into_iter()
            .map(|s| s.run.run_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(find(RunStatus::Abandoned), vec![stale.run_id]);
    assert_eq!(find(RunStatus::Running), vec![live.run_id]);
    let (loaded, _) = store
        .load_run(&RunSelector::Id(stale.run_id.to_string()))
        .expect("load")
        .expect("run");
    assert_eq!(loaded.status, RunStatus::Abandoned);

    // A heartbeat brings it back to life; heartbeats never go backwards.
    store.heartbeat(stale.run_id, now).expect("heartbeat");
    store
        .heartbeat(stale.run_id, now - SignedDuration::from_secs(100))
        .expect("heartbeat");
    let (loaded, _) = store
        .load_run(&RunSelector::Id(stale.run_id.to_string()))
        .expect("load")
        .expect("run");
    assert_eq!(
        (loaded.status, loaded.heartbeat_at),
        (RunStatus::Running, now)
    );
    assert!(find(RunStatus::Abandoned).is_empty());
}

#[test]
fn annotations_attach_to_shape_evolutions() {
    let (_dir, store) = store();
    // Shapes of "build": Hit, Hit, Miss, Miss, Hit -> evolutions at runs 2 and 4.
    let caches = [
        CacheState::Hit,
        CacheState::Hit,
        CacheState::Miss,
        CacheState::Miss,
        CacheState::Hit,
    ];
    let runs: Vec<_> = (0..5)
        .map(|i| run("p", at(i * 60), RunStatus::Success))
        .collect();
    let mut records: Vec<_> = runs
        .iter()
        .zip(caches)
        .map(|(r, c)| beat(r, 0, 0, "build", BeatStatus::Success, 100, c))
        .collect();
    chain_shapes(&mut records);
    store.record_runs_bulk(&runs).expect("runs");
    for b in &records {
        store.record_beat(b).expect("beat");
    }

    let evolutions = store.shape_evolutions(Some("p")).expect("evolutions");
    assert_eq!(evolutions.len(), 2);
    assert_eq!(evolutions[0].run_id, runs[2].run_id);
    assert_eq!(
        evolutions[0].previous_hash.as_deref(),
        Some(records[1].shape.hash.as_str())
    );
    assert_eq!(evolutions[0].new_hash, records[2].shape.hash);
    assert_eq!(evolutions[0].feature, "build");
    assert!(evolutions.iter().all(|e| e.reason.is_none()));

    // Latest = the newest change (run 4).
    let latest = store
        .annotate_shape(
            None,
            "build",
            &ShapeTarget::Latest,
            "cache warmed again",
            at(1_000),
        )
        .expect("annotate");
    assert_eq!(
        (latest.run_id, latest.pipeline_id.as_str()),
        (runs[4].run_id, "p")
    );
    // By hash prefix: the miss shape appeared at run 2.
    let by_hash = store
        .annotate_shape(
            Some("p"),
            "build",
            &ShapeTarget::Hash(records[2].shape.hash[..10].to_owned()),
            "cache key changed",
            at(2_000),
        )
        .expect("annotate");
    assert_eq!(by_hash.run_id, runs[2].run_id);
    // By run: the newer annotation of a run wins.
    store
        .annotate_shape(
            Some("p"),
            "build",
            &ShapeTarget::Run(RunSelector::Id(runs[2].run_id.to_string())),
            "lockfile bump",
            at(3_000),
        )
        .expect("annotate");

    let evolutions = store.shape_evolutions(None).expect("evolutions");
    let reasons: Vec<_> = evolutions.iter().map(|e| e.reason.as_deref()).collect();
    assert_eq!(
        reasons,
        vec![Some("lockfile bump"), Some("cache warmed again")]
    );
    assert_eq!(evolutions[1].annotated_at, Some(at(1_000)));
    // One beat's evolutions, read by its series, are the same rows.
    assert_eq!(
        store.beat_shape_evolutions("p", "build").expect("of build"),
        evolutions
    );
    assert!(
        store
            .beat_shape_evolutions("p", "test")
            .expect("of test")
            .is_empty()
    );
    assert!(
        store
            .beat_shape_evolutions("q", "build")
            .expect("other pipeline")
            .is_empty()
    );

    // The export format's field names.
    let json = serde_json::to_value(&evolutions[0]).expect("json");
    for key in [
        "feature",
        "previousHash",
        "newHash",
        "annotatedAt",
        "reason",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }

    for (target, what) in [
        (ShapeTarget::Hash("ffffffff".into()), "unknown hash"),
        (ShapeTarget::Hash(String::new()), "ambiguous empty prefix"),
    ] {
        let err = store
            .annotate_shape(None, "build", &target, "x", at(0))
            .expect_err(what);
        assert!(
            matches!(err, StoreError::ShapeNotFound { .. }),
            "{what}: {err}"
        );
    }
    let err = store
        .annotate_shape(None, "nope", &ShapeTarget::Latest, "x", at(0))
        .expect_err("no beat");
    assert!(
        err.to_string()
            .starts_with("failed to find a recorded shape of beat 'nope'"),
        "{err}"
    );
}

#[test]
fn gc_keeps_the_newest_runs_of_each_pipeline_and_never_a_live_one() {
    let (_dir, store) = store();
    let runs = populate(&store);
    let removed = store.gc(&GcPolicy::KeepRuns(2)).expect("gc");
    let mut removed_ids: Vec<_> = removed.iter().map(|r| r.run_id).collect();
    removed_ids.sort();
    let mut expected: Vec<_> = runs[..3].iter().map(|r| r.run_id).collect();
    expected.sort();
    assert_eq!(removed_ids, expected, "the three oldest of pipeline a");
    assert_eq!(
        store.list_runs(&RunFilter::default()).expect("list").len(),
        4
    );
    assert_eq!(
        store
            .beat_runs(Some("a"), "build", 50)
            .expect("beats")
            .len(),
        2
    );

    // Older than a day: every remaining run is from 2026-01-01, except a live one.
    let live = run(
        "a",
        Timestamp::now() - SignedDuration::from_secs(90_000),
        RunStatus::Running,
    );
    let mut live = live;
    live.heartbeat_at = Timestamp::now();
    store.begin_run(&live).expect("begin");
    let removed = store
        .gc(&GcPolicy::OlderThan(Duration::from_secs(86_400)))
        .expect("gc");
    assert_eq!(removed.len(), 4);
    let left = store.list_runs(&RunFilter::default()).expect("list");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].run.run_id, live.run_id);
}

#[test]
fn a_store_from_a_newer_baton_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history.db");
    drop(SqliteStore::open(&path).expect("open"));
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    let err = SqliteStore::open(&path).expect_err("newer schema");
    assert_eq!(
        err.to_string(),
        format!(
            "history.db is schema version 99, this baton knows up to {}",
            baton_store::SCHEMA_VERSION
        )
    );
}

#[test]
fn the_store_is_usable_as_a_shared_trait_object() {
    let (_dir, store) = store();
    let shared: std::sync::Arc<dyn HistoryStore> = std::sync::Arc::new(store);
    let r = run("p", at(0), RunStatus::Success);
    shared.begin_run(&r).expect("begin");
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let shared = shared.clone();
            let r = r.clone();
            std::thread::spawn(move || {
                let b = beat(
                    &r,
                    0,
                    i,
                    &format!("beat-{i}"),
                    BeatStatus::Success,
                    1,
                    CacheState::Hit,
                );
                shared.record_beat(&b).expect("record");
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let (_, beats) = shared
        .load_run(&RunSelector::Latest)
        .expect("load")
        .expect("run");
    assert_eq!(beats.len(), 4);
}

#[test]
fn big_bulk_inserts_keep_every_record_and_fail_whole() {
    let (_dir, store) = store();
    // More than one chunk of the encoding thread (4,096 records).
    let runs: Vec<_> = (0..160)
        .map(|i| run("p", at(i * 60), RunStatus::Success))
        .collect();
    let beats: Vec<_> = runs
        .iter()
        .flat_map(|r| {
            (0..34u32).map(move |i| {
                beat(
                    r,
                    i / 10,
                    i % 10,
                    &format!("beat-{i}"),
                    BeatStatus::Success,
                    10,
                    CacheState::Hit,
                )
            })
        })
        .collect();
    store.record_runs_bulk(&runs).expect("runs");

    // A record that cannot be encoded (a time past 2262) late in the batch: nothing
    // of the batch is kept.
    let mut bad = beats.clone();
    let last = bad.len() - 3;
    bad[last].started_at = Timestamp::MAX;
    let err = store
        .record_beats_bulk(&bad)
        .expect_err("unencodable record");
    assert!(matches!(err, StoreError::Encode { .. }), "{err}");
    assert_eq!(
        store
            .beat_runs(Some("p"), "beat-0", 500)
            .expect("read")
            .len(),
        0
    );

    store.record_beats_bulk(&beats).expect("bulk insert");
    let summaries = store.list_runs(&RunFilter::default()).expect("list");
    assert_eq!(summaries.len(), 160);
    assert!(summaries.iter().all(|s| s.beats.success == 34));
    let (_, loaded) = store
        .load_run(&RunSelector::Latest)
        .expect("load")
        .expect("run");
    assert_eq!(loaded, beats[beats.len() - 34..].to_vec());
    assert_eq!(
        store.beat_runs(None, "beat-33", 500).expect("read").len(),
        160
    );
}

#[test]
fn artifact_manifests_are_kept_per_run_and_removed_by_gc() {
    use baton_model::{ArtifactEntry, ArtifactManifest, BeatArtifacts};
    let (_dir, store) = store();
    let runs = populate(&store);
    let manifest = |r: &baton_model::RunRecord| ArtifactManifest {
        format_version: 1,
        run_id: r.run_id,
        run_label: r.label.clone(),
        pipeline_id: r.pipeline_id.clone(),
        beats: vec![BeatArtifacts {
            movement: "build".into(),
            beat: "build".into(),
            files: vec![ArtifactEntry {
                path: "dist/app".into(),
                bytes: 3,
                sha256: "ab".repeat(32),
            }],
        }],
    };
    let oldest = manifest(&runs[0]);
    store.save_artifacts(&oldest).expect("save");
    store
        .save_artifacts(&oldest)
        .expect("saving again replaces");
    assert_eq!(
        store.load_artifacts(runs[0].run_id).expect("load"),
        Some(oldest)
    );
    assert_eq!(store.load_artifacts(runs[1].run_id).expect("load"), None);
    let mut unknown = manifest(&runs[0]);
    unknown.run_id = uuid::Uuid::now_v7();
    assert!(
        store.save_artifacts(&unknown).is_err(),
        "a manifest needs its run"
    );

    store.gc(&GcPolicy::KeepRuns(2)).expect("gc");
    assert_eq!(store.load_artifacts(runs[0].run_id).expect("load"), None);
}

fn wal_len(db: &std::path::Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map_or(0, |m| m.len())
}

/// A store does not checkpoint when it closes: its WAL stays behind, holding the
/// commits, and the next open (WAL recovery) sees every one of them.
#[test]
fn a_store_reopened_over_the_wal_left_behind_sees_every_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(".baton/history.db");
    let mut written = Vec::new();
    for k in 0..3 {
        let store = SqliteStore::open(&path).expect("open");
        let mut r = run("p", at(k * 600), RunStatus::Running);
        store.begin_run(&r).expect("begin");
        let beats: Vec<_> = (0..34u32)
            .map(|i| {
                let b = beat(
                    &r,
                    i / 10,
                    i % 10,
                    &format!("beat-{i}"),
                    BeatStatus::Success,
                    10,
                    CacheState::Hit,
                );
                store.record_beat(&b).expect("record");
                b
            })
            .collect();
        r.status = RunStatus::Success;
        r.finished_at = Some(r.started_at + SignedDuration::from_secs(60));
        r.heartbeat_at = r.started_at + SignedDuration::from_secs(60);
        store.finish_run(&r).expect("finish");
        drop(store);
        assert!(
            wal_len(&path) > 0,
            "run {k}: the WAL is left for the next open"
        );
        written.push((r, beats));
    }
    let store = SqliteStore::open(&path).expect("reopen");
    for (r, beats) in written {
        let loaded = store
            .load_run(&RunSelector::Id(r.run_id.to_string()))
            .expect("load");
        assert_eq!(loaded, Some((r, beats)));
    }
}

/// A WAL that a big transaction (here a gc) left bigger than the store keeps is
/// checkpointed and truncated when the store closes; the gc holds after reopening.
#[test]
fn a_big_wal_is_truncated_when_the_store_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(".baton/history.db");
    let runs: Vec<_> = (0..1_000)
        .map(|i| run("p", at(i * 60), RunStatus::Success))
        .collect();
    let beats: Vec<_> = runs
        .iter()
        .flat_map(|r| {
            (0..34u32).map(move |i| {
                beat(
                    r,
                    i / 10,
                    i % 10,
                    &format!("beat-{i}"),
                    BeatStatus::Success,
                    10,
                    CacheState::Hit,
                )
            })
        })
        .collect();
    {
        let store = SqliteStore::open(&path).expect("open");
        store.record_runs_bulk(&runs).expect("runs");
        store.record_beats_bulk(&beats).expect("beats");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(store.gc(&GcPolicy::KeepRuns(1)).expect("gc").len(), 999);
    assert!(
        wal_len(&path) > 4 << 20,
        "the gc should leave a big WAL ({} bytes)",
        wal_len(&path)
    );
    drop(store);
    assert_eq!(wal_len(&path), 0, "truncated on close");
    let store = SqliteStore::open(&path).expect("reopen after gc");
    let left = store.list_runs(&RunFilter::default()).expect("list");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].run.run_id, runs[999].run_id);
    assert_eq!(left[0].beats.success, 34);
}

#[test]
fn an_imported_record_without_a_shape_is_no_previous_shape() {
    let (_dir, store) = store();
    let r = run("p", at(0), RunStatus::Success);
    let mut record = beat(&r, 0, 0, "build", BeatStatus::Success, 10, CacheState::Skip);
    record.shape.hash = String::new();
    store
        .record_runs_bulk(std::slice::from_ref(&r))
        .expect("run");
    store.record_beats_bulk(&[record]).expect("beat");
    let hints = store.beat_history_hints("p", &["build"]).expect("hints");
    assert_eq!(hints["build"].previous_shape, None, "not an empty hash");
}

#[test]
fn a_joined_run_gains_beats_call_by_call_and_closes_with_its_worst_status() {
    let (_dir, store) = store();
    let first_call = run("ci", at(0), RunStatus::Running);
    let (opened, beats) = store.join_run(&first_call).expect("join a new run");
    assert_eq!(opened, first_call);
    assert!(beats.is_empty());
    let lint = beat(
        &opened,
        0,
        0,
        "lint",
        BeatStatus::Success,
        10,
        CacheState::Skip,
    );
    store.record_beat(&lint).expect("first beat");

    // A later call (another process) joins the same run: the stored run comes
    // back (its label and start kept), with the beat recorded so far.
    let mut later_call = run("ci", at(40), RunStatus::Running);
    later_call.run_id = first_call.run_id;
    later_call.label = "another-label".to_owned();
    let (joined, beats) = store.join_run(&later_call).expect("join again");
    assert_eq!(joined.label, first_call.label);
    assert_eq!(joined.started_at, first_call.started_at);
    assert_eq!(joined.heartbeat_at, at(40));
    assert_eq!(joined.status, RunStatus::Running);
    assert_eq!(beats, vec![lint.clone()]);
    let test = beat(
        &joined,
        0,
        1,
        "test",
        BeatStatus::Failure,
        20,
        CacheState::Skip,
    );
    store.record_beat(&test).expect("second beat");

    let (closed, beats) = store
        .close_run(first_call.run_id, at(50))
        .expect("close")
        .expect("known run");
    assert_eq!(closed.status, RunStatus::Failure);
    assert_eq!(closed.finished_at, Some(at(50)));
    assert_eq!(beats.len(), 2);
    let (stored, _) = store
        .load_run(&RunSelector::Latest)
        .expect("load")
        .expect("run");
    assert_eq!(stored, closed);

    // Joining a closed run opens it again.
    let (reopened, _) = store.join_run(&later_call).expect("reopen");
    assert_eq!(reopened.status, RunStatus::Running);
    assert_eq!(reopened.finished_at, None);

    let unknown = run("ci", at(99), RunStatus::Running);
    assert!(
        store
            .close_run(unknown.run_id, at(100))
            .expect("close")
            .is_none()
    );
}

#[test]
fn the_worst_status_of_beats_ranks_failure_over_cancelled_over_success() {
    let r = run("p", at(0), RunStatus::Running);
    let b = |status| beat(&r, 0, 0, "x", status, 1, CacheState::Skip);
    assert_eq!(baton_store::worst_status([]), RunStatus::Success);
    let ok = b(BeatStatus::Success);
    let cancelled = b(BeatStatus::Cancelled);
    let timeout = b(BeatStatus::Timeout);
    assert_eq!(
        baton_store::worst_status([&ok, &cancelled]),
        RunStatus::Cancelled
    );
    assert_eq!(
        baton_store::worst_status([&cancelled, &timeout, &ok]),
        RunStatus::Failure
    );
}
